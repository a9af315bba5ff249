/* registry: versions, newest-by-number, broken models, serving config,
 * model control, and references that outlive an unload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "registry.h"

#include "test_repo.h"

static int setup(void **state)
{
    (void)state;
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR); /* loaders log the broken files */
    repo_create("registry");
    repo_save_model("m", "1", 4);
    repo_save_model("m", "3", 6);
    repo_save_model("m", "10", 8); /* numerically newest, though "10" < "3" as text */
    repo_write("m/2/model.json", "{\"format\": \"reluserve-mlp\", \"layers\": [");
    repo_save_model("fast", "1", 5);
    repo_write("fast/config.json", "{\"max_batch\": 8, \"batch_delay_us\": 500}");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return repo_remove(NULL);
}

static rs_registry *open_repo(void)
{
    rs_registry *r;
    char err[512];
    assert_int_equal(rs_registry_open(&r, g_dir, &DEFAULTS, err, sizeof err), 0);
    return r;
}

static void test_newest_loaded_version_serves(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "m", NULL, &v, err, sizeof err), 0);
    assert_string_equal(v->version, "10");
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 8);
    rs_model_version_release(v);
    assert_int_equal(rs_registry_acquire(r, "m", "1", &v, err, sizeof err), 0);
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 4);
    rs_model_version_release(v);
    rs_registry_free(r);
}

static void test_unknown_and_broken(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "nope", NULL, &v, err, sizeof err), 404);
    assert_non_null(strstr(err, "'nope'"));
    assert_null(v);
    assert_int_equal(rs_registry_acquire(r, "m", "7", &v, err, sizeof err), 404);
    assert_non_null(strstr(err, "version '7'"));
    /* The broken version is known but not ready; its error names the file,
     * and (being an HTTP answer) not where the repository is on disk. */
    assert_int_equal(rs_registry_acquire(r, "m", "2", &v, err, sizeof err), 503);
    assert_non_null(strstr(err, "model.json"));
    assert_null(strchr(err, '/'));
    char why[1024];
    assert_false(rs_registry_ready(r, why, sizeof why));
    assert_non_null(strstr(why, "model 'm' version '2'"));
    assert_null(strchr(why, '/'));
    rs_registry_free(r);
}

static void test_serving_config_overrides(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &v, err, sizeof err), 0);
    assert_int_equal(v->cfg.max_batch, 8);
    assert_int_equal(v->cfg.batch_delay_us, 500);
    assert_int_equal(v->cfg.max_queue, 1024); /* not overridden: the default */
    rs_model_version_release(v);
    rs_registry_free(r);
}

