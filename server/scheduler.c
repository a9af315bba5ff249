/*
 * scheduler — per-model queues and the dynamic batcher on the loop thread.
 */
#include "scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "log.h"

/* One merged batch in flight. The uv_work_t lives here, not in any request's
 * state, because libuv touches it until after_work returns. */
typedef struct {
    uv_work_t work;
    rs_scheduler *s;
    rs_model_version *mv; /* reference held for the job */
    mlp_activity *activity;
    rs_task *tasks; /* linked through next, queue order */
    int n, rows;
    uint64_t compute_ns;
    rs_infer_item items[]; /* n */
} batch_job;

struct rs_scheduler {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t delay_timer;
    uv_timer_t expire_timer; /* armed for the earliest deadline of a queued request */
    uint64_t expire_at;      /* when it fires (uv_hrtime ns); UINT64_MAX = not armed */
    rs_scheduler_params p;
    rs_metrics *metrics;
    unsigned id; /* tells this scheduler's pool-thread scratch from older ones */

    pthread_mutex_t inbox_lock; /* guards inbox */
    rs_task *inbox_head, *inbox_tail;
    atomic_bool stopping;

    /* Loop thread only: */
    rs_model_version *ring_head, *ring_tail; /* versions with queued tasks */
    int ring_len;
    atomic_int in_flight;
    atomic_int lean_running; /* lean requests computing on HTTP threads now */

    pthread_mutex_t scratch_lock; /* guards scratch (pool threads register theirs) */
    rs_infer_scratch **scratch;
    int n_scratch, cap_scratch;
};

static atomic_uint g_next_id = 1;

/* ---------------------------------------------------------------- policy */

bool rs_batch_fits(int batch_rows, int next_rows, int max_rows)
{
    return batch_rows == 0 || (int64_t)batch_rows + next_rows <= max_rows;
}

int rs_batch_take(const int *rows, int n, int max_rows)
{
    int k = 0, total = 0;
    while (k < n && rs_batch_fits(total, rows[k], max_rows))
        total += rows[k++];
    return k;
}

bool rs_batch_ready(int queued_rows, int max_rows, uint64_t oldest_wait_ns, uint64_t delay_ns)
{
    return delay_ns == 0 || queued_rows >= max_rows || oldest_wait_ns >= delay_ns;
}

/* ------------------------------------------------------ pool-thread side */

/* Each pool thread keeps one scratch for its life; the owner id makes a
 * thread that served an earlier (freed) scheduler build a fresh one. */
static _Thread_local rs_infer_scratch *tls_scratch;
static _Thread_local unsigned tls_owner;

static rs_infer_scratch *scratch_get(rs_scheduler *s)
{
    if (tls_scratch && tls_owner == s->id) return tls_scratch;
    rs_infer_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return NULL;
    if (rs_infer_scratch_init(sc, s->p.kernel)) {
        free(sc);
        return NULL;
    }
    pthread_mutex_lock(&s->scratch_lock);
    if (s->n_scratch == s->cap_scratch) {
        int cap = s->cap_scratch ? 2 * s->cap_scratch : 8;
        rs_infer_scratch **p = realloc(s->scratch, (size_t)cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&s->scratch_lock);
            rs_infer_scratch_free(sc);
            free(sc);
            return NULL;
        }
        s->scratch = p;
        s->cap_scratch = cap;
    }
    s->scratch[s->n_scratch++] = sc;
    pthread_mutex_unlock(&s->scratch_lock);
    tls_scratch = sc;
    tls_owner = s->id;
    return sc;
}

/* Hands every result to its task and calls done(); the batch never touches
 * a task again afterwards (its owner may free it at once). */
static void batch_deliver(batch_job *b)
{
    rs_task *t = b->tasks;
    b->tasks = NULL;
    for (int i = 0; i < b->n; i++) {
        rs_task *next = t->next;
        t->status = b->items[i].status;
        t->body = b->items[i].body; /* ownership moves to the task's owner */
        t->json_len = b->items[i].json_len;
        t->compute_ns = b->compute_ns;
        t->batch_rows = b->rows;
        t->next = NULL;
        t->done(t);
        t = next;
    }
}

