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

/* path routes to kind, naming model and version (NULL: not checked). */
static void expect_route(const char *path, rs_route_kind kind, const char *model,
                         const char *version)
{
    rs_route r = route(path, true);
    assert_int_equal(r.kind, kind);
    if (model) assert_string_equal(r.model, model);
    if (version) assert_string_equal(r.version, version);
}

static void test_v2_paths(void **state)
{
    (void)state;
    expect_route("/v2/health/live", RS_ROUTE_LIVE, NULL, NULL);
    expect_route("/v2/health/ready", RS_ROUTE_READY, NULL, NULL);
    expect_route("/v2", RS_ROUTE_SERVER_META, NULL, NULL);
    expect_route("/v2/models/iris", RS_ROUTE_MODEL_META, "iris", "");
    expect_route("/v2/models/iris/versions/3/infer", RS_ROUTE_INFER, "iris", "3");
    expect_route("/v2/models/iris/ready", RS_ROUTE_MODEL_READY, NULL, NULL);
    expect_route("/v2/models/iris/versions/1/ready", RS_ROUTE_MODEL_READY, NULL, NULL);
    expect_route("/v2/models/iris/diagnostics", RS_ROUTE_MODEL_DIAG, NULL, NULL);
    expect_route("/v2/repository/index", RS_ROUTE_REPO_INDEX, NULL, NULL);
    expect_route("/v2/repository/models/iris/load", RS_ROUTE_REPO_LOAD, "iris", NULL);
    expect_route("/v2/repository/models/iris/unload", RS_ROUTE_REPO_UNLOAD, NULL, NULL);
    expect_route("/metrics", RS_ROUTE_METRICS, NULL, NULL);
}

/* The playground's files, and API paths never taken for one. */
static void test_asset_paths(void **state)
{
    (void)state;
    rs_route r = route("/", true);
    assert_int_equal(r.kind, RS_ROUTE_ASSET);
    assert_string_equal(r.asset->path, "/index.html");
    r = route("/app.js", true);
    assert_int_equal(r.kind, RS_ROUTE_ASSET);
    assert_string_equal(r.asset->path, "/app.js");
    assert_null(route("/v2/health/live", true).asset);
    assert_null(route("/metrics", true).asset);
    route("/nosuch.js", false);
    route("/app.js/more", false);
    route("/v2/app.js", false);
}

/* The statistics and configuration extensions, at Triton's paths. */
static void test_stats_and_config_paths(void **state)
{
    (void)state;
    expect_route("/v2/models/stats", RS_ROUTE_MODEL_STATS, "", ""); /* every model */
    expect_route("/v2/models/iris/stats", RS_ROUTE_MODEL_STATS, "iris", "");
    expect_route("/v2/models/iris/versions/2/stats", RS_ROUTE_MODEL_STATS, "iris", "2");
    expect_route("/v2/models/iris/config", RS_ROUTE_MODEL_CONFIG, "iris", "");
    expect_route("/v2/models/iris/versions/2/config", RS_ROUTE_MODEL_CONFIG, NULL, "2");
    assert_false(rs_route_is_post(RS_ROUTE_MODEL_STATS));
    assert_false(rs_route_is_post(RS_ROUTE_MODEL_CONFIG));
    route("/v2/models/stats/extra", false);
    route("/v2/models/iris/stats/extra", false);
    route("/v2/models/iris/config/extra", false);
}

static void test_v1_paths(void **state)
{
    (void)state;
    expect_route("/v1/models/iris:predict", RS_ROUTE_PREDICT, "iris", NULL);
    expect_route("/v1/models/iris/versions/2:predict", RS_ROUTE_PREDICT, NULL, "2");
    expect_route("/v1/models/iris", RS_ROUTE_STATUS_V1, NULL, NULL);
    expect_route("/v1/models/iris/versions/2", RS_ROUTE_STATUS_V1, NULL, "2");
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
        cmocka_unit_test(test_v2_paths),
        cmocka_unit_test(test_asset_paths),
        cmocka_unit_test(test_stats_and_config_paths),
        cmocka_unit_test(test_v1_paths),
        cmocka_unit_test(test_not_routes),
        cmocka_unit_test(test_post_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
