/* scheduler: the batching policy as pure functions, then the real loop —
 * merging, max_batch splitting, the queue cap and request timeouts (the
 * shorter of the server's and the request's, expiring on a timer while the
 * pool is busy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"

/* ------------------------------------------------------------ policy */

static void test_batch_take(void **state)
{
    (void)state;
    int ones[] = {1, 1, 1};
    assert_int_equal(rs_batch_take(ones, 3, 2), 2);
    assert_int_equal(rs_batch_take(ones, 3, 64), 3);
    int big[] = {5, 1};
    assert_int_equal(rs_batch_take(big, 2, 2), 1); /* too large: runs alone */
    int mixed[] = {1, 5, 1};
    assert_int_equal(rs_batch_take(mixed, 3, 4), 1); /* FIFO: nothing overtakes the 5 */
    int twos[] = {2, 2, 2};
    assert_int_equal(rs_batch_take(twos, 3, 6), 3);
    assert_int_equal(rs_batch_take(twos, 3, 5), 2);
    assert_int_equal(rs_batch_take(NULL, 0, 8), 0);
}

static void test_batch_fits(void **state)
{
    (void)state;
    assert_true(rs_batch_fits(0, 100, 8));
    assert_true(rs_batch_fits(4, 4, 8));
    assert_false(rs_batch_fits(4, 5, 8));
    assert_false(rs_batch_fits(1, 0x7fffffff, 8)); /* no overflow */
}

static void test_batch_ready(void **state)
{
    (void)state;
    assert_true(rs_batch_ready(1, 64, 0, 0));       /* no delay: go */
    assert_false(rs_batch_ready(1, 64, 100, 1000)); /* waiting for more */
    assert_true(rs_batch_ready(64, 64, 0, 1000));   /* full */
    assert_true(rs_batch_ready(1, 64, 1000, 1000)); /* waited long enough */
}

/* ------------------------------------------------------------ the loop */

#define MAX_TASKS 3

/* One scheduler (one pool slot) on its own loop, one model version, and
 * up to MAX_TASKS one-row requests as the codec would decode them. */
typedef struct {
    uv_loop_t loop;
    rs_scheduler *s;
    rs_model_version *mv;
    atomic_int done; /* done() runs on pool threads */
    rs_request r[MAX_TASKS];
    rs_task t[MAX_TASKS];
    int n;
    char err[256];
} fixture;

static void task_done(rs_task *t)
{
    fixture *f = t->user;
    atomic_fetch_add(&f->done, 1);
}

