/*
 * test_codec — request decoding (v2 JSON, binary extension, v1) and response
 * encoding, including every error a client can provoke.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "codec/codec.h"
#include "codec/internal.h"
#include "../../test_models.h"
#include "reference_string.h"

static mlp_model *classifier(void)
{
    mlp_model *m = TEST_MODEL(4, {5, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 7, NULL);
    const char *labels[] = {"setosa", "versicolor", "virginica"};
    assert_int_equal(mlp_model_set_labels(m, labels, NULL), MLP_OK);
    return m;
}

static mlp_model *regressor(void)
{
    mlp_model *m = TEST_MODEL(4, {3, MLP_ACT_TANH, 0}, {2, MLP_ACT_IDENTITY, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 3, NULL);
    return m;
}

/* The group's state: one classifier and one regressor, built once (the
 * codec only reads a model) and freed after the last test. */
typedef struct {
    mlp_model *cls, *reg;
} models;

static int models_create(void **state)
{
    static models ms;
    ms.cls = classifier();
    ms.reg = regressor();
    *state = &ms;
    return 0;
}

static int models_free(void **state)
{
    models *ms = *state;
    mlp_model_free(ms->cls);
    mlp_model_free(ms->reg);
    return 0;
}

static const mlp_model *the_classifier(void **state)
{
    return ((const models *)*state)->cls;
}

static const mlp_model *the_regressor(void **state)
{
    return ((const models *)*state)->reg;
}

/* Decodes body with the v1 (v1) or v2 decoder under a row limit; err
 * holds 256 bytes. */
static int decode_rows(const mlp_model *m, int v1, int max_rows, const char *body, rs_request *r,
                       char *err)
{
    rs_decode_limits lim = {.max_rows = max_rows};
    if (v1) return rs_decode_v1(m, body, strlen(body), &lim, r, err, 256);
    return rs_decode_v2(m, body, strlen(body), 0, &lim, r, err, 256);
}

static int decode2(const mlp_model *m, const char *body, rs_request *r, char *err)
{
    return decode_rows(m, 0, 64, body, r, err);
}

static int decode1(const mlp_model *m, const char *body, rs_request *r, char *err)
{
    return decode_rows(m, 1, 64, body, r, err);
}

/* A body a decoder must refuse: the status and a piece of the message. */
typedef struct {
    const char *body;
    int status;
    const char *msg;
} refusal;

/* After a decode that returned st: refused as c says (msg at the start of the
 * message when at_start, anywhere otherwise), nothing left in r. */
static void check_refused(int st, const char *err, rs_request *r, const refusal *c, size_t i,
                          bool at_start)
{
    const char *at = strstr(err, c->msg);
    if (st != c->status || at == NULL || (at_start && at != err))
        fail_msg("case %zu: %.120s\n  got %d '%s'\n  want %d '%s%s...'", i, c->body, st, err,
                 c->status, at_start ? "" : "...", c->msg);
    assert_null(r->x); /* nothing left to free after a failure */
    rs_request_free(r);
}

/* Each of n bodies refused by the v1 (v1) or v2 decoder of m. */
static void expect_refusals(const mlp_model *m, int v1, int max_rows, const refusal *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rs_request r;
        char err[256] = "";
        int st = decode_rows(m, v1, max_rows, c[i].body, &r, err);
        check_refused(st, err, &r, &c[i], i, false);
    }
}

#define N_CASES(a) (sizeof(a) / sizeof((a)[0]))

#define X8 "[1,2,3,4,5,6,7,8]"
#define IN(shape, dt, data)                                                                        \
    "{\"name\":\"input\",\"shape\":" shape ",\"datatype\":\"" dt "\",\"data\":" data "}"

static void expect_x(const rs_request *r, int rows, const float *want)
{
    assert_int_equal(r->rows, rows);
    assert_non_null(r->x);
    for (int i = 0; i < rows * 4; i++)
        assert_float_equal(r->x[i], want[i], 0);
}

/* ------------------------------------------------------------ v2 decode */

static void test_v2_flat_and_nested(void **s)
{
    const mlp_model *m = the_classifier(s);
    const float want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *bodies[] = {
        "{\"inputs\":[" IN("[2,4]", "FP32", X8) "]}",
        "{\"inputs\":[" IN("[2,4]", "FP32", "[[1,2,3,4],[5,6,7,8]]") "]}",
        /* keys in any order, whitespace anywhere */
        " { \"inputs\" : [ { \"data\" : [ [1, 2.0, 3e0, 4] , [5,6,7,8] ] , \"datatype\": \"FP64\","
        " \"shape\" : [ 2 , 4 ] , \"name\" : \"input\" } ] } \n",
        "{\"inputs\":[" IN("[2,4]", "INT32", X8) "]}",
        "{\"inputs\":[" IN("[2,4]", "UINT8", X8) "]}",
        "{\"inputs\":[" IN("[2,4]", "INT64", X8) "],\"unknown\":{\"deep\":[1,{}]}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        rs_request r;
        char err[256] = "";
        int st = decode2(m, bodies[i], &r, err);
        if (st != 0) fail_msg("body %zu: %d %s", i, st, err);
        expect_x(&r, 2, want);
        assert_int_equal(r.proto, RS_PROTO_V2);
        assert_int_equal(r.diag, RS_DIAG_SUMMARY);
        assert_int_equal(r.outputs, RS_OUT_PRIMARY);
        assert_null(r.labels);
        assert_null(r.targets);
        rs_request_free(&r);
    }
}

static void test_v2_bool_and_negative_ints(void **s)
{
    const mlp_model *m = the_classifier(s);
    rs_request r;
    char err[256];
    assert_int_equal(
        decode2(m, "{\"inputs\":[" IN("[1,4]", "BOOL", "[true,false,false,true]") "]}", &r, err),
        0);
    const float b[4] = {1, 0, 0, 1};
    expect_x(&r, 1, b);
    rs_request_free(&r);
    assert_int_equal(
        decode2(m, "{\"inputs\":[" IN("[1,4]", "INT8", "[-128,127,0,-1]") "]}", &r, err), 0);
    const float i8[4] = {-128, 127, 0, -1};
    expect_x(&r, 1, i8);
    rs_request_free(&r);
}

static void test_v2_id_parameters_outputs(void **s)
{
    const mlp_model *m = the_classifier(s);
    rs_request r;
    char err[256];
    const char *body = "{\"id\":\"req-\\u00e9\\n\",\"inputs\":[" IN(
        "[2,4]", "FP32",
        X8) ",{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"INT64\",\"data\":[2,0]}],"
            "\"outputs\":[{\"name\":\"output\",\"parameters\":{\"classification\":2}},"
            "{\"name\":\"input_gradient\",\"parameters\":{\"binary_data\":true}},{\"name\":"
            "\"loss\"}],"
            "\"parameters\":{\"diagnostics\":\"full\",\"timeout_us\":2500,\"extra\":\"ok\"}}";
    int st = decode2(m, body, &r, err);
    if (st) fail_msg("%s", err);
    assert_string_equal(r.id, "req-\xc3\xa9\n");
    assert_int_equal(r.diag, RS_DIAG_FULL);
    assert_true(r.timeout_us == 2500);
    assert_int_equal(r.outputs, RS_OUT_PRIMARY | RS_OUT_INPUT_GRADIENT | RS_OUT_LOSS);
    assert_int_equal(r.binary_outputs, RS_OUT_INPUT_GRADIENT);
    assert_int_equal(r.classification, 2);
    assert_non_null(r.labels);
    assert_int_equal(r.labels[0], 2);
    assert_int_equal(r.labels[1], 0);
    rs_request_free(&r);

    /* binary_data_output applies to every output without its own setting;
     * classification above the class count is clamped. */
    body = "{\"inputs\":[" IN(
        "[1,4]", "FP32",
        "[1,2,3,4]") "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"layer_sparsity\","
                     "\"parameters\":{\"binary_data\":false}}],"
                     "\"parameters\":{\"binary_data_output\":true,\"classification\":9}}";
    assert_int_equal(decode2(m, body, &r, err), 0);
    assert_int_equal(r.binary_outputs, RS_OUT_PRIMARY);
    assert_int_equal(r.classification, 3);
    rs_request_free(&r);
}

static void test_v2_targets_regression(void **s)
{
    const mlp_model *m = the_regressor(s);
    rs_request r;
    char err[256];
    const char *body = "{\"inputs\":[{\"name\":\"targets\",\"shape\":[2,2],\"datatype\":\"FP32\","
                       "\"data\":[[0.5,1],[-1,2]]}," IN("[2,4]", "FP32", X8) "]}";
    int st = decode2(m, body, &r, err);
    if (st) fail_msg("%s", err);
    assert_non_null(r.targets);
    assert_float_equal(r.targets[0], 0.5, 0);
    assert_float_equal(r.targets[3], 2, 0);
    rs_request_free(&r);
}

/* The binary tensor extension: JSON header, then raw little-endian bytes. */
static void test_v2_binary_inputs(void **s)
{
    const mlp_model *m = the_classifier(s);
    const char *json =
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
        "\"parameters\":{\"binary_data_size\":32}},{\"name\":\"labels\",\"shape\":[2],"
        "\"datatype\":\"INT16\",\"parameters\":{\"binary_data_size\":4}}]}";
    size_t jl = strlen(json);
    char body[512];
    memcpy(body, json, jl);
    const float x[8] = {1.5f, -2, 3, 4, 5, 6, 7, 8.25f};
    memcpy(body + jl, x, sizeof x);
    const unsigned char lab[4] = {2, 0, 1, 0}; /* int16 LE: 2, 1 */
    memcpy(body + jl + 32, lab, 4);
    rs_request r;
    char err[256];
    rs_decode_limits lim = {.max_rows = 8};
    int st = rs_decode_v2(m, body, jl + 36, jl, &lim, &r, err, sizeof err);
    if (st) fail_msg("%s", err);
    expect_x(&r, 2, x);
    assert_int_equal(r.labels[0], 2);
    assert_int_equal(r.labels[1], 1);
    rs_request_free(&r);

    /* Errors: too few bytes, too many, size not matching the shape, NaN. */
    assert_int_equal(rs_decode_v2(m, body, jl + 35, jl, &lim, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "runs past the end"));
    assert_int_equal(rs_decode_v2(m, body, jl + 36, jl + 37, &lim, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "Inference-Header-Content-Length"));
    memcpy(body + jl + 36, "xx", 2);
    assert_int_equal(rs_decode_v2(m, body, jl + 38, jl, &lim, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "add up to"));
    float nan = NAN;
    memcpy(body + jl + 4, &nan, 4);
    assert_int_equal(rs_decode_v2(m, body, jl + 36, jl, &lim, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "not finite"));
    /* binary_data_size without the header length */
    assert_int_equal(rs_decode_v2(m, json, jl, 0, &lim, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "Inference-Header-Content-Length"));
}

