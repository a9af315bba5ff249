/*
 * test_io_onnx — the ONNX subset reader: files written by torch 1.13's
 * torch.onnx.export (tests/fixtures/onnx, made by make_fixtures.py) give
 * torch's outputs to 1e-5; graphs built here byte by byte pin each encoding
 * (raw_data, packed and unpacked float_data, FLOAT16, Gemm attributes); and
 * every malformed or unsupported file is refused with the right status and a
 * message naming the file. Run from the repository root (make unit does), or
 * point ONNX_FIXTURES at the fixtures folder.
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

#include "mlp.h"

#define ORIGIN "models/o/1/model.onnx"

#include "../test_tmpdir.h"

static const char *fixtures(void)
{
    const char *d = getenv("ONNX_FIXTURES");
    return d ? d : "tests/fixtures/onnx";
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ------------------------------------------------------------ torch fixtures */

/* Loads <name>.onnx and checks outputs on the inputs of <name>.expected. */
static mlp_model *check_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", fixtures(), name);
    mlp_model *m;
    mlp_error err;
    mlp_status s = mlp_model_load_onnx(path, NULL, &m, &err);
    if (s != MLP_OK) fail_msg("%s: %s", name, err.msg);

    snprintf(path, sizeof path, "%s/%s.expected", fixtures(), name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int rows, in, out;
    assert_int_equal(fscanf(f, "%d %d %d", &rows, &in, &out), 3);
    assert_int_equal(mlp_model_n_inputs(m), in);
    assert_int_equal(mlp_model_n_outputs(m), out);
    float *x = malloc(sizeof(float) * (size_t)(rows * in));
    float *want = malloc(sizeof(float) * (size_t)(rows * out));
    float *got = malloc(sizeof(float) * (size_t)(rows * out));
    for (int i = 0; i < rows * in; i++)
        assert_int_equal(fscanf(f, "%f", &x[i]), 1);
    for (int i = 0; i < rows * out; i++)
        assert_int_equal(fscanf(f, "%f", &want[i]), 1);
    fclose(f);

    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, rows, got, NULL), MLP_OK);
    for (int i = 0; i < rows * out; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-5f * fmaxf(1.0f, fabsf(want[i]))))
            fail_msg("%s: output %d is %.9g, torch says %.9g", name, i, (double)got[i],
                     (double)want[i]);
    mlp_workspace_free(ws);
    free(x);
    free(want);
    free(got);
    assert_string_equal(mlp_model_input_name(m), "features");
    assert_string_equal(mlp_model_output_name(m), "scores");
    return m;
}

static void test_torch_relu(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("relu");
    assert_int_equal(mlp_model_n_layers(m), 2);
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_RELU);
    assert_int_equal(mlp_model_layer(m, 1)->activation, MLP_ACT_IDENTITY);
    assert_int_equal(mlp_model_task(m), MLP_TASK_REGRESSION);
    mlp_model_free(m);
}

static void test_torch_leaky_relu_keeps_alpha(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("leaky_relu");
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_LEAKY_RELU);
    assert_float_equal(mlp_model_layer(m, 0)->alpha, 0.2f, 1e-7f);
    mlp_model_free(m);
}

static void test_torch_sigmoid(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("sigmoid");
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_SIGMOID);
    mlp_model_free(m);
}

static void test_torch_tanh_three_layers(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("tanh");
    assert_int_equal(mlp_model_n_layers(m), 3);
    assert_int_equal(mlp_model_layer(m, 1)->activation, MLP_ACT_TANH);
    mlp_model_free(m);
}

static void test_torch_softmax_is_classifier(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("softmax");
    assert_int_equal(mlp_model_layer(m, 1)->activation, MLP_ACT_SOFTMAX);
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    mlp_model_free(m);
}

static void test_torch_matmul_add_transposes(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("matmul_add"); /* second Add is Add(bias, x) */
    assert_int_equal(mlp_model_n_layers(m), 2);
    assert_int_equal(mlp_model_layer(m, 0)->in, 4);
    assert_int_equal(mlp_model_layer(m, 0)->out, 6);
    mlp_model_free(m);
}

