/*
 * test_io_json — the native JSON model format: save -> load reproduces every
 * parameter bit for bit with all metadata, and every malformed document is
 * refused with the right status and a message naming the file and the field.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mlp.h"

#define ORIGIN "models/t/1/model.json"

#include "../test_tmpdir.h"
#include "../test_models.h"
#include "../test_cases.h"
#include "../test_params.h"

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Floats that stress the shortest-text writer: signed zero, subnormals, the
 * extremes, values with 9 significant digits, then random finite bit patterns. */
static void fill_tricky(float *p, size_t n, uint64_t seed)
{
    static const float special[] = {0.0f,    -0.0f,        FLT_MIN, 1e-45f,      -1e-45f,
                                    FLT_MAX, -FLT_MAX,     0.1f,    1.0f / 3.0f, 16777216.0f,
                                    1e-40f,  123456789.0f, -2.5f,   1.0f,        0.3f};
    uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
    for (size_t i = 0; i < n; i++) {
        if (i < sizeof special / sizeof special[0]) {
            p[i] = special[i];
            continue;
        }
        float f;
        do {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint32_t bits = (uint32_t)(x >> 11);
            memcpy(&f, &bits, 4);
        } while (!isfinite(f));
        p[i] = f;
    }
}

/* fill_tricky over every parameter of m. */
static void fill_model_tricky(mlp_model *m, uint64_t seed)
{
    float *p = params_copy(m);
    fill_tricky(p, mlp_model_n_params(m), seed);
    params_put(m, p);
}

/* 4 inputs -> leaky_relu(5, alpha 0.2) -> tanh(7) -> softmax(3), with every
 * kind of metadata, names that need escaping and non-ASCII text. */
static mlp_model *make_model(void)
{
    mlp_error err;
    mlp_model *m =
        TEST_MODEL(4, {5, MLP_ACT_LEAKY_RELU, 0.2f}, {7, MLP_ACT_TANH, 0}, {3, MLP_ACT_SOFTMAX, 0});
    fill_model_tricky(m, 7);
    assert_int_equal(mlp_model_set_name(m, "iris \"quoted\" \\ ünïcødé\n", NULL), MLP_OK);
    assert_int_equal(mlp_model_set_io_names(m, "features", "probs", NULL), MLP_OK);
    const char *labels[] = {"setosa", "versi\tcolor", "virgínica"};
    assert_int_equal(mlp_model_set_labels(m, labels, NULL), MLP_OK);
    float mean[] = {5.84333f, 3.0573f, -0.0f, 1e-38f}, std[] = {0.828f, 0.4359f, 1.7653f, 3e38f};
    assert_int_equal(mlp_model_set_standardization(m, mean, std, &err), MLP_OK);
    return m;
}

static void assert_floats_identical(const float *a, const float *b, size_t n)
{
    if (!a || !b) {
        assert_true(a == b);
        return;
    }
    assert_memory_equal(a, b, n * sizeof *a);
}