static void test_v2_binary_every_datatype(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const struct {
        const char *dt;
        size_t size;
        unsigned char bytes[32];
        float want[4];
    } cases[] = {
        {"UINT8", 1, {1, 2, 255, 0}, {1, 2, 255, 0}},
        {"INT8", 1, {1, 0xfe, 0x80, 0x7f}, {1, -2, -128, 127}},
        {"BOOL", 1, {1, 0, 0, 1}, {1, 0, 0, 1}},
        {"UINT16", 2, {1, 0, 0, 1, 0xff, 0xff, 0, 0}, {1, 256, 65535, 0}},
        {"INT16", 2, {0xff, 0xff, 0, 0x80, 0xff, 0x7f, 3, 0}, {-1, -32768, 32767, 3}},
        {"INT32",
         4,
         {0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, 0, 0, 0, 0x80, 0, 1, 0, 0},
         {-1, 5, -2147483648.0f, 256}},
        {"UINT32",
         4,
         {0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
         {4294967295.0f, 5, 0, 256}},
        {"INT64",
         8,
         {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0,
          0,    0,    0,    0,    0,    0,    0,    0,    1, 0, 0, 0, 0, 0, 0, 0},
         {-2, 7, 0, 1}},
        {"UINT64",
         8,
         {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0,
          0,    0,    0,    0,    0,    0,    0,    0,    1, 0, 0, 0, 0, 0, 0, 0},
         {18446744073709551615.0f, 7, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        int jl = snprintf(body, sizeof body,
                          "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"%s\","
                          "\"parameters\":{\"binary_data_size\":%zu}}]}",
                          cases[i].dt, 4 * cases[i].size);
        memcpy(body + jl, cases[i].bytes, 4 * cases[i].size);
        rs_request r;
        char err[256];
        int st = rs_decode_v2(m, body, (size_t)jl + 4 * cases[i].size, (size_t)jl, NULL, &r, err,
                              sizeof err);
        if (st) fail_msg("%s: %s", cases[i].dt, err);
        for (int k = 0; k < 4; k++)
            if (r.x[k] != cases[i].want[k])
                fail_msg("%s[%d]: got %.9g want %.9g", cases[i].dt, k, (double)r.x[k],
                         (double)cases[i].want[k]);
        rs_request_free(&r);
    }
    /* FP64 */
    char body[512];
    int jl = snprintf(body, sizeof body,
                      "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP64\","
                      "\"parameters\":{\"binary_data_size\":32}}]}");
    const double d[4] = {0.1, -2, 1e300, 4};
    memcpy(body + jl, d, 32);
    rs_request r;
    char err[256];
    assert_int_equal(rs_decode_v2(m, body, (size_t)jl + 32, (size_t)jl, NULL, &r, err, sizeof err),
                     400);
    assert_non_null(strstr(err, "does not fit in float32"));
}

/* Every way a body can be wrong: status and a piece of the message. */
static void test_v2_errors(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const refusal cases[] = {
        {"", 400, "request body: expected a JSON object, got nothing"},
        {"   ", 400, "expected a JSON object"},
        {"[]", 400, "expected a JSON object, got an array"},
        {"{", 400, "invalid JSON"},
        {"{\"inputs\":[", 400, "invalid JSON"},
        {"{\"inputs\":[]}", 400, "inputs: missing"},
        {"{}", 400, "inputs: missing"},
        {"{\"inputs\":{}}", 400, "inputs: expected an array of tensors, got an object"},
        {"{\"inputs\":[1]}", 400, "inputs[0]: expected an object, got a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,4,5,6,7]") "]}", 400,
         "input 'input': shape [2,4] needs 8 values, got 7"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[[1,2,3,4],[5,6,7]]") "]}", 400, "ragged"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[[1,2,3,4,5,6,7,8]]") "]}", 400,
         "nested data has shape [1,8], expected [2,4]"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[[1,2,3,4],5,6,7,8]") "]}", 400,
         "mixes numbers and arrays"},
        {"{\"inputs\":[" IN("[2,3]", "FP32", "[1,2,3,4,5,6]") "]}", 400,
         "shape must be [rows, 4], got [2,3]"},
        {"{\"inputs\":[" IN("[8]", "FP32", X8) "]}", 400, "shape must be [rows, 4], got [8]"},
        {"{\"inputs\":[" IN("[0,4]", "FP32", "[]") "]}", 400, "at least one row"},
        {"{\"inputs\":[" IN("[65,4]", "FP32", "[]") "]}", 400, "needs 260 values, got 0"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[65,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":1040}}]}",
         400, "Inference-Header-Content-Length"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,\"4\",5,6,7,8]") "]}", 400,
         "inputs[0].data[3]: expected a number, got a string"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,null,5,6,7,8]") "]}", 400,
         "inputs[0].data[3]: expected a number, got null"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,1e39,5,6,7,8]") "]}", 400,
         "inputs[0].data[3]: 1e39 does not fit in float32"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,-1e999,5,6,7,8]") "]}", 400,
         "does not fit in float32"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,NaN,5,6,7,8]") "]}", 400,
         "invalid JSON at byte 73: expected a number, got 'N'"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,Infinity,5,6,7,8]") "]}", 400,
         "expected a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,01,5,6,7,8]") "]}", 400, "invalid JSON"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,4,5,6,7,8,]") "]}", 400, "invalid JSON"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[1,2,3,true,5,6,7,8]") "]}", 400,
         "datatype FP32 needs numbers, got a boolean at data[3]"},
        {"{\"inputs\":[" IN("[2,4]", "BOOL", "[1,0,1,0,1,0,1,0]") "]}", 400,
         "datatype BOOL needs true or false"},
        {"{\"inputs\":[" IN("[2,4]", "INT8", "[1,2,3,4,5,6,7,128]") "]}", 400,
         "datatype INT8 holds [-128, 127], got 128"},
        {"{\"inputs\":[" IN("[2,4]", "UINT16", "[1,2,3,4,5,6,7,-1]") "]}", 400,
         "datatype UINT16 holds [0, 65535], got -1"},
        {"{\"inputs\":[" IN("[2,4]", "INT32", "[1,2,3,4.5,5,6,7,8]") "]}", 400,
         "datatype INT32 needs integers, got 4.5 at data[3]"},
        {"{\"inputs\":[" IN("[2,4]", "FP16", X8) "]}", 400, "inputs[0].datatype: expected one of"},
        {"{\"inputs\":[" IN("[2,4]", "BYTES", X8) "]}", 400, "inputs[0].datatype: expected one of"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"data\":" X8 "}]}", 400,
         "input 'input': missing 'datatype'"},
        {"{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"data\":" X8 "}]}", 400,
         "input 'input': missing 'shape'"},
        {"{\"inputs\":[{\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":" X8 "}]}", 400,
         "inputs[0]: missing 'name'"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\"}]}", 400,
         "input 'input': missing 'data'"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,-4],\"datatype\":\"FP32\",\"data\":[]}]}",
         400, "inputs[0].shape[1]: expected a non-negative integer"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4.5],\"datatype\":\"FP32\",\"data\":[]}]}",
         400, "inputs[0].shape[1]: expected a non-negative integer"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":\"2,4\",\"datatype\":\"FP32\",\"data\":[]}]}",
         400, "inputs[0].shape: expected an array of integers, got a string"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,1,1,1,1,1,1,1],\"datatype\":\"FP32\","
         "\"data\":[]}]}",
         400, "more than 8 dimensions"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2147483647,2147483647,2147483647],"
         "\"datatype\":\"FP32\",\"data\":[]}]}",
         413, "too large"},
        {"{\"inputs\":[{\"name\":7}]}", 400, "inputs[0].name: expected a string, got a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "{}") "]}", 400,
         "inputs[0].data: expected an array, got an object"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":" X8 "}]}",
         400, "unknown input 'x'; expected 'input', 'labels' or 'targets'"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "," IN("[2,4]", "FP32", X8) "]}", 400,
         "input 'input' given twice"},
        {"{\"inputs\":[{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[0,1]}]}",
         400, "no tensor named 'input'"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) ",{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[0,3]}]}",
         400, "input 'labels': value 3 at index 1 is not a class index in [0, 3)"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) ",{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[-1,0]}]}",
         400, "value -1 at index 0 is not a class index"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) ",{\"name\":\"labels\",\"shape\":[3],\"datatype\":\"INT32\",\"data\":[0,1,2]}]}",
         400, "input 'labels': shape must be [2]"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) ",{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[0.5,1]}]}",
         400, "value 0.5 at index 0 is not a class index"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) ",{\"name\":\"targets\",\"shape\":[2,2],"
                                                 "\"datatype\":\"FP32\",\"data\":[0,1,0,1]}]}",
         400, "input 'targets': shape must be [2, 3], got [2,2]"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) ",{\"name\":\"labels\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[0,1]},"
                 "{\"name\":\"targets\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[0,1,0,1,0,"
                 "0]}]}",
         400, "either 'labels' or 'targets'"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"diagnostics\":\"all\"}}", 400,
         "parameters.diagnostics: expected \"none\", \"summary\" or \"full\""},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"diagnostics\":1}}", 400,
         "parameters.diagnostics: expected \"none\", \"summary\" or \"full\", got a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"timeout_us\":-5}}", 400,
         "parameters.timeout_us: expected a non-negative integer"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"timeout_us\":\"5\"}}", 400,
         "parameters.timeout_us: expected a non-negative integer, got a string"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"binary_data_output\":1}}",
         400, "parameters.binary_data_output: expected true or false"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"classification\":0}}", 400,
         "parameters.classification: expected a positive integer"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"preactivations\":1}}", 400,
         "parameters.preactivations: expected true or false, got a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"preactivations\":true}}", 400,
         "parameters.preactivations: needs parameters.diagnostics \"full\", got \"summary\""},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":{\"preactivations\":true,"
                                                 "\"diagnostics\":\"none\"}}",
         400, "parameters.preactivations: needs parameters.diagnostics \"full\", got \"none\""},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"parameters\":[]}", 400,
         "parameters: expected an object, got an array"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"outputs\":[{\"name\":\"logits\"}]}", 400,
         "outputs[0].name: unknown output 'logits'; expected one of 'output', 'input_gradient'"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"outputs\":[{}]}", 400,
         "outputs[0]: missing 'name'"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"outputs\":{}}", 400,
         "outputs: expected an array, got an object"},
        {"{\"inputs\":[" IN(
             "[2,4]", "FP32",
             X8) "],\"outputs\":[{\"name\":\"loss\",\"parameters\":{\"classification\":2}}]}",
         400, "only the model output 'output' can be classified"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"outputs\":[{\"name\":\"loss\"}]}", 400,
         "'loss' needs a 'labels' or 'targets' input"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"outputs\":[{\"name\":\"input_gradient\"}],"
                                                 "\"parameters\":{\"diagnostics\":\"none\"}}",
         400, "diagnostic tensors need parameters.diagnostics"},
        {"{\"id\":5,\"inputs\":[" IN("[2,4]", "FP32", X8) "]}", 400,
         "id: expected a string, got a number"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "]} x", 400, "expected the end of the JSON text"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "]}{}", 400, "expected the end of the JSON text"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],}", 400, "invalid JSON"},
        {"{\"inputs\" [" IN("[2,4]", "FP32", X8) "]}", 400, "expected ':'"},
        {"{inputs:[]}", 400, "a string key"},
        {"{\"a\":\"\\x\"}", 400, "valid escape"},
        {"{\"a\":\"\\ud800\"}", 400, "low surrogate"},
        {"{\"a\":\"\x01\"}", 400, "control character"},
        {"{\"id\":\"\xf8\"}", 400, "valid UTF-8"},
        {"{\"id\":\"\xc3\"}", 400, "valid UTF-8"},
        {"{\"id\":\"\xed\xa0\x80\"}", 400, "valid UTF-8"}, /* encoded surrogate */
        {"{\"id\":\"\xc0\xaf\"}", 400, "valid UTF-8"},     /* overlong '/' */
        {"{\"a\":tru}", 400, "invalid JSON"},
        {"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]"
         "]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         400, "nested deeper than"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", "[[[[[[[[[1]]]]]]]]]") "]}", 400,
         "nested deeper than 8 levels"},
        {"{\"inputs\":[" IN("[80,4]", "FP32", "[]") "]}", 400, "needs 320 values"},
    };
    expect_refusals(m, 0, 64, cases, N_CASES(cases));
}

static void test_empty_body_without_buffer(void **s)
{
    const mlp_model *m = the_classifier(s);
    rs_request r;
    char err[256];
    assert_int_equal(rs_decode_v2(m, NULL, 0, 0, NULL, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "expected a JSON object, got nothing"));
    assert_int_equal(rs_decode_v1(m, NULL, 0, NULL, &r, err, sizeof err), 400);
    assert_non_null(strstr(err, "expected a JSON object, got nothing"));
}

static void test_v2_row_limit_is_413(void **s)
{
    const mlp_model *m = the_classifier(s);
    char body[4096];
    int n = snprintf(body, sizeof body,
                     "{\"inputs\":[{\"name\":\"input\",\"shape\":[65,4],\"datatype\":\"FP32\","
                     "\"data\":[0");
    for (int i = 1; i < 260; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, ",%d", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}]}");
    rs_request r;
    char err[256];
    assert_int_equal(decode2(m, body, &r, err), 413);
    assert_non_null(strstr(err, "65 rows exceed the limit of 64"));
}