static void test_torch_flatten_first(void **s)
{
    (void)s;
    mlp_model_free(check_fixture("flatten"));
}

static void test_torch_double_opset9_initializers_as_inputs(void **s)
{
    (void)s;
    mlp_model_free(check_fixture("double_opset9"));
}

static void test_torch_no_bias(void **s)
{
    (void)s;
    mlp_model *m = check_fixture("no_bias");
    for (int l = 0; l < mlp_model_n_layers(m); l++)
        for (int j = 0; j < mlp_model_layer(m, l)->out; j++)
            assert_true(mlp_layer_bias(m, l)[j] == 0.0f);
    mlp_model_free(m);
}

static void expect_refused(const char *name, mlp_status want, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", fixtures(), name);
    mlp_model *m = (mlp_model *)1;
    mlp_error err;
    assert_int_equal(mlp_model_load_onnx(path, NULL, &m, &err), want);
    assert_null(m);
    if (!strstr(err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
}

static void test_torch_conv_refused(void **s)
{
    (void)s;
    expect_refused("conv", MLP_ERR_UNSUPPORTED, "node 0 (Conv) is not supported; supported: Gemm");
}

static void test_torch_layernorm_refused(void **s)
{
    (void)s;
    expect_refused("layernorm", MLP_ERR_UNSUPPORTED, "node 1 (ReduceMean) is not supported");
}

/* ------------------------------------------------------------ config.json */

static void write_text(const char *path, const char *text)
{
    spit(path, text, strlen(text));
}

static void test_config_adds_metadata(void **s)
{
    (void)s;
    char path[512], cfg[512];
    snprintf(path, sizeof path, "%s/softmax.onnx", fixtures());
    snprintf(cfg, sizeof cfg, "%s/cfg.json", tmpdir);
    write_text(cfg, "{\"name\": \"flowers\", \"input\": {\"mean\": [1, 2, 3, 4], "
                    "\"std\": [2, 2, 2, 2]}, \"output\": {\"name\": \"probs\", "
                    "\"labels\": [\"a\", \"b\", \"c\"]}, \"activations\": [\"relu\", "
                    "\"softmax\"]}");
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_OK);
    assert_string_equal(mlp_model_name(m), "flowers");
    assert_string_equal(mlp_model_input_name(m), "features"); /* from the graph */
    assert_string_equal(mlp_model_output_name(m), "probs");   /* from the config */
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_non_null(mlp_model_labels(m));
    assert_string_equal(mlp_model_labels(m)[2], "c");
    assert_non_null(mlp_model_input_mean(m));
    assert_float_equal(mlp_model_input_std(m)[3], 2.0f, 0.0f);
    mlp_model_free(m);
}

static void test_config_must_agree_with_graph(void **s)
{
    (void)s;
    char path[512], cfg[512];
    snprintf(path, sizeof path, "%s/relu.onnx", fixtures());
    snprintf(cfg, sizeof cfg, "%s/cfg.json", tmpdir);
    mlp_model *m;
    mlp_error err;
    write_text(cfg, "{\"activations\": [\"tanh\", \"identity\"]}");
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "activations[0] does not match"));
    write_text(cfg, "{\"input\": {\"size\": 5}}");
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "input.size is 5"));
    write_text(cfg, "{\"output\": {\"labels\": [\"x\"]}}");
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "output.labels has 1 names, expected 3"));
    write_text(cfg, "{\"task\": \"clustering\"}");
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_ERR_UNSUPPORTED);
    write_text(cfg, "[1]");
    assert_int_equal(mlp_model_load_onnx(path, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_true(strncmp(err.msg, cfg, strlen(cfg)) == 0);
}

/* mlp_model_load picks the reader by extension and uses config.json beside
 * the file only when it exists. */
static void test_model_load_dispatches_onnx(void **s)
{
    (void)s;
    char src[512], dst[512], cfg[512];
    snprintf(src, sizeof src, "%s/tanh.onnx", fixtures());
    snprintf(dst, sizeof dst, "%s/model.onnx", tmpdir);
    snprintf(cfg, sizeof cfg, "%s/config.json", tmpdir);
    remove(cfg);
    size_t len;
    uint8_t *data = slurp(src, &len);
    spit(dst, data, len);
    free(data);
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_load(dst, &m, &err), MLP_OK);
    assert_string_equal(mlp_model_output_name(m), "scores");
    mlp_model_free(m);
    write_text(cfg, "{\"task\": \"classification\", \"output\": {\"labels\": [\"no\", \"yes\"]}}");
    assert_int_equal(mlp_model_load(dst, &m, &err), MLP_OK);
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_string_equal(mlp_model_labels(m)[1], "yes");
    mlp_model_free(m);
    remove(cfg);
}