/*
 * Pool thread. The responses are delivered from here rather than from the
 * after-work callback: resuming a connection is thread-safe, and skipping
 * the hop through the loop thread takes one wake-up off every request's
 * latency. The loop thread's after-work only does the bookkeeping.
 */
static void batch_work(uv_work_t *w)
{
    batch_job *b = w->data;
    uint64_t t0 = uv_hrtime();
    rs_infer_scratch *sc = scratch_get(b->s);
    if (!sc) {
        rs_infer_fail(b->items, b->n, "out of memory for the inference workspace");
    } else {
        rs_model_id mid = {b->mv->name, b->mv->version};
        /* Counted before the answers leave, so a client that reads the
         * statistics after its answer finds its batch in them. */
        if (rs_infer_run(b->mv->model, &mid, sc, b->items, b->n, &b->s->p.diag, b->activity) == 0 &&
            b->mv->stats) {
            rs_stats_phases p = {sc->input_ns, sc->infer_ns, sc->output_ns};
            rs_stats_batch(b->mv->stats, b->rows, b->n, &p);
        }
    }
    b->compute_ns = uv_hrtime() - t0;
    batch_deliver(b);
    /* after the answers went out: an oversized request's memory goes back */
    if (sc) rs_infer_scratch_trim(sc, b->mv->model, b->rows, b->mv->cfg.max_batch);
}

/* ------------------------------------------------------------ lean path */

double rs_lean_cost(const mlp_model *m, const rs_request *req)
{
    /* Measured (bench/README.md, bench_mlp): forward + backward + diagnose in
     * the server's norms-only mode costs 2.5x to 3.2x the forward alone. */
    double f = mlp_model_flops(m, req->rows);
    return req->diag != RS_DIAG_NONE ? f * RS_LEAN_BACKWARD_FACTOR : f;
}

/*
 * A batch of one on the calling HTTP thread. What it does not do, and why
 * that is sound: it does not wait in a queue (queue time 0, so no timeout can
 * expire it), and it does not count against max_queue or max_in_flight (it
 * holds no queue place, and its thread is an HTTP thread, not a pool slot).
 * lean_running goes up before `stopping` is read, and rs_scheduler_stop
 * writes `stopping` before rs_scheduler_idle reads lean_running (both
 * sequentially consistent): either this request sees the stop and goes the
 * usual way (admit refuses it), or shutdown sees it running and waits.
 */
bool rs_scheduler_lean(rs_scheduler *s, rs_task *t)
{
    rs_model_version *mv = t->mv;
    const rs_request *req = t->req;
    /* Over max_batch rows a request runs alone and its scratch gives the
     * memory back afterwards (malloc_trim): the pool's job, not the thread
     * that serves every connection. */
    if (s->p.lean_max_flops <= 0 || mv->cfg.batch_delay_us > 0 || req->rows > mv->cfg.max_batch ||
        rs_lean_cost(mv->model, req) > s->p.lean_max_flops)
        return false;
    atomic_fetch_add(&s->lean_running, 1);
    rs_infer_scratch *sc = NULL;
    if (atomic_load(&s->stopping) || atomic_load(&mv->queued) > 0 || !(sc = scratch_get(s))) {
        atomic_fetch_sub(&s->lean_running, 1);
        return false;
    }
    uint64_t t0 = uv_hrtime();
    t->admitted_ns = t0;
    t->deadline_ns = UINT64_MAX;
    t->queue_ns = 0;
    if (mv->stats) rs_stats_queue(mv->stats, 0);
    rs_infer_item item = {t->req, 0, {0}, 0};
    rs_buf_init_answer(&item.body, t->req);
    rs_model_id mid = {mv->name, mv->version};
    /* No borrowed activity (the monitor lends those on the loop thread only):
     * the forward's Z stay in sc->ws, and rs_monitor_count adds them. */
    if (rs_infer_run(mv->model, &mid, sc, &item, 1, &s->p.diag, NULL) == 0) {
        if (mv->monitor) rs_monitor_count(mv->monitor, sc->ws, req->rows);
        if (mv->stats) {
            rs_stats_phases p = {sc->input_ns, sc->infer_ns, sc->output_ns};
            rs_stats_batch(mv->stats, req->rows, 1, &p);
        }
    }
    t->compute_ns = uv_hrtime() - t0;
    t->status = item.status;
    t->body = item.body; /* ownership moves to the task's owner */
    t->json_len = item.json_len;
    t->batch_rows = req->rows;
    if (s->metrics) rs_metrics_lean(s->metrics, mv->name, req->rows, t->compute_ns / 1e9);
    atomic_fetch_sub(&s->lean_running, 1);
    return true;
}