/* Truncating a valid body at every length never succeeds or crashes, and
 * never reads past the end (ASan checks: the copy is exactly that long). */
static void test_v2_every_truncation(void **s)
{
    const mlp_model *m = the_classifier(s);
    const char *full =
        "{\"id\":\"x\\u0041\",\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":"
        "\"FP32\",\"data\":[[1.5e-3,2,3,4],[5,6,7,-8.25E+2]]},{\"name\":\"labels\",\"shape\":[2],"
        "\"datatype\":\"INT32\",\"data\":[1,2]}],\"outputs\":[{\"name\":\"output\"}],"
        "\"parameters\":{\"diagnostics\":\"full\",\"binary_data_output\":false}}";
    size_t len = strlen(full);
    rs_request r;
    char err[256];
    assert_int_equal(decode2(m, full, &r, err), 0);
    rs_request_free(&r);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, full, n);
        int st = rs_decode_v2(m, copy, n, 0, NULL, &r, err, sizeof err);
        assert_int_equal(st, 400);
        assert_true(strlen(err) > 0);
        free(copy);
    }
}

/* ------------------------------------------------- exact error messages */

#define LAB(shape, data)                                                                           \
    "{\"name\":\"labels\",\"shape\":" shape ",\"datatype\":\"INT32\",\"data\":" data "}"
#define X1 IN("[1,4]", "FP32", "[1,2,3,4]")
#define DT_ONE_OF                                                                                  \
    "expected one of FP32, FP64, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, BOOL"

/* JSON allows an escaped NUL in a string; every name, key and id the
 * decoders read is a C string, which would end there. So a value with one is
 * refused naming its field, and a key with one is no key the decoder knows
 * (skipped like any unknown key), never read as the text before the NUL:
 * "FP32\u0000x" is not FP32 and "name\u0000x" is not name. */
static void test_escaped_nul_is_not_cut(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const refusal cases[] = {
        {"{\"inputs\":[{\"name\":\"input\\u0000x\",\"shape\":[1,4],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4]}]}",
         400, "inputs[0].name: a NUL character (\\u0000) in the string"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\\u0000\","
         "\"data\":[1,2,3,4]}]}",
         400, "inputs[0].datatype: a NUL character (\\u0000) in the string"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"loss\\u0000\"}]}", 400,
         "outputs[0].name: a NUL character (\\u0000) in the string"},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"diagnostics\":\"summary\\u0000x\"}}", 400,
         "parameters.diagnostics: expected \"none\", \"summary\" or \"full\""},
        {"{\"id\":\"a\\u0000b\",\"inputs\":[" X1 "]}", 400,
         "id: a NUL character (\\u0000) in the string"},
        /* the key is skipped: the input has no shape */
        {"{\"inputs\":[{\"name\":\"input\",\"shape\\u0000\":[1,4],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4]}]}",
         400, "input 'input': missing 'shape'"},
    };
    expect_refusals(m, 0, 64, cases, N_CASES(cases));
    /* A key with a NUL beside the real one is an unknown extra member. */
    rs_request r;
    char err[256] = "";
    assert_int_equal(decode2(m,
                             "{\"inputs\":[{\"name\":\"input\",\"name\\u0000\":\"x\","
                             "\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}",
                             &r, err),
                     0);
    assert_int_equal(r.rows, 1);
    rs_request_free(&r);
}

/* The whole message, byte for byte, for errors deep in a request: the paths
 * ("inputs[1].shape[2]") are composed only when an error is reported, so
 * each index and field of them is checked here, and every string error at
 * its byte offset. */
static void test_v2_error_messages_exact(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const refusal cases[] = {
        {"{\"inputs\":[" X1 "," LAB("[1,1,-3]", "[0]") "]}", 400,
         "inputs[1].shape[2]: expected a non-negative integer below 2^31"},
        {"{\"inputs\":[" X1 "," LAB("[1,1,\"x\"]", "[0]") "]}", 400,
         "inputs[1].shape[2]: expected a non-negative integer below 2^31, got a string"},
        {"{\"inputs\":[" X1 "," LAB("[1,1,1.5]", "[0]") "]}", 400,
         "inputs[1].shape[2]: expected a non-negative integer below 2^31"},
        {"{\"inputs\":[" X1 "," LAB("[1,1,2147483648]", "[0]") "]}", 400,
         "inputs[1].shape[2]: expected a non-negative integer below 2^31"},
        {"{\"inputs\":[" X1 "," LAB("[1,1,-]", "[0]") "]}", 400,
         "invalid JSON at byte 107: expected a number, got '-'"},
        {"{\"inputs\":[" IN("[1,4]", "FP32", "{}") "]}", 400,
         "inputs[0].data: expected an array, got an object"},
        {"{\"inputs\":[" X1 "," LAB("[1]", "[0]") "," LAB("[1]", "[0,\"a\"]") "]}", 400,
         "inputs[2].data[1]: expected a number, got a string"},
        {"{\"inputs\":[" X1 "," LAB("[1]", "[[0,1],[2]]") "]}", 400,
         "inputs[1].data: nested arrays are ragged (lengths 2 and 1 at level 2)"},
        {"{\"inputs\":[" X1 "," LAB("[1]", "[0]") ",{\"name\":\"targets\",\"parameters\":"
                                                  "{\"binary_data_size\":-1}}]}",
         400, "inputs[2].parameters.binary_data_size: expected a byte count"},
        {"{\"inputs\":[" X1 "," LAB("[1]", "[0]") ",{\"name\":\"targets\",\"parameters\":"
                                                  "{\"binary_data_size\":\"8\"}}]}",
         400, "inputs[2].parameters.binary_data_size: expected a byte count, got a string"},
        {"{\"inputs\":[" X1 "," LAB("[1]", "[0]") ",{\"name\":\"targets\",\"parameters\":"
                                                  "{\"binary_data_size\":8,"
                                                  "\"binary_data_size\":8}}]}",
         400, "inputs[2].parameters: 'binary_data_size' given twice"},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"data\":[0],\"data\":[0]}]}", 400,
         "inputs[1]: 'data' given twice"},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"datatype\":\"FP16\"}]}", 400,
         "inputs[1].datatype: " DT_ONE_OF},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"datatype\":\"FP3\"}]}", 400,
         "inputs[1].datatype: " DT_ONE_OF},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"datatype\":\"fp32\"}]}", 400,
         "inputs[1].datatype: " DT_ONE_OF},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"datatype\":\"FP32FP32FP32FP32FP32\"}]}", 400,
         "inputs[1].datatype: " DT_ONE_OF},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"datatype\":7}]}", 400,
         "inputs[1].datatype: expected a string, got a number"},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"shape\":{}}]}", 400,
         "inputs[1].shape: expected an array of integers, got an object"},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"parameters\":[]}]}", 400,
         "inputs[1].parameters: expected an object, got an array"},
        {"{\"inputs\":[" X1 ",{\"name\":\"labels\",\"shape\":[1,1,1,1,1,1,1,1,1]}]}", 400,
         "inputs[1].shape: more than 8 dimensions"},
        {"{\"inputs\":[" X1 ",{\"name\":[]}]}", 400,
         "inputs[1].name: expected a string, got an array"},
        {"{\"inputs\":[" X1 ",7]}", 400, "inputs[1]: expected an object, got a number"},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"timeout_us\":1.5}}", 400,
         "parameters.timeout_us: expected a non-negative integer"},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"diagnostics\":\"summary\",\"timeout_us\":\"x\"}}",
         400, "parameters.timeout_us: expected a non-negative integer, got a string"},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"diagnostics\":\"summary2\"}}", 400,
         "parameters.diagnostics: expected \"none\", \"summary\" or \"full\""},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"diagnostics\":\"summarysummarysummary\"}}", 400,
         "parameters.diagnostics: expected \"none\", \"summary\" or \"full\""},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"classification\":1.5}}", 400,
         "parameters.classification: expected a positive integer"},
        {"{\"inputs\":[" X1 "],\"parameters\":{\"binary_data_output\":\"x\"}}", 400,
         "parameters.binary_data_output: expected true or false, got a string"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"loss\","
         "\"parameters\":{\"binary_data\":1}}]}",
         400, "outputs[1].parameters.binary_data: expected true or false, got a number"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"output\","
         "\"parameters\":{\"classification\":0}}]}",
         400, "outputs[1].parameters.classification: expected a positive integer"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"name\":5}]}", 400,
         "outputs[1].name: expected a string, got a number"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"parameters\":5}]}", 400,
         "outputs[1].parameters: expected an object, got a number"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},[]]}", 400,
         "outputs[1]: expected an object, got an array"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"loss\","
         "\"parameters\":{\"classification\":2}}]}",
         400,
         "outputs[1].parameters.classification: only the model output 'output' can be "
         "classified"},
        {"{\"inputs\":[" X1 "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"nope\"}]}", 400,
         "outputs[1].name: unknown output 'nope'; expected one of 'output', 'input_gradient', "
         "'layer_dead_fraction', 'layer_sparsity', 'layer_weight_grad_norm', "
         "'layer_bias_grad_norm', 'layer_activation_grad_norm', 'dead_fraction', 'loss'"},
        /* Strings: escapes and UTF-8 in keys and values, and each string error at its byte. */
        {"{\"inputs\":[{\"na\\u006de\":\"inp\\u00fct\",\"shape\":[1,4],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4]}]}",
         400, "inputs[0]: unknown input 'inp\xc3\xbct'; expected 'input', 'labels' or 'targets'"},
        {"{\"inputs\":[{\"name\":\"in\xc3\xbc\",\"shape\":[1,4],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4]}]}",
         400, "inputs[0]: unknown input 'in\xc3\xbc'; expected 'input', 'labels' or 'targets'"},
        {"{\"inputs\":[{\"name\":\"in\x01\"}]}", 400,
         "invalid JSON at byte 22: expected an escaped control character, got byte 0x01"},
        {"{\"inp", 400,
         "invalid JSON: the body ends at byte 5 where '\"' closing the string was expected"},
        {"{\"inputs\\", 400, "invalid JSON at byte 8: expected an escape sequence, got '\\'"},
        {"{\"inputs\\x\":1}", 400,
         "invalid JSON at byte 9: expected a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u), "
         "got 'x'"},
        {"{\"\\u12G4\":1}", 400,
         "invalid JSON at byte 4: expected 4 hex digits after \\u, got '1'"},
        {"{\"\\u12", 400, "invalid JSON at byte 4: expected 4 hex digits after \\u, got '1'"},
        {"{\"\\ud800x\":1}", 400,
         "invalid JSON at byte 8: expected a low surrogate \\uDC00-\\uDFFF, got 'x'"},
        {"{\"\\udc00\":1}", 400,
         "invalid JSON at byte 8: expected a high surrogate before a low one, got '\"'"},
        {"{\"in\xc3\":1}", 400,
         "invalid JSON at byte 4: expected valid UTF-8 in the string, got byte 0xc3"},
        {"{\"in\xff\":1}", 400,
         "invalid JSON at byte 4: expected valid UTF-8 in the string, got byte 0xff"},
    };
    for (size_t i = 0; i < N_CASES(cases); i++) {
        rs_request r;
        char err[512] = "";
        rs_decode_limits lim = {.max_rows = 64};
        int st =
            rs_decode_v2(m, cases[i].body, strlen(cases[i].body), 0, &lim, &r, err, sizeof err);
        if (st != cases[i].status || strcmp(err, cases[i].msg) != 0)
            fail_msg("case %zu: %.120s\n  got %d '%s'\n  want %d '%s'", i, cases[i].body, st, err,
                     cases[i].status, cases[i].msg);
        assert_null(r.x);
        rs_request_free(&r);
    }
}

/* A JSON string and what it decodes to. */
typedef struct {
    const char *text; /* with its quotes, then at least one more byte */
    const char *want;
    size_t want_len;
} json_string_case;
#define JS(text, want)                                                                             \
    {                                                                                              \
        text, want, sizeof(want) - 1                                                               \
    }