/* ------------------------------------------------------------ hand-built graphs */

/* A growable protobuf writer. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} pb;

static void pb_raw(pb *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_varint(pb *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        pb_raw(b, &c, 1);
    } while (v);
}

static void pb_int(pb *b, int field, uint64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void pb_bytes(pb *b, int field, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, d, n);
}

static void pb_str(pb *b, int field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* Appends inner as field `field` and frees it. */
static void pb_msg(pb *b, int field, pb *inner)
{
    pb_bytes(b, field, inner->p, inner->len);
    free(inner->p);
    memset(inner, 0, sizeof *inner);
}

static void pb_f32(pb *b, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                     (uint8_t)(bits >> 24)};
    pb_varint(b, (uint64_t)field << 3 | 5);
    pb_raw(b, le, 4);
}

enum { RAW, PACKED, UNPACKED, HALF };

/* A TensorProto with dims d0 (and d1 if > 0) and values v in the given
 * encoding; HALF writes FLOAT16 bits (v must be exact halves) in int32_data. */
static pb tensor(const char *name, long long d0, long long d1, const float *v, size_t n, int enc)
{
    pb t = {0};
    pb_int(&t, 1, (uint64_t)d0);
    if (d1 > 0) pb_int(&t, 1, (uint64_t)d1);
    pb_int(&t, 2, enc == HALF ? 10 : 1);
    pb_str(&t, 8, name);
    pb packed = {0};
    for (size_t i = 0; i < n; i++) {
        if (enc == HALF) {
            /* exact for the small integers and halves used here */
            float a = fabsf(v[i]);
            uint16_t h = 0;
            if (a != 0.0f) {
                int e;
                float fr = frexpf(a, &e); /* a = fr * 2^e, fr in [0.5, 1) */
                h = (uint16_t)((e + 14) << 10 | (uint16_t)((fr * 2.0f - 1.0f) * 1024.0f));
            }
            if (v[i] < 0) h |= 0x8000;
            pb_varint(&packed, h);
        } else if (enc == UNPACKED) {
            pb_f32(&t, 4, v[i]);
        } else {
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                             (uint8_t)(bits >> 24)};
            pb_raw(&packed, le, 4);
        }
    }
    if (enc == RAW) pb_bytes(&t, 9, packed.p, packed.len);
    if (enc == PACKED) pb_bytes(&t, 4, packed.p, packed.len);
    if (enc == HALF) pb_bytes(&t, 5, packed.p, packed.len);
    free(packed.p);
    return t;
}

static void attr_int(pb *node, const char *name, long long v)
{
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 3, (uint64_t)v);
    pb_int(&a, 20, 2);
    pb_msg(node, 5, &a);
}

static void attr_float(pb *node, const char *name, float v)
{
    pb a = {0};
    pb_str(&a, 1, name);
    pb_f32(&a, 2, v);
    pb_int(&a, 20, 1);
    pb_msg(node, 5, &a);
}

/* A node with up to three inputs (NULL ends the list). */
static pb node(const char *op, const char *in0, const char *in1, const char *in2, const char *out)
{
    pb n = {0};
    const char *in[] = {in0, in1, in2};
    for (int i = 0; i < 3 && in[i]; i++)
        pb_str(&n, 1, in[i]);
    pb_str(&n, 2, out);
    pb_str(&n, 4, op);
    return n;
}

/* ModelProto around graph g (nodes and initializers already in it), with
 * input "x" and output `output`. */
