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

typedef struct {
    uv_loop_t loop;
    rs_scheduler *s;
    rs_model_version *mv;
    atomic_int done; /* done() runs on pool threads */
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

/* timeout_us: the server's queue limit (--request-timeout-ms), 0 = none. */
static void fixture_init_timeout(fixture *f, rs_model_config cfg, int in_flight, int64_t timeout_us)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    rs_scheduler_params p = {in_flight, timeout_us, mlp_diag_default_params()};
    assert_int_equal(rs_scheduler_create(&f->s, &f->loop, &p, NULL), 0);
    f->mv = version_new(cfg);
}

static void fixture_init(fixture *f, rs_model_config cfg, int in_flight)
{
    fixture_init_timeout(f, cfg, in_flight, 0);
}

static void fixture_run(fixture *f, int expect_done)
{
    /* Delivery happens on the pool; the bookkeeping after it on the loop. */
    while (atomic_load(&f->done) < expect_done || !rs_scheduler_idle(f->s))
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(atomic_load(&f->mv->queued), 0);
    rs_scheduler_close(f->s);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    rs_scheduler_free(f->s);
    rs_model_version_release(f->mv);
}

/* A request of `rows` rows, as the codec would decode it. */
static void request_init(rs_request *r, int rows)
{
    memset(r, 0, sizeof *r);
    r->proto = RS_PROTO_V2;
    r->rows = rows;
    r->x = calloc((size_t)rows * 4, sizeof(float));
    for (int i = 0; i < rows * 4; i++)
        r->x[i] = (float)(i % 5) - 1.5f;
    r->diag = RS_DIAG_SUMMARY;
    r->outputs = RS_OUT_PRIMARY;
}

static void task_init(rs_task *t, fixture *f, rs_request *r)
{
    memset(t, 0, sizeof *t);
    t->mv = f->mv;
    t->req = r;
    t->done = task_done;
    t->user = f;
}

static void tasks_free(rs_task *t, rs_request *r, int n)
{
    for (int i = 0; i < n; i++) {
        rs_buf_free(&t[i].body);
        rs_request_free(&r[i]);
    }
}

static void test_merges_queued_requests(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r[3];
    rs_task t[3];
    char err[256];
    for (int i = 0; i < 3; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
        assert_int_equal(rs_scheduler_admit(f.s, &t[i], err, sizeof err), 0);
    }
    fixture_run(&f, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].status, 200);
        assert_int_equal(t[i].batch_rows, 3); /* all three queued before the loop ran */
        assert_true(t[i].body.len > 0);
    }
    tasks_free(t, r, 3);
}

static void test_max_batch_splits(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){2, 0, 100, 60}, 1);
    rs_request r[3];
    rs_task t[3];
    char err[256];
    for (int i = 0; i < 3; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
        assert_int_equal(rs_scheduler_admit(f.s, &t[i], err, sizeof err), 0);
    }
    fixture_run(&f, 3);
    assert_int_equal(t[0].batch_rows, 2);
    assert_int_equal(t[1].batch_rows, 2);
    assert_int_equal(t[2].batch_rows, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t[i].status, 200);
    tasks_free(t, r, 3);
}

static void test_queue_cap_refuses_at_once(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 2, 60}, 1);
    rs_request r[3];
    rs_task t[3];
    char err[256];
    for (int i = 0; i < 3; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    char early[256];
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    /* The early check (asked before a body is decoded) sees the full queue
     * and says what admit says. */
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 503);
    assert_int_equal(rs_scheduler_admit(f.s, &t[2], err, sizeof err), 503);
    assert_non_null(strstr(err, "max_queue"));
    assert_string_equal(early, err);
    fixture_run(&f, 2); /* which also checks the queue count went back to 0 */
    tasks_free(t, r, 3);
}

static void test_timed_out_request_is_not_computed(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    r[0].timeout_us = 1;
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    usleep(3000);
    fixture_run(&f, 2);
    assert_int_equal(t[0].status, 503);
    assert_int_equal(t[0].batch_rows, 0);
    assert_non_null(strstr(t[0].body.data, "timeout_us"));
    assert_int_equal(t[1].status, 200); /* no timeout: computed */
    assert_int_equal(t[1].batch_rows, 1);
    tasks_free(t, r, 2);
}

/* The codec accepts timeout_us up to 9.2e18; a limit past 2^64 ns must mean
 * "a very long wait", not wrap around to a few nanoseconds. */
static void test_huge_timeout_does_not_wrap(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    r[0].timeout_us = 18446744073709552LL; /* * 1000 = 2^64 + 384 */
    r[1].timeout_us = 9200000000000000000LL;
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    usleep(3000);
    fixture_run(&f, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t[i].status, 200);
        assert_int_equal(t[i].batch_rows, 2);
    }
    tasks_free(t, r, 2);
}

