/* monitor: job activities merge into the live window, and the window forgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"
#include "../test_models.h"
#include "../test_params.h"

/* 2 inputs -> 4 ReLU units whose weights make units 2 and 3 dead for
 * non-negative inputs (negative weights, zero bias) -> 1 output. */
static mlp_model *model_new(void)
{
    mlp_model *m = TEST_MODEL(2, {4, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    const float w0[] = {1, 0, 0, 1, -1, -1, -2, -1};
    weights_put(m, 0, w0);
    weight_set(m, 1, 0, 1);
    return m;
}

/* What a test watches: the model, a workspace for its forward passes and an
 * activity record of its shape for the window's snapshots. */
typedef struct {
    mlp_model *m;
    mlp_workspace *ws;
    mlp_activity snap;
} watched;

static int watched_new(void **state)
{
    static watched w;
    w.m = model_new();
    if (mlp_workspace_create(&w.ws, NULL) != MLP_OK) return -1;
    if (mlp_activity_init(w.m, &w.snap, NULL) != MLP_OK) return -1;
    *state = &w;
    return 0;
}

static int watched_free(void **state)
{
    watched *w = *state;
    mlp_activity_free(&w->snap);
    mlp_workspace_free(w->ws);
    mlp_model_free(w->m);
    return 0;
}

/* A job of n rows x, as the batch runner reports it to the monitor. */
static void count_rows(rs_monitor *mon, watched *w, const float *x, int n)
{
    assert_int_equal(mlp_forward(w->m, w->ws, x, n, NULL, NULL), MLP_OK);
    mlp_activity *a = rs_monitor_borrow(mon);
    assert_non_null(a);
    assert_int_equal(mlp_activity_add(a, w->ws, 0, n, NULL), MLP_OK);
    rs_monitor_give_back(mon, a);
}

static void test_window_counts_every_job(void **state)
{
    watched *w = *state;
    rs_monitor *mon = rs_monitor_create(w->m, 60);
    const float x1[] = {1, 0, 2, 0}, x2[] = {0, 3};
    count_rows(mon, w, x1, 2); /* unit 0 active */
    count_rows(mon, w, x2, 1); /* unit 1 active */
    rs_monitor_snapshot(mon, &w->snap);
    assert_int_equal(w->snap.rows, 3);
    assert_int_equal(w->snap.active[0][0], 2);
    assert_int_equal(w->snap.active[0][1], 1);
    assert_int_equal(w->snap.active[0][2], 0);
    assert_float_equal(mlp_activity_never_active_fraction(&w->snap, 0), 0.5f, 1e-6f);
    rs_monitor_free(mon);
}

static void test_window_forgets_old_rows(void **state)
{
    watched *w = *state;
    rs_monitor *mon = rs_monitor_create(w->m, 1); /* 1 s window, 250 ms buckets */
    const float x[] = {1, 1};
    count_rows(mon, w, x, 1);
    rs_monitor_snapshot(mon, &w->snap);
    assert_int_equal(w->snap.rows, 1);
    usleep(1300 * 1000);
    rs_monitor_snapshot(mon, &w->snap);
    assert_int_equal(w->snap.rows, 0);
    count_rows(mon, w, x, 1); /* a reused bucket starts from zero */
    rs_monitor_snapshot(mon, &w->snap);
    assert_int_equal(w->snap.rows, 1);
    rs_monitor_free(mon);
}

/* The lean path: HTTP threads count straight into the window while the loop
 * thread gives batch activities back. Every row must land, none twice. */
enum { COUNTERS = 3, COUNTS = 20000 };

typedef struct {
    rs_monitor *mon;
    const mlp_model *m;
} count_job;

static void *count_thread(void *p)
{
    count_job *j = p;
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    const float x[] = {1, 0, 0, 3};
    assert_int_equal(mlp_forward(j->m, ws, x, 2, NULL, NULL), MLP_OK);
    for (int i = 0; i < COUNTS; i++)
        rs_monitor_count(j->mon, ws, 2);
    mlp_workspace_free(ws);
    return NULL;
}

static void test_count_from_many_threads_adds_every_row(void **state)
{
    watched *w = *state;
    rs_monitor *mon = rs_monitor_create(w->m, 3600);
    count_job job = {mon, w->m};
    pthread_t th[COUNTERS];
    for (int i = 0; i < COUNTERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count_thread, &job), 0);
    const float x[] = {1, 0};
    for (int i = 0; i < COUNTS; i++)
        count_rows(mon, w, x, 1); /* the batches' way, meanwhile */
    for (int i = 0; i < COUNTERS; i++)
        pthread_join(th[i], NULL);
    rs_monitor_snapshot(mon, &w->snap);
    assert_int_equal(w->snap.rows, (COUNTERS * 2 + 1) * COUNTS);
    assert_int_equal(w->snap.active[0][0], (COUNTERS + 1) * COUNTS); /* row {1, 0} */
    assert_int_equal(w->snap.active[0][1], COUNTERS * COUNTS);       /* row {0, 3} */
    assert_int_equal(w->snap.active[0][2], 0);
    rs_monitor_free(mon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_window_counts_every_job, watched_new, watched_free),
        cmocka_unit_test_setup_teardown(test_window_forgets_old_rows, watched_new, watched_free),
        cmocka_unit_test_setup_teardown(test_count_from_many_threads_adds_every_row, watched_new,
                                        watched_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