static rs_model_version *version_new(rs_model_config cfg)
{
    rs_model_version *v = calloc(1, sizeof *v);
    atomic_init(&v->refs, 1);
    v->name = strdup("t");
    v->version = strdup("1");
    v->cfg = cfg;
    mlp_layer_spec spec[] = {{8, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    assert_int_equal(mlp_model_create(4, spec, 2, &v->model, NULL), MLP_OK);
    mlp_model_init(v->model, MLP_INIT_HE_NORMAL, 3, NULL);
    v->monitor = rs_monitor_create(v->model, 60);
    return v;
}

/* A one-row request, as the codec would decode it. */
static void request_init(rs_request *r)
{
    memset(r, 0, sizeof *r);
    r->proto = RS_PROTO_V2;
    r->rows = 1;
    r->x = calloc(4, sizeof(float));
    r->x_count = 4;
    for (int i = 0; i < 4; i++)
        r->x[i] = (float)(i % 5) - 1.5f;
    r->diag = RS_DIAG_SUMMARY;
    r->outputs = RS_OUT_PRIMARY;
}

/* timeout_us: the server's queue limit (--request-timeout-ms), 0 = none;
 * lean: --lean-max-flops (0 = off); n tasks, not yet admitted. */
static void fixture_init_lean(fixture *f, rs_model_config cfg, int64_t timeout_us, double lean,
                              int n)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    rs_scheduler_params p = {1, timeout_us, mlp_diag_default_params(), lean, MLP_KERNEL_NATIVE};
    assert_int_equal(rs_scheduler_create(&f->s, &f->loop, &p, NULL), 0);
    f->mv = version_new(cfg);
    f->n = n;
    for (int i = 0; i < n; i++) {
        request_init(&f->r[i]);
        f->t[i] = (rs_task){.mv = f->mv, .req = &f->r[i], .done = task_done, .user = f};
    }
}

static void fixture_init(fixture *f, rs_model_config cfg, int64_t timeout_us, int n)
{
    fixture_init_lean(f, cfg, timeout_us, 0, n);
}

static int admit(fixture *f, int i)
{
    return rs_scheduler_admit(f->s, &f->t[i], f->err, sizeof f->err);
}

/* Runs the loop until expect_done tasks are done and the scheduler is idle,
 * then closes it (no queued request may be left). */
static void fixture_drain(fixture *f, int expect_done)
{
    /* Delivery happens on the pool; the bookkeeping after it on the loop. */
    while (atomic_load(&f->done) < expect_done || !rs_scheduler_idle(f->s))
        uv_run(&f->loop, UV_RUN_ONCE);
    if (f->mv) assert_int_equal(atomic_load(&f->mv->queued), 0);
    rs_scheduler_close(f->s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rs_scheduler_free(f->s);
    rs_model_version_release(f->mv);
}

static void fixture_free_tasks(fixture *f)
{
    for (int i = 0; i < f->n; i++) {
        rs_buf_free(&f->t[i].body);
        rs_request_free(&f->r[i]);
    }
}

/*
 * Requests admitted together, each with its own timeout_us (0: none) under
 * the server's limit, run once they have waited 3 ms: each one's status,
 * the rows of the batch it ran in, and a phrase of its body.
 */
typedef struct {
    rs_model_config cfg;
    int64_t server_timeout_us;
    int n;
    int64_t timeout_us[MAX_TASKS];
    int status[MAX_TASKS];
    int batch_rows[MAX_TASKS];
    const char *body_has[MAX_TASKS];
} queue_case;

static void test_queue(void **state)
{
    const queue_case *c = *state;
    fixture f;
    fixture_init(&f, c->cfg, c->server_timeout_us, c->n);
    for (int i = 0; i < c->n; i++) {
        f.r[i].timeout_us = c->timeout_us[i];
        assert_int_equal(admit(&f, i), 0);
    }
    usleep(3000);
    fixture_drain(&f, c->n);
    for (int i = 0; i < c->n; i++) {
        assert_int_equal(f.t[i].status, c->status[i]);
        assert_int_equal(f.t[i].batch_rows, c->batch_rows[i]);
        assert_true(f.t[i].body.len > 0);
        if (c->body_has[i]) assert_non_null(strstr(f.t[i].body.data, c->body_has[i]));
    }
    fixture_free_tasks(&f);
}

/* All three queued before the loop ran: one batch. */
static const queue_case merges_queued_requests = {
    .cfg = {64, 0, 100, 60}, .n = 3, .status = {200, 200, 200}, .batch_rows = {3, 3, 3}};

static const queue_case max_batch_splits = {
    .cfg = {2, 0, 100, 60}, .n = 3, .status = {200, 200, 200}, .batch_rows = {2, 2, 1}};

/* The first times out in the queue and is not computed; the other is. */
static const queue_case timed_out_request_is_not_computed = {.cfg = {64, 0, 100, 60},
                                                             .n = 2,
                                                             .timeout_us = {1, 0},
                                                             .status = {503, 200},
                                                             .batch_rows = {0, 1},
                                                             .body_has = {"timeout_us", NULL}};

/* The codec accepts timeout_us up to 9.2e18; a limit past 2^64 ns must mean
 * "a very long wait", not wrap around to a few nanoseconds. */
static const queue_case huge_timeout_does_not_wrap = {
    .cfg = {64, 0, 100, 60},
    .n = 2,
    .timeout_us = {18446744073709552LL /* * 1000 = 2^64 + 384 */, 9200000000000000000LL},
    .status = {200, 200},
    .batch_rows = {2, 2}};

/* A client's timeout_us shortens the server's limit (1 ms here), never
 * extends it: it must not hold a queue slot longer than the operator allows.
 * The first asks for 10 s, the second for less: granted. */
static const queue_case own_timeout_cannot_extend_the_server_limit = {
    .cfg = {64, 0, 100, 60},
    .server_timeout_us = 1000,
    .n = 2,
    .timeout_us = {10000000, 500},
    .status = {503, 503},
    .batch_rows = {0, 0},
    .body_has = {"limit of 1000 us", "limit of 500 us"}};

static void test_queue_cap_refuses_at_once(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 2, 60, MLP_KERNEL_NATIVE}, 0, 3);
    char early[256];
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 0);
    assert_int_equal(admit(&f, 0), 0);
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 0);
    assert_int_equal(admit(&f, 1), 0);
    /* The early check (asked before a body is decoded) sees the full queue
     * and says what admit says. */
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 503);
    assert_int_equal(admit(&f, 2), 503);
    assert_non_null(strstr(f.err, "max_queue"));
    assert_string_equal(early, f.err);
    fixture_drain(&f, 2); /* which also checks the queue count went back to 0 */
    fixture_free_tasks(&f);
}

