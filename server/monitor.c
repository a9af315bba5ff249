/*
 * monitor — per-unit activity over a live window: the dying-ReLU detector.
 */
#include "monitor.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct rs_monitor {
    const mlp_model *model;
    int window_s;
    pthread_mutex_t lock; /* guards buckets */
    mlp_activity buckets[RS_MONITOR_BUCKETS];
    int64_t epoch[RS_MONITOR_BUCKETS]; /* time slot each bucket counts; -1 = empty */
    /* Recycled job activities (loop thread only); at most one per job in flight. */
    mlp_activity **spare;
    int n_spare, cap_spare;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Index of the time slot "now" falls into; slots are window/BUCKETS long. */
static int64_t slot_now(const rs_monitor *mon)
{
    int64_t span = (int64_t)mon->window_s * 1000 / RS_MONITOR_BUCKETS;
    if (span < 1) span = 1;
    return now_ms() / span;
}

rs_monitor *rs_monitor_create(const mlp_model *m, int window_s)
{
    rs_monitor *mon = calloc(1, sizeof *mon);
    if (!mon) return NULL;
    mon->model = m;
    mon->window_s = window_s > 0 ? window_s : 60;
    pthread_mutex_init(&mon->lock, NULL);
    for (int b = 0; b < RS_MONITOR_BUCKETS; b++) {
        mon->epoch[b] = -1;
        if (mlp_activity_init(m, &mon->buckets[b], NULL) != MLP_OK) {
            for (int k = 0; k < b; k++)
                mlp_activity_free(&mon->buckets[k]);
            pthread_mutex_destroy(&mon->lock);
            free(mon);
            return NULL;
        }
    }
    return mon;
}

void rs_monitor_free(rs_monitor *mon)
{
    if (!mon) return;
    for (int b = 0; b < RS_MONITOR_BUCKETS; b++)
        mlp_activity_free(&mon->buckets[b]);
    for (int i = 0; i < mon->n_spare; i++) {
        mlp_activity_free(mon->spare[i]);
        free(mon->spare[i]);
    }
    free(mon->spare);
    pthread_mutex_destroy(&mon->lock);
    free(mon);
}

int rs_monitor_window_s(const rs_monitor *mon)
{
    return mon->window_s;
}

mlp_activity *rs_monitor_borrow(rs_monitor *mon)
{
    if (mon->n_spare > 0) return mon->spare[--mon->n_spare];
    mlp_activity *a = malloc(sizeof *a);
    if (!a) return NULL;
    if (mlp_activity_init(mon->model, a, NULL) != MLP_OK) {
        free(a);
        return NULL;
    }
    return a;
}

/* The bucket of the current time slot, emptied first when it still holds an
 * older slot's counts. Lock held. */
static mlp_activity *bucket_now(rs_monitor *mon)
{
    int64_t slot = slot_now(mon);
    int b = (int)(slot % RS_MONITOR_BUCKETS);
    if (mon->epoch[b] != slot) {
        mlp_activity_reset(&mon->buckets[b]);
        mon->epoch[b] = slot;
    }
    return &mon->buckets[b];
}

void rs_monitor_give_back(rs_monitor *mon, mlp_activity *a)
{
    if (!a) return;
    pthread_mutex_lock(&mon->lock);
    /* Every counter here was made for mon->model: same shape, cannot fail. */
    (void)mlp_activity_merge(bucket_now(mon), a, NULL);
    pthread_mutex_unlock(&mon->lock);
    mlp_activity_reset(a);
    if (mon->n_spare == mon->cap_spare) {
        int cap = mon->cap_spare ? 2 * mon->cap_spare : 4;
        mlp_activity **p = realloc(mon->spare, (size_t)cap * sizeof *p);
        if (!p) {
            mlp_activity_free(a);
            free(a);
            return;
        }
        mon->spare = p;
        mon->cap_spare = cap;
    }
    mon->spare[mon->n_spare++] = a;
}

void rs_monitor_count(rs_monitor *mon, const mlp_workspace *ws, int rows)
{
    pthread_mutex_lock(&mon->lock);
    /* ws last ran mon->model (the caller's promise): same shape, cannot fail. */
    (void)mlp_activity_add(bucket_now(mon), ws, 0, rows, NULL);
    pthread_mutex_unlock(&mon->lock);
}

void rs_monitor_snapshot(rs_monitor *mon, mlp_activity *out)
{
    int64_t slot = slot_now(mon);
    mlp_activity_reset(out);
    pthread_mutex_lock(&mon->lock);
    for (int b = 0; b < RS_MONITOR_BUCKETS; b++)
        if (mon->epoch[b] > slot - RS_MONITOR_BUCKETS && mon->epoch[b] <= slot)
            (void)mlp_activity_merge(out, &mon->buckets[b], NULL); /* same model */
    pthread_mutex_unlock(&mon->lock);
}