static void assert_models_identical(const mlp_model *a, const mlp_model *b)
{
    assert_string_equal(mlp_model_name(a), mlp_model_name(b));
    assert_int_equal(mlp_model_task(a), mlp_model_task(b));
    assert_string_equal(mlp_model_input_name(a), mlp_model_input_name(b));
    assert_string_equal(mlp_model_output_name(a), mlp_model_output_name(b));
    assert_int_equal(mlp_model_n_inputs(a), mlp_model_n_inputs(b));
    assert_int_equal(mlp_model_n_outputs(a), mlp_model_n_outputs(b));
    assert_int_equal(mlp_model_n_layers(a), mlp_model_n_layers(b));
    assert_int_equal(mlp_model_n_params(a), mlp_model_n_params(b));
    for (int l = 0; l < mlp_model_n_layers(a); l++) {
        assert_int_equal(mlp_model_layer(a, l)->in, mlp_model_layer(b, l)->in);
        assert_int_equal(mlp_model_layer(a, l)->out, mlp_model_layer(b, l)->out);
        assert_int_equal(mlp_model_layer(a, l)->activation, mlp_model_layer(b, l)->activation);
        assert_memory_equal(&mlp_model_layer(a, l)->alpha, &mlp_model_layer(b, l)->alpha,
                            sizeof(float));
    }
    assert_floats_identical(mlp_model_params(a), mlp_model_params(b), mlp_model_n_params(a));
    assert_floats_identical(mlp_model_input_mean(a), mlp_model_input_mean(b),
                            (size_t)mlp_model_n_inputs(a));
    assert_floats_identical(mlp_model_input_std(a), mlp_model_input_std(b),
                            (size_t)mlp_model_n_inputs(a));
    assert_true((mlp_model_labels(a) == NULL) == (mlp_model_labels(b) == NULL));
    for (int i = 0; mlp_model_labels(a) && i < mlp_model_n_outputs(a); i++)
        assert_string_equal(mlp_model_labels(a)[i], mlp_model_labels(b)[i]);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

/* ------------------------------------------------------------ round trips */

/* m written by mlp_model_to_json and parsed back, which must both succeed. */
static mlp_model *json_round_trip(const mlp_model *m)
{
    char *text;
    mlp_model *back = NULL;
    mlp_error err;
    if (mlp_model_to_json(m, &text, &err) != MLP_OK) fail_msg("mlp_model_to_json: %s", err.msg);
    mlp_status st = mlp_model_parse_json(text, strlen(text), "mem", &back, &err);
    free(text);
    if (st != MLP_OK) fail_msg("mlp_model_parse_json: %s", err.msg);
    return back;
}

static void test_save_load_is_bit_identical(void **s)
{
    (void)s;
    mlp_model *m = make_model(), *back;
    mlp_error err;
    char path[128], path2[128];
    tmp_path(path, sizeof path, "model.json");
    tmp_path(path2, sizeof path2, "again.json");
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_OK);
    assert_int_equal(mlp_model_load_json(path, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    /* Saving what was loaded writes the same bytes: the text is canonical. */
    assert_int_equal(mlp_model_save_json(back, path2, &err), MLP_OK);
    char *t1 = read_text(path), *t2 = read_text(path2);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    mlp_model_free(back);
    mlp_model_free(m);
}

static void test_to_json_parse_is_bit_identical(void **s)
{
    (void)s;
    mlp_model *m = make_model(), *back = json_round_trip(m);
    assert_models_identical(m, back);
    mlp_model_free(back);
    mlp_model_free(m);
}

/* Random parameters over many seeds: the shortest text always reads back. */
static void test_round_trip_many_random_models(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{64, MLP_ACT_RELU, 0}, {10, MLP_ACT_IDENTITY, 0}};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        mlp_model *m = test_model(32, spec, 2);
        fill_model_tricky(m, seed);
        mlp_model *back = json_round_trip(m);
        assert_memory_equal(mlp_model_params(m), mlp_model_params(back),
                            mlp_model_n_params(m) * sizeof(float));
        assert_null(mlp_model_labels(back));
        assert_null(mlp_model_input_mean(back));
        assert_null(mlp_model_input_std(back));
        assert_int_equal(mlp_model_task(back), MLP_TASK_REGRESSION);
        mlp_model_free(back);
        mlp_model_free(m);
    }
}

static void test_floats_are_written_short(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(3, {1, MLP_ACT_IDENTITY, 0});
    param_set(m, 0, 0.1f);
    param_set(m, 1, -0.0f);
    param_set(m, 2, 1.0f);
    param_set(m, 3, FLT_MAX);
    char *text;
    assert_int_equal(mlp_model_to_json(m, &text, NULL), MLP_OK);
    assert_non_null(strstr(text, "[[0.1, -0.0, 1]]"));
    assert_non_null(strstr(text, "[3.4028235e38]")); /* 8 digits suffice */
    free(text);
    mlp_model_free(m);
}

static const char *BASE =
    "{\"format\": \"reluserve-mlp\", \"version\": 1, \"name\": \"t\", \"task\": "
    "\"classification\",\n"
    " \"input\": {\"name\": \"x\", \"size\": 2, \"mean\": [0, 1], \"std\": [1, 2]},\n"
    " \"output\": {\"name\": \"y\", \"labels\": [\"a\", \"b\"]},\n"
    " \"layers\": [{\"units\": 3, \"activation\": \"relu\", \"weight\": [[1, 2], [3, 4], [5, 6]], "
    "\"bias\": [0, 0, 0]},\n"
    "            {\"units\": 2, \"activation\": \"softmax\", \"weight\": [[1, 2, 3], [4, 5, 6]], "
    "\"bias\": [0.5, -0.5]}]}";