/* rs_json_string at every output capacity: the value is always consumed in
 * full (the cursor after the closing quote), out holds its first cap - 1
 * bytes (cut inside a UTF-8 sequence if that is where cap falls), and it
 * returns 1 exactly when the value was longer; cut anywhere before its
 * closing quote it is an error, never a read past the end (ASan: each cut
 * is its own allocation of exactly that length). Runs of plain bytes,
 * escapes and UTF-8 mixed, at the start, middle and end. */
static void test_json_string_every_cap(void **s)
{
    (void)s;
    static const json_string_case cases[] = {
        JS("\"\"x", ""),
        JS("\"a\"x", "a"),
        JS("\"inputs\":", "inputs"),
        JS("\"\\n\"x", "\n"),
        JS("\"ab\\ncd\\u00e9ef\\ud83d\\ude00gh\"x", "ab\ncd\xc3\xa9"
                                                    "ef\xf0\x9f\x98\x80gh"),
        JS("\"\\\"\\\\\\/\\b\\f\\r\\t\\u0041\\u0000z\"x", "\"\\/\b\f\r\tA\0z"),
        JS("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!\"x",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!"),
        JS("\"0123456789abcdefghijklmnopqrstuvwxyz ~!#$%&'()*+,-./:;<=>?@[]^_`{|}\x7f\"x",
           "0123456789abcdefghijklmnopqrstuvwxyz ~!#$%&'()*+,-./:;<=>?@[]^_`{|}\x7f"),
    };
    for (size_t i = 0; i < N_CASES(cases); i++) {
        const json_string_case *c = &cases[i];
        size_t tlen = strlen(c->text), slen = tlen - 1; /* the string token */
        for (size_t cap = 0; cap <= c->want_len + 2; cap++) {
            char out[96];
            memset(out, '#', sizeof out);
            size_t len = 999;
            rs_json j;
            rs_json_init(&j, c->text, tlen, NULL, 0);
            int r = rs_json_string(&j, out, cap, &len);
            size_t keep = c->want_len < cap ? c->want_len : (cap ? cap - 1 : 0);
            assert_int_equal(r, c->want_len + 1 > cap ? 1 : 0);
            assert_int_equal(len, keep);
            assert_ptr_equal(j.p, c->text + slen);
            assert_memory_equal(out, c->want, keep);
            if (cap > 0) assert_int_equal(out[keep], '\0');
            assert_int_equal(out[cap], '#'); /* nothing written at or past cap */
        }
        for (size_t n = 0; n < slen; n++) {
            char *cut = malloc(n ? n : 1);
            memcpy(cut, c->text, n);
            char out[8];
            rs_json j;
            char err[160] = "";
            rs_json_init(&j, cut, n, err, sizeof err);
            assert_int_equal(rs_json_string(&j, out, sizeof out, NULL), -1);
            assert_true(j.failed && strncmp(err, "invalid JSON", 12) == 0);
            free(cut);
        }
    }
    /* Every byte value inside a string: kept as it is, or taken by the
     * check it needs (control, escape, UTF-8, end of the string). */
    for (int c = 0; c < 256; c++) {
        char text[] = {'"', 'a', (char)c, 'x', '"'}, out[8] = "";
        rs_json j;
        char err[160] = "";
        rs_json_init(&j, text, sizeof text, err, sizeof err);
        int r = rs_json_string(&j, out, sizeof out, NULL);
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            assert_int_equal(r, 0);
            assert_true(out[0] == 'a' && out[1] == (char)c && out[2] == 'x' && out[3] == '\0');
        } else if (c == '"') {
            assert_int_equal(r, 0);
            assert_string_equal(out, "a");
        } else {
            const char *why = c < 0x20    ? "an escaped control character"
                              : c == '\\' ? "a valid escape"
                                          : "valid UTF-8";
            assert_int_equal(r, -1);
            assert_non_null(strstr(err, why));
            assert_non_null(strstr(err, c == '\\' ? "at byte 3:" : "at byte 2:"));
        }
    }
}

/* One random piece of a JSON string's text: plain runs, the end quote,
 * escapes valid and not, surrogate pairs and halves, UTF-8 valid and not,
 * control bytes. */
static size_t string_piece(mlp_rng *rng, char *out)
{
    static const char *const pieces[] = {
        "\"",
        "\\",
        "\\n",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\r",
        "\\t",
        "\\x",
        "\\u0041",
        "\\u00e9",
        "\\u20ac",
        "\\ud83d\\ude00",
        "\\ud800",
        "\\udc00",
        "\\u12G4",
        "\\u0000",
        "\\uD834\\uDD1E",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xc3",
        "\xc0\xaf",
        "\xed\xa0\x80",
        "\xf8",
        "\x80",
        "\xff",
        "\x01",
        "\x1f",
        "\x7f",
        " ",
    };
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                " !#$%&'()*+,-./:;<=>?@[]^_`{|}~";
    uint64_t r = mlp_rng_next(rng);
    if (r % 3 != 0) { /* a plain run, 1 to 24 bytes */
        size_t n = 1 + (size_t)((r >> 8) % 24);
        for (size_t i = 0; i < n; i++)
            out[i] = plain[mlp_rng_next(rng) % (sizeof plain - 1)];
        return n;
    }
    const char *s = pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])];
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

/* rs_json_string against the byte-at-a-time reader it replaced
 * (reference_string.h) on random texts, cut at random lengths, at output
 * capacities around every length: the same return value, bytes in out
 * (also what is not written), length, cursor, failure and message. */
static void test_json_string_matches_reference(void **s)
{
    (void)s;
    mlp_rng rng;
    mlp_rng_seed(&rng, 0x6a09e667f3bcc908ull);
    for (int iter = 0; iter < 20000; iter++) {
        char text[512];
        size_t n = 0;
        text[n++] = '"';
        int pieces = (int)(mlp_rng_next(&rng) % 12);
        for (int i = 0; i < pieces; i++)
            n += string_piece(&rng, text + n);
        if (mlp_rng_next(&rng) % 4 != 0) text[n++] = '"';
        text[n++] = ':';
        /* Cut anywhere (often nowhere): each length its own allocation. */
        size_t len = mlp_rng_next(&rng) % 3 == 0 ? (size_t)(mlp_rng_next(&rng) % (n + 1)) : n;
        char *body = malloc(len ? len : 1);
        memcpy(body, text, len);
        size_t caps[] = {0, 1, 2, 3, 7, 8, 9, 16, 128, (size_t)(mlp_rng_next(&rng) % 64)};
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            char got[160], want[160], gerr[200] = "", werr[200] = "";
            memset(got, '#', sizeof got);
            memset(want, '#', sizeof want);
            size_t glen = 777, wlen = 777;
            rs_json gj, wj;
            rs_json_init(&gj, body, len, gerr, sizeof gerr);
            rs_json_init(&wj, body, len, werr, sizeof werr);
            int gr = rs_json_string(&gj, got, caps[c], &glen);
            int wr = ref_json_string(&wj, want, caps[c], &wlen);
            if (gr != wr || gj.p != wj.p || gj.failed != wj.failed || strcmp(gerr, werr) != 0 ||
                memcmp(got, want, sizeof got) != 0 || (wr >= 0 && glen != wlen))
                fail_msg("iteration %d cap %zu: '%.*s'\n  got %d at %td '%s' len %zu\n  want %d at "
                         "%td '%s' len %zu",
                         iter, caps[c], (int)len, body, gr, gj.p - body, gerr, glen, wr,
                         wj.p - body, werr, wlen);
        }
        free(body);
    }
}

/* ------------------------------------------------ the validated tensor */

/* The reader's view of nested arrays: rectangular or refused. */
static void test_tensor_data_nesting(void **s)
{
    (void)s;
    static const struct {
        const char *text;
        int depth; /* 0: refused with msg */
        int dims[3];
        size_t n;
        const char *msg;
    } cases[] = {
        {"[]", 1, {0}, 0, NULL},
        {"[1,2,3]", 1, {3}, 3, NULL},
        {"[[],[]]", 2, {2, 0}, 0, NULL},
        {"[[[]],[[]]]", 3, {2, 1, 0}, 0, NULL},
        {"[[[1,2]],[[3,4]]]", 3, {2, 1, 2}, 4, NULL},
        {"[[[],[]],[1,2]]", 0, {0}, 0, "d[1][0]: mixes numbers and arrays at one level"},
        {"[[1,2],[[],[]]]", 0, {0}, 0, "d[1][0]: mixes numbers and arrays at one level"},
        {"[[[]],[1]]", 0, {0}, 0, "d[1][0]: mixes numbers and arrays"},
        {"[[[[]]],[[1]]]", 0, {0}, 0, "d[1][0][0]: mixes numbers and arrays"},
        {"[[1],[]]", 0, {0}, 0, "d: nested arrays are ragged (lengths 1 and 0 at level 2)"},
        {"[1,[]]", 0, {0}, 0, "d[1]: mixes numbers and arrays"},
        {"[[],1]", 0, {0}, 0, "d[1]: mixes numbers and arrays"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        rs_json j;
        rs_json_init(&j, cases[i].text, strlen(cases[i].text), err, sizeof err);
        rs_tensor_data d;
        int r = rs_tensor_data_read(&j, &d, 0, "d");
        if (cases[i].depth == 0) {
            if (r == 0 || strstr(err, cases[i].msg) == NULL)
                fail_msg("case %zu %s: got %d '%s', want '%s'", i, cases[i].text, r, err,
                         cases[i].msg);
            continue;
        }
        if (r != 0) fail_msg("case %zu %s: %s", i, cases[i].text, err);
        assert_int_equal(d.depth, cases[i].depth);
        for (int k = 0; k < d.depth; k++)
            assert_int_equal(d.dims[k], cases[i].dims[k]);
        assert_int_equal(d.n, cases[i].n);
        rs_tensor_data_free(&d);
    }
}

/* The reader's buffer follows the values that exist, not the shape's claim:
 * a shape of 10^8 values over a data array of one, in a body of 8 MiB, used
 * to pre-size the buffer to half the body's bytes in floats (16 MiB, outside
 * the --max-body-total charge). A true count is still met exactly. */
static void test_tensor_data_memory_follows_the_values(void **s)
{
    (void)s;
    size_t pad = 8u << 20;
    char *text = malloc(pad + 64);
    assert_non_null(text);
    static const char *forms[] = {"[1]", "[[1]]"};
    for (size_t f = 0; f < 2; f++) {
        size_t n = strlen(forms[f]);
        memcpy(text, forms[f], n);
        memset(text + n, ' ', pad); /* the rest of a big body */
        char err[256] = "";
        rs_json j;
        rs_json_init(&j, text, n + pad, err, sizeof err);
        rs_tensor_data d;
        assert_int_equal(rs_tensor_data_read(&j, &d, 100000000, "data"), 0);
        assert_int_equal(d.n, 1);
        if (d.cap > 1024) fail_msg("%s: %zu floats allocated for 1 value", forms[f], d.cap);
        rs_tensor_data_free(&d);
    }
    free(text);

    /* The shape's count, when true, is the last allocation's size; a count
     * the shape understates still reads every value. */
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "[");
    for (int i = 0; i < 5000; i++)
        rs_buf_puts(&b, i ? ",7" : "7");
    rs_buf_puts(&b, "]");
    size_t hints[] = {5000, 10, 0};
    for (size_t h = 0; h < 3; h++) {
        char err[256] = "";
        rs_json j;
        rs_json_init(&j, b.data, b.len, err, sizeof err);
        rs_tensor_data d;
        assert_int_equal(rs_tensor_data_read(&j, &d, hints[h], "data"), 0);
        assert_int_equal(d.n, 5000);
        if (hints[h] == 5000) assert_int_equal(d.cap, 5000);
        assert_true(d.cap < 2 * 5000);
        for (size_t i = 0; i < d.n; i++)
            assert_true(d.v[i] == 7.0f);
        rs_tensor_data_free(&d);
    }
    rs_buf_free(&b);
}

