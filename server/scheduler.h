/*
 * scheduler — per-model queues, the dynamic batcher and the hand-off to the
 * libuv thread pool. It lives on one libuv loop thread:
 *
 *   any thread ──admit──▶ inbox ──uv_async──▶ loop thread: per-version queues
 *        ▲                                      │ batcher: merge up to max_batch rows
 *        │                                      ▼
 *   task->done(t) ◀───────────────────── uv_queue_work: rs_infer_run (pool)
 *                                               │ after_work (loop): bookkeeping,
 *                                               ▼ next dispatch
 *
 * Timeouts: a queued request past its deadline (the shorter of
 * --request-timeout-ms and its own timeout_us) is answered 503 uncomputed. A
 * timer armed for the earliest deadline does it on the loop thread, which
 * compute never blocks, so requests expire on time even while every pool
 * thread is busy with a long batch.
 *
 * Fairness: versions with queued work sit on a round-robin ring; each turn
 * takes one batch from the head version and moves it to the back, and at
 * most max_in_flight batches compute at once (one per pool thread), so a busy
 * model cannot starve the others and a backlog turns into bigger batches.
 *
 * A task belongs to its caller, who keeps it (and its request and model
 * reference) alive until done() ran; done() is the scheduler's last touch.
 */
#ifndef RS_SCHEDULER_H
#define RS_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "codec/codec.h"
#include "metrics.h"
#include "registry.h"

typedef struct rs_task {
    struct rs_task *next; /* scheduler's link */
    rs_model_version *mv; /* the version to run on (caller holds a reference) */
    rs_request *req;      /* decoded request (caller owns) */
    uint64_t admitted_ns; /* uv_hrtime() at admission; set by rs_scheduler_admit */
    uint64_t deadline_ns; /* answered 503 if still queued then; UINT64_MAX = never (scheduler's) */
    /* Results, set before done(): */
    int status;          /* HTTP status */
    rs_buf body;         /* response body; ownership passes to the caller */
    size_t json_len;     /* JSON part (binary extension), else body.len */
    uint64_t queue_ns;   /* admitted → taken into a batch */
    uint64_t compute_ns; /* the batch's compute time */
    int batch_rows;      /* rows of the batch it ran in (0 if not computed) */
    /* Called once: on the pool thread that computed it, or on the loop thread
     * when it is answered without computing (timeout, out of memory). */
    void (*done)(struct rs_task *t);
    void *user;
} rs_task;

typedef struct {
    int max_in_flight; /* batches computing at once (= pool threads) */
    /* Queue wait limit (--request-timeout-ms); 0 = none. A request's own
     * timeout_us can only shorten it. */
    int64_t default_timeout_us;
    mlp_diag_params diag;
    /* The lean path (--lean-max-flops): requests costing at most this many
     * multiply-adds (rs_lean_cost) may run on the admitting thread; 0 = off. */
    double lean_max_flops;
    mlp_kernel kernel; /* of every pool thread's workspace (--kernel) */
} rs_scheduler_params;

typedef struct rs_scheduler rs_scheduler;

/* Creates the scheduler's handles on loop (call on the loop's thread, before
 * it runs). metrics may be NULL. Returns 0 or a negative libuv error. */
int rs_scheduler_create(rs_scheduler **out, uv_loop_t *loop, const rs_scheduler_params *p,
                        rs_metrics *metrics);

/*
 * Any thread. Queues t (t->mv, t->req, t->done set) and returns 0, or
 * refuses it at once with 503 — the version's queue holds max_queue requests
 * already, or the scheduler is stopping — and a sentence in err. A refused
 * task is not touched again.
 */
int rs_scheduler_admit(rs_scheduler *s, rs_task *t, char *err, size_t errlen);

/*
 * Any thread. Whether admit would refuse a request for mv right now: 503 with
 * admit's sentence in err, else 0. It reads the counters admit keeps (two
 * atomic loads), so the HTTP front asks it before decoding a body and a
 * refusal under overload costs no decode. A snapshot only: admit stays the
 * authority (the queue may fill between the two calls).
 */
int rs_scheduler_refuses(rs_scheduler *s, rs_model_version *mv, char *err, size_t errlen);

/*
 * Any thread (an HTTP polling thread): the lean path. When t (mv, req set)
 * is small work — rs_lean_cost() within lean_max_flops, and at most the
 * version's max_batch rows — and its version has no batching delay, nothing
 * queued (so it overtakes no one: FIFO order per version holds) and the
 * scheduler is not stopping, computes it here and
 * now as a batch of one, in this thread's own workspace with the pool's
 * kernel settings (so the answer is byte-identical), counts what a pool batch
 * counts (queue time 0, the batch's metrics, statistics and monitor
 * activity), sets t's results and returns true; done() is not called. Else
 * returns false and t is untouched: admit it as usual.
 */
bool rs_scheduler_lean(rs_scheduler *s, rs_task *t);

/* Loop thread. After stop, admit refuses new work; queued work still runs. */
void rs_scheduler_stop(rs_scheduler *s);
/* Loop thread. True when nothing is queued or computing (lean requests too). */
bool rs_scheduler_idle(rs_scheduler *s);
int rs_scheduler_in_flight(rs_scheduler *s); /* any thread (approximate) */
/* Loop thread, once idle: closes the handles; run the loop to let them close,
 * then rs_scheduler_free (which also frees every pool thread's scratch). */
void rs_scheduler_close(rs_scheduler *s);
void rs_scheduler_free(rs_scheduler *s);

/* ------------------------------------------------- batching policy (pure) */

/* Whether a request of next_rows joins a batch holding batch_rows: always
 * when the batch is empty (a request larger than max_rows runs alone),
 * otherwise only while the total stays within max_rows. */
bool rs_batch_fits(int batch_rows, int next_rows, int max_rows);

/* How many requests, from the front of a FIFO queue with these row counts,
 * form the next batch: the longest prefix that fits (order is never changed,
 * so no request is overtaken). 0 only when n is 0. */
int rs_batch_take(const int *rows, int n, int max_rows);

/* Whether a queue is ready to dispatch under a batching delay: when it holds
 * max_rows already, or its oldest request has waited delay_ns. */
bool rs_batch_ready(int queued_rows, int max_rows, uint64_t oldest_wait_ns, uint64_t delay_ns);

/* What a request costs the lean path's judgement: the model's multiply-adds
 * over its rows (mlp_model_flops), times RS_LEAN_BACKWARD_FACTOR when
 * diagnostics run a backward pass and mlp_diagnose after the forward. */
#define RS_LEAN_BACKWARD_FACTOR 3
double rs_lean_cost(const mlp_model *m, const rs_request *req);

#endif /* RS_SCHEDULER_H */
