/* control: jobs run one at a time in arrival order; a full wait list and a
 * stopping worker refuse with 503; stop answers the waiting jobs 503 without
 * running them, lets the running one finish, and free joins the worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "../test_models.h"

static char g_dir[64];
static rs_config g_cfg;
static rs_app g_app;

/* What the done() callbacks saw, in order, and a gate the first job's done()
 * can be held at, so that the worker stays busy while a test queues more. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_order[64], g_status[64], g_n;
static bool g_hold, g_holding;

typedef struct {
    rs_control_job job;
    rs_route route;
    int id;
} test_job;

static void on_done(rs_control_job *j)
{
    test_job *t = j->user;
    pthread_mutex_lock(&g_lock);
    g_order[g_n] = t->id;
    g_status[g_n] = j->status;
    g_n++;
    g_holding = true;
    pthread_cond_broadcast(&g_cond);
    while (g_hold)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
    rs_buf_free(&j->body);
}

static void job_init(test_job *t, int id, rs_route_kind kind, const char *model)
{
    memset(t, 0, sizeof *t);
    t->id = id;
    t->route.kind = kind;
    snprintf(t->route.model, sizeof t->route.model, "%s", model);
    t->job.route = &t->route;
    t->job.done = on_done;
    t->job.user = t;
}

static void wait_done(int n)
{
    pthread_mutex_lock(&g_lock);
    while (g_n < n)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

static void hold(bool on)
{
    pthread_mutex_lock(&g_lock);
    g_hold = on;
    g_holding = false;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
}

/* Until the worker sits in a held done(). */
static void wait_holding(void)
{
    pthread_mutex_lock(&g_lock);
    while (!g_holding)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
}

static int setup(void **state)
{
    (void)state;
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/rs_control_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    char path[128];
    snprintf(path, sizeof path, "%s/m", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/m/1", g_dir);
    mkdir(path, 0755);
    mlp_model *m = TEST_MODEL(3, {4, MLP_ACT_RELU, 0}, {2, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 1, NULL);
    snprintf(path, sizeof path, "%s/m/1/model.json", g_dir);
    assert_int_equal(mlp_model_save_json(m, path, NULL), MLP_OK);
    mlp_model_free(m);
    rs_config_defaults(&g_cfg);
    g_cfg.enable_model_control = true;
    rs_model_config defaults = {64, 0, 1024, 60, MLP_KERNEL_NATIVE};
    char err[256];
    g_app.cfg = &g_cfg;
    assert_int_equal(rs_registry_open(&g_app.reg, g_dir, &defaults, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rs_registry_free(g_app.reg);
    rs_config_free(&g_cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A control worker over g_app with the counts of finished jobs reset; with
 * held its jobs wait at the hold until hold(false). */
static rs_control *control_start(bool held)
{
    g_n = 0;
    hold(held);
    rs_control *c;
    assert_int_equal(rs_control_start(&c, &g_app), 0);
    return c;
}

static void test_jobs_run_in_order(void **state)
{
    (void)state;
    rs_control *c = control_start(false);
    test_job j[4];
    job_init(&j[0], 0, RS_ROUTE_REPO_UNLOAD, "m");
    job_init(&j[1], 1, RS_ROUTE_REPO_UNLOAD, "m"); /* gone already */
    job_init(&j[2], 2, RS_ROUTE_REPO_LOAD, "m");
    job_init(&j[3], 3, RS_ROUTE_REPO_LOAD, "nosuch");
    char err[256];
    for (int i = 0; i < 4; i++)
        assert_int_equal(rs_control_submit(c, &j[i].job, err, sizeof err), 0);
    wait_done(4);
    int want_status[] = {200, 404, 200, 404};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g_order[i], i);
        assert_int_equal(g_status[i], want_status[i]);
    }
    rs_control_free(c);
}

static void test_wait_list_is_bounded(void **state)
{
    (void)state;
    rs_control *c = control_start(true);
    test_job busy, waiting[RS_CONTROL_MAX_WAITING], extra;
    char err[256];
    job_init(&busy, 100, RS_ROUTE_REPO_LOAD, "m");
    assert_int_equal(rs_control_submit(c, &busy.job, err, sizeof err), 0);
    wait_holding(); /* the worker is busy with it */
    for (int i = 0; i < RS_CONTROL_MAX_WAITING; i++) {
        job_init(&waiting[i], i, RS_ROUTE_REPO_LOAD, "m");
        assert_int_equal(rs_control_submit(c, &waiting[i].job, err, sizeof err), 0);
    }
    /* one at a time: none of them starts while the first is running */
    usleep(50000);
    pthread_mutex_lock(&g_lock);
    assert_int_equal(g_n, 1);
    pthread_mutex_unlock(&g_lock);
    job_init(&extra, 99, RS_ROUTE_REPO_LOAD, "m");
    assert_int_equal(rs_control_submit(c, &extra.job, err, sizeof err), 503);
    assert_non_null(strstr(err, "waiting"));
    hold(false);
    wait_done(1 + RS_CONTROL_MAX_WAITING);
    for (int i = 0; i < 1 + RS_CONTROL_MAX_WAITING; i++) {
        assert_int_equal(g_status[i], 200);
        assert_int_not_equal(g_order[i], 99);
    }
    rs_control_free(c);
}

static void test_stop_answers_waiting_jobs_503_and_refuses_new_ones(void **state)
{
    (void)state;
    rs_control *c = control_start(true);
    test_job running, waiting[3], late;
    char err[256];
    job_init(&running, 0, RS_ROUTE_REPO_LOAD, "m");
    assert_int_equal(rs_control_submit(c, &running.job, err, sizeof err), 0);
    wait_holding();
    for (int i = 0; i < 3; i++) {
        job_init(&waiting[i], i + 1, RS_ROUTE_REPO_UNLOAD, "m");
        assert_int_equal(rs_control_submit(c, &waiting[i].job, err, sizeof err), 0);
    }
    rs_control_stop(c);
    job_init(&late, 9, RS_ROUTE_REPO_LOAD, "m");
    assert_int_equal(rs_control_submit(c, &late.job, err, sizeof err), 503);
    assert_non_null(strstr(err, "shutting down"));
    hold(false);
    rs_control_free(c); /* joins: every job has been answered when it returns */
    assert_int_equal(g_n, 4);
    assert_int_equal(g_status[0], 200); /* the running one finished */
    for (int i = 1; i < 4; i++) {
        assert_int_equal(g_order[i], i);
        assert_int_equal(g_status[i], 503); /* the waiting ones never ran: */
    }
    /* ... so the model is still loaded (the unloads would have removed it) */
    rs_model_version *mv;
    assert_int_equal(rs_registry_acquire(g_app.reg, "m", NULL, &mv, err, sizeof err), 0);
    rs_model_version_release(mv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_run_in_order),
        cmocka_unit_test(test_wait_list_is_bounded),
        cmocka_unit_test(test_stop_answers_waiting_jobs_503_and_refuses_new_ones),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