/* ------------------------------------------------------- loop-thread side */

static void dispatch(rs_scheduler *s);

/* Answers t without computing it (timeout). */
static void task_reject(rs_task *t, int status, const char *msg)
{
    rs_buf_init_answer(&t->body, t->req);
    rs_encode_error(&t->body, msg);
    t->status = status;
    t->json_len = t->body.len;
    t->batch_rows = 0;
    t->compute_ns = 0;
    t->done(t);
}

static void batch_after(uv_work_t *w, int status)
{
    batch_job *b = w->data;
    rs_scheduler *s = b->s;
    atomic_fetch_sub(&s->in_flight, 1);
    if (status == UV_ECANCELED) { /* never cancelled today; answer rather than lose them */
        rs_infer_fail(b->items, b->n, "the batch was cancelled");
        batch_deliver(b);
    }
    if (b->activity) rs_monitor_give_back(b->mv->monitor, b->activity);
    if (s->metrics) rs_metrics_batch(s->metrics, b->mv->name, b->rows, b->compute_ns / 1e9);
    rs_model_version_release(b->mv);
    free(b);
    dispatch(s);
}

static void ring_push(rs_scheduler *s, rs_model_version *mv)
{
    mv->sq.next = NULL;
    if (s->ring_tail)
        s->ring_tail->sq.next = mv;
    else
        s->ring_head = mv;
    s->ring_tail = mv;
    s->ring_len++;
}

static rs_model_version *ring_pop(rs_scheduler *s)
{
    rs_model_version *mv = s->ring_head;
    s->ring_head = mv->sq.next;
    if (!s->ring_head) s->ring_tail = NULL;
    mv->sq.next = NULL;
    s->ring_len--;
    return mv;
}

/* A version on the ring holds a reference of its own: its tasks' references
 * are not enough, because answering the last of them (timeout, out of
 * memory) lets its owner drop the version at once on another thread — after
 * an unload that can be the last reference, while dispatch still reads the
 * queue. Taken in wake_cb when listed, dropped here as the last touch. */
static void ring_unlist(rs_model_version *mv)
{
    mv->sq.listed = false;
    rs_model_version_release(mv);
}

static rs_task *queue_pop(rs_model_version *mv)
{
    rs_task *t = mv->sq.head;
    mv->sq.head = t->next;
    if (!mv->sq.head) mv->sq.tail = NULL;
    mv->sq.n_tasks--;
    mv->sq.rows -= t->req->rows;
    t->next = NULL;
    atomic_fetch_sub(&mv->queued, 1);
    return t;
}

/* The shorter of the server's limit and the request's own: a client may ask
 * to give up sooner, never to hold its queue slot longer than the operator
 * allows. 0 = no limit. */
static int64_t task_timeout_us(const rs_scheduler *s, const rs_task *t)
{
    int64_t own = t->req->timeout_us, server = s->p.default_timeout_us;
    return own > 0 && (server <= 0 || own < server) ? own : server;
}

static uint64_t task_deadline(const rs_scheduler *s, const rs_task *t)
{
    int64_t us = task_timeout_us(s, t);
    if (us <= 0) return UINT64_MAX;
    /* timeout_us goes up to 9.2e18: times 1000 it would wrap past 2^64 and
     * expire the request at once, so it saturates to "never" instead. */
    if ((uint64_t)us > (UINT64_MAX - t->admitted_ns) / 1000) return UINT64_MAX;
    return t->admitted_ns + (uint64_t)us * 1000;
}

/* Answers t, just taken off mv's queue past its deadline, with 503. */
static void task_expire(rs_scheduler *s, rs_model_version *mv, rs_task *t, uint64_t now)
{
    uint64_t waited = now - t->admitted_ns;
    char msg[256];
    snprintf(msg, sizeof msg,
             "request waited %llu us in the queue of model '%s', longer than its limit of %lld us "
             "(parameters.timeout_us, at most --request-timeout-ms); it was not computed",
             (unsigned long long)(waited / 1000), mv->name, (long long)task_timeout_us(s, t));
    t->queue_ns = waited;
    task_reject(t, 503, msg);
}

