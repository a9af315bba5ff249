/* poll: new, changed and removed folders reach the registry only once stable
 * over two polls; a corrupt reload keeps the loaded copy and the index says
 * why; a stop request halts a tick before it loads. */
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

#include "log.h"
#include "poll.h"
#include "registry.h"

#include "test_repo.h"

typedef struct {
    rs_registry *r;
    rs_poll *p;
} fixture;

static int setup(void **state)
{
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR);
    repo_create("poll");
    repo_save_model("m", "1", 4);
    fixture *f = calloc(1, sizeof *f);
    f->p = rs_poll_create(g_dir);
    assert_non_null(f->p);
    char err[512];
    assert_int_equal(rs_registry_open(&f->r, g_dir, &DEFAULTS, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    rs_poll_free(f->p);
    rs_registry_free(f->r);
    free(f);
    return repo_remove(NULL);
}

static int tick(fixture *f)
{
    return rs_poll_tick(f->p, f->r, NULL, NULL);
}

/* Hidden units of the version serving `name` (version NULL: the newest), or
 * the acquire status negated. */
static int hidden(fixture *f, const char *name, const char *version)
{
    rs_model_version *v;
    char err[512];
    int st = rs_registry_acquire(f->r, name, version, &v, err, sizeof err);
    if (st) return -st;
    int out = mlp_model_layer(v->model, 0)->out;
    rs_model_version_release(v);
    return out;
}

/* Two polls after a change on disk: the first only notes it (the files may
 * still be being written), the second, seeing them unchanged, applies it. */
static void tick_applied(fixture *f)
{
    assert_int_equal(tick(f), 0);
    assert_int_equal(tick(f), 1);
}

/* The max_batch the serving copy of `name` runs with. */
static int max_batch(fixture *f, const char *name)
{
    rs_model_version *v;
    char err[512];
    assert_int_equal(rs_registry_acquire(f->r, name, NULL, &v, err, sizeof err), 0);
    int n = v->cfg.max_batch;
    rs_model_version_release(v);
    return n;
}

static void test_nothing_changed_nothing_loads(void **state)
{
    fixture *f = *state;
    assert_int_equal(tick(f), 0);
    assert_int_equal(tick(f), 0);
    assert_int_equal(hidden(f, "m", NULL), 4);
}

static void test_changed_version_loads_once_stable(void **state)
{
    fixture *f = *state;
    rs_model_version *before;
    char err[512];
    assert_int_equal(rs_registry_acquire(f->r, "m", NULL, &before, err, sizeof err), 0);
    repo_save_model("m", "1", 7);
    assert_int_equal(tick(f), 0); /* first seen: it may still be being written */
    assert_int_equal(hidden(f, "m", NULL), 4);
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "m", NULL), 7);
    assert_int_equal(tick(f), 0); /* applied: no reload on every poll */
    /* A reference taken before the reload still holds the old copy. */
    assert_int_equal(mlp_model_layer(before->model, 0)->out, 4);
    rs_model_version_release(before);
}

static void test_files_that_keep_changing_wait(void **state)
{
    fixture *f = *state;
    for (int h = 5; h < 9; h++) {
        repo_save_model("m", "1", h);
        assert_int_equal(tick(f), 0);
        assert_int_equal(hidden(f, "m", NULL), 4);
    }
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "m", NULL), 8);
}

static void test_corrupt_reload_keeps_serving_copy(void **state)
{
    fixture *f = *state;
    repo_write("m/1/model.json", "{\"format\": \"reluserve-mlp\", \"layers\": [");
    tick_applied(f);
    assert_int_equal(hidden(f, "m", NULL), 4);
    json_t *idx = rs_registry_index(f->r);
    assert_int_equal(json_array_size(idx), 1);
    json_t *e = json_array_get(idx, 0);
    assert_string_equal(json_string_value(json_object_get(e, "state")), "READY");
    const char *reason = json_string_value(json_object_get(e, "reason"));
    assert_non_null(strstr(reason, "failed to load"));
    assert_non_null(strstr(reason, "model.json"));
    assert_null(strchr(reason, '/')); /* not where the repository is */
    json_decref(idx);
    /* A valid rewrite replaces it and clears the reason. */
    repo_save_model("m", "1", 6);
    tick_applied(f);
    assert_int_equal(hidden(f, "m", NULL), 6);
    idx = rs_registry_index(f->r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(idx, 0), "reason")), "");
    json_decref(idx);
}

static void test_new_and_removed_versions(void **state)
{
    fixture *f = *state;
    repo_save_model("m", "2", 9);
    tick(f);
    assert_int_equal(hidden(f, "m", NULL), 4);
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "m", NULL), 9); /* the newest serves */
    assert_int_equal(repo_remove("m/2"), 0);
    assert_int_equal(tick(f), 0);
    assert_int_equal(hidden(f, "m", "2"), 9);
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "m", "2"), -404);
    assert_int_equal(hidden(f, "m", NULL), 4);
}

static void test_new_and_removed_models(void **state)
{
    fixture *f = *state;
    repo_save_model("n", "1", 3);
    tick(f);
    assert_int_equal(hidden(f, "n", NULL), -404);
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "n", NULL), 3);
    assert_int_equal(repo_remove("n"), 0);
    tick_applied(f);
    assert_int_equal(hidden(f, "n", NULL), -404);
    assert_int_equal(hidden(f, "m", NULL), 4);
}

static void test_config_change_reloads_model(void **state)
{
    fixture *f = *state;
    repo_write("m/config.json", "{\"max_batch\": 3}");
    tick_applied(f);
    assert_int_equal(max_batch(f, "m"), 3);
    assert_int_equal(tick(f), 0);
    /* A broken config.json keeps the model as it was; the index says why. */
    repo_write("m/config.json", "{\"max_batch\": 0}");
    tick_applied(f);
    assert_int_equal(max_batch(f, "m"), 3);
    json_t *idx = rs_registry_index(f->r);
    const char *reason = json_string_value(json_object_get(json_array_get(idx, 0), "reason"));
    assert_non_null(strstr(reason, "config.json: \"max_batch\""));
    json_decref(idx);
}

static bool always(void *arg)
{
    (*(int *)arg)++;
    return true;
}

static void test_stop_halts_a_tick(void **state)
{
    fixture *f = *state;
    repo_save_model("m", "1", 5);
    tick(f);
    int asked = 0;
    assert_int_equal(rs_poll_tick(f->p, f->r, always, &asked), 0);
    assert_int_equal(asked, 1);
    assert_int_equal(hidden(f, "m", NULL), 4);
    /* Nothing was recorded as applied: a later poll still loads it. */
    assert_int_equal(tick(f), 1);
    assert_int_equal(hidden(f, "m", NULL), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_changed_nothing_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_version_loads_once_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_that_keep_changing_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_reload_keeps_serving_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_and_removed_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_and_removed_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_change_reloads_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_halts_a_tick, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