static uint8_t *model_input(pb *g, const char *input, int rank, const long long *dims,
                            const char *output, size_t *len)
{
    pb vi = {0}, m = {0}, op = {0};
    pb_str(&vi, 1, input);
    if (rank >= 0) { /* ValueInfo.type > tensor_type > shape > dim* > dim_value */
        pb shape = {0}, tt = {0}, type = {0};
        for (int i = 0; i < rank; i++) {
            pb dim = {0};
            if (dims[i] > 0)
                pb_int(&dim, 1, (uint64_t)dims[i]);
            else
                pb_str(&dim, 2, "batch");
            pb_msg(&shape, 1, &dim);
        }
        pb_int(&tt, 1, 1);
        pb_msg(&tt, 2, &shape);
        pb_msg(&type, 1, &tt);
        pb_msg(&vi, 2, &type);
    }
    pb_msg(g, 11, &vi);
    pb_str(&vi, 1, output);
    pb_msg(g, 12, &vi);
    pb_int(&m, 1, 7);
    pb_msg(&m, 7, g);
    pb_str(&op, 1, "");
    pb_int(&op, 2, 14);
    pb_msg(&m, 8, &op);
    *len = m.len;
    return m.p;
}

static uint8_t *model(pb *g, const char *output, size_t *len)
{
    return model_input(g, "x", -1, NULL, output, len);
}

/* W = [[1, 2], [3, 4], [5, 6]] as nn.Linear(2, 3) (out x in), b = [0.5, -1, 2]. */
static const float W[6] = {1, 2, 3, 4, 5, 6};
static const float WT[6] = {1, 3, 5, 2, 4, 6}; /* the same as [in, out] */
static const float B[3] = {0.5f, -1, 2};

/* y = W·x + b for x = (1, -1): (-0.5, -2, 1). */
static void expect_linear(const uint8_t *data, size_t len, float scale, float bscale)
{
    mlp_model *m;
    mlp_error err;
    mlp_status s = mlp_model_parse_onnx(data, len, NULL, 0, ORIGIN, &m, &err);
    if (s != MLP_OK) fail_msg("%s", err.msg);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    float x[2] = {1, -1}, y[3];
    assert_int_equal(mlp_forward(m, ws, x, 1, y, NULL), MLP_OK);
    float want[3] = {-1, -1, -1};
    for (int j = 0; j < 3; j++) {
        want[j] = scale * (W[2 * j] - W[2 * j + 1]) + bscale * B[j];
        assert_float_equal(y[j], want[j], 1e-6f);
    }
    assert_string_equal(mlp_model_input_name(m), "x");
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static uint8_t *gemm_model(int enc, int trans_b, float alpha, float beta, size_t *len)
{
    pb g = {0};
    pb n = node("Gemm", "x", "w", "b", "y");
    if (alpha != 1.0f) attr_float(&n, "alpha", alpha);
    if (beta != 1.0f) attr_float(&n, "beta", beta);
    attr_int(&n, "transB", trans_b);
    pb_msg(&g, 1, &n);
    pb t = trans_b ? tensor("w", 3, 2, W, 6, enc) : tensor("w", 2, 3, WT, 6, enc);
    pb_msg(&g, 5, &t);
    t = tensor("b", 3, 0, B, 3, enc);
    pb_msg(&g, 5, &t);
    return model(&g, "y", len);
}

static void test_encodings_raw_packed_unpacked_half(void **s)
{
    (void)s;
    int encs[] = {RAW, PACKED, UNPACKED, HALF};
    for (int i = 0; i < 4; i++) {
        size_t len;
        uint8_t *d = gemm_model(encs[i], 1, 1.0f, 1.0f, &len);
        expect_linear(d, len, 1.0f, 1.0f);
        free(d);
    }
}

static void test_gemm_trans_b0_alpha_beta(void **s)
{
    (void)s;
    size_t len;
    uint8_t *d = gemm_model(RAW, 0, 2.0f, 0.5f, &len);
    expect_linear(d, len, 2.0f, 0.5f);
    free(d);
}

static void test_identity_and_matmul_without_add(void **s)
{
    (void)s;
    pb g = {0};
    pb n = node("Identity", "x", NULL, NULL, "x1");
    pb_msg(&g, 1, &n);
    n = node("MatMul", "x1", "w", NULL, "h");
    pb_msg(&g, 1, &n);
    n = node("Relu", "h", NULL, NULL, "y");
    pb_msg(&g, 1, &n);
    pb t = tensor("w", 2, 3, WT, 6, RAW);
    pb_msg(&g, 5, &t);
    size_t len;
    uint8_t *d = model(&g, "y", &len);
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_onnx(d, len, NULL, 0, ORIGIN, &m, &err), MLP_OK);
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_RELU);
    for (int i = 0; i < 6; i++)
        assert_true(mlp_layer_weight(m, 0)[i] == W[i]);
    assert_true(mlp_layer_bias(m, 0)[0] == 0.0f);
    mlp_model_free(m);
    free(d);
}