/* A client's timeout_us shortens the server's limit, never extends it: it
 * must not hold a queue slot longer than the operator allows. */
static void test_own_timeout_cannot_extend_the_server_limit(void **state)
{
    (void)state;
    fixture f;
    fixture_init_timeout(&f, (rs_model_config){64, 0, 100, 60}, 1, 1000); /* 1 ms */
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    r[0].timeout_us = 10000000; /* asks for 10 s */
    r[1].timeout_us = 500;      /* asks for less: granted */
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    usleep(3000);
    fixture_run(&f, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t[i].status, 503);
        assert_int_equal(t[i].batch_rows, 0);
    }
    assert_non_null(strstr(t[0].body.data, "limit of 1000 us"));
    assert_non_null(strstr(t[1].body.data, "limit of 500 us"));
    tasks_free(t, r, 2);
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
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    t[0].done = task_done_blocking;
    r[1].timeout_us = 2000;
    g_blocking = g_release = false;
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
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
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    while (atomic_load(&f.done) < 1 && !gave_up)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_false(gave_up);
    assert_int_equal(t[1].status, 503);
    assert_int_equal(t[1].batch_rows, 0);

    uv_close((uv_handle_t *)&watchdog, NULL);
    pthread_mutex_lock(&g_block_lock);
    g_release = true;
    pthread_cond_broadcast(&g_block_cond);
    pthread_mutex_unlock(&g_block_lock);
    fixture_run(&f, 2);
    assert_int_equal(t[0].status, 200);
    tasks_free(t, r, 2);
}

static void test_batch_delay_waits_for_company(void **state)
{
    (void)state;
    fixture f;
    /* 20 ms delay: the first request waits, the second joins its batch. */
    fixture_init(&f, (rs_model_config){64, 20000, 100, 60}, 1);
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        task_init(&t[i], &f, &r[i]);
    }
    assert_int_equal(rs_scheduler_admit(f.s, &t[0], err, sizeof err), 0);
    uv_run(&f.loop, UV_RUN_NOWAIT); /* the first is queued and waits */
    assert_int_equal(atomic_load(&f.done), 0);
    assert_int_equal(rs_scheduler_admit(f.s, &t[1], err, sizeof err), 0);
    fixture_run(&f, 2);
    assert_int_equal(t[0].batch_rows, 2);
    assert_int_equal(t[1].batch_rows, 2);
    assert_true(t[0].queue_ns >= 19000000u);
    tasks_free(t, r, 2);
}

static void test_stopped_scheduler_refuses(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r;
    rs_task t;
    char err[256];
    request_init(&r, 1);
    task_init(&t, &f, &r);
    rs_scheduler_stop(f.s);
    char early[256];
    assert_int_equal(rs_scheduler_refuses(f.s, f.mv, early, sizeof early), 503);
    assert_int_equal(rs_scheduler_admit(f.s, &t, err, sizeof err), 503);
    assert_non_null(strstr(err, "shutting down"));
    assert_string_equal(early, err);
    fixture_run(&f, 0);
    tasks_free(&t, &r, 1);
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
    fixture_init(&f, (rs_model_config){64, 0, 100, 60}, 1);
    rs_request r[2];
    rs_task t[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        request_init(&r[i], 1);
        r[i].timeout_us = 1;
        task_init(&t[i], &f, &r[i]);
        t[i].done = task_done_release;
        rs_model_version_acquire(f.mv); /* the request's reference */
        assert_int_equal(rs_scheduler_admit(f.s, &t[i], err, sizeof err), 0);
    }
    rs_model_version_release(f.mv); /* unloaded: the registry's reference is gone */
    f.mv = NULL;
    usleep(3000);
    while (atomic_load(&f.done) < 2 || !rs_scheduler_idle(f.s))
        uv_run(&f.loop, UV_RUN_ONCE);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t[i].status, 503);
        assert_non_null(strstr(t[i].body.data, "timeout_us"));
    }
    rs_scheduler_close(f.s);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    rs_scheduler_free(f.s);
    tasks_free(t, r, 2);
}

int main(void)
{
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_take),
        cmocka_unit_test(test_batch_fits),
        cmocka_unit_test(test_batch_ready),
        cmocka_unit_test(test_merges_queued_requests),
        cmocka_unit_test(test_max_batch_splits),
        cmocka_unit_test(test_queue_cap_refuses_at_once),
        cmocka_unit_test(test_timed_out_request_is_not_computed),
        cmocka_unit_test(test_huge_timeout_does_not_wrap),
        cmocka_unit_test(test_own_timeout_cannot_extend_the_server_limit),
        cmocka_unit_test(test_queued_request_expires_while_the_pool_is_busy),
        cmocka_unit_test(test_batch_delay_waits_for_company),
        cmocka_unit_test(test_stopped_scheduler_refuses),
        cmocka_unit_test(test_unloaded_version_expiring_is_not_touched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