static void test_base_document_loads(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_json(BASE, strlen(BASE), ORIGIN, &m, &err), MLP_OK);
    assert_string_equal(mlp_model_name(m), "t");
    assert_int_equal(mlp_model_n_inputs(m), 2);
    assert_int_equal(mlp_model_n_outputs(m), 2);
    assert_true(mlp_layer_weight(m, 0)[3] == 4.0f);
    assert_true(mlp_layer_weight(m, 1)[5] == 6.0f);
    assert_true(mlp_layer_bias(m, 1)[1] == -0.5f);
    assert_true(mlp_model_input_std(m)[1] == 2.0f);
    assert_string_equal(mlp_model_labels(m)[1], "b");
    mlp_model_free(m);
}

/* text with the first occurrence of `from` replaced by `to` (caller frees). */
static char *edit_text(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to);
    char *d = malloc(n + 1);
    memcpy(d, text, pre);
    strcpy(d + pre, to);
    strcat(d, at + strlen(from));
    return d;
}

static char *edit(const char *from, const char *to)
{
    return edit_text(BASE, from, to);
}

static void expect_error_text(const char *text, size_t len, mlp_status want, const char *needle)
{
    mlp_model *m = (mlp_model *)1;
    mlp_error err;
    mlp_status got = mlp_model_parse_json(text, len, ORIGIN, &m, &err);
    if (got != want || !strstr(err.msg, needle) || strncmp(err.msg, ORIGIN ": ", 23) != 0)
        print_error("status %s, message \"%s\" (wanted %s and \"%s\")\n", mlp_status_str(got),
                    err.msg, mlp_status_str(want), needle);
    assert_int_equal(got, want);
    assert_non_null(strstr(err.msg, needle));
    assert_int_equal(strncmp(err.msg, ORIGIN ": ", 23), 0);
    assert_null(m);
}

static void expect_edit_error(const char *from, const char *to, mlp_status want, const char *needle)
{
    char *d = edit(from, to);
    expect_error_text(d, strlen(d), want, needle);
    free(d);
}

/* ------------------------------------------------------------ the document */

static void test_refuses_invalid_json(void **s)
{
    (void)s;
    expect_error_text("{\"format\": ", 11, MLP_ERR_FORMAT, "invalid JSON at line 1");
}

static void test_refuses_truncated_document(void **s)
{
    (void)s;
    expect_error_text(BASE, strlen(BASE) / 2, MLP_ERR_FORMAT, "invalid JSON");
}

static void test_refuses_empty_input(void **s)
{
    (void)s;
    expect_error_text("", 0, MLP_ERR_FORMAT, "invalid JSON");
}

/* Documents that must be refused (edit_case): BASE with `from` replaced by
 * `to`. Each row is its own cmocka test. */

static void run_edit_case(void **state)
{
    const edit_case *c = *state;
    expect_edit_error(c->from, c->to, (mlp_status)c->status, c->needle);
}

