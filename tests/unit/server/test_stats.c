/* stats: the statistics extension's counters and their $model_stat JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "stats.h"

static json_int_t num(json_t *j, const char *path1, const char *path2)
{
    json_t *v = json_object_get(j, path1);
    if (path2) v = json_object_get(v, path2);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Each test counts into statistics of its own. */
static int stats_new(void **state)
{
    *state = rs_stats_create();
    return *state ? 0 : -1;
}

static int stats_free(void **state)
{
    rs_stats_free(*state);
    return 0;
}

static void test_fresh_is_all_zero(void **state)
{
    rs_stats *s = *state;
    json_t *j = rs_stats_json(s, "m", "3");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "m");
    assert_string_equal(json_string_value(json_object_get(j, "version")), "3");
    assert_int_equal(num(j, "last_inference", NULL), 0);
    assert_int_equal(num(j, "inference_count", NULL), 0);
    assert_int_equal(num(j, "execution_count", NULL), 0);
    json_t *is = json_object_get(j, "inference_stats");
    const char *keys[] = {"success",       "fail",           "queue",    "compute_input",
                          "compute_infer", "compute_output", "cache_hit"};
    assert_int_equal(json_object_size(is), 7);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_int_equal(num(json_object_get(is, keys[i]), "count", NULL), 0);
        assert_int_equal(num(json_object_get(is, keys[i]), "ns", NULL), 0);
    }
    assert_int_equal(json_array_size(json_object_get(j, "batch_stats")), 0);
    json_decref(j);
    rs_stats_free(NULL);
}

static void test_requests_and_batches(void **state)
{
    rs_stats *s = *state;
    rs_stats_request(s, true, 3, 100);
    rs_stats_request(s, true, 2, 50);
    rs_stats_request(s, false, 7, 30); /* a failure adds no rows */
    rs_stats_queue(s, 5);
    rs_stats_queue(s, 6);
    rs_stats_phases p = {1, 10, 100};
    rs_stats_batch(s, 5, 2, &p); /* two requests merged */
    rs_stats_phases q = {2, 20, 200};
    rs_stats_batch(s, 1, 1, &q);
    rs_stats_batch(s, 5, 1, &q);
    json_t *j = rs_stats_json(s, "m", "1");
    assert_true(num(j, "last_inference", NULL) > 1600000000000LL); /* ms since the epoch */
    assert_int_equal(num(j, "inference_count", NULL), 5);
    assert_int_equal(num(j, "execution_count", NULL), 3);
    json_t *is = json_object_get(j, "inference_stats");
    assert_int_equal(num(is, "success", "count"), 2);
    assert_int_equal(num(is, "success", "ns"), 150);
    assert_int_equal(num(is, "fail", "count"), 1);
    assert_int_equal(num(is, "fail", "ns"), 30);
    assert_int_equal(num(is, "queue", "count"), 2);
    assert_int_equal(num(is, "queue", "ns"), 11);
    /* each request is charged its batch's time */
    assert_int_equal(num(is, "compute_infer", "count"), 4);
    assert_int_equal(num(is, "compute_infer", "ns"), 2 * 10 + 20 + 20);
    assert_int_equal(num(is, "compute_input", "ns"), 2 * 1 + 2 + 2);
    assert_int_equal(num(is, "compute_output", "ns"), 2 * 100 + 200 + 200);
    /* per batch size, in order of size, counting executions */
    json_t *bs = json_object_get(j, "batch_stats");
    assert_int_equal(json_array_size(bs), 2);
    json_t *b1 = json_array_get(bs, 0), *b5 = json_array_get(bs, 1);
    assert_int_equal(num(b1, "batch_size", NULL), 1);
    assert_int_equal(num(b1, "compute_infer", "count"), 1);
    assert_int_equal(num(b1, "compute_infer", "ns"), 20);
    assert_int_equal(num(b5, "batch_size", NULL), 5);
    assert_int_equal(num(b5, "compute_infer", "count"), 2);
    assert_int_equal(num(b5, "compute_infer", "ns"), 30);
    assert_int_equal(num(b5, "compute_input", "ns"), 3);
    assert_int_equal(num(b5, "compute_output", "ns"), 300);
    json_decref(j);
}

/* Many sizes arriving out of order stay sorted and counted once each. */
static void test_many_batch_sizes(void **state)
{
    rs_stats *s = *state;
    rs_stats_phases p = {0, 1, 0};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 100; i++)
            rs_stats_batch(s, (i * 37) % 100 + 1, 1, &p);
    json_t *j = rs_stats_json(s, "m", "1");
    json_t *bs = json_object_get(j, "batch_stats");
    assert_int_equal(json_array_size(bs), 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(num(json_array_get(bs, (size_t)i), "batch_size", NULL), i + 1);
        assert_int_equal(num(json_array_get(bs, (size_t)i), "compute_infer", "count"), 2);
    }
    assert_int_equal(num(j, "execution_count", NULL), 200);
    json_decref(j);
}

#define THREADS    4
#define PER_THREAD 10000

static void *hammer(void *arg)
{
    rs_stats *s = arg;
    rs_stats_phases p = {1, 1, 1};
    for (int i = 0; i < PER_THREAD; i++) {
        rs_stats_request(s, true, 1, 1);
        rs_stats_queue(s, 1);
        rs_stats_batch(s, i % 3 + 1, 1, &p);
    }
    return NULL;
}

/* Updates from several threads at once lose nothing. */
static void test_threads(void **state)
{
    rs_stats *s = *state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, s), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    json_t *j = rs_stats_json(s, "m", "1");
    assert_int_equal(num(j, "inference_count", NULL), THREADS * PER_THREAD);
    assert_int_equal(num(j, "execution_count", NULL), THREADS * PER_THREAD);
    assert_int_equal(num(json_object_get(j, "inference_stats"), "queue", "count"),
                     THREADS * PER_THREAD);
    assert_int_equal(json_array_size(json_object_get(j, "batch_stats")), 3);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_is_all_zero, stats_new, stats_free),
        cmocka_unit_test_setup_teardown(test_requests_and_batches, stats_new, stats_free),
        cmocka_unit_test_setup_teardown(test_many_batch_sizes, stats_new, stats_free),
        cmocka_unit_test_setup_teardown(test_threads, stats_new, stats_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