static void test_model_config_parse_errors(void **state)
{
    (void)state;
    rs_model_config c = DEFAULTS;
    char err[256];
    assert_int_equal(rs_model_config_parse("{\"max_batch\": 0}", 16, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_batch"));
    assert_int_equal(rs_model_config_parse("[1]", 3, &c, err, sizeof err), -1);
    assert_int_equal(rs_model_config_parse("{\"max_queue\": \"5\"}", 18, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_queue"));
    assert_int_equal(c.max_queue, 1024); /* untouched on failure */
    assert_int_equal(rs_model_config_parse("{\"max_queue\": 5}", 16, &c, err, sizeof err), 0);
    assert_int_equal(c.max_queue, 5);
}

static void assert_is_defaults(const rs_model_config *c)
{
    assert_int_equal(c->max_batch, DEFAULTS.max_batch);
    assert_int_equal(c->batch_delay_us, DEFAULTS.batch_delay_us);
    assert_int_equal(c->max_queue, DEFAULTS.max_queue);
    assert_int_equal(c->monitor_window_s, DEFAULTS.monitor_window_s);
}

/* Every key the file may hold is listed in a refusal, so a typo's fix is in
 * the message. */
static void assert_lists_the_keys(const char *err)
{
    static const char *const keys[] = {"max_batch", "batch_delay_us", "max_queue",
                                       "monitor_window_s"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(strstr(err, keys[i]));
}

/* A key the parser does not know is an error, not ignored: a typo such as
 * "max_bach" would otherwise leave the default in force without a word. */
static void test_model_config_unknown_key_is_an_error(void **state)
{
    (void)state;
    rs_model_config c = DEFAULTS;
    char err[512];
    const char *typo = "{\"max_queue\": 5, \"max_bach\": 8}";
    assert_int_equal(rs_model_config_parse(typo, strlen(typo), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json"));
    assert_non_null(strstr(err, "unknown key \"max_bach\""));
    assert_lists_the_keys(err);
    assert_is_defaults(&c); /* untouched on failure */
    /* A long key is cut at a whole character (the message goes into the JSON
     * repository index, which must stay valid UTF-8). */
    char text[512] = "{\"x";
    for (int i = 0; i < 40; i++)
        strcat(text, "\xc3\xa9"); /* "x" then 80 bytes of "é": byte 64 is inside one */
    strcat(text, "\": 1}");
    assert_int_equal(rs_model_config_parse(text, strlen(text), &c, err, sizeof err), -1);
    json_t *j = json_string(err);
    assert_non_null(j); /* valid UTF-8 */
    json_decref(j);
    assert_non_null(strstr(err, "...\""));
}

/* jansson's message quotes the bytes near the error; when they cut a
 * character the message still goes into the JSON index, so it must stay
 * valid UTF-8 (an input the fuzzer found). */
static void test_model_config_message_is_valid_utf8(void **state)
{
    (void)state;
    rs_model_config c = DEFAULTS;
    char err[512];
    const char *text = "{\"max_queue\": 5, \"ma]x_\\u007\xcb\x8a"
                       "eue\": 6}";
    assert_int_equal(rs_model_config_parse(text, strlen(text), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json: line 1: invalid escape"));
    json_t *j = json_string(err);
    assert_non_null(j);
    json_decref(j);
}

/* A repeated key is an error, not "last wins": the first value would
 * otherwise be ignored without a word. The key is named even when written
 * with escapes or too long for jansson's own message. */
static void test_model_config_duplicate_key_is_an_error(void **state)
{
    (void)state;
    rs_model_config c = DEFAULTS;
    char err[512];
    const char *dup = "{\"max_queue\": 5,\n \"max_batch\": 2,\n \"max_queue\": 6}";
    assert_int_equal(rs_model_config_parse(dup, strlen(dup), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json: line 3"));
    assert_non_null(strstr(err, "\"max_queue\" appears more than once"));
    assert_lists_the_keys(err);
    assert_is_defaults(&c);
    const char *escaped = "{\"monitor_window_s\": 5, \"monitor_\\u0077indow_s\": 6}";
    assert_int_equal(rs_model_config_parse(escaped, strlen(escaped), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"monitor_window_s\" appears more than once"));
    const char *quote = "{\"a\\\"b\\\\\": 1, \"a\\\"b\\\\\": 2}"; /* key a"b\ */
    assert_int_equal(rs_model_config_parse(quote, strlen(quote), &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "\"a\"b\\\" appears more than once"));
    assert_is_defaults(&c);
}

/* In a repository, a config.json with an unknown or repeated key makes that
 * model fail to load, with the message in the index and in ready's answer;
 * the other models keep serving, and a failed reload keeps what was served. */
static void test_config_key_errors_fail_the_model_only(void **state)
{
    (void)state;
    char err[512], why[1024];
    repo_save_model("typo", "1", 4);
    repo_write("typo/config.json", "{\"max_bach\": 8}");
    rs_registry *r = open_repo();
    rs_model_version *v;
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &v, err, sizeof err), 0);
    rs_model_version_release(v);
    assert_int_not_equal(rs_registry_acquire(r, "typo", NULL, &v, err, sizeof err), 0);
    assert_false(rs_registry_ready(r, why, sizeof why));
    json_t *idx = rs_registry_index(r);
    size_t i;
    json_t *e;
    int rows = 0;
    json_array_foreach(idx, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), "typo")) continue;
        rows++;
        assert_string_equal(json_string_value(json_object_get(e, "state")), "UNAVAILABLE");
        const char *reason = json_string_value(json_object_get(e, "reason"));
        assert_non_null(strstr(reason, "config.json: unknown key \"max_bach\""));
        assert_lists_the_keys(reason);
    }
    assert_int_equal(rows, 1);
    json_decref(idx);

    /* A repeated key in a reload: refused, and the served copy stays. */
    repo_write("fast/config.json", "{\"max_batch\": 8, \"batch_delay_us\": 500, \"max_batch\": 9}");
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 400);
    assert_non_null(strstr(err, "config.json"));
    assert_non_null(strstr(err, "\"max_batch\" appears more than once"));
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &v, err, sizeof err), 0);
    assert_int_equal(v->cfg.max_batch, 8);
    rs_model_version_release(v);
    rs_registry_free(r);
}

/* A version whose file holds bytes that are not UTF-8 near its error: the
 * loader's message quotes them, and the index still lists the version (a
 * jansson string must be valid UTF-8, or the entry is not created at all). */
static void test_index_lists_a_version_whose_error_quotes_bad_bytes(void **state)
{
    (void)state;
    repo_write("bytes/1/model.json", "{\"format\": \"\\u007\xcb\x8a\"}");
    rs_registry *r = open_repo();
    json_t *idx = rs_registry_index(r);
    size_t i;
    json_t *e;
    int rows = 0;
    json_array_foreach(idx, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), "bytes")) continue;
        rows++;
        assert_string_equal(json_string_value(json_object_get(e, "state")), "UNAVAILABLE");
        assert_non_null(
            strstr(json_string_value(json_object_get(e, "reason")), "model.json: invalid JSON"));
    }
    assert_int_equal(rows, 1);
    json_decref(idx);
    rs_registry_free(r);
}