/* Answers every head request past its deadline (the ones behind are the
 * expiry timer's: see expire_cb). */
static void queue_expire(rs_scheduler *s, rs_model_version *mv, uint64_t now)
{
    while (mv->sq.head && now >= mv->sq.head->deadline_ns)
        task_expire(s, mv, queue_pop(mv), now);
}

/* Answers every request of mv's queue past its deadline, wherever it stands;
 * returns the earliest deadline left (UINT64_MAX when none). */
static uint64_t queue_expire_all(rs_scheduler *s, rs_model_version *mv, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    rs_task *prev = NULL, *t = mv->sq.head;
    while (t) {
        rs_task *after = t->next;
        if (now < t->deadline_ns) {
            if (t->deadline_ns < next) next = t->deadline_ns;
            prev = t;
        } else {
            if (prev)
                prev->next = after;
            else
                mv->sq.head = after;
            if (mv->sq.tail == t) mv->sq.tail = prev;
            mv->sq.n_tasks--;
            mv->sq.rows -= t->req->rows;
            t->next = NULL;
            atomic_fetch_sub(&mv->queued, 1);
            task_expire(s, mv, t, now);
        }
        t = after;
    }
    return next;
}

static void expire_cb(uv_timer_t *h);

/* Makes the expiry timer fire by deadline (sooner if it is armed sooner). */
static void expire_arm(rs_scheduler *s, uint64_t deadline)
{
    if (deadline >= s->expire_at) return;
    s->expire_at = deadline;
    /* The loop's clock is cached; refreshed, the timer cannot fire early by
     * more than a millisecond of rounding (and expire_cb re-arms if it does). */
    uv_update_time(s->loop);
    uint64_t now = uv_hrtime();
    uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
    uv_timer_start(&s->expire_timer, expire_cb, ms, 0);
}

static void expire_cb(uv_timer_t *h)
{
    rs_scheduler *s = h->data;
    s->expire_at = UINT64_MAX;
    uint64_t now = uv_hrtime(), next = UINT64_MAX;
    /* Every queued request is on a version on the ring, which holds that
     * version alive while its last requests are answered here. */
    for (rs_model_version *mv = s->ring_head; mv; mv = mv->sq.next) {
        uint64_t d = queue_expire_all(s, mv, now);
        if (d < next) next = d;
    }
    expire_arm(s, next);
    dispatch(s); /* takes emptied versions off the ring: shutdown waits for that */
}

/* Takes the next batch off mv's queue (the longest FIFO prefix that fits
 * max_batch rows) and puts it on the pool; when out of memory the batch's
 * tasks are answered 500 instead. */
static void batch_submit(rs_scheduler *s, rs_model_version *mv, uint64_t now)
{
    int max = mv->cfg.max_batch, n = 0, rows = 0;
    for (rs_task *t = mv->sq.head; t && rs_batch_fits(rows, t->req->rows, max); t = t->next) {
        rows += t->req->rows;
        n++;
    }
    batch_job *b = malloc(sizeof *b + (size_t)n * sizeof b->items[0]);
    rs_task *head = NULL, *tail = NULL;
    int k = 0; /* tasks in the batch */
    rows = 0;
    for (int i = 0; i < n; i++) {
        rs_task *t = queue_pop(mv);
        if (now >= t->deadline_ns) { /* expired behind the head, before its timer fired */
            task_expire(s, mv, t, now);
            continue;
        }
        t->queue_ns = now - t->admitted_ns;
        if (s->metrics) rs_metrics_queue_time(s->metrics, mv->name, t->queue_ns / 1e9);
        if (mv->stats) rs_stats_queue(mv->stats, t->queue_ns);
        if (!b) {
            task_reject(t, 500, "out of memory while forming a batch");
            continue;
        }
        if (tail)
            tail->next = t;
        else
            head = t;
        tail = t;
        b->items[k].req = t->req;
        b->items[k].status = 0;
        rs_buf_init_answer(&b->items[k].body, t->req);
        b->items[k].json_len = 0;
        rows += t->req->rows;
        k++;
    }
    if (!b) return;
    if (k == 0) {
        free(b);
        return;
    }
    n = k;
    b->work.data = b;
    b->s = s;
    b->mv = mv;
    rs_model_version_acquire(mv);
    b->activity = mv->monitor ? rs_monitor_borrow(mv->monitor) : NULL;
    b->tasks = head;
    b->n = n;
    b->rows = rows;
    b->compute_ns = 0;
    atomic_fetch_add(&s->in_flight, 1);
    int rc = uv_queue_work(s->loop, &b->work, batch_work, batch_after);
    if (rc) {
        /* Only fails for a NULL callback; answer rather than lose the requests. */
        rs_infer_fail(b->items, b->n, uv_strerror(rc));
        batch_deliver(b);
        batch_after(&b->work, 0);
    }
}

