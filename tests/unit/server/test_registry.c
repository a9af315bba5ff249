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

/* The tests that take a registry of the repository as their state. */
static int registry_open(void **state)
{
    *state = open_repo();
    return 0;
}

static int registry_free(void **state)
{
    rs_registry_free(*state);
    return 0;
}

/* The one entry of the repository index idx that names `name`. */
static json_t *index_entry(json_t *idx, const char *name)
{
    size_t i;
    json_t *e, *found = NULL;
    int rows = 0;
    json_array_foreach(idx, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0) {
            found = e;
            rows++;
        }
    }
    assert_int_equal(rows, 1);
    return found;
}

static const char *entry_text(json_t *e, const char *key)
{
    return json_string_value(json_object_get(e, key));
}

static void test_newest_loaded_version_serves(void **state)
{
    rs_registry *r = *state;
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "m", NULL, &v, err, sizeof err), 0);
    assert_string_equal(v->version, "10");
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 8);
    rs_model_version_release(v);
    assert_int_equal(rs_registry_acquire(r, "m", "1", &v, err, sizeof err), 0);
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 4);
    rs_model_version_release(v);
}

static void test_unknown_and_broken(void **state)
{
    rs_registry *r = *state;
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
}

static void test_serving_config_overrides(void **state)
{
    rs_registry *r = *state;
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(r, "fast", NULL, &v, err, sizeof err), 0);
    assert_int_equal(v->cfg.max_batch, 8);
    assert_int_equal(v->cfg.batch_delay_us, 500);
    assert_int_equal(v->cfg.max_queue, 1024); /* not overridden: the default */
    rs_model_version_release(v);
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

/* text read as a config.json: refused, err (512 bytes) holding the message,
 * and the configuration untouched. */
static void config_refused(const char *text, char *err)
{
    rs_model_config c = DEFAULTS;
    assert_int_equal(rs_model_config_parse(text, strlen(text), &c, err, 512), -1);
    assert_is_defaults(&c);
}

/* s can go into the JSON repository index: it is valid UTF-8. */
static void assert_utf8(const char *s)
{
    json_t *j = json_string(s);
    assert_non_null(j);
    json_decref(j);
}

/* A key the parser does not know is an error, not ignored: a typo such as
 * "max_bach" would otherwise leave the default in force without a word. */
static void test_model_config_unknown_key_is_an_error(void **state)
{
    (void)state;
    char err[512];
    config_refused("{\"max_queue\": 5, \"max_bach\": 8}", err);
    assert_non_null(strstr(err, "config.json"));
    assert_non_null(strstr(err, "unknown key \"max_bach\""));
    assert_lists_the_keys(err);
    /* A long key is cut at a whole character (the message goes into the JSON
     * repository index, which must stay valid UTF-8). */
    char text[512] = "{\"x";
    for (int i = 0; i < 40; i++)
        strcat(text, "\xc3\xa9"); /* "x" then 80 bytes of "é": byte 64 is inside one */
    strcat(text, "\": 1}");
    config_refused(text, err);
    assert_utf8(err);
    assert_non_null(strstr(err, "...\""));
}

/* jansson's message quotes the bytes near the error; when they cut a
 * character the message still goes into the JSON index, so it must stay
 * valid UTF-8 (an input the fuzzer found). */
static void test_model_config_message_is_valid_utf8(void **state)
{
    (void)state;
    char err[512];
    config_refused("{\"max_queue\": 5, \"ma]x_\\u007\xcb\x8a"
                   "eue\": 6}",
                   err);
    assert_non_null(strstr(err, "config.json: line 1: invalid escape"));
    assert_utf8(err);
}

/* A repeated key is an error, not "last wins": the first value would
 * otherwise be ignored without a word. The key is named even when written
 * with escapes or too long for jansson's own message. */