static const edit_case edit_cases[] = {
    {"test_refuses_bad_utf8", "\"name\": \"t\"", "\"name\": \"t\xff\xfe\"", MLP_ERR_FORMAT,
     "invalid JSON"},
    {"test_refuses_nul_in_string", "\"name\": \"t\"", "\"name\": \"t\\u0000x\"", MLP_ERR_FORMAT,
     "invalid JSON"},
    {"test_refuses_duplicate_keys", "\"name\": \"t\"", "\"name\": \"t\", \"name\": \"u\"",
     MLP_ERR_FORMAT, "duplicate"},
    {"test_refuses_missing_format", "\"format\": \"reluserve-mlp\", ", "", MLP_ERR_FORMAT,
     "missing \"format\""},
    {"test_refuses_unknown_format", "reluserve-mlp", "keras", MLP_ERR_FORMAT,
     "\"format\" is \"keras\", expected \"reluserve-mlp\""},
    {"test_refuses_unknown_version", "\"version\": 1", "\"version\": 2", MLP_ERR_UNSUPPORTED,
     "format version 2 is not supported"},
    {"test_refuses_version_of_wrong_type", "\"version\": 1", "\"version\": \"1\"", MLP_ERR_FORMAT,
     "\"version\" is a string, expected an integer"},
    {"test_refuses_missing_version", "\"version\": 1, ", "", MLP_ERR_FORMAT, "missing \"version\""},
    {"test_refuses_missing_name", "\"name\": \"t\", ", "", MLP_ERR_FORMAT, "missing \"name\""},
    {"test_refuses_empty_name", "\"name\": \"t\"", "\"name\": \"\"", MLP_ERR_FORMAT,
     "\"name\" is empty"},
    {"test_refuses_name_of_wrong_type", "\"name\": \"t\"", "\"name\": 7", MLP_ERR_FORMAT,
     "\"name\" is a number, expected a string"},
    {"test_refuses_unknown_task", "\"classification\"", "\"clustering\"", MLP_ERR_UNSUPPORTED,
     "task \"clustering\" is not supported"},
    {"test_refuses_missing_task", "\"task\": \"classification\",", "", MLP_ERR_FORMAT,
     "missing \"task\""},
    {"test_refuses_missing_input",
     " \"input\": {\"name\": \"x\", \"size\": 2, \"mean\": [0, 1], \"std\": [1, "
     "2]},",
     "", MLP_ERR_FORMAT, "missing \"input\""},
    {"test_refuses_input_of_wrong_type", "\"input\": {", "\"input\": [], \"x\": {", MLP_ERR_FORMAT,
     "\"input\" is an array, expected an object"},
    {"test_refuses_missing_input_name", "{\"name\": \"x\", ", "{", MLP_ERR_FORMAT,
     "missing input.name"},
    {"test_refuses_missing_input_size", "\"size\": 2, ", "", MLP_ERR_FORMAT, "missing input.size"},
    {"test_refuses_input_size_over_limit", "\"size\": 2", "\"size\": 70000", MLP_ERR_LIMIT,
     "input.size 70000 exceeds the limit of 65536"},
    {"test_refuses_input_size_zero", "\"size\": 2", "\"size\": 0", MLP_ERR_FORMAT,
     "input.size is 0"},
    {"test_refuses_input_size_not_matching_weight",
     "\"size\": 2, \"mean\": [0, 1], \"std\": [1, 2]", "\"size\": 3", MLP_ERR_FORMAT,
     "layers[0].weight has 2 columns, expected 3 (input.size)"},
    {"test_refuses_missing_output", " \"output\": {\"name\": \"y\", \"labels\": [\"a\", \"b\"]},",
     "", MLP_ERR_FORMAT, "missing \"output\""},
    {"test_refuses_missing_output_name", "{\"name\": \"y\", ", "{", MLP_ERR_FORMAT,
     "missing output.name"},
    {"test_refuses_mean_of_wrong_length", "\"mean\": [0, 1]", "\"mean\": [0, 1, 2]", MLP_ERR_FORMAT,
     "input.mean has 3 values, expected 2"},
    {"test_refuses_mean_of_wrong_type", "\"mean\": [0, 1]", "\"mean\": 0", MLP_ERR_FORMAT,
     "input.mean is a number, expected an array"},
    {"test_refuses_mean_overflowing_float", "\"mean\": [0, 1]", "\"mean\": [0, 1e39]",
     MLP_ERR_FORMAT, "input.mean[1] = 1e+39 overflows float32"},
    {"test_refuses_std_not_positive", "\"std\": [1, 2]", "\"std\": [1, 0]", MLP_ERR_FORMAT,
     "input.std[1] = 0, expected > 0"},
    {"test_refuses_labels_of_wrong_count", "[\"a\", \"b\"]", "[\"a\"]", MLP_ERR_FORMAT,
     "output.labels has 1 names, expected 2"},
    {"test_refuses_label_of_wrong_type", "[\"a\", \"b\"]", "[\"a\", null]", MLP_ERR_FORMAT,
     "output.labels[1] is null, expected a string"},
    {"test_refuses_units_over_limit", "\"units\": 3", "\"units\": 65537", MLP_ERR_LIMIT,
     "layers[0].units = 65537 exceeds the limit of 65536"},
    {"test_refuses_units_of_wrong_type", "\"units\": 3", "\"units\": \"3\"", MLP_ERR_FORMAT,
     "layers[0].units is a string, expected an integer"},
    {"test_refuses_zero_units", "\"units\": 3", "\"units\": 0", MLP_ERR_FORMAT,
     "layers[0].units is 0"},
    {"test_refuses_missing_units", "\"units\": 3, ", "", MLP_ERR_FORMAT,
     "layers[0]: missing \"units\""},
    {"test_refuses_layer_of_wrong_type", "\"layers\": [", "\"layers\": [7, ", MLP_ERR_FORMAT,
     "layers[0] is a number, expected an object"},
    {"test_refuses_unknown_activation", "\"relu\"", "\"gelu\"", MLP_ERR_UNSUPPORTED,
     "layers[0].activation \"gelu\" is not supported"},
    {"test_refuses_softmax_before_last_layer", "\"relu\"", "\"softmax\"", MLP_ERR_UNSUPPORTED,
     "layers[0].activation is softmax, which is allowed on the last layer only"},
    {"test_refuses_alpha_on_relu", "\"relu\"", "\"relu\", \"alpha\": 0.1", MLP_ERR_FORMAT,
     "layers[0].alpha is given but the activation is relu"},
    {"test_refuses_alpha_out_of_range", "\"relu\"", "\"leaky_relu\", \"alpha\": 1.5",
     MLP_ERR_UNSUPPORTED, "layers[0].alpha = 1.5 is outside [0, 1)"},
    {"test_refuses_alpha_rounding_to_one", "\"relu\"", "\"leaky_relu\", \"alpha\": 0.99999999",
     MLP_ERR_UNSUPPORTED, "rounds to 1 in float32"},
    {"test_refuses_weight_with_wrong_rows", "[[1, 2], [3, 4], [5, 6]]", "[[1, 2], [3, 4]]",
     MLP_ERR_FORMAT, "layers[0].weight has 2 rows, expected 3 (layers[0].units)"},
    {"test_refuses_layer_not_fitting_the_one_before", "[[1, 2, 3], [4, 5, 6]]", "[[1, 2], [4, 5]]",
     MLP_ERR_FORMAT, "layers[1].weight has 2 columns, expected 3 (the units of layers[0])"},
    {"test_refuses_ragged_weight", "[[1, 2, 3], [4, 5, 6]]", "[[1, 2, 3], [4, 5]]", MLP_ERR_FORMAT,
     "layers[1].weight[1] has 2 columns, expected 3"},
    {"test_refuses_weight_row_of_wrong_type", "[[1, 2], [3, 4], [5, 6]]", "[[1, 2], 3, [5, 6]]",
     MLP_ERR_FORMAT, "layers[0].weight[1] is a number, expected an array of 2 numbers"},
    {"test_refuses_missing_weight", "\"weight\": [[1, 2], [3, 4], [5, 6]], ", "", MLP_ERR_FORMAT,
     "layers[0]: missing \"weight\""},
    {"test_refuses_weight_element_of_wrong_type", "[3, 4]", "[\"3\", 4]", MLP_ERR_FORMAT,
     "layers[0].weight[1][0] is a string, expected a number"},
    {"test_refuses_weight_overflowing_float", "[3, 4]", "[3, 1e39]", MLP_ERR_FORMAT,
     "layers[0].weight[1][1] = 1e+39 is too large for float32"},
    {"test_refuses_number_overflowing_double", "[3, 4]", "[3, 1e400]", MLP_ERR_FORMAT,
     "invalid JSON"},
    {"test_refuses_bias_of_wrong_length", "[0, 0, 0]", "[0, 0]", MLP_ERR_FORMAT,
     "layers[0].bias has 2 values, expected 3"},
    {"test_refuses_missing_bias", ", \"bias\": [0, 0, 0]", "", MLP_ERR_FORMAT,
     "layers[0]: missing \"bias\""},
    {"test_refuses_bias_element_of_wrong_type", "[0.5, -0.5]", "[0.5, true]", MLP_ERR_FORMAT,
     "layers[1].bias[1] is a boolean, expected a number"},
};