/* A done() that blocks its pool thread until released: the pool stays busy. */
static pthread_mutex_t g_block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_block_cond = PTHREAD_COND_INITIALIZER;
static bool g_blocking, g_release;

static void task_done_blocking(rs_task *t)
{
    pthread_mutex_lock(&g_block_lock);
    g_blocking = true;
    pthread_cond_broadcast(&g_block_cond);
    while (!g_release)
        pthread_cond_wait(&g_block_cond, &g_block_lock);
    pthread_mutex_unlock(&g_block_lock);
    task_done(t);
}

static void watchdog_cb(uv_timer_t *h)
{
    *(bool *)h->data = true;
}

/* The only pool thread is busy, so nothing dispatches; a queued request with
 * a 2 ms timeout must still be answered by its deadline's timer, not when the
 * busy batch ends (here: never, until the watchdog gives up after 5 s). */
static void test_queued_request_expires_while_the_pool_is_busy(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0, 2);
    f.t[0].done = task_done_blocking;
    f.r[1].timeout_us = 2000;
    g_blocking = g_release = false;
    assert_int_equal(admit(&f, 0), 0);
    uv_run(&f.loop, UV_RUN_ONCE); /* dispatched to the pool */
    pthread_mutex_lock(&g_block_lock);
    while (!g_blocking)
        pthread_cond_wait(&g_block_cond, &g_block_lock);
    pthread_mutex_unlock(&g_block_lock);

    bool gave_up = false;
    uv_timer_t watchdog;
    uv_timer_init(&f.loop, &watchdog);
    watchdog.data = &gave_up;
    uv_timer_start(&watchdog, watchdog_cb, 5000, 0);
    assert_int_equal(admit(&f, 1), 0);
    while (atomic_load(&f.done) < 1 && !gave_up)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_false(gave_up);
    assert_int_equal(f.t[1].status, 503);
    assert_int_equal(f.t[1].batch_rows, 0);

    uv_close((uv_handle_t *)&watchdog, NULL);
    pthread_mutex_lock(&g_block_lock);
    g_release = true;
    pthread_cond_broadcast(&g_block_cond);
    pthread_mutex_unlock(&g_block_lock);
    fixture_drain(&f, 2);
    assert_int_equal(f.t[0].status, 200);
    fixture_free_tasks(&f);
}