/* Expects data to be refused with status want and a message that starts
 * with the origin and contains needle. */
static void refused(const uint8_t *data, size_t len, mlp_status want, const char *needle)
{
    mlp_model *m = (mlp_model *)1;
    mlp_error err;
    mlp_status got = mlp_model_parse_onnx(data, len, NULL, 0, ORIGIN, &m, &err);
    if (got != want)
        fail_msg("status %s, expected %s (%s)", mlp_status_str(got), mlp_status_str(want),
                 got == MLP_OK ? "accepted" : err.msg);
    assert_null(m);
    assert_true(strncmp(err.msg, ORIGIN ": ", strlen(ORIGIN) + 2) == 0);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* The model of graph g with graph output `output` is refused as refused()
 * checks. */
/* A graph of one Gemm (transB = 1) of `input` by the initializer w (named
 * "w"), plus `bias` when not NULL, into "y". */
static pb gemm_graph(const char *input, const char *bias, pb w)
{
    pb g = {0};
    pb n = node("Gemm", input, "w", bias, "y");
    attr_int(&n, "transB", 1);
    pb_msg(&g, 1, &n);
    pb_msg(&g, 5, &w);
    return g;
}

static void graph_refused(pb *g, const char *output, mlp_status want, const char *needle)
{
    size_t len;
    uint8_t *d = model(g, output, &len);
    refused(d, len, want, needle);
    free(d);
}

static void test_truncated_at_every_offset(void **s)
{
    (void)s;
    const char *names[] = {"relu", "matmul_add"};
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.onnx", fixtures(), names[k]);
        size_t len;
        uint8_t *full = slurp(path, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* own allocation of exactly cut bytes, so ASan sees any overread */
            uint8_t *d = malloc(cut ? cut : 1);
            memcpy(d, full, cut);
            mlp_model *m = (mlp_model *)1;
            mlp_error err;
            mlp_status st = mlp_model_parse_onnx(d, cut, NULL, 0, ORIGIN, &m, &err);
            if (st == MLP_OK) fail_msg("%s cut at %zu bytes was accepted", names[k], cut);
            assert_true(st == MLP_ERR_FORMAT || st == MLP_ERR_UNSUPPORTED);
            assert_null(m);
            free(d);
        }
        free(full);
    }
}