static void test_refuses_non_object_document(void **s)
{
    (void)s;
    expect_error_text("[1, 2]", 6, MLP_ERR_FORMAT, "the document is an array, expected an object");
}

/* ------------------------------------------------------------ metadata */

/* ------------------------------------------------------------ layers */

static void test_refuses_missing_layers(void **s)
{
    (void)s;
    static const char doc[] =
        "{\"format\": \"reluserve-mlp\", \"version\": 1, \"name\": \"t\", \"task\": "
        "\"regression\", \"input\": {\"name\": \"x\", \"size\": 2}, \"output\": {\"name\": \"y\"}}";
    expect_error_text(doc, strlen(doc), MLP_ERR_FORMAT, "missing \"layers\"");
}

static void test_refuses_empty_layers(void **s)
{
    (void)s;
    char *d = edit("\"layers\": [", "\"layers\": [], \"old\": [");
    expect_error_text(d, strlen(d), MLP_ERR_FORMAT, "\"layers\" is empty");
    free(d);
}

static void test_refuses_too_many_layers(void **s)
{
    (void)s;
    char buf[4096] = "{\"format\": \"reluserve-mlp\", \"version\": 1, \"name\": \"t\", \"task\": "
                     "\"regression\", \"input\": {\"name\": \"x\", \"size\": 2}, \"output\": "
                     "{\"name\": \"y\"}, \"layers\": [{}";
    for (int i = 1; i < 65; i++)
        strcat(buf, ", {}");
    strcat(buf, "]}");
    expect_error_text(buf, strlen(buf), MLP_ERR_LIMIT, "65 layers exceed the limit of 64");
}