/* The constructors refuse any value count that is not the shape's. */
static void test_tensor_constructors(void **s)
{
    (void)s;
    char err[256];
    rs_tensor t;
    int64_t s24[2] = {2, 4}, s04[2] = {0, 4}, neg[2] = {-1, 4},
            huge[3] = {2147483647, 2147483647, 2147483647};

    float *v = calloc(8, sizeof(float));
    assert_int_equal(rs_tensor_from_values(&t, s24, 2, v, 7, "x", err, sizeof err), 400);
    assert_string_equal(err, "x: shape [2,4] needs 8 values, got 7");
    assert_null(t.v);
    v = calloc(8, sizeof(float));
    assert_int_equal(rs_tensor_from_values(&t, s24, 2, v, 8, "x", err, sizeof err), 0);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.count, 8);
    assert_ptr_equal(t.v, v);
    rs_tensor_free(&t);
    assert_int_equal(rs_tensor_from_values(&t, s04, 2, NULL, 0, "x", err, sizeof err), 0);
    assert_int_equal(t.count, 0);
    assert_non_null(t.v);
    rs_tensor_free(&t);
    assert_int_equal(rs_tensor_from_values(&t, neg, 2, NULL, 0, "x", err, sizeof err), 400);
    assert_non_null(strstr(err, "x: shape[0] is -1"));
    assert_int_equal(rs_tensor_from_values(&t, huge, 3, NULL, 0, "x", err, sizeof err), 413);
    assert_non_null(strstr(err, "is too large"));
    assert_int_equal(rs_shape_count(huge, 3), -1);
    int64_t zero_last[3] = {2147483647, 2147483647, 0};
    assert_int_equal(rs_shape_count(zero_last, 3), 0);
    int64_t zero_first[3] = {0, 2147483647, 2147483647};
    assert_int_equal(rs_shape_count(zero_first, 3), 0);

    /* JSON: nested to the shape exactly, or flat with the shape's count. */
    static const struct {
        const char *text;
        int64_t shape[2];
        int status;
        const char *msg;
    } js[] = {
        {"[[1,2,3,4],[5,6,7,8]]", {2, 4}, 0, NULL},
        {"[1,2,3,4,5,6,7,8]", {2, 4}, 0, NULL},
        {"[1,2,3,4,5,6,7]", {2, 4}, 400, "t: shape [2,4] needs 8 values, got 7"},
        {"[[1,2,3,4,5,6,7,8]]", {2, 4}, 400, "t: nested data has shape [1,8], expected [2,4]"},
        {"[[1,2],[3,4],[5,6],[7,8]]", {2, 4}, 400, "nested data has shape [4,2]"},
        {"[[],[]]", {2, 4}, 400, "t: nested data has shape [2,0], expected [2,4]"},
    };
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        rs_json j;
        rs_json_init(&j, js[i].text, strlen(js[i].text), err, sizeof err);
        rs_tensor_data d;
        assert_int_equal(rs_tensor_data_read(&j, &d, 0, "t.data"), 0);
        int st = rs_tensor_from_json(&t, &d, js[i].shape, 2, "t", err, sizeof err);
        if (st != js[i].status ||
            (js[i].msg && strcmp(err, js[i].msg) != 0 && strstr(err, js[i].msg) == NULL))
            fail_msg("json case %zu: got %d '%s'", i, st, err);
        if (st == 0) {
            assert_int_equal(t.count, 8);
            for (int k = 0; k < 8; k++)
                assert_true(t.v[k] == (float)(k + 1));
        }
        rs_tensor_free(&t);
        rs_tensor_data_free(&d);
    }

    /* Binary: the byte count is the shape's, and no more than the body has. */
    unsigned char bytes[32];
    for (int k = 0; k < 8; k++) {
        float f = (float)k;
        memcpy(bytes + 4 * k, &f, 4);
    }
    assert_int_equal(
        rs_tensor_from_bytes(&t, bytes, 32, 28, RS_DT_FP32, s24, 2, "b", err, sizeof err), 400);
    assert_string_equal(err,
                        "b: binary_data_size 28 does not match shape [2,4] of FP32 (32 bytes)");
    assert_int_equal(
        rs_tensor_from_bytes(&t, bytes, 31, 32, RS_DT_FP32, s24, 2, "b", err, sizeof err), 400);
    assert_non_null(strstr(err, "b: binary_data_size 32 runs past the end of the body"));
    assert_int_equal(
        rs_tensor_from_bytes(&t, bytes, 32, 32, RS_DT_FP32, s24, 2, "b", err, sizeof err), 0);
    assert_int_equal(t.count, 8);
    assert_memory_equal(t.v, bytes, 32);
    rs_tensor_free(&t);
}

/* ---------------------------------------------- value count vs shape */

/* The server's own row limit (config.c --max-rows default): the crash body of
 * the review has 65536 rows and passed it. */
#define SERVER_MAX_ROWS 65536

/* Rows past the reader's first allocation (1024 floats): with one real row
 * among `EMPTY_ROWS` rows of empty arrays, a decoder trusting the row count
 * reads 4 * 2048 floats from a buffer of 1024. */
#define EMPTY_ROWS 2047

static int decode_any(const mlp_model *m, int v1, const char *body, rs_request *r, char *err)
{
    return decode_rows(m, v1, SERVER_MAX_ROWS, body, r, err);
}

/* prefix, then `n` copies of `row` and `last` as one array's elements, then
 * suffix. `%d` in prefix or suffix is replaced by n + 1 (the row count). */
static char *rows_body(const char *prefix, const char *row, int n, const char *last,
                       const char *suffix)
{
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b, prefix, n + 1);
    for (int i = 0; i < n; i++) {
        rs_buf_puts(&b, row);
        rs_buf_puts(&b, ",");
    }
    rs_buf_puts(&b, last);
    rs_buf_printf(&b, suffix, n + 1);
    assert_false(b.failed);
    return rs_buf_steal(&b, NULL);
}

/* A v2 input tensor of n real rows as nested JSON, for the bodies below. */
#define X_ROWS_FMT "{\"name\":\"input\",\"shape\":[%d,4],\"datatype\":\"FP32\",\"data\":["

static char *x_rows(int n)
{
    char pre[128];
    snprintf(pre, sizeof pre, X_ROWS_FMT, n);
    return rows_body(pre, "[1,2,3,4]", n - 1, "[1,2,3,4]", "]}");
}

/*
 * Arrays nested deeper than the numbers (empty, so they add no values): the
 * nesting says N rows while the numbers fill one. Every decoder must refuse it
 * naming the field, instead of handing the model N rows over a buffer of one.
 * This is the review's crash body (65535 empty rows + one real row), scaled.
 */
static void test_nesting_deeper_than_numbers_is_400(void **s)
{
    const mlp_model *cls = the_classifier(s), *reg = the_regressor(s);
    char *x = x_rows(EMPTY_ROWS + 1); /* 2048 real rows, for labels/targets */
    char inst[32768], xpre[32768];
    snprintf(xpre, sizeof xpre, "{\"inputs\":[%s,", x);
    {
        char *rows = rows_body("[", "[1,2,3,4]", EMPTY_ROWS, "[1,2,3,4]", "]");
        snprintf(inst, sizeof inst, "{\"instances\":%s,", rows);
        free(rows);
    }
    char lab_before[33000], lab_after[33000], tgt_after[33000], tgt_v1[33000], lab_v1[33000];
    snprintf(lab_before, sizeof lab_before,
             "%s{\"name\":\"labels\",\"shape\":[%%d,1],\"datatype\":\"INT32\",\"data\":[", xpre);
    snprintf(lab_after, sizeof lab_after, "%s{\"name\":\"labels\",\"data\":[", xpre);
    snprintf(tgt_after, sizeof tgt_after, "%s{\"name\":\"targets\",\"data\":[", xpre);
    snprintf(lab_v1, sizeof lab_v1, "%s\"labels\":[", inst);
    snprintf(tgt_v1, sizeof tgt_v1, "%s\"targets\":[", inst);
    static const char *v2_shape_before =
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,4],\"datatype\":\"FP32\",\"data\":[";
    static const char *v2_shape_after =
        "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"data\":[";
    const struct {
        int v1;
        const mlp_model *m;
        const char *prefix, *row, *last, *suffix;
        const char *msg; /* the start of the message: the field, then why */
    } cases[] = {
        /* v1: the review's body, as instances, inputs and inputs.<name> */
        {1, cls, "{\"instances\":[", "[[],[],[],[]]", "[5.1,3.5,1.4,0.2]", "]}",
         "instances[2047][0]: mixes numbers and arrays at one level"},
        {1, cls, "{\"inputs\":[", "[[],[],[],[]]", "[5.1,3.5,1.4,0.2]", "]}",
         "inputs[2047][0]: mixes numbers and arrays at one level"},
        {1, cls, "{\"inputs\":{\"input\":[", "[[],[],[],[]]", "[5.1,3.5,1.4,0.2]", "]}}",
         "inputs.input[2047][0]: mixes numbers and arrays at one level"},
        /* two levels deeper */
        {1, cls, "{\"instances\":[", "[[[]],[[]],[[]],[[]]]", "[5.1,3.5,1.4,0.2]", "]}",
         "instances[2047][0]: mixes numbers and arrays at one level"},
        /* the real row first, the empty ones after */
        {1, cls, "{\"instances\":[[5.1,3.5,1.4,0.2],", "[[],[],[],[]]", "[[],[],[],[]]", "]}",
         "instances[1][0]: mixes numbers and arrays at one level"},
        /* v1 labels and targets, beside 2048 real rows */
        {1, cls, lab_v1, "[[]]", "[0]", "]}", "labels[2047][0]: mixes numbers and arrays"},
        {1, reg, tgt_v1, "[[],[]]", "[0.5,1]", "]}", "targets[2047][0]: mixes numbers and arrays"},
        /* v2 data, with "shape" before and after "data" */
        {0, cls, v2_shape_before, "[[],[],[],[]]", "[5.1,3.5,1.4,0.2]", "]}]}",
         "inputs[0].data[2047][0]: mixes numbers and arrays at one level"},
        {0, cls, v2_shape_after, "[[],[],[],[]]", "[5.1,3.5,1.4,0.2]", "],\"shape\":[%d,4]}]}",
         "inputs[0].data[2047][0]: mixes numbers and arrays at one level"},
        {0, cls, v2_shape_after, "[[[]],[[]],[[]],[[]]]", "[5.1,3.5,1.4,0.2]",
         "],\"shape\":[%d,4]}]}", "inputs[0].data[2047][0]: mixes numbers and arrays"},
        /* v2 labels ([rows, 1]) and targets, shape before and after data */
        {0, cls, lab_before, "[[]]", "[0]", "]}]}", "inputs[1].data[2047][0]: mixes numbers"},
        {0, cls, lab_after, "[[]]", "[0]", "],\"shape\":[%d,1],\"datatype\":\"INT32\"}]}",
         "inputs[1].data[2047][0]: mixes numbers"},
        {0, reg, tgt_after, "[[],[]]", "[0.5,1]", "],\"shape\":[%d,2],\"datatype\":\"FP32\"}]}",
         "inputs[1].data[2047][0]: mixes numbers"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body =
            rows_body(cases[i].prefix, cases[i].row, EMPTY_ROWS, cases[i].last, cases[i].suffix);
        rs_request r;
        char err[256] = "";
        int st = decode_any(cases[i].m, cases[i].v1, body, &r, err);
        check_refused(st, err, &r, &(refusal){body, 400, cases[i].msg}, i, true);
        free(body);
    }
    free(x);
}

/* The same bodies with every row real decode, with every value in place. */
static void test_many_rows_decode_every_value(void **s)
{
    const mlp_model *m = the_classifier(s);
    const struct {
        int v1;
        const char *prefix, *suffix;
    } cases[] = {
        {1, "{\"instances\":[", "]}"},
        {1, "{\"inputs\":{\"input\":[", "]}}"},
        {0, "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,4],\"datatype\":\"FP32\",\"data\":[",
         "]}]}"},
        {0, "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"data\":[",
         "],\"shape\":[%d,4]}]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = rows_body(cases[i].prefix, "[1,2,3,4]", EMPTY_ROWS, "[5.1,3.5,1.4,0.2]",
                               cases[i].suffix);
        rs_request r;
        char err[256] = "";
        int st = decode_any(m, cases[i].v1, body, &r, err);
        if (st) fail_msg("case %zu: %d %s", i, st, err);
        assert_int_equal(r.rows, EMPTY_ROWS + 1);
        assert_int_equal(r.x_count, (EMPTY_ROWS + 1) * 4);
        for (int row = 0; row < EMPTY_ROWS; row++)
            for (int k = 0; k < 4; k++)
                assert_true(r.x[row * 4 + k] == (float)(k + 1));
        const float last[4] = {5.1f, 3.5f, 1.4f, 0.2f};
        assert_memory_equal(r.x + EMPTY_ROWS * 4, last, sizeof last);
        rs_request_free(&r);
        free(body);
    }
}

