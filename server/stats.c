/*
 * stats — the statistics extension's counters (see stats.h). Everything sits
 * behind one mutex per version: an update is a few additions, far cheaper
 * than the request it describes, and a reader sees a consistent snapshot.
 */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t count, ns;
} duration;

/* One batch size: how often it ran and the time of each phase. */
typedef struct {
    int size;
    uint64_t count;
    rs_stats_phases ns;
} batch_stat;

struct rs_stats {
    pthread_mutex_t lock;
    uint64_t last_inference_ms; /* wall clock; 0 = none yet */
    uint64_t inference_count;   /* rows of successful requests */
    uint64_t execution_count;   /* batches */
    duration success, fail, queue, input, infer, output;
    batch_stat *batches; /* sorted by size */
    int n_batches, cap_batches;
};

rs_stats *rs_stats_create(void)
{
    rs_stats *s = calloc(1, sizeof *s);
    if (s && pthread_mutex_init(&s->lock, NULL)) {
        free(s);
        return NULL;
    }
    return s;
}

void rs_stats_free(rs_stats *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s->batches);
    free(s);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void add(duration *d, uint64_t count, uint64_t ns)
{
    d->count += count;
    d->ns += ns;
}

void rs_stats_request(rs_stats *s, bool ok, int rows, uint64_t ns)
{
    uint64_t now = wall_ms();
    pthread_mutex_lock(&s->lock);
    s->last_inference_ms = now;
    if (ok) {
        add(&s->success, 1, ns);
        s->inference_count += rows > 0 ? (uint64_t)rows : 0;
    } else {
        add(&s->fail, 1, ns);
    }
    pthread_mutex_unlock(&s->lock);
}

void rs_stats_queue(rs_stats *s, uint64_t ns)
{
    pthread_mutex_lock(&s->lock);
    add(&s->queue, 1, ns);
    pthread_mutex_unlock(&s->lock);
}

/* The entry of batch size `size`, inserted in order when new; NULL when out
 * of memory (that batch then misses from batch_stats only). */
static batch_stat *batch_entry(rs_stats *s, int size)
{
    int lo = 0, hi = s->n_batches;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s->batches[mid].size < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n_batches && s->batches[lo].size == size) return &s->batches[lo];
    if (s->n_batches == s->cap_batches) {
        int cap = s->cap_batches ? 2 * s->cap_batches : 8;
        batch_stat *p = realloc(s->batches, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        s->batches = p;
        s->cap_batches = cap;
    }
    memmove(&s->batches[lo + 1], &s->batches[lo],
            (size_t)(s->n_batches - lo) * sizeof s->batches[0]);
    s->n_batches++;
    memset(&s->batches[lo], 0, sizeof s->batches[lo]);
    s->batches[lo].size = size;
    return &s->batches[lo];
}

void rs_stats_batch(rs_stats *s, int rows, int requests, const rs_stats_phases *p)
{
    uint64_t n = requests > 0 ? (uint64_t)requests : 0;
    pthread_mutex_lock(&s->lock);
    s->execution_count++;
    /* Like Triton, each request of the batch is charged the batch's time. */
    add(&s->input, n, n * p->input_ns);
    add(&s->infer, n, n * p->infer_ns);
    add(&s->output, n, n * p->output_ns);
    batch_stat *b = batch_entry(s, rows);
    if (b) {
        b->count++;
        b->ns.input_ns += p->input_ns;
        b->ns.infer_ns += p->infer_ns;
        b->ns.output_ns += p->output_ns;
    }
    pthread_mutex_unlock(&s->lock);
}

static json_t *dur(uint64_t count, uint64_t ns)
{
    return json_pack("{s:I, s:I}", "count", (json_int_t)count, "ns", (json_int_t)ns);
}

json_t *rs_stats_json(rs_stats *s, const char *name, const char *version)
{
    pthread_mutex_lock(&s->lock);
    json_t *batches = json_array();
    for (int i = 0; batches && i < s->n_batches; i++) {
        const batch_stat *b = &s->batches[i];
        json_array_append_new(batches, json_pack("{s:i, s:o, s:o, s:o}", "batch_size", b->size,
                                                 "compute_input", dur(b->count, b->ns.input_ns),
                                                 "compute_infer", dur(b->count, b->ns.infer_ns),
                                                 "compute_output", dur(b->count, b->ns.output_ns)));
    }
    /* No response cache: cache_hit stays zero, present for clients that read it. */
    json_t *j = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o}, s:o}", "name", name,
        "version", version, "last_inference", (json_int_t)s->last_inference_ms, "inference_count",
        (json_int_t)s->inference_count, "execution_count", (json_int_t)s->execution_count,
        "inference_stats", "success", dur(s->success.count, s->success.ns), "fail",
        dur(s->fail.count, s->fail.ns), "queue", dur(s->queue.count, s->queue.ns), "compute_input",
        dur(s->input.count, s->input.ns), "compute_infer", dur(s->infer.count, s->infer.ns),
        "compute_output", dur(s->output.count, s->output.ns), "cache_hit", dur(0, 0), "batch_stats",
        batches);
    pthread_mutex_unlock(&s->lock);
    return j;
}