static void test_refuses_params_over_limit(void **s)
{
    (void)s;
    /* Every size is legal, but 65536 x 65536 weights are 2^32 parameters;
     * refused before the (absent) weights are even looked at. */
    char *d = edit("\"size\": 2, \"mean\": [0, 1], \"std\": [1, 2]", "\"size\": 65536");
    char *e = edit_text(d, "\"units\": 3", "\"units\": 65536");
    expect_error_text(e, strlen(e), MLP_ERR_LIMIT, "parameters exceed the limit of 268435456");
    free(e);
    free(d);
}

/* ------------------------------------------------------------ size against shapes */

/* Legal sizes (16384 inputs, 16000 units: 262192002 parameters, within
 * MLP_MAX_PARAMS) declared in a few hundred bytes: refused for the size
 * before parsing, not for the first missing weight row after it. */
static void test_refuses_file_too_small_for_its_layers(void **s)
{
    (void)s;
    char *d = edit("\"size\": 2", "\"size\": 16384");
    char *e = edit_text(d, "\"units\": 3", "\"units\": 16000");
    char want[160];
    snprintf(want, sizeof want,
             "the file is %zu bytes, too small for the 262192002 parameters its layers declare",
             strlen(e));
    expect_error_text(e, strlen(e), MLP_ERR_FORMAT, want);
    free(e);
    free(d);
}

/* BASE (17 parameters) with n bytes of numbers in an unknown key: as
 * `extra` is ignored, only the size check can refuse it. cut: leave off the
 * closing brace (invalid JSON). */
static char *padded(size_t n, bool cut)
{
    size_t base = strlen(BASE);
    char *d = malloc(base + n + 32);
    memcpy(d, BASE, base - 1); /* without the final '}' */
    size_t at = base - 1;
    at += (size_t)sprintf(d + at, ", \"extra\": [0");
    while (at < base + n)
        at += (size_t)sprintf(d + at, ", 0");
    at += (size_t)sprintf(d + at, "]%s", cut ? "" : "}");
    return d;
}

/* A document far bigger than its 17 parameters can need is refused before
 * jansson builds its tree: valid or not (the cut-off one gets the size error,
 * not jansson's syntax error, so the check ran first). Up to the slack it
 * loads. */
static void test_refuses_file_its_layers_cannot_justify(void **s)
{
    (void)s;
    char *d = padded(3u << 20, false);
    expect_error_text(d, strlen(d), MLP_ERR_FORMAT,
                      "more than the shapes it declares can need (17 parameters: at most");
    free(d);
    d = padded(3u << 20, true);
    expect_error_text(d, strlen(d), MLP_ERR_FORMAT, "17 parameters, some sizes unreadable");
    free(d);
    d = padded(512u << 10, false);
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_json(d, strlen(d), ORIGIN, &m, &err), MLP_OK);
    mlp_model_free(m);
    free(d);
}