/* A key that says what a tensor is, given twice, is ambiguous: 400. */
static void test_duplicate_tensor_keys_are_400(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const refusal v2[] = {
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"data\":" X8 "}]}",
         400, "inputs[0]: 'shape' given twice"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":" X8
         ",\"shape\":[2,4]}]}",
         400, "inputs[0]: 'shape' given twice"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"datatype\":\"INT8\",\"data\":" X8 "}]}",
         400, "inputs[0]: 'datatype' given twice"},
        {"{\"inputs\":[{\"name\":\"labels\",\"name\":\"input\",\"shape\":[2,4],"
         "\"datatype\":\"FP32\",\"data\":" X8 "}]}",
         400, "inputs[0]: 'name' given twice"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) ",{\"name\":\"labels\",\"shape\":[2],"
                                                 "\"datatype\":\"INT32\",\"shape\":[2],"
                                                 "\"data\":[0,1]}]}",
         400, "inputs[1]: 'shape' given twice"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":32,\"binary_data_size\":32}}]}",
         400, "inputs[0].parameters: 'binary_data_size' given twice"},
        {"{\"inputs\":[" IN("[2,4]", "FP32", X8) "],\"inputs\":[]}", 400, "inputs: given twice"},
    };
    static const refusal v1[] = {
        {"{\"instances\":[{\"input\":[1,2,3,4],\"input\":[5,6,7,8]}]}", 400,
         "instances[0]: 'input' given twice"},
    };
    expect_refusals(m, 0, SERVER_MAX_ROWS, v2, N_CASES(v2));
    expect_refusals(m, 1, SERVER_MAX_ROWS, v1, N_CASES(v1));
}

/* The binary extension: byte counts that do not fit the shape, the body or
 * each other are refused, naming the input. */
static void test_v2_binary_byte_counts(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const struct {
        const char *inputs; /* the "inputs" array's tensors */
        size_t tail;        /* bytes after the JSON */
        int status;
        const char *msg;
    } cases[] = {
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":31}}",
         31, 400,
         "input 'input': binary_data_size 31 does not match shape [2,4] of FP32 (32 bytes)"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":33}}",
         33, 400, "input 'input': binary_data_size 33 does not match shape [2,4]"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP64\","
         "\"parameters\":{\"binary_data_size\":32}}",
         32, 400, "does not match shape [2,4] of FP64 (64 bytes)"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":32}}",
         31, 400,
         "input 'input': binary_data_size 32 runs past the end of the body (31 bytes left)"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":32}}",
         40, 400, "40 bytes after the JSON header but the inputs' binary_data_size add up to 32"},
        /* the labels' bytes are counted from the labels' own shape */
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":32}},{\"name\":\"labels\",\"shape\":[2],"
         "\"datatype\":\"INT16\",\"parameters\":{\"binary_data_size\":2}}",
         34, 400, "input 'labels': binary_data_size 2 does not match shape [2] of INT16 (4 bytes)"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":32}},{\"name\":\"labels\",\"shape\":[4],"
         "\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":4}}",
         36, 400, "input 'labels': shape must be [2] (one class index per row), got [4]"},
        {"{\"name\":\"input\",\"shape\":[0,4],\"datatype\":\"FP32\","
         "\"parameters\":{\"binary_data_size\":0}}",
         0, 400, "input: needs at least one row"},
        {"{\"name\":\"input\",\"shape\":[2147483647,2147483647,2147483647],\"datatype\":\"FP64\","
         "\"parameters\":{\"binary_data_size\":8}}",
         8, 413, "input 'input': shape [2147483647,2147483647,2147483647] is too large"},
        {"{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":" X8
         ",\"parameters\":{\"binary_data_size\":32}}",
         32, 400, "input 'input': has both 'data' and parameters.binary_data_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        int jl = snprintf(body, sizeof body, "{\"inputs\":[%s]}", cases[i].inputs);
        assert_true(jl > 0 && (size_t)jl + cases[i].tail <= sizeof body);
        for (size_t k = 0; k < cases[i].tail; k++)
            body[(size_t)jl + k] = (char)(k % 3); /* small integers: valid in any datatype */
        char *exact = malloc((size_t)jl + cases[i].tail); /* ASan sees any read past it */
        memcpy(exact, body, (size_t)jl + cases[i].tail);
        rs_request r;
        char err[256] = "";
        rs_decode_limits lim = {.max_rows = SERVER_MAX_ROWS};
        int st = rs_decode_v2(m, exact, (size_t)jl + cases[i].tail, (size_t)jl, &lim, &r, err,
                              sizeof err);
        check_refused(st, err, &r, &(refusal){cases[i].inputs, cases[i].status, cases[i].msg}, i,
                      false);
        free(exact);
    }
}

/* Every accepted form gives exactly these bits: rows, inputs, labels and
 * targets (the fix must not change a valid request's meaning). */
static void test_valid_forms_decode_bit_identical(void **s)
{
    const mlp_model *cls = the_classifier(s), *reg = the_regressor(s);
    static const float x[8] = {0.1f, -2.5f, 3e-7f, 4, 5, 6.25f, -7, 8};
#define XS "[0.1,-2.5,3e-7,4,5,6.25,-7,8]"
#define XN "[[0.1,-2.5,3e-7,4],[5,6.25,-7,8]]"
    static const struct {
        int v1, regression;
        const char *body;
        int labels[2];    /* -1: none */
        float targets[4]; /* used when regression */
    } cases[] = {
        {0, 0, "{\"inputs\":[" IN("[2,4]", "FP32", XS) "]}", {-1, -1}, {0}},
        {0, 0, "{\"inputs\":[" IN("[2,4]", "FP32", XN) "]}", {-1, -1}, {0}},
        {0,
         0,
         "{\"inputs\":[{\"data\":" XN
         ",\"datatype\":\"FP64\",\"name\":\"input\",\"shape\":[2,4]}]}",
         {-1, -1},
         {0}},
        {0,
         0,
         "{\"inputs\":[" IN("[2,4]", "FP32", XS) ",{\"name\":\"labels\",\"shape\":[2],"
                                                 "\"datatype\":\"INT64\",\"data\":[2,0]}]}",
         {2, 0},
         {0}},
        {0,
         0,
         "{\"inputs\":[{\"name\":\"labels\",\"data\":[[1],[2]],\"shape\":[2,1],"
         "\"datatype\":\"UINT8\"}," IN("[2,4]", "FP32", XN) "]}",
         {1, 2},
         {0}},
        {0,
         1,
         "{\"inputs\":[" IN("[2,4]", "FP32",
                            XN) ",{\"name\":\"targets\",\"shape\":[2,2],"
                                "\"datatype\":\"FP32\",\"data\":[[1,-1],[0.5,2]]}]}",
         {-1, -1},
         {1, -1, 0.5f, 2}},
        {1, 0, "{\"instances\":" XN "}", {-1, -1}, {0}},
        {1, 0, "{\"inputs\":" XN "}", {-1, -1}, {0}},
        {1, 0, "{\"inputs\":{\"input\":" XN ",\"labels\":[[1],[0]]}}", {1, 0}, {0}},
        {1,
         0,
         "{\"instances\":[{\"input\":[0.1,-2.5,3e-7,4]},{\"input\":[5,6.25,-7,8]}],"
         "\"labels\":[0,2]}",
         {0, 2},
         {0}},
        {1, 1, "{\"instances\":" XN ",\"targets\":[[1,-1],[0.5,2]]}", {-1, -1}, {1, -1, 0.5f, 2}},
    };
#undef XS
#undef XN
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const mlp_model *m = cases[i].regression ? reg : cls;
        rs_request r;
        char err[256] = "";
        int st = decode_any(m, cases[i].v1, cases[i].body, &r, err);
        if (st) fail_msg("case %zu: %d %s", i, st, err);
        assert_int_equal(r.rows, 2);
        assert_int_equal(r.x_count, 8);
        assert_memory_equal(r.x, x, sizeof x);
        assert_int_equal(r.labels_count, cases[i].labels[0] >= 0 ? 2 : 0);
        assert_int_equal(r.targets_count, cases[i].regression ? 4 : 0);
        if (cases[i].labels[0] >= 0) {
            assert_non_null(r.labels);
            assert_memory_equal(r.labels, cases[i].labels, sizeof cases[i].labels);
        } else {
            assert_null(r.labels);
        }
        if (cases[i].regression) {
            assert_non_null(r.targets);
            assert_memory_equal(r.targets, cases[i].targets, sizeof cases[i].targets);
        } else {
            assert_null(r.targets);
        }
        rs_request_free(&r);
    }
}

/* ------------------------------------------------------------ v1 decode */