static void test_bad_varints(void **s)
{
    (void)s;
    /* 11-byte varint; 10-byte varint with bits beyond 64; cut-off varint */
    uint8_t a[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t b[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    uint8_t c[] = {0x08, 0x80};
    uint8_t d[] = {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}; /* graph length 4 GiB, beyond the file */
    uint8_t e[] = {0x0b, 0x00};                         /* wire type 3 (group) */
    uint8_t f[] = {0x00, 0x00};                         /* field 0 */
    refused(a, sizeof a, MLP_ERR_FORMAT, "varint");
    refused(b, sizeof b, MLP_ERR_FORMAT, "varint");
    refused(c, sizeof c, MLP_ERR_FORMAT, "varint");
    refused(d, sizeof d, MLP_ERR_FORMAT, "truncated");
    refused(e, sizeof e, MLP_ERR_FORMAT, "wire type");
    refused(f, sizeof f, MLP_ERR_FORMAT, "field number 0");
    refused(a, 0, MLP_ERR_FORMAT, "empty");
    refused((const uint8_t *)"\x08\x07", 2, MLP_ERR_FORMAT, "no graph");
}

static void test_huge_dims_refused_before_allocating(void **s)
{
    (void)s;
    long long dims[][2] = {{1LL << 40, 2}, {3, 70000}, {0, 2}, {-3, 2}};
    mlp_status want[] = {MLP_ERR_LIMIT, MLP_ERR_LIMIT, MLP_ERR_FORMAT, MLP_ERR_FORMAT};
    for (int i = 0; i < 4; i++) {
        pb g = gemm_graph("x", NULL, tensor("w", dims[i][0], dims[i][1], W, 6, RAW));
        graph_refused(&g, "y", want[i], "initializer \"w\": dims[");
    }
}

static void test_value_count_must_match_dims(void **s)
{
    (void)s;
    int encs[] = {RAW, PACKED, UNPACKED, HALF};
    for (int i = 0; i < 4; i++) {
        pb g = gemm_graph("x", NULL, tensor("w", 3, 2, W, 5, encs[i]));
        graph_refused(&g, "y", MLP_ERR_FORMAT, "initializer \"w\"");
    }
}

static void test_missing_initializer(void **s)
{
    (void)s;
    pb g = gemm_graph("x", "b", tensor("w", 3, 2, W, 6, RAW)); /* no "b" */
    graph_refused(&g, "y", MLP_ERR_UNSUPPORTED, "node 0 (Gemm): bias \"b\" is not an initializer");

    g = (pb){0};
    pb n = node("MatMul", "x", "nowhere", NULL, "y");
    pb_msg(&g, 1, &n);
    graph_refused(&g, "y", MLP_ERR_UNSUPPORTED, "weight \"nowhere\" is not an initializer");
}

/* One-node-chain graphs that break a rule of the subset. */
static void test_chain_rules(void **s)
{
    (void)s;
    struct {
        const char *ops[3];
        const char *needle;
    } cases[] = {
        {{"Relu", "Gemm", NULL}, "node 0 (Relu) does not follow a Gemm"},
        {{"Gemm", "Relu", "Sigmoid"}, "node 2 (Sigmoid) does not follow"},
        {{"Gemm", "Add", NULL}, "node 1 (Add) is supported only as the bias right after a MatMul"},
        {{"Gemm", "Softmax", "Gemm2"}, "node 1 (Softmax) is not on the last layer"},
        {{"Gemm", "Flatten", NULL}, "node 1 (Flatten) is supported only once"},
        {{"Gemm", "Dropout", NULL},
         "node 1 (Dropout) is not supported; supported: Gemm, "
         "MatMul+Add, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, "
         "Flatten, Identity"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pb g = {0};
        const char *prev = "x";
        char outs[3][16];
        int k;
        for (k = 0; k < 3 && cases[c].ops[k]; k++) {
            snprintf(outs[k], sizeof outs[k], "t%d", k);
            const char *op = cases[c].ops[k];
            pb n;
            if (strcmp(op, "Gemm2") == 0) {
                n = node("Gemm", prev, "w2", NULL, outs[k]);
                attr_int(&n, "transB", 1);
            } else if (strcmp(op, "Gemm") == 0) {
                n = node("Gemm", prev, "w", NULL, outs[k]);
                attr_int(&n, "transB", 1);
            } else if (strcmp(op, "Add") == 0) {
                n = node("Add", prev, "b", NULL, outs[k]);
            } else {
                n = node(op, prev, NULL, NULL, outs[k]);
            }
            pb_msg(&g, 1, &n);
            prev = outs[k];
        }
        pb t = tensor("w", 3, 2, W, 6, RAW);
        pb_msg(&g, 5, &t);
        t = tensor("w2", 2, 3, W, 6, RAW);
        pb_msg(&g, 5, &t);
        t = tensor("b", 3, 0, B, 3, RAW);
        pb_msg(&g, 5, &t);
        graph_refused(&g, prev, MLP_ERR_UNSUPPORTED, cases[c].needle);
    }
}

static void test_gemm_attributes_refused(void **s)
{
    (void)s;
    for (int c = 0; c < 3; c++) {
        pb g = {0}, n;
        if (c == 2) { /* Gemm, then LeakyRelu with a slope libmlp refuses */
            n = node("Gemm", "x", "w", NULL, "h");
            attr_int(&n, "transB", 1);
            pb_msg(&g, 1, &n);
            n = node("LeakyRelu", "h", NULL, NULL, "y");
            attr_float(&n, "alpha", 1.5f);
        } else {
            n = node("Gemm", "x", "w", NULL, "y");
            attr_int(&n, c == 0 ? "transA" : "transB", c == 0 ? 1 : 2);
        }
        pb_msg(&g, 1, &n);
        pb t = tensor("w", 3, 2, W, 6, RAW);
        pb_msg(&g, 5, &t);
        size_t len;
        uint8_t *d = model(&g, "y", &len);
        const char *needle[] = {"transA = 1", "transB = 2", "alpha = 1.5"};
        refused(d, len, c == 1 ? MLP_ERR_FORMAT : MLP_ERR_UNSUPPORTED, needle[c]);
        free(d);
    }
}

static void test_graph_output_and_inputs_checked(void **s)
{
    (void)s;
    pb g = gemm_graph("x", NULL, tensor("w", 3, 2, W, 6, RAW));
    graph_refused(&g, "z", MLP_ERR_FORMAT, "graph output \"z\" is not the output of the last node");

    g = gemm_graph("other", NULL, tensor("w", 3, 2, W, 6, RAW));
    graph_refused(&g, "y", MLP_ERR_UNSUPPORTED, "does not take the output of the node before it");
}

static void test_non_finite_weight_refused(void **s)
{
    (void)s;
    float bad[6] = {1, 2, 3, NAN, 5, 6};
    pb g = gemm_graph("x", NULL, tensor("w", 3, 2, bad, 6, PACKED));
    graph_refused(&g, "y", MLP_ERR_FORMAT, "initializer \"w\"[3] = nan is not a finite float32");
}

/* One Gemm layer (2 -> 3) fed by an input with the given name and shape. */
static uint8_t *shaped_model(const char *input, bool flatten, int rank, const long long *dims,
                             size_t *len)
{
    pb g = {0};
    if (flatten) {
        pb n = node("Flatten", input, NULL, NULL, "flat");
        pb_msg(&g, 1, &n);
    }
    pb gemm = gemm_graph(flatten ? "flat" : input, NULL, tensor("w", 3, 2, W, 6, RAW));
    pb_raw(&g, gemm.p, gemm.len);
    free(gemm.p);
    return model_input(&g, input, rank, dims, "y", len);
}

static void test_input_shape_checked(void **s)
{
    (void)s;
    size_t len;
    mlp_model *m;
    mlp_error err;
    const long long ok2[] = {-1, 2}, ok3[] = {-1, 1, 2}, bad2[] = {-1, 5}, bad3[] = {-1, 2, 2};
    uint8_t *d = shaped_model("x", false, 2, ok2, &len);
    assert_int_equal(mlp_model_parse_onnx(d, len, NULL, 0, ORIGIN, &m, &err), MLP_OK);
    mlp_model_free(m);
    free(d);
    d = shaped_model("x", true, 3, ok3, &len); /* [batch, 1, 2] flattened to 2 features */
    assert_int_equal(mlp_model_parse_onnx(d, len, NULL, 0, ORIGIN, &m, &err), MLP_OK);
    mlp_model_free(m);
    free(d);
    d = shaped_model("x", false, 2, bad2, &len);
    refused(d, len, MLP_ERR_FORMAT,
            "graph input \"x\" has 5 features, but the first layer takes 2");
    free(d);
    d = shaped_model("x", true, 3, bad3, &len);
    refused(d, len, MLP_ERR_FORMAT, "has 4 features");
    free(d);
    d = shaped_model("x", false, 3, ok3, &len);
    refused(d, len, MLP_ERR_UNSUPPORTED, "graph input \"x\" has rank 3");
    free(d);
}

static void test_input_name_must_be_utf8(void **s)
{
    (void)s;
    size_t len;
    uint8_t *d = shaped_model("x\xff", false, -1, NULL, &len);
    refused(d, len, MLP_ERR_FORMAT, "not valid UTF-8");
    free(d);
}

static void test_config_alpha_must_match_leaky_relu(void **s)
{
    (void)s;
    char path[512];
    snprintf(path, sizeof path, "%s/leaky_relu.onnx", fixtures());
    size_t len;
    uint8_t *d = slurp(path, &len);
    mlp_model *m;
    mlp_error err;
    const char *good = "{\"alpha\": [0.2, null]}", *bad = "{\"alpha\": 0.01}";
    assert_int_equal(mlp_model_parse_onnx(d, len, good, strlen(good), ORIGIN, &m, &err), MLP_OK);
    mlp_model_free(m);
    assert_int_equal(mlp_model_parse_onnx(d, len, bad, strlen(bad), ORIGIN, &m, &err),
                     MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "config of " ORIGIN ": alpha for layer 0 does not match"));
    free(d);
}

/* The config's "alpha" is read by the safetensors rules, against the graph's
 * activations when "activations" is left out. */
static void test_config_alpha_read_as_for_safetensors(void **s)
{
    (void)s;
    const struct {
        const char *fixture, *config, *needle;
    } cases[] = {
        {"relu", "{\"alpha\": 0.1}", "\"alpha\" is given but no layer is leaky_relu"},
        {"leaky_relu", "{\"alpha\": [0.2, 0.5]}", "alpha[1] must be null: layer 1 is"},
        {"leaky_relu", "{\"alpha\": [0.2]}", "\"alpha\" must be a number or an array of 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.onnx", fixtures(), cases[i].fixture);
        size_t len;
        uint8_t *d = slurp(path, &len);
        mlp_model *m;
        mlp_error err;
        const char *cfg = cases[i].config;
        assert_int_equal(mlp_model_parse_onnx(d, len, cfg, strlen(cfg), ORIGIN, &m, &err),
                         MLP_ERR_FORMAT);
        if (!strstr(err.msg, cases[i].needle)) fail_msg("%s: %s", cases[i].config, err.msg);
        free(d);
    }
}

static void test_null_arguments(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_onnx(NULL, 4, NULL, 0, ORIGIN, &m, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_parse_onnx((const uint8_t *)"", 0, NULL, 0, ORIGIN, NULL, &err),
                     MLP_ERR_INVALID);
    assert_int_equal(mlp_model_load_onnx("/nonexistent/model.onnx", NULL, &m, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/model.onnx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_relu),
        cmocka_unit_test(test_torch_leaky_relu_keeps_alpha),
        cmocka_unit_test(test_torch_sigmoid),
        cmocka_unit_test(test_torch_tanh_three_layers),
        cmocka_unit_test(test_torch_softmax_is_classifier),
        cmocka_unit_test(test_torch_matmul_add_transposes),
        cmocka_unit_test(test_torch_flatten_first),
        cmocka_unit_test(test_torch_double_opset9_initializers_as_inputs),
        cmocka_unit_test(test_torch_no_bias),
        cmocka_unit_test(test_torch_conv_refused),
        cmocka_unit_test(test_torch_layernorm_refused),
        cmocka_unit_test(test_config_adds_metadata),
        cmocka_unit_test(test_config_must_agree_with_graph),
        cmocka_unit_test(test_model_load_dispatches_onnx),
        cmocka_unit_test(test_encodings_raw_packed_unpacked_half),
        cmocka_unit_test(test_gemm_trans_b0_alpha_beta),
        cmocka_unit_test(test_identity_and_matmul_without_add),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_bad_varints),
        cmocka_unit_test(test_huge_dims_refused_before_allocating),
        cmocka_unit_test(test_value_count_must_match_dims),
        cmocka_unit_test(test_missing_initializer),
        cmocka_unit_test(test_chain_rules),
        cmocka_unit_test(test_gemm_attributes_refused),
        cmocka_unit_test(test_graph_output_and_inputs_checked),
        cmocka_unit_test(test_non_finite_weight_refused),
        cmocka_unit_test(test_input_shape_checked),
        cmocka_unit_test(test_input_name_must_be_utf8),
        cmocka_unit_test(test_config_alpha_must_match_leaky_relu),
        cmocka_unit_test(test_config_alpha_read_as_for_safetensors),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