static void delay_timer_cb(uv_timer_t *h)
{
    dispatch(h->data);
}

/*
 * Hands out batches round-robin while pool slots are free. A version whose
 * batching delay has not run out yet is passed over and the timer is armed
 * for the earliest such deadline (libuv timers count whole milliseconds, so
 * delays round up to the next millisecond).
 */
static void dispatch(rs_scheduler *s)
{
    uint64_t earliest = UINT64_MAX;
    bool progress = true;
    while (progress && s->ring_len > 0) {
        progress = false;
        earliest = UINT64_MAX;
        int n = s->ring_len;
        uint64_t now = uv_hrtime();
        for (int i = 0; i < n; i++) {
            rs_model_version *mv = ring_pop(s);
            queue_expire(s, mv, now);
            if (!mv->sq.head) {
                ring_unlist(mv);
                continue;
            }
            if (atomic_load(&s->in_flight) >= s->p.max_in_flight) {
                ring_push(s, mv);
                continue;
            }
            uint64_t delay = (uint64_t)mv->cfg.batch_delay_us * 1000;
            uint64_t waited = now - mv->sq.head->admitted_ns;
            if (!rs_batch_ready(mv->sq.rows, mv->cfg.max_batch, waited, delay)) {
                uint64_t deadline = mv->sq.head->admitted_ns + delay;
                if (deadline < earliest) earliest = deadline;
                ring_push(s, mv);
                continue;
            }
            batch_submit(s, mv, now);
            progress = true;
            if (mv->sq.head)
                ring_push(s, mv);
            else
                ring_unlist(mv);
        }
        if (atomic_load(&s->in_flight) >= s->p.max_in_flight) break;
    }
    if (earliest != UINT64_MAX) {
        uint64_t now = uv_hrtime();
        uint64_t ms = earliest > now ? (earliest - now + 999999) / 1000000 : 0;
        uv_timer_start(&s->delay_timer, delay_timer_cb, ms, 0);
    }
}

/* Moves everything admitted since the last wake-up onto the queues. */
static void wake_cb(uv_async_t *h)
{
    rs_scheduler *s = h->data;
    pthread_mutex_lock(&s->inbox_lock);
    rs_task *t = s->inbox_head;
    s->inbox_head = s->inbox_tail = NULL;
    pthread_mutex_unlock(&s->inbox_lock);
    while (t) {
        rs_task *next = t->next;
        rs_model_version *mv = t->mv;
        t->next = NULL;
        if (mv->sq.tail)
            mv->sq.tail->next = t;
        else
            mv->sq.head = t;
        mv->sq.tail = t;
        mv->sq.n_tasks++;
        mv->sq.rows += t->req->rows;
        expire_arm(s, t->deadline_ns);
        if (!mv->sq.listed) {
            mv->sq.listed = true;
            rs_model_version_acquire(mv); /* the ring's reference, see ring_unlist */
            ring_push(s, mv);
        }
        t = next;
    }
    dispatch(s);
}

/* ------------------------------------------------------------------ API */