static void test_model_config_duplicate_key_is_an_error(void **state)
{
    (void)state;
    char err[512];
    config_refused("{\"max_queue\": 5,\n \"max_batch\": 2,\n \"max_queue\": 6}", err);
    assert_non_null(strstr(err, "config.json: line 3"));
    assert_non_null(strstr(err, "\"max_queue\" appears more than once"));
    assert_lists_the_keys(err);
    config_refused("{\"monitor_window_s\": 5, \"monitor_\\u0077indow_s\": 6}", err);
    assert_non_null(strstr(err, "\"monitor_window_s\" appears more than once"));
    config_refused("{\"a\\\"b\\\\\": 1, \"a\\\"b\\\\\": 2}", err); /* key a"b\ */
    assert_non_null(strstr(err, "\"a\"b\\\" appears more than once"));
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
    json_t *e = index_entry(idx, "typo");
    assert_string_equal(entry_text(e, "state"), "UNAVAILABLE");
    assert_non_null(strstr(entry_text(e, "reason"), "config.json: unknown key \"max_bach\""));
    assert_lists_the_keys(entry_text(e, "reason"));
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
    json_t *e = index_entry(idx, "bytes");
    assert_string_equal(entry_text(e, "state"), "UNAVAILABLE");
    assert_non_null(strstr(entry_text(e, "reason"), "model.json: invalid JSON"));
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
    rs_registry *r = *state;
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
}

static void test_failed_reload_keeps_old_copy(void **state)
{
    rs_registry *r = *state;
    char err[512];
    repo_write("fast/1/model.json", "not json");
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 400);
    assert_non_null(strstr(err, "version '1'"));
    rs_model_version *v;
    assert_int_equal(rs_registry_acquire(r, "fast", "1", &v, err, sizeof err), 0);
    assert_int_equal(mlp_model_layer(v->model, 0)->out, 5);
    rs_model_version_release(v);
    repo_save_model("fast", "1", 5);
}

static void test_index_lists_every_version(void **state)
{
    rs_registry *r = *state;
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
}

/* A folder unloaded through model control stays in the index, marked so
 * (the folder scan runs outside the registry's lock). */
static void test_index_lists_unloaded_folders(void **state)
{
    rs_registry *r = *state;
    char err[512];
    assert_int_equal(rs_registry_unload(r, "fast", err, sizeof err), 0);
    json_t *idx = rs_registry_index(r);
    assert_int_equal(json_array_size(idx), 5); /* m/1, m/2, m/3, m/10 and fast (unloaded) */
    json_t *e = index_entry(idx, "fast");
    assert_string_equal(entry_text(e, "reason"), "unloaded");
    assert_string_equal(entry_text(e, "state"), "UNAVAILABLE");
    json_decref(idx);
    assert_int_equal(rs_registry_load(r, "fast", err, sizeof err), 0);
    idx = rs_registry_index(r);
    assert_int_equal(json_array_size(idx), 5);
    size_t i;
    json_array_foreach(idx, i, e)
    {
        const char *reason = entry_text(e, "reason");
        assert_false(reason && !strcmp(reason, "unloaded"));
    }
    json_decref(idx);
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
        cmocka_unit_test_setup_teardown(test_newest_loaded_version_serves, registry_open,
                                        registry_free),
        cmocka_unit_test_setup_teardown(test_unknown_and_broken, registry_open, registry_free),
        cmocka_unit_test_setup_teardown(test_serving_config_overrides, registry_open,
                                        registry_free),
        cmocka_unit_test(test_model_config_parse_errors),
        cmocka_unit_test(test_model_config_unknown_key_is_an_error),
        cmocka_unit_test(test_model_config_duplicate_key_is_an_error),
        cmocka_unit_test(test_model_config_message_is_valid_utf8),
        cmocka_unit_test_teardown(test_config_key_errors_fail_the_model_only, restore_config_files),
        cmocka_unit_test_teardown(test_index_lists_a_version_whose_error_quotes_bad_bytes,
                                  restore_config_files),
        cmocka_unit_test_setup_teardown(test_reference_outlives_unload, registry_open,
                                        registry_free),
        cmocka_unit_test_setup_teardown(test_failed_reload_keeps_old_copy, registry_open,
                                        registry_free),
        cmocka_unit_test_setup_teardown(test_index_lists_every_version, registry_open,
                                        registry_free),
        cmocka_unit_test_setup_teardown(test_index_lists_unloaded_folders, registry_open,
                                        registry_free),
        cmocka_unit_test(test_missing_repository),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