static void test_batch_delay_waits_for_company(void **state)
{
    (void)state;
    fixture f;
    /* 20 ms delay: the first request waits, the second joins its batch. */
    fixture_init(&f, (rs_model_config){64, 20000, 100, 60, MLP_KERNEL_NATIVE}, 0, 2);
    assert_int_equal(admit(&f, 0), 0);
    uv_run(&f.loop, UV_RUN_NOWAIT); /* the first is queued and waits */
    assert_int_equal(atomic_load(&f.done), 0);
    assert_int_equal(admit(&f, 1), 0);
    fixture_drain(&f, 2);
    assert_int_equal(f.t[0].batch_rows, 2);
    assert_int_equal(f.t[1].batch_rows, 2);
    assert_true(f.t[0].queue_ns >= 19000000u);
    fixture_free_tasks(&f);
}

static void test_stopped_scheduler_refuses(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0, 1);
    rs_scheduler_stop(f.s);
    char early[256];
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 503);
    assert_int_equal(admit(&f, 0), 503);
    assert_non_null(strstr(f.err, "shutting down"));
    assert_string_equal(early, f.err);
    fixture_drain(&f, 0);
    fixture_free_tasks(&f);
}

/* done() of a request whose owner drops its model reference at once (the
 * HTTP side releases it when the connection completes, which can happen
 * before the loop thread looks at the queue again). */
static void task_done_release(rs_task *t)
{
    fixture *f = t->user;
    rs_model_version_release(t->mv);
    atomic_fetch_add(&f->done, 1);
}

/* A model unloaded while its requests wait: the queue holds the only
 * references, and the last request to time out drops the last one. The
 * scheduler must not touch the version after that (ASan: use after free). */
static void test_unloaded_version_expiring_is_not_touched(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0, 2);
    for (int i = 0; i < 2; i++) {
        f.r[i].timeout_us = 1;
        f.t[i].done = task_done_release;
        rs_model_version_acquire(f.mv); /* the request's reference */
        assert_int_equal(admit(&f, i), 0);
    }
    rs_model_version_release(f.mv); /* unloaded: the registry's reference is gone */
    f.mv = NULL;
    usleep(3000);
    fixture_drain(&f, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f.t[i].status, 503);
        assert_non_null(strstr(f.t[i].body.data, "timeout_us"));
    }
    fixture_free_tasks(&f);
}

/* ------------------------------------------------------------ lean path */

/* The fixture's 4-8-3 model: 4*8 + 8*3 = 56 multiply-adds a row. */
static void test_lean_cost(void **state)
{
    (void)state;
    rs_model_version *mv = version_new((rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE});
    rs_request r;
    request_init(&r);
    r.diag = RS_DIAG_NONE;
    assert_true(rs_lean_cost(mv->model, &r) == 56.0);
    r.rows = 3;
    assert_true(rs_lean_cost(mv->model, &r) == 168.0);
    r.diag = RS_DIAG_SUMMARY; /* a backward and mlp_diagnose after the forward */
    assert_true(rs_lean_cost(mv->model, &r) == 168.0 * RS_LEAN_BACKWARD_FACTOR);
    r.diag = RS_DIAG_FULL;
    assert_true(rs_lean_cost(mv->model, &r) == 168.0 * RS_LEAN_BACKWARD_FACTOR);
    rs_request_free(&r);
    rs_model_version_release(mv);
}

/* Small work runs on the calling thread: answered before the loop ever ran,
 * done() not called, nothing queued, the monitor counted its row, and the
 * answer is the pool's byte for byte (the same request through admit). */
