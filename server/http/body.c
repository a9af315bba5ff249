/*
 * body — request bodies while they arrive, charged to the body budget.
 */
#include "body.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Clients with uploads in flight hash into this many chains; their number is
 * bounded by the open connections, so chains stay short. */
#define N_BUCKETS 1024
#define KEY_LEN   9 /* family tag + 4 (IPv4) or 8 (IPv6 /64) address bytes */

struct rs_body_client {
    struct rs_body_client *next;
    unsigned char key[KEY_LEN];
    int64_t held; /* bytes of this client's unfinished uploads */
    int uploads;  /* bodies pointing here; the entry goes with the last */
};

struct rs_body_budget {
    pthread_mutex_t lock; /* guards everything below */
    int64_t total, per_client;
    int64_t held;
    struct rs_body_client *buckets[N_BUCKETS];
};

/* The address as the per-client key: IPv4 whole (also when it reaches an
 * IPv6 socket as ::ffff:a.b.c.d), IPv6 by its /64, since one host usually
 * has a whole /64 to pick addresses from. */
static void client_key(const struct sockaddr *sa, unsigned char key[KEY_LEN])
{
    memset(key, 0, KEY_LEN);
    if (!sa) return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        key[0] = 4;
        memcpy(key + 1, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            key[0] = 4;
            memcpy(key + 1, a + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a, 8);
        }
    }
}

static unsigned key_hash(const unsigned char key[KEY_LEN])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < KEY_LEN; i++)
        h = (h ^ key[i]) * 16777619u;
    return h % N_BUCKETS;
}

/* Lock held. The entry of sa's client, created if needed; NULL when out of
 * memory. */
static struct rs_body_client *client_get(rs_body_budget *b, const struct sockaddr *sa)
{
    unsigned char key[KEY_LEN];
    client_key(sa, key);
    struct rs_body_client **head = &b->buckets[key_hash(key)];
    for (struct rs_body_client *c = *head; c; c = c->next)
        if (!memcmp(c->key, key, KEY_LEN)) {
            c->uploads++;
            return c;
        }
    struct rs_body_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    memcpy(c->key, key, KEY_LEN);
    c->uploads = 1;
    c->next = *head;
    *head = c;
    return c;
}

/* Lock held. body's upload stops counting against its client. */
static void client_leave(rs_body_budget *b, rs_body *body)
{
    struct rs_body_client *c = body->client;
    if (!c) return;
    body->client = NULL;
    c->held -= (int64_t)body->cap;
    if (--c->uploads > 0) return;
    struct rs_body_client **p = &b->buckets[key_hash(c->key)];
    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    free(c);
}

rs_body_budget *rs_body_budget_create(int64_t total, int64_t per_client)
{
    rs_body_budget *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->total = total;
    b->per_client = per_client < total ? per_client : total;
    return b;
}

void rs_body_budget_free(rs_body_budget *b)
{
    if (!b) return;
    for (int i = 0; i < N_BUCKETS; i++)
        while (b->buckets[i]) {
            struct rs_body_client *c = b->buckets[i];
            b->buckets[i] = c->next;
            free(c);
        }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int64_t rs_body_budget_held(rs_body_budget *b)
{
    pthread_mutex_lock(&b->lock);
    int64_t held = b->held;
    pthread_mutex_unlock(&b->lock);
    return held;
}

void rs_body_init(rs_body *body)
{
    memset(body, 0, sizeof *body);
}

rs_body_status rs_body_append(rs_body_budget *b, rs_body *body, const struct sockaddr *client,
                              const void *data, size_t n, size_t limit)
{
    if (n == 0) return RS_BODY_OK;
    size_t need = body->len + n;
    if (need > body->cap) {
        size_t cap = body->cap ? 2 * body->cap : RS_BODY_FIRST_STEP;
        if (cap < need) cap = need;
        if (limit >= need && cap > limit) cap = limit;
        int64_t step = (int64_t)(cap - body->cap);
        rs_body_status status = RS_BODY_OK;
        pthread_mutex_lock(&b->lock);
        if (!body->client && !(body->client = client_get(b, client)))
            status = RS_BODY_NO_MEMORY;
        else if (b->held + step > b->total)
            status = RS_BODY_OVER_TOTAL;
        else if (body->client->held + step > b->per_client)
            status = RS_BODY_OVER_CLIENT;
        if (status == RS_BODY_OK) {
            b->held += step;
            body->client->held += step;
            body->charged += step;
        }
        pthread_mutex_unlock(&b->lock);
        /* The NUL after the data is not charged: the budget counts body bytes. */
        char *p = status == RS_BODY_OK ? realloc(body->data, cap + 1) : NULL;
        if (!p) {
            if (status == RS_BODY_OK) {
                /* cap is what the budget and the client were charged: give it back */
                body->cap = cap;
                status = RS_BODY_NO_MEMORY;
            }
            rs_body_release(b, body);
            return status;
        }
        body->data = p;
        body->cap = cap;
    }
    memcpy(body->data + body->len, data, n);
    body->len += n;
    body->data[body->len] = '\0';
    return RS_BODY_OK;
}

void rs_body_complete(rs_body_budget *b, rs_body *body)
{
    if (!body->client) return;
    pthread_mutex_lock(&b->lock);
    client_leave(b, body);
    pthread_mutex_unlock(&b->lock);
}

void rs_body_release(rs_body_budget *b, rs_body *body)
{
    if (body->charged || body->client) {
        pthread_mutex_lock(&b->lock);
        client_leave(b, body);
        b->held -= body->charged;
        pthread_mutex_unlock(&b->lock);
    }
    free(body->data);
    rs_body_init(body);
}

bool rs_body_charge(rs_body_budget *b, rs_body *body, size_t n)
{
    pthread_mutex_lock(&b->lock);
    bool ok = b->held + (int64_t)n <= b->total;
    if (ok) {
        b->held += (int64_t)n;
        body->charged += (int64_t)n;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}