/* Puts the repository back as setup left it, even after a failed assertion. */
static int restore_config_files(void **state)
{
    (void)state;
    repo_write("fast/config.json", "{\"max_batch\": 8, \"batch_delay_us\": 500}");
    return repo_remove("typo") || repo_remove("bytes");
}

static void test_reference_outlives_unload(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &v, err, sizeof err), 0);
    assert_int_equal(rs_registry_unload(r, "fast", err, sizeof err), 0);
    assert_int_equal(rs_registry_unload(r, "fast", err, sizeof err), 404);
    /* Still usable by the request that holds it (ASan would catch a free). */
    assert_int_equal(mlp_model_n_inputs(v->model), 3);
    rs_model_version *again;
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &again, err, sizeof err), 404);
    rs_model_version_release(v);
    /* Load brings it back. */
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 0);
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &again, err, sizeof err), 0);
    rs_model_version_release(again);
    assert_int_equal(rs_registry_load(r, "../etc", err, sizeof err), 400);
    assert_int_equal(rs_registry_load(r, "ghost", err, sizeof err), 404);
    rs_registry_free(r);
}

static void test_failed_reload_keeps_old_copy(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    char err[512];
    repo_write("fast/1/model.json", "not json");
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 400);
    assert_non_null(strstr(err, "version '1'"));
    rs_model_version *v;
    assert_int_equal(rs_registry_acquire(r, "fast", "1", &v, err, sizeof err), 0);
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 5);
    rs_model_version_release(v);
    rs_registry_free(r);
    repo_save_model("fast", "1", 5);
}

static void test_index_lists_every_version(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    json_t *idx = rs_registry_index(r);
    assert_true(json_is_array(idx));
    /* fast/1, m/1, m/2, m/3, m/10 */
    assert_int_equal(json_array_size(idx), 5);
    int ready = 0, unavailable = 0;
    size_t i;
    json_t *e;
    json_array_foreach(idx, i, e)
    {
        const char *st = json_string_value(json_object_get(e, "state"));
        if (!strcmp(st, "READY")) ready++;
        if (!strcmp(st, "UNAVAILABLE")) unavailable++;
    }
    assert_int_equal(ready, 4);
    assert_int_equal(unavailable, 1);
    json_decref(idx);
    rs_registry_free(r);
}

/* A folder unloaded through model control stays in the index, marked so
 * (the folder scan runs outside the registry's lock). */
static void test_index_lists_unloaded_folders(void **state)
{
    (void)state;
    rs_registry *r = open_repo();
    char err[512];
    assert_int_equal(rs_registry_unload(r, "fast", err, sizeof err), 0);
    json_t *idx = rs_registry_index(r);
    assert_int_equal(json_array_size(idx), 5); /* m/1, m/2, m/3, m/10 and fast (unloaded) */
    size_t i;
    json_t *e;
    int unloaded = 0;
    json_array_foreach(idx, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        if (!strcmp(name, "fast")) {
            assert_string_equal(reason, "unloaded");
            assert_string_equal(json_string_value(json_object_get(e, "state")), "UNAVAILABLE");
            unloaded++;
        }
    }
    assert_int_equal(unloaded, 1);
    json_decref(idx);
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 0);
    idx = rs_registry_index(r);
    assert_int_equal(json_array_size(idx), 5);
    json_array_foreach(idx, i, e)
    {
        const char *reason = json_string_value(json_object_get(e, "reason"));
        assert_false(reason && !strcmp(reason, "unloaded"));
    }
    json_decref(idx);
    rs_registry_free(r);
}

static void test_missing_repository(void **state)
{
    (void)state;
    rs_registry *r;
    char err[512];
    assert_int_equal(rs_registry_open(&r, "/nonexistent/models", &DEFAULTS, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/models"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_loaded_version_serves),
        cmocka_unit_test(test_unknown_and_broken),
        cmocka_unit_test(test_serving_config_overrides),
        cmocka_unit_test(test_model_config_parse_errors),
        cmocka_unit_test(test_model_config_unknown_key_is_an_error),
        cmocka_unit_test(test_model_config_duplicate_key_is_an_error),
        cmocka_unit_test(test_model_config_message_is_valid_utf8),
        cmocka_unit_test_teardown(test_config_key_errors_fail_the_model_only, restore_config_files),
        cmocka_unit_test_teardown(test_index_lists_a_version_whose_error_quotes_bad_bytes,
                                  restore_config_files),
        cmocka_unit_test(test_reference_outlives_unload),
        cmocka_unit_test(test_failed_reload_keeps_old_copy),
        cmocka_unit_test(test_index_lists_every_version),
        cmocka_unit_test(test_index_lists_unloaded_folders),
        cmocka_unit_test(test_missing_repository),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