/* A big model's file (several MB of numbers) is what its layers justify. */
static void test_big_model_file_loads(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{1000, MLP_ACT_RELU, 0}, {10, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m, *back;
    mlp_error err;
    assert_int_equal(mlp_model_create(300, spec, 2, &m, &err), MLP_OK);
    fill_model_tricky(m, 5);
    char path[128];
    tmp_path(path, sizeof path, "big.json");
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > (2 << 20)); /* past the 1 MiB any file may have */
    assert_int_equal(mlp_model_load_json(path, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    mlp_model_free(back);
    mlp_model_free(m);
}

static void test_leaky_relu_alpha_defaults_to_torch(void **s)
{
    (void)s;
    char *d = edit("\"relu\"", "\"leaky_relu\"");
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_json(d, strlen(d), ORIGIN, &m, &err), MLP_OK);
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_LEAKY_RELU);
    assert_true(mlp_model_layer(m, 0)->alpha == 0.01f);
    mlp_model_free(m);
    free(d);
}

static void test_accepts_largest_float_text(void **s)
{
    (void)s;
    /* 3.4028235e38 is above FLT_MAX as a double but rounds to it. */
    char *d = edit("[3, 4]", "[3.4028235e38, -3.40282356e38]");
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_json(d, strlen(d), ORIGIN, &m, &err), MLP_OK);
    assert_true(mlp_layer_weight(m, 0)[2] == FLT_MAX);
    assert_true(mlp_layer_weight(m, 0)[3] == -FLT_MAX);
    mlp_model_free(m);
    free(d);
    /* while 3.4028236e38 is past the rounding boundary */
    expect_edit_error("[3, 4]", "[3, 3.4028236e38]", MLP_ERR_FORMAT, "too large for float32");
}

/* ------------------------------------------------------------ files */

static void test_load_missing_file(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    char path[128];
    tmp_path(path, sizeof path, "nope/model.json");
    assert_int_equal(mlp_model_load_json(path, &m, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "cannot open: No such file or directory"));
    assert_null(m);
}

static void test_load_directory(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_load_json(tmpdir, &m, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_load_truncated_file(void **s)
{
    (void)s;
    char path[128];
    tmp_path(path, sizeof path, "truncated.json");
    FILE *f = fopen(path, "wb");
    fwrite(BASE, 1, 100, f);
    fclose(f);
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "invalid JSON"));
}

static void test_load_dispatches_by_extension(void **s)
{
    (void)s;
    mlp_model *m = make_model(), *back;
    mlp_error err;
    char path[128];
    tmp_path(path, sizeof path, "dispatch.json");
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_OK);
    assert_int_equal(mlp_model_load(path, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    mlp_model_free(back);
    assert_int_equal(mlp_model_load("models/x/1/model.bin", &back, &err), MLP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "models/x/1/model.bin: unknown model file type"));
    mlp_model_free(m);
}

static void test_save_refuses_non_finite_weights(void **s)
{
    (void)s;
    mlp_model *m = make_model();
    mlp_error err;
    char path[128];
    tmp_path(path, sizeof path, "nan.json");
    weight_set(m, 1, 2, NAN);
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not finite"));
    char *text = (char *)"unchanged";
    assert_int_equal(mlp_model_to_json(m, &text, &err), MLP_ERR_INVALID);
    assert_null(text);
    assert_non_null(strstr(err.msg, "not finite"));
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    mlp_model_free(m);
}

static void test_save_refuses_invalid_utf8_label(void **s)
{
    (void)s;
    mlp_model *m = make_model();
    mlp_error err;
    char path[128];
    tmp_path(path, sizeof path, "utf8.json");
    const char *labels[] = {"a", "b\xc3", "c"};
    assert_int_equal(mlp_model_set_labels(m, labels, NULL), MLP_OK);
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "UTF-8"));
    mlp_model_free(m);
}

static void test_save_into_missing_folder(void **s)
{
    (void)s;
    mlp_model *m = make_model();
    mlp_error err;
    char path[128];
    tmp_path(path, sizeof path, "no/such/dir/model.json");
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot create"));
    mlp_model_free(m);
}

/* Saves of one path from several threads while another loads it: each save
 * writes its own temporary file, so every load sees one whole model (with one
 * shared temporary name, a save could rename another's half-written file). */
typedef struct {
    const mlp_model *m; /* NULL: the reader */
    const char *path;
    int failures;
} save_race;