static void test_v1_forms(void **s)
{
    const mlp_model *m = the_classifier(s);
    const float want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const struct {
        const char *body;
        bool instances;
        rs_diag_level diag;
    } cases[] = {
        {"{\"instances\":[[1,2,3,4],[5,6,7,8]]}", true, RS_DIAG_NONE},
        {"{\"instances\":[{\"input\":[1,2,3,4]},{\"input\":[5,6,7,8]}]}", true, RS_DIAG_NONE},
        {"{\"signature_name\":\"serving_default\",\"inputs\":[[1,2,3,4],[5,6,7,8]]}", false,
         RS_DIAG_NONE},
        {"{\"inputs\":{\"input\":[[1,2,3,4],[5,6,7,8]]},\"diagnostics\":\"summary\"}", false,
         RS_DIAG_SUMMARY},
        {"{\"parameters\":{\"diagnostics\":\"full\"},\"instances\":[[1,2,3,4],[5,6,7,8]]}", true,
         RS_DIAG_FULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rs_request r;
        char err[256];
        int st = decode1(m, cases[i].body, &r, err);
        if (st) fail_msg("case %zu: %s", i, err);
        expect_x(&r, 2, want);
        assert_int_equal(r.proto, RS_PROTO_V1);
        assert_int_equal(r.v1_instances, cases[i].instances);
        assert_int_equal(r.diag, cases[i].diag);
        rs_request_free(&r);
    }
    rs_request r;
    char err[256];
    assert_int_equal(decode1(m, "{\"instances\":[[1,2,3,4],[5,6,7,8]],\"labels\":[2,1]}", &r, err),
                     0);
    assert_int_equal(r.labels[0], 2);
    assert_int_equal(r.labels[1], 1);
    rs_request_free(&r);
    assert_int_equal(
        decode1(m, "{\"inputs\":{\"input\":[[1,2,3,4]],\"targets\":[[0,1,0]]}}", &r, err), 0);
    assert_float_equal(r.targets[1], 1, 0);
    rs_request_free(&r);
}

static void test_v1_errors(void **s)
{
    const mlp_model *m = the_classifier(s);
    static const refusal cases[] = {
        {"{}", 400, "missing 'instances' or 'inputs'"},
        {"[]", 400, "expected a JSON object"},
        {"{\"instances\":[[1,2,3]]}", 400, "instances: expected rows of 4 values, got shape [1,3]"},
        {"{\"instances\":[1,2,3,4]}", 400, "instances: expected a list of rows of 4 values"},
        {"{\"instances\":[[1,2,3,4],[1,2,3]]}", 400, "ragged"},
        {"{\"instances\":[]}", 400, "at least one row"},
        {"{\"instances\":{}}", 400, "instances: expected an array of rows, got an object"},
        {"{\"instances\":[{\"input\":[1,2,3]}]}", 400, "instances[0].input: expected a list of 4"},
        {"{\"instances\":[{\"x\":[1,2,3,4]}]}", 400, "instances[0]: unknown key 'x'"},
        {"{\"instances\":[{\"input\":[1,2,3,4]},[1,2,3,4]]}", 400,
         "instances[1]: expected an object like the others"},
        {"{\"instances\":[{}]}", 400, "instances[0]: missing 'input'"},
        {"{\"instances\":[[1,2,3,4]],\"inputs\":[[1,2,3,4]]}", 400, "either 'instances' or"},
        {"{\"inputs\":{\"x\":[[1,2,3,4]]}}", 400, "inputs: unknown key 'x'"},
        {"{\"inputs\":{}}", 400, "inputs: missing 'input'"},
        {"{\"inputs\":\"a\"}", 400, "inputs: expected an array of rows or an object, got a string"},
        {"{\"instances\":[[1,2,3,true]]}", 400, "instances[3]: expected a number, got a boolean"},
        {"{\"instances\":[[1,2,3,4]],\"labels\":[3]}", 400, "labels: value 3 at index 0"},
        {"{\"instances\":[[1,2,3,4]],\"labels\":[0,1]}", 400, "labels: expected 1 class indices"},
        {"{\"instances\":[[1,2,3,4]],\"targets\":[[0,1]]}", 400, "targets: expected rows of 3"},
        {"{\"instances\":[[1,2,3,4]],\"diagnostics\":\"most\"}", 400,
         "request.diagnostics: expected"},
        {"{\"instances\":[[1,2,3,4]],\"labels\":[0],\"targets\":[[0,1,0]]}", 400,
         "either 'labels' or 'targets'"},
        {"{\"instances\":[[1,2,3,4]]", 400, "invalid JSON"},
    };
    expect_refusals(m, 1, 64, cases, N_CASES(cases));
}

static void test_v1_labels_on_regression_model(void **s)
{
    const mlp_model *m = the_regressor(s);
    rs_request r;
    char err[256];
    assert_int_equal(decode1(m, "{\"instances\":[[1,2,3,4]],\"labels\":[0]}", &r, err), 400);
    assert_non_null(strstr(err, "regression model"));
}

/* --------------------------------------------------------------- encode */

/* Runs forward + (optionally) backward/diagnose and encodes. */
static char *encode(const mlp_model *m, rs_request *r, size_t *len, size_t *json_len)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, r->x, r->rows, NULL, NULL), MLP_OK);
    mlp_diagnostics d;
    if (r->diag != RS_DIAG_NONE) {
        mlp_target t = {.kind = r->labels ? MLP_TARGET_LABELS : MLP_TARGET_MAX_LOGIT,
                        .labels = r->labels};
        assert_int_equal(mlp_backward(m, ws, 0, r->rows, &t, NULL, NULL), MLP_OK);
        assert_int_equal(mlp_diagnose(m, ws, NULL, &d, NULL), MLP_OK);
    }
    rs_buf b;
    rs_buf_init(&b);
    rs_model_id mid = {"iris", "3"};
    const float *z[MLP_MAX_LAYERS];
    for (int l = 0; l < mlp_model_n_layers(m); l++)
        z[l] = mlp_workspace_preactivation(ws, l);
    assert_int_equal(rs_encode_response(&b, &mid, m, r, mlp_workspace_output(ws),
                                        r->diag != RS_DIAG_NONE ? &d : NULL, z, json_len),
                     0);
    mlp_workspace_free(ws);
    return rs_buf_steal(&b, len);
}

/* A response as the server builds one: the classifier, a request decoded
 * from body (v1 or v2), the encoded text, its JSON part parsed. */
typedef struct {
    mlp_model *m;
    rs_request r;
    char *text;
    size_t len, json_len;
    json_t *root;
} response;

static void response_init(response *e, int v1, const char *body)
{
    e->m = classifier();
    char err[256] = "";
    int st = decode_rows(e->m, v1, 64, body, &e->r, err);
    if (st) fail_msg("%d %s", st, err);
    e->text = encode(e->m, &e->r, &e->len, &e->json_len);
    json_error_t je;
    e->root = json_loadb(e->text, e->json_len, 0, &je);
    if (e->root == NULL) fail_msg("invalid JSON (%s): %s", je.text, e->text);
}

static void response_free(response *e)
{
    json_decref(e->root);
    free(e->text);
    rs_request_free(&e->r);
    mlp_model_free(e->m);
}

/* The model's outputs for the request's rows, computed here. */
static void outputs_of(const response *e, float *y)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(e->m, ws, e->r.x, e->r.rows, y, NULL), MLP_OK);
    mlp_workspace_free(ws);
}

/* The name of output i of the response. */
static const char *output_name(const response *e, size_t i)
{
    json_t *outs = json_object_get(e->root, "outputs");
    return json_string_value(json_object_get(json_array_get(outs, i), "name"));
}

static void test_encode_v2_json_parses_and_round_trips(void **s)
{
    (void)s;
    response e;
    response_init(&e, 0,
                  "{\"id\":\"a\\\"b\",\"inputs\":[" IN(
                      "[2,4]", "FP32",
                      "[0.1,-2,3,4,5,6,-7,8]") ",{\"name\":\"labels\",\"shape\":[2,1],\"datatype\":"
                                               "\"INT32\",\"data\":[[1],[2]]}],"
                                               "\"outputs\":[{\"name\":\"output\"},{\"name\":"
                                               "\"layer_dead_fraction\"},"
                                               "{\"name\":\"loss\"},{\"name\":\"input_gradient\"}],"
                                               "\"parameters\":{\"diagnostics\":\"full\"}}");
    json_t *root = e.root;
    assert_int_equal(e.json_len, e.len);
    assert_string_equal(json_string_value(json_object_get(root, "model_name")), "iris");
    assert_string_equal(json_string_value(json_object_get(root, "model_version")), "3");
    assert_string_equal(json_string_value(json_object_get(root, "id")), "a\"b");
    json_t *outs = json_object_get(root, "outputs");
    assert_int_equal(json_array_size(outs), 4);
    json_t *o0 = json_array_get(outs, 0);
    assert_string_equal(output_name(&e, 0), "output");
    assert_string_equal(json_string_value(json_object_get(o0, "datatype")), "FP32");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(o0, "shape"), 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(o0, "shape"), 1)), 3);
    /* Every output value reads back as exactly the float computed. */
    float y[6];
    outputs_of(&e, y);
    json_t *data = json_object_get(o0, "data");
    assert_int_equal(json_array_size(data), 6);
    for (int i = 0; i < 6; i++)
        assert_true((float)json_number_value(json_array_get(data, (size_t)i)) == y[i]);
    /* Diagnostic tensors follow the model output in a fixed order. */
    assert_string_equal(output_name(&e, 1), "input_gradient");
    assert_string_equal(output_name(&e, 2), "layer_dead_fraction");
    assert_string_equal(output_name(&e, 3), "loss");
    json_t *params = json_object_get(root, "parameters");
    assert_non_null(json_object_get(params, "dead_fraction"));
    assert_non_null(json_object_get(params, "loss"));
    json_t *diag = json_object_get(root, "diagnostics");
    assert_int_equal(json_integer_value(json_object_get(diag, "rows")), 2);
    assert_string_equal(json_string_value(json_object_get(diag, "gradient_target")),
                        "cross_entropy");
    json_t *layers = json_object_get(diag, "layers");
    assert_int_equal(json_array_size(layers), 2);
    json_t *l0 = json_array_get(layers, 0);
    assert_string_equal(json_string_value(json_object_get(l0, "activation")), "relu");
    assert_non_null(json_object_get(l0, "dead_units"));
    assert_non_null(json_object_get(l0, "sparsity"));
    assert_null(json_object_get(json_array_get(layers, 1), "sparsity"));
    assert_non_null(json_object_get(json_array_get(layers, 1), "weight_grad_norm"));
    json_t *ig = json_object_get(diag, "input_gradient");
    assert_int_equal(json_array_size(json_object_get(ig, "data")), 8);
    response_free(&e);
}

/* parameters.preactivations: diagnostics.preactivations holds Z_l of the
 * request's rows for every layer, as the forward pass computed it. */
static void test_encode_v2_preactivations(void **s)
{
    const mlp_model *m = the_classifier(s);
    rs_request r;
    char err[256];
    assert_int_equal(decode2(m,
                             "{\"inputs\":[" IN("[2,4]", "FP32",
                                                X8) "],\"parameters\":{\"diagnostics\":\"full\","
                                                    "\"preactivations\":true}}",
                             &r, err),
                     0);
    assert_true(r.preactivations);
    size_t len, jl;
    char *text = encode(m, &r, &len, &jl);
    json_t *root = json_loadb(text, len, 0, NULL);
    assert_non_null(root);
    json_t *pre = json_object_get(json_object_get(root, "diagnostics"), "preactivations");
    assert_int_equal(json_array_size(pre), 2);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, r.x, r.rows, NULL, NULL), MLP_OK);
    for (int l = 0; l < 2; l++) {
        json_t *t = json_array_get(pre, (size_t)l);
        json_t *shape = json_object_get(t, "shape");
        int units = mlp_model_layer(m, l)->out;
        assert_int_equal(json_integer_value(json_array_get(shape, 0)), 2);
        assert_int_equal(json_integer_value(json_array_get(shape, 1)), units);
        json_t *data = json_object_get(t, "data");
        assert_int_equal(json_array_size(data), (size_t)(2 * units));
        const float *z = mlp_workspace_preactivation(ws, l);
        for (int i = 0; i < 2 * units; i++) /* shortest text that reads back as the float */
            assert_true((float)json_number_value(json_array_get(data, (size_t)i)) == z[i]);
    }
    mlp_workspace_free(ws);
    json_decref(root);
    free(text);
    rs_request_free(&r);
    /* Without the parameter, full diagnostics carry no preactivations. */
    assert_int_equal(decode2(m,
                             "{\"inputs\":[" IN("[2,4]", "FP32",
                                                X8) "],\"parameters\":{\"diagnostics\":\"full\"}}",
                             &r, err),
                     0);
    text = encode(m, &r, &len, &jl);
    assert_null(strstr(text, "preactivations"));
    free(text);
    rs_request_free(&r);
}

static void test_encode_v2_diag_none_has_no_diagnostics(void **s)
{
    (void)s;
    response e;
    response_init(&e, 0,
                  "{\"inputs\":[" IN("[1,4]", "FP32",
                                     "[1,2,3,4]") "],\"parameters\":{\"diagnostics\":\"none\"}}");
    assert_null(strstr(e.text, "diagnostics"));
    assert_null(strstr(e.text, "parameters"));
    assert_null(strstr(e.text, "\"id\""));
    response_free(&e);
}

static void test_encode_v2_binary_outputs(void **s)
{
    (void)s;
    response e;
    response_init(&e, 0,
                  "{\"inputs\":[" IN(
                      "[2,4]", "FP32",
                      X8) "],\"outputs\":[{\"name\":\"output\"},{\"name\":\"layer_sparsity\","
                          "\"parameters\":{\"binary_data\":false}},{\"name\":\"input_gradient\"}],"
                          "\"parameters\":{\"binary_data_output\":true}}");
    assert_true(e.json_len < e.len);
    assert_int_equal(e.len - e.json_len, 2 * 3 * 4 + 2 * 4 * 4); /* output + input_gradient */
    json_t *outs = json_object_get(e.root, "outputs");
    json_t *o0 = json_array_get(outs, 0);
    assert_null(json_object_get(o0, "data"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(o0, "parameters"), "binary_data_size")),
        24);
    assert_string_equal(output_name(&e, 1), "input_gradient");
    assert_null(json_object_get(json_array_get(outs, 1), "data"));
    assert_string_equal(output_name(&e, 2), "layer_sparsity");
    assert_non_null(json_object_get(json_array_get(outs, 2), "data"));
    /* The raw floats are the forward outputs. */
    float y[6], got[6];
    outputs_of(&e, y);
    memcpy(got, e.text + e.json_len, sizeof got);
    assert_memory_equal(got, y, sizeof y);
    response_free(&e);
}