int rs_scheduler_create(rs_scheduler **out, uv_loop_t *loop, const rs_scheduler_params *p,
                        rs_metrics *metrics)
{
    rs_scheduler *s = calloc(1, sizeof *s);
    if (!s) return UV_ENOMEM;
    s->loop = loop;
    s->p = *p;
    if (s->p.max_in_flight < 1) s->p.max_in_flight = 1;
    s->metrics = metrics;
    s->id = atomic_fetch_add(&g_next_id, 1);
    atomic_init(&s->stopping, false);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->lean_running, 0);
    pthread_mutex_init(&s->inbox_lock, NULL);
    pthread_mutex_init(&s->scratch_lock, NULL);
    int rc = uv_async_init(loop, &s->wake, wake_cb);
    if (rc) {
        pthread_mutex_destroy(&s->inbox_lock);
        pthread_mutex_destroy(&s->scratch_lock);
        free(s);
        return rc;
    }
    s->wake.data = s;
    uv_timer_init(loop, &s->delay_timer);
    s->delay_timer.data = s;
    uv_timer_init(loop, &s->expire_timer);
    s->expire_timer.data = s;
    s->expire_at = UINT64_MAX;
    *out = s;
    return 0;
}

/* The sentences of admit's two refusals, shared with rs_scheduler_refuses so
 * that a refusal reads the same whichever of them gives it. */
static int refuse_stopping(char *err, size_t errlen)
{
    snprintf(err, errlen, "the server is shutting down and accepts no new requests");
    return 503;
}

static int refuse_full(const rs_model_version *mv, char *err, size_t errlen)
{
    snprintf(err, errlen, "model '%s' has %d requests queued already (max_queue); retry shortly",
             mv->name, mv->cfg.max_queue);
    return 503;
}

int rs_scheduler_refuses(rs_scheduler *s, rs_model_version *mv, char *err, size_t errlen)
{
    if (atomic_load(&s->stopping)) return refuse_stopping(err, errlen);
    if (atomic_load(&mv->queued) >= mv->cfg.max_queue) return refuse_full(mv, err, errlen);
    return 0;
}

int rs_scheduler_admit(rs_scheduler *s, rs_task *t, char *err, size_t errlen)
{
    if (atomic_load(&s->stopping)) return refuse_stopping(err, errlen);
    rs_model_version *mv = t->mv;
    /* The reservation itself: concurrent admits cannot both take the last
     * place, whatever rs_scheduler_refuses said a moment earlier. */
    if (atomic_fetch_add(&mv->queued, 1) >= mv->cfg.max_queue) {
        atomic_fetch_sub(&mv->queued, 1);
        return refuse_full(mv, err, errlen);
    }
    t->next = NULL;
    t->admitted_ns = uv_hrtime();
    t->deadline_ns = task_deadline(s, t);
    pthread_mutex_lock(&s->inbox_lock);
    bool was_empty = s->inbox_head == NULL;
    if (s->inbox_tail)
        s->inbox_tail->next = t;
    else
        s->inbox_head = t;
    s->inbox_tail = t;
    pthread_mutex_unlock(&s->inbox_lock);
    /* A non-empty inbox has a wake-up pending already: one per burst is enough. */
    if (was_empty) uv_async_send(&s->wake);
    return 0;
}

void rs_scheduler_stop(rs_scheduler *s)
{
    atomic_store(&s->stopping, true);
}

bool rs_scheduler_idle(rs_scheduler *s)
{
    pthread_mutex_lock(&s->inbox_lock);
    bool empty = s->inbox_head == NULL;
    pthread_mutex_unlock(&s->inbox_lock);
    return empty && s->ring_len == 0 && atomic_load(&s->in_flight) == 0 &&
           atomic_load(&s->lean_running) == 0;
}

int rs_scheduler_in_flight(rs_scheduler *s)
{
    return atomic_load(&s->in_flight);
}

void rs_scheduler_close(rs_scheduler *s)
{
    uv_close((uv_handle_t *)&s->wake, NULL);
    uv_timer_stop(&s->delay_timer);
    uv_close((uv_handle_t *)&s->delay_timer, NULL);
    uv_timer_stop(&s->expire_timer);
    uv_close((uv_handle_t *)&s->expire_timer, NULL);
}

void rs_scheduler_free(rs_scheduler *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_scratch; i++) {
        rs_infer_scratch_free(s->scratch[i]);
        free(s->scratch[i]);
    }
    free(s->scratch);
    pthread_mutex_destroy(&s->inbox_lock);
    pthread_mutex_destroy(&s->scratch_lock);
    free(s);
}