static void test_lean_computes_small_work_here(void **state)
{
    (void)state;
    fixture f;
    fixture_init_lean(&f, (rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0,
                      56.0 * RS_LEAN_BACKWARD_FACTOR, 2);
    assert_true(rs_scheduler_lean(f.s, &f.t[0]));
    assert_int_equal(f.t[0].status, 200);
    assert_int_equal(f.t[0].batch_rows, 1);
    assert_true(f.t[0].queue_ns == 0);
    assert_int_equal(atomic_load(&f.done), 0);
    assert_int_equal(atomic_load(&f.mv->queued), 0);
    assert_true(rs_scheduler_idle(f.s));
    mlp_activity a;
    assert_int_equal(mlp_activity_init(f.mv->model, &a, NULL), MLP_OK);
    rs_monitor_snapshot(f.mv->monitor, &a);
    assert_true(a.rows == 1);
    mlp_activity_free(&a);

    assert_int_equal(admit(&f, 1), 0); /* the same request through the pool */
    rs_model_version_acquire(f.mv);    /* kept past fixture_drain for the check below */
    rs_model_version *mv = f.mv;
    fixture_drain(&f, 1);
    assert_int_equal(f.t[1].status, 200);
    assert_int_equal(f.t[1].batch_rows, 1);
    assert_true(f.t[0].body.len > 0 && f.t[0].body.len == f.t[1].body.len);
    assert_memory_equal(f.t[0].body.data, f.t[1].body.data, f.t[0].body.len);
    assert_true(f.t[0].json_len == f.t[1].json_len);
    assert_int_equal(mlp_activity_init(mv->model, &a, NULL), MLP_OK);
    rs_monitor_snapshot(mv->monitor, &a);
    assert_true(a.rows == 2); /* the pool's row joined the lean one */
    mlp_activity_free(&a);
    rs_model_version_release(mv);
    fixture_free_tasks(&f);
}

/* Each way the lean path says no leaves the task untouched for admit. */
static void assert_declined(fixture *f, int i)
{
    assert_false(rs_scheduler_lean(f->s, &f->t[i]));
    assert_int_equal(f->t[i].status, 0);
    assert_true(f->t[i].body.len == 0 && f->t[i].body.data == NULL);
}

/* One request to a version of configuration cfg, with max_flops the lean
 * path's threshold: declined, and then served by the batcher. */
static void expect_declined_by(rs_model_config cfg, double max_flops)
{
    fixture f;
    fixture_init_lean(&f, cfg, 0, max_flops, 1);
    assert_declined(&f, 0);
    fixture_drain(&f, 0);
    fixture_free_tasks(&f);
}

static void test_lean_declines_large_work_and_when_off(void **state)
{
    (void)state;
    fixture f;
    double cost = 56.0 * RS_LEAN_BACKWARD_FACTOR; /* one row, summary diagnostics */
    fixture_init_lean(&f, (rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0, cost - 1, 2);
    assert_declined(&f, 0); /* one multiply-add over the threshold */
    f.r[1].diag = RS_DIAG_NONE;
    assert_true(rs_scheduler_lean(f.s, &f.t[1])); /* no backward: 56, under it */
    fixture_drain(&f, 0);
    fixture_free_tasks(&f);
    expect_declined_by((rs_model_config){64, 0, 100, 60, MLP_KERNEL_NATIVE}, 0); /* 0 = off */
}

/* A version with a batching delay asked its requests to wait for company. */
static void test_lean_declines_a_version_with_a_batch_delay(void **state)
{
    (void)state;
    expect_declined_by((rs_model_config){64, 20000, 100, 60, MLP_KERNEL_NATIVE}, 1e9);
}

/*
 * The fixture of the three tests below, built by open_lean_setup from their
 * cmocka state: n tasks on a version of max_batch rows with no batching
 * delay, the lean path open to any cost (--lean-max-flops 1e9). Each test
 * drains it; fixture_teardown frees the tasks.
 */
typedef struct {
    int max_batch, n;
} open_lean;

static const open_lean OPEN_64_2 = {64, 2}, OPEN_1_1 = {1, 1}, OPEN_64_1 = {64, 1};

static int open_lean_setup(void **state)
{
    const open_lean *o = *state;
    fixture *f = malloc(sizeof *f);
    if (!f) return -1;
    fixture_init_lean(f, (rs_model_config){o->max_batch, 0, 100, 60, MLP_KERNEL_NATIVE}, 0, 1e9,
                      o->n);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    fixture_free_tasks(*state);
    free(*state);
    return 0;
}

/* FIFO per version: a request never overtakes one already queued.
 * State: OPEN_64_2. */
static void test_lean_declines_while_the_queue_holds_requests(void **state)
{
    fixture *f = *state;
    assert_int_equal(admit(f, 0), 0); /* queued: the loop has not run */
    assert_declined(f, 1);
    assert_int_equal(admit(f, 1), 0);
    fixture_drain(f, 2);
    for (int i = 0; i < 2; i++) /* both went through the batcher, together */
        assert_int_equal(f->t[i].batch_rows, 2);
}

/* A request with more rows than max_batch runs alone, and its scratch gives
 * the memory back afterwards (rs_infer_scratch_trim): the pool's job, never
 * the HTTP thread's, however cheap its compute. State: OPEN_1_1. */
static void test_lean_declines_a_request_larger_than_a_batch(void **state)
{
    fixture *f = *state;
    float *x = realloc(f->r[0].x, 8 * sizeof(float));
    assert_non_null(x);
    memcpy(x + 4, x, 4 * sizeof(float));
    f->r[0].x = x;
    f->r[0].x_count = 8;
    f->r[0].rows = 2;
    assert_declined(f, 0);
    assert_int_equal(admit(f, 0), 0);
    fixture_drain(f, 1);
    assert_int_equal(f->t[0].status, 200);
    assert_int_equal(f->t[0].batch_rows, 2);
}

/* Once stopping, the lean path declines too, so admit's 503 answers.
 * State: OPEN_64_1. */
static void test_lean_declines_when_stopping(void **state)
{
    fixture *f = *state;
    rs_scheduler_stop(f->s);
    assert_declined(f, 0);
    assert_int_equal(admit(f, 0), 503);
    fixture_drain(f, 0);
}

/* A table case as its own cmocka test, named after the case. */
#define QUEUE_CASE(c)                                                                              \
    {                                                                                              \
        "test_" #c, test_queue, NULL, NULL, (void *)&c                                             \
    }

int main(void)
{
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_take),
        cmocka_unit_test(test_batch_fits),
        cmocka_unit_test(test_batch_ready),
        QUEUE_CASE(merges_queued_requests),
        QUEUE_CASE(max_batch_splits),
        cmocka_unit_test(test_queue_cap_refuses_at_once),
        QUEUE_CASE(timed_out_request_is_not_computed),
        QUEUE_CASE(huge_timeout_does_not_wrap),
        QUEUE_CASE(own_timeout_cannot_extend_the_server_limit),
        cmocka_unit_test(test_queued_request_expires_while_the_pool_is_busy),
        cmocka_unit_test(test_batch_delay_waits_for_company),
        cmocka_unit_test(test_stopped_scheduler_refuses),
        cmocka_unit_test(test_unloaded_version_expiring_is_not_touched),
        cmocka_unit_test(test_lean_cost),
        cmocka_unit_test(test_lean_computes_small_work_here),
        cmocka_unit_test(test_lean_declines_large_work_and_when_off),
        cmocka_unit_test(test_lean_declines_a_version_with_a_batch_delay),
        cmocka_unit_test_prestate_setup_teardown(test_lean_declines_while_the_queue_holds_requests,
                                                 open_lean_setup, fixture_teardown,
                                                 (void *)&OPEN_64_2),
        cmocka_unit_test_prestate_setup_teardown(test_lean_declines_a_request_larger_than_a_batch,
                                                 open_lean_setup, fixture_teardown,
                                                 (void *)&OPEN_1_1),
        cmocka_unit_test_prestate_setup_teardown(test_lean_declines_when_stopping, open_lean_setup,
                                                 fixture_teardown, (void *)&OPEN_64_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
