/* router: every endpoint shape, and what is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/router.h"

static rs_route route(const char *path, bool expect_ok)
{
    rs_route r;
    assert_int_equal(rs_route_parse(path, &r), expect_ok);
    return r;
}

static void test_v2_paths(void **state)
{
    (void)state;
    assert_int_equal(route("/v2/health/live", true).kind, RS_ROUTE_LIVE);
    assert_int_equal(route("/v2/health/ready", true).kind, RS_ROUTE_READY);
    assert_int_equal(route("/v2", true).kind, RS_ROUTE_SERVER_META);
    rs_route r = route("/v2/models/iris", true);
    assert_int_equal(r.kind, RS_ROUTE_MODEL_META);
    assert_string_equal(r.model, "iris");
    assert_string_equal(r.version, "");
    r = route("/v2/models/iris/versions/3/infer", true);
    assert_int_equal(r.kind, RS_ROUTE_INFER);
    assert_string_equal(r.model, "iris");
    assert_string_equal(r.version, "3");
    assert_int_equal(route("/v2/models/iris/ready", true).kind, RS_ROUTE_MODEL_READY);
    assert_int_equal(route("/v2/models/iris/versions/1/ready", true).kind, RS_ROUTE_MODEL_READY);
    assert_int_equal(route("/v2/models/iris/diagnostics", true).kind, RS_ROUTE_MODEL_DIAG);
    assert_int_equal(route("/v2/repository/index", true).kind, RS_ROUTE_REPO_INDEX);
    r = route("/v2/repository/models/iris/load", true);
    assert_int_equal(r.kind, RS_ROUTE_REPO_LOAD);
    assert_string_equal(r.model, "iris");
    assert_int_equal(route("/v2/repository/models/iris/unload", true).kind, RS_ROUTE_REPO_UNLOAD);
    assert_int_equal(route("/metrics", true).kind, RS_ROUTE_METRICS);
}

/* The statistics and configuration extensions, at Triton's paths. */
static void test_stats_and_config_paths(void **state)
{
    (void)state;
    rs_route r = route("/v2/models/stats", true); /* every model */
    assert_int_equal(r.kind, RS_ROUTE_MODEL_STATS);
    assert_string_equal(r.model, "");
    assert_string_equal(r.version, "");
    r = route("/v2/models/iris/stats", true);
    assert_int_equal(r.kind, RS_ROUTE_MODEL_STATS);
    assert_string_equal(r.model, "iris");
    assert_string_equal(r.version, "");
    r = route("/v2/models/iris/versions/2/stats", true);
    assert_int_equal(r.kind, RS_ROUTE_MODEL_STATS);
    assert_string_equal(r.model, "iris");
    assert_string_equal(r.version, "2");
    r = route("/v2/models/iris/config", true);
    assert_int_equal(r.kind, RS_ROUTE_MODEL_CONFIG);
    assert_string_equal(r.model, "iris");
    assert_string_equal(r.version, "");
    r = route("/v2/models/iris/versions/2/config", true);
    assert_int_equal(r.kind, RS_ROUTE_MODEL_CONFIG);
    assert_string_equal(r.version, "2");
    assert_false(rs_route_is_post(RS_ROUTE_MODEL_STATS));
    assert_false(rs_route_is_post(RS_ROUTE_MODEL_CONFIG));
    route("/v2/models/stats/extra", false);
    route("/v2/models/iris/stats/extra", false);
    route("/v2/models/iris/config/extra", false);
}

static void test_v1_paths(void **state)
{
    (void)state;
    rs_route r = route("/v1/models/iris:predict", true);
    assert_int_equal(r.kind, RS_ROUTE_PREDICT);
    assert_string_equal(r.model, "iris");
    r = route("/v1/models/iris/versions/2:predict", true);
    assert_int_equal(r.kind, RS_ROUTE_PREDICT);
    assert_string_equal(r.version, "2");
    r = route("/v1/models/iris", true);
    assert_int_equal(r.kind, RS_ROUTE_STATUS_V1);
    r = route("/v1/models/iris/versions/2", true);
    assert_int_equal(r.kind, RS_ROUTE_STATUS_V1);
    assert_string_equal(r.version, "2");
}

static void test_not_routes(void **state)
{
    (void)state;
    route("/v2/models", false);
    route("/v2/models/iris/infer/extra", false);
    route("/v2/models/iris/versions", false);
    route("/v2/models/iris/versions/1/2/infer", false);
    route("/v2/health", false);
    route("/v3", false);
    route("//v2", false);
    route("v2", false);
    route("/v1/models/:predict", false);
    route("/v2/repository/models/iris/delete", false);
    /* Names longer than the limit are not routes (404), not truncated. */
    char long_path[600] = "/v2/models/";
    memset(long_path + 11, 'a', 400);
    long_path[411] = 0;
    route(long_path, false);
}

static void test_post_routes(void **state)
{
    (void)state;
    assert_true(rs_route_is_post(RS_ROUTE_INFER));
    assert_true(rs_route_is_post(RS_ROUTE_PREDICT));
    assert_true(rs_route_is_post(RS_ROUTE_REPO_INDEX));
    assert_false(rs_route_is_post(RS_ROUTE_MODEL_META));
    assert_false(rs_route_is_post(RS_ROUTE_METRICS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_paths),    cmocka_unit_test(test_stats_and_config_paths),
        cmocka_unit_test(test_v1_paths),    cmocka_unit_test(test_not_routes),
        cmocka_unit_test(test_post_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