static void *save_race_run(void *arg)
{
    save_race *r = arg;
    for (int i = 0; i < 150; i++) {
        mlp_model *back = NULL;
        mlp_error err;
        mlp_status st = r->m ? mlp_model_save_json(r->m, r->path, &err)
                             : mlp_model_load_json(r->path, &back, &err);
        r->failures += st != MLP_OK;
        mlp_model_free(back);
    }
    return NULL;
}

static void test_concurrent_saves_never_tear(void **s)
{
    (void)s;
    char dir[128], path[160];
    tmp_path(dir, sizeof dir, "race");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    mlp_layer_spec wide[] = {{64, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *a = make_model(), *b;
    mlp_error err;
    assert_int_equal(mlp_model_create(40, wide, 2, &b, &err), MLP_OK);
    fill_model_tricky(b, 3);
    assert_int_equal(mlp_model_save_json(a, path, &err), MLP_OK);
    save_race r[3] = {{a, path, 0}, {b, path, 0}, {NULL, path, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, save_race_run, &r[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].failures + r[1].failures, 0);
    assert_int_equal(r[2].failures, 0); /* no load saw a torn file */
    DIR *d = opendir(dir);              /* and no temporary file is left */
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);
    mlp_model_free(a);
    mlp_model_free(b);
}

/* A save that cannot rename into place (the target is a folder) leaves no
 * temporary file behind. */
static void test_failed_save_leaves_nothing(void **s)
{
    (void)s;
    char dir[128], path[160];
    tmp_path(dir, sizeof dir, "blocked");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/model.json", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    mlp_model *m = make_model();
    mlp_error err;
    assert_int_equal(mlp_model_save_json(m, path, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, "cannot replace"));
    assert_int_equal(dir_entries(dir), 1); /* the folder in the way, nothing else */
    mlp_model_free(m);
}

static void test_null_arguments(void **s)
{
    (void)s;
    mlp_error err;
    assert_int_equal(mlp_model_parse_json(BASE, strlen(BASE), ORIGIN, NULL, &err), MLP_ERR_INVALID);
    mlp_model *m;
    assert_int_equal(mlp_model_parse_json(NULL, 5, ORIGIN, &m, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_load_json(NULL, &m, NULL), MLP_ERR_INVALID);
    char *text;
    assert_int_equal(mlp_model_to_json(NULL, &text, &err), MLP_ERR_INVALID);
    assert_null(text);
    assert_int_equal(mlp_model_to_json(NULL, NULL, NULL), MLP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_save_load_is_bit_identical),
        cmocka_unit_test(test_to_json_parse_is_bit_identical),
        cmocka_unit_test(test_round_trip_many_random_models),
        cmocka_unit_test(test_floats_are_written_short),
        cmocka_unit_test(test_base_document_loads),
        cmocka_unit_test(test_refuses_invalid_json),
        cmocka_unit_test(test_refuses_truncated_document),
        cmocka_unit_test(test_refuses_empty_input),
        cmocka_unit_test(test_refuses_non_object_document),
        cmocka_unit_test(test_refuses_missing_layers),
        cmocka_unit_test(test_refuses_empty_layers),
        cmocka_unit_test(test_refuses_too_many_layers),
        cmocka_unit_test(test_refuses_params_over_limit),
        cmocka_unit_test(test_refuses_file_too_small_for_its_layers),
        cmocka_unit_test(test_refuses_file_its_layers_cannot_justify),
        cmocka_unit_test(test_big_model_file_loads),
        cmocka_unit_test(test_leaky_relu_alpha_defaults_to_torch),
        cmocka_unit_test(test_accepts_largest_float_text),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_directory),
        cmocka_unit_test(test_load_truncated_file),
        cmocka_unit_test(test_load_dispatches_by_extension),
        cmocka_unit_test(test_save_refuses_non_finite_weights),
        cmocka_unit_test(test_save_refuses_invalid_utf8_label),
        cmocka_unit_test(test_save_into_missing_folder),
        cmocka_unit_test(test_concurrent_saves_never_tear),
        cmocka_unit_test(test_failed_save_leaves_nothing),
        cmocka_unit_test(test_null_arguments),
    };
    static test_list tests;
    TESTS_ADD(&tests, others);
    TESTS_ADD_CASES(&tests, edit_cases, run_edit_case);
    return tests_run("test_io_json", &tests, setup_dir, teardown_dir);
}