static void test_encode_classification(void **s)
{
    (void)s;
    response e;
    response_init(&e, 0,
                  "{\"inputs\":[" IN(
                      "[2,4]", "FP32",
                      X8) "],\"outputs\":[{\"name\":\"output\",\"parameters\":"
                          "{\"classification\":2}}],\"parameters\":{\"diagnostics\":\"none\"}}");
    json_t *o0 = json_array_get(json_object_get(e.root, "outputs"), 0);
    assert_string_equal(json_string_value(json_object_get(o0, "datatype")), "BYTES");
    json_t *data = json_object_get(o0, "data");
    assert_int_equal(json_array_size(data), 4);
    float y[6];
    outputs_of(&e, y);
    const char *names[] = {"setosa", "versicolor", "virginica"};
    for (int row = 0; row < 2; row++) {
        const float *p = y + 3 * row;
        int best = 0;
        for (int j = 1; j < 3; j++)
            if (p[j] > p[best]) best = j;
        const char *str = json_string_value(json_array_get(data, (size_t)(2 * row)));
        float score;
        int idx;
        char label[32];
        assert_int_equal(sscanf(str, "%f:%d:%31s", &score, &idx, label), 3);
        assert_int_equal(idx, best);
        assert_true(score == p[best]);
        assert_string_equal(label, names[best]);
        const char *second = json_string_value(json_array_get(data, (size_t)(2 * row + 1)));
        float score2;
        assert_int_equal(sscanf(second, "%f:%d", &score2, &idx), 2);
        assert_true(score2 <= score);
    }
    response_free(&e);
}

static void test_encode_v1(void **s)
{
    (void)s;
    response e;
    response_init(&e, 1, "{\"instances\":[[1,2,3,4],[5,6,7,8]]}");
    json_t *pred = json_object_get(e.root, "predictions");
    assert_int_equal(json_array_size(pred), 2);
    assert_int_equal(json_array_size(json_array_get(pred, 1)), 3);
    assert_null(json_object_get(e.root, "diagnostics"));
    response_free(&e);

    response_init(&e, 1, "{\"inputs\":[[1,2,3,4]],\"diagnostics\":\"summary\"}");
    assert_non_null(json_object_get(e.root, "outputs"));
    assert_non_null(json_object_get(e.root, "diagnostics"));
    response_free(&e);
}

/* Non-finite numbers become null, so the body stays valid JSON. */
static void test_encode_diagnostics_non_finite_is_null(void **s)
{
    const mlp_model *m = the_classifier(s);
    mlp_layer_diag layers[2] = {
        {.index = 0,
         .units = 5,
         .activation = MLP_ACT_RELU,
         .relu_stats = true,
         .weight_grad_norm = 1,
         .bias_grad_norm = NAN,
         .activation_grad_norm = 2},
        {.index = 1, .units = 3, .activation = MLP_ACT_SOFTMAX, .weight_grad_norm = 0},
    };
    mlp_diagnostics d = {.n_layers = 2,
                         .layers = layers,
                         .rows = 1,
                         .has_gradients = true,
                         .gradient_ratio = INFINITY,
                         .exploding = true};
    rs_buf b;
    rs_buf_init(&b);
    rs_encode_diagnostics(&b, m, &d, RS_DIAG_SUMMARY);
    assert_non_null(strstr(b.data, "\"gradient_ratio\":null"));
    assert_non_null(strstr(b.data, "\"bias_grad_norm\":null"));
    json_t *root = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(root);
    json_decref(root);
    rs_buf_free(&b);
}

/* The decoders build message paths and shapes with rs_text_put / rs_text_int
 * instead of snprintf: the text must be snprintf's at every buffer size,
 * cut ones included. */
static void test_text_appends_match_snprintf(void **s)
{
    (void)s;
    for (size_t cap = 1; cap <= 40; cap++) {
        char got[48], want[48];
        size_t n = rs_text_put(got, cap, 0, "inputs[");
        n = rs_text_int(got, cap, n, 7);
        n = rs_text_put(got, cap, n, "].shape[");
        n = rs_text_int(got, cap, n, -9223372036854775807LL - 1);
        n = rs_text_put(got, cap, n, "]");
        int w = snprintf(want, cap, "inputs[%d].shape[%lld]", 7, -9223372036854775807LL - 1);
        assert_string_equal(got, want);
        assert_int_equal(n, (size_t)w < cap ? (size_t)w : cap - 1);
        int64_t shape[] = {2, -1, 1234567890123LL};
        rs_shape_format(shape, 3, got, cap);
        snprintf(want, cap, "[%lld,%lld,%lld]", 2LL, -1LL, 1234567890123LL);
        assert_string_equal(got, want);
    }
    char e[8];
    rs_shape_format(NULL, 0, e, sizeof e);
    assert_string_equal(e, "[]");
}

/* rs_text_decimal_at (the answers' integers, written forwards into room made
 * for RS_TEXT_DECIMAL_MAX bytes) and rs_buf_int write snprintf's digits, and
 * nothing past them: every value from -1100 to 1100 (the short path below 100
 * and its edges), each power of ten and its neighbours, both signs, and the
 * extremes. */
static void test_decimal_at_matches_snprintf(void **s)
{
    (void)s;
    long long values[1000 + 2201];
    size_t n = 0;
    for (long long v = -1100; v <= 1100; v++)
        values[n++] = v;
    long long ten = 1;
    for (int k = 1; k <= 18; k++) { /* 10 to 10^18 */
        ten *= 10;
        long long near[] = {ten - 1, ten, ten + 1, -(ten - 1), -ten, -(ten + 1)};
        for (size_t i = 0; i < 6; i++)
            values[n++] = near[i];
    }
    values[n++] = 9223372036854775807LL;
    values[n++] = -9223372036854775807LL - 1;
    rs_buf b;
    rs_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        char want[32], got[RS_TEXT_DECIMAL_MAX + 4];
        int w = snprintf(want, sizeof want, "%lld", values[i]);
        memset(got, '#', sizeof got);
        char *end = rs_text_decimal_at(got + 1, values[i]);
        if (end - (got + 1) != w || memcmp(got + 1, want, (size_t)w) != 0)
            fail_msg("%lld: wrote \"%.*s\"", values[i], (int)(end - (got + 1)), got + 1);
        assert_true(w <= RS_TEXT_DECIMAL_MAX);
        for (char *p = end; p < got + sizeof got; p++)
            assert_int_equal(*p, '#');
        assert_int_equal(got[0], '#');
        rs_buf_reset(&b);
        rs_buf_puts(&b, "x");
        rs_buf_int(&b, values[i]);
        assert_int_equal(b.len, 1 + (size_t)w);
        assert_string_equal(b.data + 1, want);
    }
    rs_buf_free(&b);
}

/* rs_buf_json_string writes each byte value as JSON must have it: printable
 * ASCII as is, '"' and '\\' escaped, \n \t \r by name, other control bytes
 * as \u00XX, a byte that starts no valid UTF-8 sequence as \ufffd; alone,
 * and between plain bytes. */
static void test_json_string_writes_every_byte(void **s)
{
    (void)s;
    rs_buf b;
    rs_buf_init(&b);
    for (int c = 1; c < 256; c++) {
        char want[16];
        if (c == '"' || c == '\\')
            snprintf(want, sizeof want, "\\%c", c);
        else if (c == '\n')
            strcpy(want, "\\n");
        else if (c == '\t')
            strcpy(want, "\\t");
        else if (c == '\r')
            strcpy(want, "\\r");
        else if (c < 0x20)
            snprintf(want, sizeof want, "\\u%04x", c);
        else if (c >= 0x80)
            strcpy(want, "\\ufffd");
        else
            snprintf(want, sizeof want, "%c", c);
        char one[2] = {(char)c, 0}, mid[8] = {'a', 'b', (char)c, 'y', 'z', 0};
        char expect[64];
        rs_buf_reset(&b);
        rs_buf_json_string(&b, one);
        snprintf(expect, sizeof expect, "\"%s\"", want);
        assert_string_equal(b.data, expect);
        rs_buf_reset(&b);
        rs_buf_json_string(&b, mid);
        snprintf(expect, sizeof expect, "\"ab%syz\"", want);
        assert_string_equal(b.data, expect);
    }
    rs_buf_free(&b);
}

static void test_buf_helpers(void **s)
{
    (void)s;
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_int(&b, -9223372036854775807LL - 1);
    rs_buf_puts(&b, " ");
    rs_buf_json_string(&b, "q\"\\\n\x01/é");
    rs_buf_printf(&b, " %d", 42);
    assert_string_equal(b.data, "-9223372036854775808 \"q\\\"\\\\\\n\\u0001/é\" 42");
    rs_buf_reset(&b);
    assert_int_equal(b.len, 0);
    /* Bytes that are not UTF-8 become U+FFFD; valid sequences pass. */
    rs_buf_json_string(&b, "a\xc3\xa9\xff\xe2\x82");
    assert_string_equal(b.data, "\"a\xc3\xa9\\ufffd\\ufffd\\ufffd\"");
    rs_buf_reset(&b);
    /* The same bytes scrubbed in place: each stray byte becomes '?'. */
    char scrub[] = "a\xc3\xa9\xff\xed\xa0\x80z\xe2\x82";
    rs_utf8_scrub(scrub);
    assert_string_equal(scrub, "a\xc3\xa9????z??");
    rs_encode_error(&b, "bad \"thing\"");
    assert_string_equal(b.data, "{\"error\":\"bad \\\"thing\\\"\"}");
    size_t len;
    char *p = rs_buf_steal(&b, &len);
    assert_int_equal(len, strlen(p));
    assert_null(b.data);
    free(p);
    for (int i = 0; i < 100000; i++)
        rs_buf_append(&b, "0123456789", 10);
    assert_int_equal(b.len, 1000000);
    assert_false(b.failed);
    rs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_flat_and_nested),
        cmocka_unit_test(test_v2_bool_and_negative_ints),
        cmocka_unit_test(test_v2_id_parameters_outputs),
        cmocka_unit_test(test_v2_targets_regression),
        cmocka_unit_test(test_v2_binary_inputs),
        cmocka_unit_test(test_v2_binary_every_datatype),
        cmocka_unit_test(test_v2_errors),
        cmocka_unit_test(test_empty_body_without_buffer),
        cmocka_unit_test(test_v2_row_limit_is_413),
        cmocka_unit_test(test_v2_every_truncation),
        cmocka_unit_test(test_v2_error_messages_exact),
        cmocka_unit_test(test_escaped_nul_is_not_cut),
        cmocka_unit_test(test_json_string_every_cap),
        cmocka_unit_test(test_json_string_matches_reference),
        cmocka_unit_test(test_tensor_data_nesting),
        cmocka_unit_test(test_tensor_data_memory_follows_the_values),
        cmocka_unit_test(test_tensor_constructors),
        cmocka_unit_test(test_nesting_deeper_than_numbers_is_400),
        cmocka_unit_test(test_many_rows_decode_every_value),
        cmocka_unit_test(test_duplicate_tensor_keys_are_400),
        cmocka_unit_test(test_v2_binary_byte_counts),
        cmocka_unit_test(test_valid_forms_decode_bit_identical),
        cmocka_unit_test(test_v1_forms),
        cmocka_unit_test(test_v1_errors),
        cmocka_unit_test(test_v1_labels_on_regression_model),
        cmocka_unit_test(test_encode_v2_json_parses_and_round_trips),
        cmocka_unit_test(test_encode_v2_preactivations),
        cmocka_unit_test(test_encode_v2_diag_none_has_no_diagnostics),
        cmocka_unit_test(test_encode_v2_binary_outputs),
        cmocka_unit_test(test_encode_classification),
        cmocka_unit_test(test_encode_v1),
        cmocka_unit_test(test_encode_diagnostics_non_finite_is_null),
        cmocka_unit_test(test_text_appends_match_snprintf),
        cmocka_unit_test(test_decimal_at_matches_snprintf),
        cmocka_unit_test(test_json_string_writes_every_byte),
        cmocka_unit_test(test_buf_helpers),
    };
    return cmocka_run_group_tests_name("test_codec", tests, models_create, models_free);
}
