/*
 * test_io_safetensors — safetensors weights plus config.json: exact round
 * trips, every dtype converted exactly (F16 and BF16 exhaustively), files laid
 * out like torch's, and every malformed file refused with the right status and
 * a message naming the file and the problem.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io_internal.h" /* the steps of a pair save, to stop between them */
#include "mlp.h"

#define ORIGIN        "models/s/1/model.safetensors"
#define CONFIG_ORIGIN "config of " ORIGIN

#include "../test_tmpdir.h"
#include "../test_models.h"
#include "../test_cases.h"

/* ------------------------------------------------------------ file builder */

typedef struct {
    const char *name, *dtype;
    int ndim;
    long long d0, d1;
    const void *data; /* little-endian bytes (this test runs on x86/arm LE) */
    size_t nbytes;
} st_tensor;

/* header text + data bytes -> a safetensors file (caller frees). */
static uint8_t *st_raw(const char *header, const void *data, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    uint8_t *buf = malloc(*len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (data_len) memcpy(buf + 8 + h, data, data_len);
    return buf;
}

/* Tensors laid out back to back in the order given (caller frees). */
static uint8_t *st_build(const st_tensor *t, int n, size_t *len)
{
    char header[8192] = "{\"__metadata__\": {\"format\": \"pt\"}";
    static uint8_t data[1 << 20];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        char shape[64];
        if (t[i].ndim == 2)
            snprintf(shape, sizeof shape, "[%lld, %lld]", t[i].d0, t[i].d1);
        else
            snprintf(shape, sizeof shape, "[%lld]", t[i].d0);
        snprintf(header + strlen(header), sizeof header - strlen(header),
                 ", \"%s\": {\"dtype\": \"%s\", \"shape\": %s, \"data_offsets\": [%zu, %zu]}",
                 t[i].name, t[i].dtype, shape, off, off + t[i].nbytes);
        memcpy(data + off, t[i].data, t[i].nbytes);
        off += t[i].nbytes;
    }
    strcat(header, "}");
    return st_raw(header, data, off, len);
}

/* The base model: 2 inputs -> relu(3) -> softmax(2), all F32. */
static const float W0[] = {1, 2, 3, 4, 5, 6}, B0[] = {0.5f, -0.5f, 0.25f};
static const float W1[] = {-1, -2, -3, 0.125f, 1e-40f, -0.0f}, B1[] = {7, 8};

static const st_tensor BASE_T[] = {
    {"0.weight", "F32", 2, 3, 2, W0, sizeof W0},
    {"0.bias", "F32", 1, 3, 0, B0, sizeof B0},
    {"2.weight", "F32", 2, 2, 3, W1, sizeof W1},
    {"2.bias", "F32", 1, 2, 0, B1, sizeof B1},
};

static const char *CONFIG =
    "{\"name\": \"st\", \"task\": \"classification\", \"input\": {\"name\": \"x\", \"size\": 2},"
    " \"output\": {\"name\": \"y\", \"labels\": [\"a\", \"b\"]},"
    " \"activations\": [\"relu\", \"softmax\"]}";

static mlp_status parse(const uint8_t *d, size_t n, const char *config, mlp_model **m,
                        mlp_error *err)
{
    return mlp_model_parse_safetensors(d, n, config, strlen(config), ORIGIN, m, err);
}

static void expect_error(const uint8_t *d, size_t n, const char *config, mlp_status want,
                         const char *where, const char *needle)
{
    mlp_model *m = (mlp_model *)1;
    mlp_error err;
    mlp_status got = parse(d, n, config, &m, &err);
    if (got != want || !strstr(err.msg, needle) || strncmp(err.msg, where, strlen(where)) != 0)
        print_error("status %s, message \"%s\" (wanted %s and \"%s\")\n", mlp_status_str(got),
                    err.msg, mlp_status_str(want), needle);
    assert_int_equal(got, want);
    assert_non_null(strstr(err.msg, needle));
    assert_int_equal(strncmp(err.msg, where, strlen(where)), 0);
    assert_null(m);
}

/* The n tensors t with config: a file that must load. */
static mlp_model *load_ok(const st_tensor *t, int n, const char *config)
{
    size_t len;
    uint8_t *d = st_build(t, n, &len);
    mlp_model *m = NULL;
    mlp_error err;
    mlp_status got = parse(d, len, config, &m, &err);
    free(d);
    if (got != MLP_OK) fail_msg("%s: %s", mlp_status_str(got), err.msg);
    return m;
}

/* The base file with its tensors named w0, b0, w1 and b1 instead: it must load. */
static mlp_model *load_renamed(const char *w0, const char *b0, const char *w1, const char *b1)
{
    st_tensor ts[4];
    memcpy(ts, BASE_T, sizeof ts);
    ts[0].name = w0;
    ts[1].name = b0;
    ts[2].name = w1;
    ts[3].name = b1;
    return load_ok(ts, 4, CONFIG);
}

/* A base file with tensor i replaced by t. */
static void expect_tensor_error(int i, st_tensor t, mlp_status want, const char *needle)
{
    st_tensor ts[4];
    memcpy(ts, BASE_T, sizeof ts);
    ts[i] = t;
    size_t n;
    uint8_t *d = st_build(ts, 4, &n);
    expect_error(d, n, CONFIG, want, ORIGIN ": ", needle);
    free(d);
}

static void expect_header_error(const char *header, size_t data_len, mlp_status want,
                                const char *needle)
{
    static const uint8_t zeros[256];
    size_t n;
    uint8_t *d = st_raw(header, zeros, data_len, &n);
    expect_error(d, n, CONFIG, want, ORIGIN ": ", needle);
    free(d);
}

static void expect_config_error(const char *config, mlp_status want, const char *needle)
{
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    expect_error(d, n, config, want, CONFIG_ORIGIN ": ", needle);
    free(d);
}

/* CONFIG with `from` replaced by `to` (caller frees). */
static char *config_edit(const char *from, const char *to)
{
    const char *at = strstr(CONFIG, from);
    assert_non_null(at);
    size_t pre = (size_t)(at - CONFIG);
    char *d = malloc(strlen(CONFIG) - strlen(from) + strlen(to) + 1);
    memcpy(d, CONFIG, pre);
    strcpy(d + pre, to);
    strcat(d, at + strlen(from));
    return d;
}

static void expect_config_edit_error(const char *from, const char *to, mlp_status want,
                                     const char *needle)
{
    char *c = config_edit(from, to);
    expect_config_error(c, want, needle);
    free(c);
}

/* ------------------------------------------------------------ loading */

static void test_base_file_loads(void **s)
{
    (void)s;
    mlp_model *m = load_ok(BASE_T, 4, CONFIG);
    assert_string_equal(m->name, "st");
    assert_int_equal(m->n_inputs, 2);
    assert_int_equal(m->n_layers, 2);
    assert_int_equal(m->layers[0].activation, MLP_ACT_RELU);
    assert_int_equal(m->layers[1].activation, MLP_ACT_SOFTMAX);
    assert_int_equal(m->task, MLP_TASK_CLASSIFICATION);
    assert_memory_equal(mlp_layer_weight(m, 0), W0, sizeof W0);
    assert_memory_equal(mlp_layer_bias(m, 0), B0, sizeof B0);
    assert_memory_equal(mlp_layer_weight(m, 1), W1, sizeof W1);
    assert_memory_equal(mlp_layer_bias(m, 1), B1, sizeof B1);
    assert_string_equal(m->labels[0], "a");
    assert_string_equal(m->input_name, "x");
    assert_string_equal(m->output_name, "y");
    mlp_model_free(m);
}

/* Layers follow the numeric index, not the text: "10" comes after "2". */
static void test_layers_ordered_numerically(void **s)
{
    (void)s;
    mlp_model *m = load_renamed("2.weight", "2.bias", "10.weight", "10.bias");
    assert_int_equal(m->layers[0].out, 3);
    assert_int_equal(m->layers[1].out, 2);
    mlp_model_free(m);
}

/* Data order in the buffer is independent of the layer order. */
static void test_data_order_is_free(void **s)
{
    (void)s;
    st_tensor ts[4] = {BASE_T[3], BASE_T[2], BASE_T[1], BASE_T[0]};
    mlp_model *m = load_ok(ts, 4, CONFIG);
    assert_memory_equal(mlp_layer_weight(m, 0), W0, sizeof W0);
    assert_memory_equal(mlp_layer_bias(m, 1), B1, sizeof B1);
    mlp_model_free(m);
}

static void test_common_prefix_accepted(void **s)
{
    (void)s;
    mlp_model *m = load_renamed("net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias");
    assert_memory_equal(mlp_layer_weight(m, 1), W1, sizeof W1);
    mlp_model_free(m);
}

static void test_missing_bias_is_zero(void **s)
{
    (void)s;
    st_tensor ts[3] = {BASE_T[0], BASE_T[2], BASE_T[3]};
    mlp_model *m = load_ok(ts, 3, CONFIG);
    for (int i = 0; i < 3; i++)
        assert_true(mlp_layer_bias(m, 0)[i] == 0.0f);
    assert_memory_equal(mlp_layer_bias(m, 1), B1, sizeof B1);
    mlp_model_free(m);
}

static void test_config_metadata_applied(void **s)
{
    (void)s;
    static const char cfg[] =
        "{\"task\": \"regression\", \"input\": {\"name\": \"features\", \"mean\": [1, -2],"
        " \"std\": [0.5, 4]}, \"output\": {\"name\": \"value\"},"
        " \"activations\": [\"leaky_relu\", \"identity\"], \"alpha\": 0.25, \"extra\": 1}";
    mlp_model *m = load_ok(BASE_T, 4, cfg);
    assert_string_equal(m->name, "model"); /* no "name": the library default */
    assert_int_equal(m->task, MLP_TASK_REGRESSION);
    assert_int_equal(m->layers[0].activation, MLP_ACT_LEAKY_RELU);
    assert_true(m->layers[0].alpha == 0.25f);
    assert_true(m->input_mean[1] == -2.0f);
    assert_true(m->input_std[0] == 0.5f);
    assert_null(m->labels);
    mlp_model_free(m);
}

static void test_alpha_per_layer_and_default(void **s)
{
    (void)s;
    char *c = config_edit("[\"relu\", \"softmax\"]",
                          "[\"leaky_relu\", \"softmax\"], \"alpha\": [0.3, null]");
    mlp_model *m = load_ok(BASE_T, 4, c);
    assert_true(m->layers[0].alpha == 0.3f);
    mlp_model_free(m);
    free(c);
    c = config_edit("\"relu\"", "\"leaky_relu\"");
    m = load_ok(BASE_T, 4, c);
    assert_true(m->layers[0].alpha == 0.01f); /* torch.nn.LeakyReLU's default */
    mlp_model_free(m);
    free(c);
}

/* ------------------------------------------------------------ dtypes */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A file with one [1, n] weight of raw 16-bit values and an identity layer. */
static mlp_model *load_row16(const char *dtype, const uint8_t *bytes, int n, mlp_error *err,
                             mlp_status *st)
{
    st_tensor t = {"0.weight", dtype, 2, 1, n, bytes, (size_t)n * 2};
    size_t len;
    uint8_t *d = st_build(&t, 1, &len);
    static const char cfg[] = "{\"task\": \"regression\", \"input\": {\"name\": \"x\"}, "
                              "\"output\": {\"name\": \"y\"}, \"activations\": [\"identity\"]}";
    mlp_model *m = NULL;
    *st = parse(d, len, cfg, &m, err);
    free(d);
    return m;
}

/* Every finite value of a 16-bit float dtype with ebits exponent bits (the
 * other 15 - ebits the fraction f, bias b = 2^(ebits-1) - 1), read from a
 * one-row file, against the definition computed in double: subnormal
 * f/2^fbits * 2^(1-b), normal (1 + f/2^fbits) * 2^(e-b). want_n: how many
 * are finite. The weights hold them in bit-pattern order; the caller frees
 * the model. */
static mlp_model *load_every_finite16(const char *dtype, int ebits, int want_n)
{
    static uint8_t bytes[2 * 65536];
    static float want[65536];
    const int fbits = 15 - ebits, emax = (1 << ebits) - 1, bias = (1 << (ebits - 1)) - 1;
    int n = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int e = (int)(h >> fbits) & emax, f = (int)h & ((1 << fbits) - 1);
        if (e == emax) continue;
        double frac = f / ldexp(1.0, fbits);
        double v = e == 0 ? frac * ldexp(1.0, 1 - bias) : (1.0 + frac) * ldexp(1.0, e - bias);
        want[n] = (float)((h & 0x8000) ? -v : v);
        put16(bytes + 2 * n, (uint16_t)h);
        n++;
    }
    assert_int_equal(n, want_n);
    mlp_error err;
    mlp_status st;
    mlp_model *m = load_row16(dtype, bytes, n, &err, &st);
    assert_int_equal(st, MLP_OK);
    assert_memory_equal(mlp_layer_weight(m, 0), want, (size_t)n * sizeof(float));
    return m;
}

/* binary16: subnormal f * 2^-24, normal (1 + f/1024) * 2^(e-15). */
static void test_f16_all_finite_values_exact(void **s)
{
    (void)s;
    mlp_model *m = load_every_finite16("F16", 5, 63488);
    /* spot checks of the edges */
    const float *w = mlp_layer_weight(m, 0);
    assert_true(w[1] == 0x1p-24f);           /* 0x0001: smallest subnormal */
    assert_true(w[1023] == 1023 * 0x1p-24f); /* 0x03ff: largest subnormal */
    assert_true(w[1024] == 0x1p-14f);        /* 0x0400: smallest normal */
    assert_true(w[0x3c00] == 1.0f);
    assert_true(w[0x7bff] == 65504.0f);                 /* largest finite half */
    assert_true(signbit(w[31744]) && w[31744] == 0.0f); /* 0x8000: -0 */
    mlp_model_free(m);
}

/* bfloat16: subnormal f/128 * 2^-126, normal (1 + f/128) * 2^(e-127). */
static void test_bf16_all_finite_values_exact(void **s)
{
    (void)s;
    mlp_model *m = load_every_finite16("BF16", 8, 65280);
    const float *w = mlp_layer_weight(m, 0);
    assert_true(w[1] == 0x1p-133f); /* smallest bf16 subnormal, a float subnormal */
    assert_true(w[0x3f80] == 1.0f);
    assert_true(w[0x4049] == 3.140625f);
    mlp_model_free(m);
}

static void test_f64_rounds_to_nearest_float(void **s)
{
    (void)s;
    static const double w[] = {0.1, -2.5, 1e-300, 3.4028235e38, 1.0 / 3.0, -0.0};
    static const double b[] = {1e-45, 0.7, 123456789.123};
    st_tensor t[2] = {{"0.weight", "F64", 2, 3, 2, w, sizeof w},
                      {"0.bias", "F64", 1, 3, 0, b, sizeof b}};
    size_t len;
    uint8_t *d = st_build(t, 2, &len);
    static const char cfg[] = "{\"task\": \"regression\", \"input\": {\"name\": \"x\"}, "
                              "\"output\": {\"name\": \"y\"}, \"activations\": [\"identity\"]}";
    mlp_model *m;
    mlp_error err;
    assert_int_equal(parse(d, len, cfg, &m, &err), MLP_OK);
    const float *mw = mlp_layer_weight(m, 0), *mb = mlp_layer_bias(m, 0);
    assert_true(mw[0] == 0.1f);
    assert_true(mw[1] == -2.5f);
    assert_true(mw[2] == 0.0f);    /* underflows to zero, like a cast */
    assert_true(mw[3] == FLT_MAX); /* rounds down to FLT_MAX */
    assert_true(mw[4] == 1.0f / 3.0f);
    assert_true(signbit(mw[5]));
    assert_true(mb[0] == 1e-45f); /* the smallest float subnormal */
    assert_true(mb[1] == 0.7f);
    assert_true(mb[2] == 123456789.123f);
    mlp_model_free(m);
    free(d);
}

static void test_mixed_dtypes_in_one_file(void **s)
{
    (void)s;
    uint8_t w0[12], b0[6];
    static const uint16_t hw[] = {0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x8000};
    static const uint16_t bb[] = {0x3f80, 0xc2f7, 0x0001};
    for (int i = 0; i < 6; i++)
        put16(w0 + 2 * i, hw[i]);
    for (int i = 0; i < 3; i++)
        put16(b0 + 2 * i, bb[i]);
    static const double w1[] = {1, 2, 3, 4, 5, 6};
    st_tensor ts[4] = {{"0.weight", "F16", 2, 3, 2, w0, sizeof w0},
                       {"0.bias", "BF16", 1, 3, 0, b0, sizeof b0},
                       {"2.weight", "F64", 2, 2, 3, w1, sizeof w1},
                       BASE_T[3]};
    mlp_model *m = load_ok(ts, 4, CONFIG);
    const float *w = mlp_layer_weight(m, 0), *b = mlp_layer_bias(m, 0);
    assert_true(w[0] == 1.0f);
    assert_true(w[1] == -2.0f);
    assert_true(w[2] == 0.333251953125f);
    assert_true(w[3] == 0x1p-24f);
    assert_true(w[4] == 65504.0f);
    assert_true(w[5] == 0.0f && signbit(w[5]));
    assert_true(b[0] == 1.0f);
    assert_true(b[1] == -123.5f);
    assert_true(b[2] == 0x1p-133f);
    assert_true(mlp_layer_weight(m, 1)[5] == 6.0f);
    mlp_model_free(m);
}

static void expect_non_finite(const char *dtype, const void *bytes, size_t nbytes,
                              const char *needle)
{
    st_tensor t = {"0.bias", dtype, 1, 3, 0, bytes, nbytes};
    expect_tensor_error(1, t, MLP_ERR_FORMAT, needle);
}

static void test_refuses_nan_f32(void **s)
{
    (void)s;
    float b[3] = {0, NAN, 0};
    expect_non_finite("F32", b, sizeof b, "tensor \"0.bias\"[1] = nan is not a finite float32");
}

static void test_refuses_inf_f32(void **s)
{
    (void)s;
    float b[3] = {0, 0, -INFINITY};
    expect_non_finite("F32", b, sizeof b, "tensor \"0.bias\"[2] = -inf is not a finite");
}

/* A three-value 16-bit float bias with one non-finite value: refused,
 * naming its index and value. */
typedef struct {
    const char *name; /* the test's name */
    const char *dtype;
    int index;
    uint16_t bits;
    const char *needle;
} non_finite16_case;

static const non_finite16_case non_finite16_cases[] = {
    {"test_refuses_inf_f16", "F16", 1, 0x7c00, "tensor \"0.bias\"[1] = inf"},
    {"test_refuses_nan_f16", "F16", 1, 0xfe00, "tensor \"0.bias\"[1] = "},
    {"test_refuses_negative_inf_bf16", "BF16", 2, 0xff80, "tensor \"0.bias\"[2] = -inf"},
    {"test_refuses_nan_bf16", "BF16", 2, 0x7fc0, "tensor \"0.bias\"[2] = nan"},
};

static void run_non_finite16_case(void **state)
{
    const non_finite16_case *c = *state;
    uint8_t b[6] = {0};
    put16(b + 2 * c->index, c->bits);
    expect_non_finite(c->dtype, b, sizeof b, c->needle);
}

static void test_refuses_f64_overflowing_float(void **s)
{
    (void)s;
    double b[3] = {1, 1e300, 2};
    expect_non_finite("F64", b, sizeof b, "tensor \"0.bias\"[1] = 1e+300 is not a finite");
}

/* ------------------------------------------------------------ framing */

static void test_refuses_file_shorter_than_length_field(void **s)
{
    (void)s;
    static const uint8_t d[5] = {1, 0, 0, 0, 0};
    expect_error(d, sizeof d, CONFIG, MLP_ERR_FORMAT, ORIGIN ": ",
                 "5 bytes is too short for a safetensors file");
}

static void test_refuses_header_length_beyond_file(void **s)
{
    (void)s;
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    d[0] = 0xff;
    d[1] = 0xff;
    expect_error(d, n, CONFIG, MLP_ERR_FORMAT, ORIGIN ": ", "exceeds the");
    /* 2^64 - 1 must not wrap around in the comparison */
    memset(d, 0xff, 8);
    expect_error(d, n, CONFIG, MLP_ERR_FORMAT, ORIGIN ": ",
                 "header length 18446744073709551615 exceeds");
    free(d);
}

static void test_refuses_truncated_file(void **s)
{
    (void)s;
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    expect_error(d, n - 3, CONFIG, MLP_ERR_FORMAT, ORIGIN ": ",
                 "tensor \"2.bias\": data_offsets [60, 68] lie outside the 65-byte data buffer");
    free(d);
}

static void test_refuses_truncated_header(void **s)
{
    (void)s;
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    expect_error(d, 40, CONFIG, MLP_ERR_FORMAT, ORIGIN ": ", "exceeds the 32 bytes");
    free(d);
}

/* A weights file that must be refused: this header over data_len zero
 * bytes, the status and a piece of the message. Each row is its own test. */
typedef struct {
    const char *name; /* the test's name */
    const char *header;
    size_t data_len;
    mlp_status status;
    const char *needle;
} header_case;

static void run_header_case(void **state)
{
    const header_case *c = *state;
    expect_header_error(c->header, c->data_len, c->status, c->needle);
}

static const header_case header_cases[] = {
    {"test_refuses_header_not_json", "{\"0.weight\": ", 0, MLP_ERR_FORMAT, "header: invalid JSON"},
    {"test_refuses_header_not_object", "[1, 2]  ", 0, MLP_ERR_FORMAT,
     "header: the document is an array"},
    {"test_refuses_header_with_bad_utf8", "{\"__metadata__\": {\"a\": \"\xc0\xaf\"}}", 0,
     MLP_ERR_FORMAT, "header: invalid JSON"},
    {"test_refuses_duplicate_tensor_names",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[0, 4]}, \"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], "
     "\"data_offsets\": [4, 8]}}",
     8, MLP_ERR_FORMAT, "duplicate"},
    {"test_refuses_two_names_for_one_layer",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[0, 4]}, \"00.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], "
     "\"data_offsets\": [4, 8]}}",
     8, MLP_ERR_FORMAT, "both name layer 0's weight"},
    {"test_refuses_empty_header", "{\"__metadata__\": {}}", 0, MLP_ERR_FORMAT,
     "the file holds no tensors"},
    {"test_refuses_metadata_of_wrong_type",
     "{\"__metadata__\": 3, \"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, "
     "1], \"data_offsets\": [0, 4]}}",
     4, MLP_ERR_FORMAT, "\"__metadata__\" is a number"},
    {"test_refuses_zero_dimension",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [0, 2], \"data_offsets\": "
     "[0, 0]}}",
     0, MLP_ERR_FORMAT, "shape[0] must be an integer >= 1"},
    {"test_refuses_negative_dimension",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [2, -2], "
     "\"data_offsets\": [0, 16]}}",
     16, MLP_ERR_FORMAT, "shape[1] must be an integer >= 1"},
    {"test_refuses_dimension_over_limit",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1099511627776], "
     "\"data_offsets\": [0, 4]}}",
     4, MLP_ERR_LIMIT, "shape[1] = 1099511627776 exceeds the limit of 65536"},
    /* 2^32 x 2^32 x 4 bytes would wrap a 64-bit product to 0 = the span given. */
    {"test_refuses_shape_whose_size_would_wrap",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [4294967296, "
     "4294967296], \"data_offsets\": [0, 0]}}",
     0, MLP_ERR_LIMIT, "exceeds the limit of 65536"},
    {"test_refuses_missing_shape", "{\"0.weight\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}",
     4, MLP_ERR_FORMAT, "tensor \"0.weight\": missing \"shape\""},
    {"test_refuses_tensor_of_wrong_type", "{\"0.weight\": [1]}", 0, MLP_ERR_FORMAT,
     "tensor \"0.weight\" is an array, expected an object"},
    {"test_refuses_offsets_out_of_range",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[4, 8]}}",
     4, MLP_ERR_FORMAT, "data_offsets [4, 8] lie outside the 4-byte data buffer"},
    {"test_refuses_negative_offsets",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[-4, 0]}}",
     4, MLP_ERR_FORMAT, "data_offsets [-4, 0] lie outside"},
    {"test_refuses_reversed_offsets",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[4, 0]}}",
     4, MLP_ERR_FORMAT, "data_offsets [4, 0] lie outside"},
    {"test_refuses_malformed_offsets",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[0, 4, 8]}}",
     4, MLP_ERR_FORMAT, "\"data_offsets\" must be [begin, end] integers"},
    {"test_refuses_overlapping_tensors",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 2], \"data_offsets\": "
     "[0, 8]}, \"0.bias\": {\"dtype\": \"F32\", \"shape\": [1], "
     "\"data_offsets\": [4, 8]}}",
     8, MLP_ERR_FORMAT, "overlap in the data buffer"},
    {"test_refuses_hole_in_buffer",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[0, 4]}, \"0.bias\": {\"dtype\": \"F32\", \"shape\": [1], "
     "\"data_offsets\": [8, 12]}}",
     12, MLP_ERR_FORMAT, "bytes [4, 8) of the data buffer belong to no tensor"},
    {"test_refuses_trailing_bytes",
     "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
     "[0, 4]}}",
     9, MLP_ERR_FORMAT, "the data buffer has 5 bytes after the last tensor"},
};

/* A header of count 1x1 weights "0.weight", "1.weight", ...: refused. */
static void expect_weights_refused(int count, const char *needle)
{
    char header[16384] = "{";
    for (int i = 0; i < count; i++)
        snprintf(header + strlen(header), sizeof header - strlen(header),
                 "%s\"%d.weight\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": "
                 "[%d, %d]}",
                 i ? ", " : "", i, 4 * i, 4 * i + 4);
    strcat(header, "}");
    static const uint8_t zeros[4 * 256];
    assert_true(count <= 256);
    size_t n;
    uint8_t *d = st_raw(header, zeros, 4 * (size_t)count, &n);
    expect_error(d, n, CONFIG, MLP_ERR_LIMIT, ORIGIN ": ", needle);
    free(d);
}

static void test_refuses_too_many_tensors(void **s)
{
    (void)s;
    expect_weights_refused(130, "130 tensors exceed the limit of 128");
}

static void test_refuses_too_many_layers(void **s)
{
    (void)s;
    expect_weights_refused(65, "more than 64 layers");
}

/* ------------------------------------------------------------ shapes */

/* The base file with tensor `index` replaced by `t`: refused with `status`
 * and a message holding `needle`. */
typedef struct {
    const char *name; /* the test's name */
    int index;
    st_tensor t;
    mlp_status status;
    const char *needle;
} tensor_case;

static const float W_NAN[] = {1, 2, 3, NAN, 5, 6}, ZERO3[3] = {0};
static const int32_t I32_3[] = {1, 2, 3};

static const tensor_case tensor_cases[] = {
    {"test_refuses_nan_in_weight_with_row_and_column",
     0,
     {"0.weight", "F32", 2, 3, 2, W_NAN, sizeof W_NAN},
     MLP_ERR_FORMAT,
     "tensor \"0.weight\"[1, 1] = nan"},
    {"test_refuses_unsupported_dtype",
     1,
     {"0.bias", "I32", 1, 3, 0, I32_3, sizeof I32_3},
     MLP_ERR_UNSUPPORTED,
     "tensor \"0.bias\" has dtype I32 (supported: F32, F64, F16, BF16)"},
    {"test_refuses_unexpected_tensor",
     1,
     {"1.running_mean", "F32", 1, 3, 0, ZERO3, sizeof ZERO3},
     MLP_ERR_UNSUPPORTED,
     "tensor \"1.running_mean\" is not the weight or bias of a Linear layer"},
    {"test_refuses_mixed_prefixes",
     1,
     {"net.0.bias", "F32", 1, 3, 0, B0, sizeof B0},
     MLP_ERR_FORMAT,
     "have different name prefixes"},
    {"test_refuses_weight_of_wrong_rank",
     0,
     {"0.weight", "F32", 1, 6, 0, W0, sizeof W0},
     MLP_ERR_FORMAT,
     "tensor \"0.weight\" has 1 dimensions, expected 2 ([out, in])"},
    /* 12 bytes for 2 floats */
    {"test_refuses_size_not_matching_shape",
     1,
     {"0.bias", "F32", 1, 2, 0, B0, sizeof B0},
     MLP_ERR_FORMAT,
     "tensor \"0.bias\" spans 12 bytes but F32 [out] needs 8"},
    {"test_refuses_dtype_not_matching_size",
     1,
     {"0.bias", "F64", 1, 3, 0, B0, sizeof B0},
     MLP_ERR_FORMAT,
     "tensor \"0.bias\" spans 12 bytes but F64 [out] needs 24"},
    {"test_refuses_layers_that_do_not_chain",
     2,
     {"2.weight", "F32", 2, 3, 2, W1, sizeof W1},
     MLP_ERR_FORMAT,
     "tensor \"2.weight\" has 2 columns, expected 3 (the rows of \"0.weight\")"},
    {"test_refuses_bias_of_wrong_length",
     1,
     {"0.bias", "F32", 1, 2, 0, B0, 8},
     MLP_ERR_FORMAT,
     "tensor \"0.bias\" has 2 values, expected 3 (the rows of \"0.weight\")"},
    {"test_refuses_bias_without_weight",
     1,
     {"1.bias", "F32", 1, 3, 0, B0, sizeof B0},
     MLP_ERR_FORMAT,
     "tensor \"1.bias\" has no matching weight"},
};

static void run_tensor_case(void **state)
{
    const tensor_case *c = *state;
    expect_tensor_error(c->index, c->t, c->status, c->needle);
}

/* ------------------------------------------------------------ offsets */

/* ------------------------------------------------------------ config */

static void test_refuses_config_not_json(void **s)
{
    (void)s;
    expect_config_error("{\"task\": ", MLP_ERR_FORMAT, "invalid JSON");
}

/* Configs that must be refused (edit_case): CONFIG with `from` replaced by
 * `to`. Each row is its own cmocka test. */

static void run_config_case(void **state)
{
    const edit_case *c = *state;
    expect_config_edit_error(c->from, c->to, (mlp_status)c->status, c->needle);
}

static const edit_case config_cases[] = {
    {"test_refuses_config_with_duplicate_keys", "\"name\": \"st\"",
     "\"name\": \"st\", \"name\": \"x\"", MLP_ERR_FORMAT, "duplicate"},
    {"test_refuses_config_without_task", "\"task\": \"classification\", ", "", MLP_ERR_FORMAT,
     "missing \"task\""},
    {"test_refuses_config_without_activations", ", \"activations\": [\"relu\", \"softmax\"]", "",
     MLP_ERR_FORMAT, "missing \"activations\" (an array of 2 names"},
    {"test_refuses_activation_count_mismatch", "[\"relu\", \"softmax\"]",
     "[\"relu\", \"relu\", \"softmax\"]", MLP_ERR_FORMAT,
     "\"activations\" lists 3 activations but " ORIGIN " has 2 Linear layers"},
    {"test_refuses_unknown_activation", "\"relu\"", "\"swish\"", MLP_ERR_UNSUPPORTED,
     "activations[0] \"swish\" is not supported"},
    {"test_refuses_activation_of_wrong_type", "\"relu\"", "3", MLP_ERR_FORMAT,
     "activations[0] is a number, expected a string"},
    {"test_refuses_softmax_before_last", "[\"relu\", \"softmax\"]", "[\"softmax\", \"identity\"]",
     MLP_ERR_UNSUPPORTED, "activations[0] is softmax, which is allowed on the last layer only"},
    {"test_refuses_input_size_mismatch", "\"size\": 2", "\"size\": 5", MLP_ERR_FORMAT,
     "input.size is 5 but tensor \"0.weight\" in " ORIGIN " has 2 columns"},
    {"test_refuses_labels_count_mismatch", "[\"a\", \"b\"]", "[\"a\", \"b\", \"c\"]",
     MLP_ERR_FORMAT, "output.labels has 3 names, expected 2"},
    {"test_refuses_std_of_wrong_length", "\"size\": 2", "\"size\": 2, \"std\": [1]", MLP_ERR_FORMAT,
     "input.std has 1 values, expected 2"},
    {"test_refuses_scalar_alpha_without_leaky_layer", "[\"relu\", \"softmax\"]",
     "[\"relu\", \"softmax\"], \"alpha\": 0.1", MLP_ERR_FORMAT,
     "\"alpha\" is given but no layer is leaky_relu"},
    {"test_refuses_alpha_on_non_leaky_layer", "[\"relu\", \"softmax\"]",
     "[\"relu\", \"softmax\"], \"alpha\": [0.1, null]", MLP_ERR_FORMAT,
     "alpha[0] must be null: layer 0 is relu, not leaky_relu"},
    {"test_refuses_alpha_array_of_wrong_length", "[\"relu\", \"softmax\"]",
     "[\"leaky_relu\", \"softmax\"], \"alpha\": [0.1]", MLP_ERR_FORMAT,
     "\"alpha\" must be a number or an array of 2 entries"},
    {"test_refuses_alpha_out_of_range", "[\"relu\", \"softmax\"]",
     "[\"leaky_relu\", \"softmax\"], \"alpha\": -0.5", MLP_ERR_UNSUPPORTED,
     "alpha for layer 0 = -0.5 is outside [0, 1)"},
    {"test_refuses_unknown_task", "\"classification\"", "\"ranking\"", MLP_ERR_UNSUPPORTED,
     "task \"ranking\" is not supported"},
};

/* ------------------------------------------------------------ files */

static mlp_model *make_model(void)
{
    mlp_error err;
    mlp_model *m = TEST_MODEL(4, {6, MLP_ACT_LEAKY_RELU, 0.125f}, {5, MLP_ACT_SIGMOID, 0},
                              {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 99, NULL);
    for (size_t i = 0; i < m->n_params; i += 7)
        m->params[i] = (i % 2) ? 1e-42f : -0.0f; /* subnormal and signed zero survive */
    assert_int_equal(mlp_model_set_name(m, "flowers ✿", NULL), MLP_OK);
    assert_int_equal(mlp_model_set_io_names(m, "in", "out", NULL), MLP_OK);
    const char *labels[] = {"x", "y", "z\"q"};
    assert_int_equal(mlp_model_set_labels(m, labels, NULL), MLP_OK);
    float mean[] = {1, 2, 3, 4}, std[] = {0.5f, 1, 2, 1e-3f};
    assert_int_equal(mlp_model_set_standardization(m, mean, std, &err), MLP_OK);
    return m;
}

static void assert_models_identical(const mlp_model *a, const mlp_model *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->task, b->task);
    assert_string_equal(a->input_name, b->input_name);
    assert_string_equal(a->output_name, b->output_name);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->n_params, b->n_params);
    for (int l = 0; l < a->n_layers; l++) {
        assert_int_equal(a->layers[l].out, b->layers[l].out);
        assert_int_equal(a->layers[l].activation, b->layers[l].activation);
        assert_memory_equal(&a->layers[l].alpha, &b->layers[l].alpha, sizeof(float));
    }
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_equal(a->input_mean, b->input_mean, (size_t)a->n_inputs * sizeof(float));
    assert_memory_equal(a->input_std, b->input_std, (size_t)a->n_inputs * sizeof(float));
    for (int i = 0; i < a->n_outputs; i++)
        assert_string_equal(a->labels[i], b->labels[i]);
}

static void test_save_load_is_bit_identical(void **s)
{
    (void)s;
    mlp_model *m = make_model(), *back;
    mlp_error err;
    char path[128], cfg[128];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    snprintf(cfg, sizeof cfg, "%s/config.json", tmpdir);
    assert_int_equal(mlp_model_save_safetensors(m, path, NULL, &err), MLP_OK);
    assert_int_equal(access(cfg, F_OK), 0); /* config.json beside it */
    assert_int_equal(mlp_model_load_safetensors(path, NULL, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    mlp_model_free(back);
    assert_int_equal(mlp_model_load(path, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    mlp_model_free(back);
    mlp_model_free(m);
}

/* The writer follows the reference layout: Sequential indices 0, 2, 4 (an
 * activation module between Linears), F32, data 8-byte aligned. */
static void test_saved_layout_is_torch_like(void **s)
{
    (void)s;
    mlp_model *m = make_model();
    mlp_error err;
    char path[128], cfg[128];
    snprintf(path, sizeof path, "%s/layout.safetensors", tmpdir);
    snprintf(cfg, sizeof cfg, "%s/layout-config.json", tmpdir);
    assert_int_equal(mlp_model_save_safetensors(m, path, cfg, &err), MLP_OK);
    FILE *f = fopen(path, "rb");
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | buf[i];
    assert_int_equal((8 + h) % 8, 0);
    assert_int_equal(n, 8 + h + m->n_params * 4);
    char *hdr = strndup((const char *)buf + 8, h);
    assert_non_null(strstr(hdr, "\"4.weight\":{\"dtype\":\"F32\",\"shape\":[3,5]"));
    assert_non_null(strstr(hdr, "\"2.bias\""));
    assert_null(strstr(hdr, "\"1.weight\""));
    free(hdr);
    mlp_model *back;
    assert_int_equal(mlp_model_load_safetensors(path, cfg, &back, &err), MLP_OK);
    assert_models_identical(m, back);
    mlp_model_free(back);
    mlp_model_free(m);
}

static void test_load_missing_weights_file(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    char path[128];
    snprintf(path, sizeof path, "%s/none/model.safetensors", tmpdir);
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_null(m);
}

static void test_load_missing_config_file(void **s)
{
    (void)s;
    char dir[128], path[160], cfg[160];
    snprintf(dir, sizeof dir, "%s/noconfig", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
    free(d);
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_ERR_IO);
    assert_int_equal(strncmp(err.msg, cfg, strlen(cfg)), 0); /* names the config */
    assert_non_null(strstr(err.msg, "cannot open"));
    /* with the config there, the same file loads */
    f = fopen(cfg, "wb");
    fputs(CONFIG, f);
    fclose(f);
    assert_int_equal(mlp_model_load(path, &m, &err), MLP_OK);
    mlp_model_free(m);
}

/* ------------------------------------------------------------ saving as a pair */

/* A fresh folder under tmpdir for one test; returns its path in dir. */
static void fresh_dir(const char *name, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", tmpdir, name);
    assert_int_equal(mkdir(dir, 0700), 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Loads dir/model.safetensors with its config: the model, or NULL with the
 * status in *st and the message in err. */
static mlp_model *load_dir(const char *dir, mlp_status *st, mlp_error *err)
{
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mlp_model *m = NULL;
    *st = mlp_model_load(path, &m, err);
    return m;
}

/* A model unlike make_model's: other weights, another name. */
static mlp_model *make_other_model(void)
{
    mlp_model *m = make_model();
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = (float)i * 0.5f;
    assert_int_equal(mlp_model_set_name(m, "other", NULL), MLP_OK);
    return m;
}

/*
 * A save interrupted between its steps: until config.json is renamed the old
 * pair loads; between the two renames (new config, old weights) the pair is
 * refused, never loaded mixed; after both the new model loads, and nothing
 * temporary is left.
 */
static void test_save_interrupted_between_renames(void **s)
{
    (void)s;
    char dir[128], path[160];
    fresh_dir("pair", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mlp_model *a = make_model(), *b = make_other_model(), *got;
    mlp_error err;
    mlp_status st;
    assert_int_equal(mlp_model_save_safetensors(a, path, NULL, &err), MLP_OK);

    mlp_io_pending_pair p;
    assert_int_equal(mlp_io_pair_prepare(b, path, NULL, &p, &err), MLP_OK);
    assert_int_equal(dir_entries(dir), 4); /* both targets and both temporaries */
    assert_non_null(got = load_dir(dir, &st, &err));
    assert_models_identical(a, got);
    mlp_model_free(got);

    assert_int_equal(mlp_io_pair_commit_config(&p, &err), MLP_OK);
    assert_null(load_dir(dir, &st, &err));
    assert_int_equal(st, MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "config.json: save_id \""));
    assert_non_null(strstr(err.msg, "the files come from different saves"));

    assert_int_equal(mlp_io_pair_commit_weights(&p, &err), MLP_OK);
    mlp_io_pair_discard(&p);
    assert_non_null(got = load_dir(dir, &st, &err));
    assert_models_identical(b, got);
    mlp_model_free(got);
    assert_int_equal(dir_entries(dir), 2);

    /* a save abandoned after writing its temporaries leaves the old pair */
    assert_int_equal(mlp_io_pair_prepare(a, path, NULL, &p, &err), MLP_OK);
    mlp_io_pair_discard(&p);
    assert_int_equal(dir_entries(dir), 2);
    assert_non_null(got = load_dir(dir, &st, &err));
    assert_models_identical(b, got);
    mlp_model_free(got);
    mlp_model_free(a);
    mlp_model_free(b);
}

/* Weights and config of two different saves never load as one model,
 * whichever file is the newer one; the two files of one save do. */
static void test_files_of_different_saves_refused(void **s)
{
    (void)s;
    char da[128], db[128], from[192], to[192];
    fresh_dir("save_a", da, sizeof da);
    fresh_dir("save_b", db, sizeof db);
    mlp_model *a = make_model(), *b = make_model(), *got;
    mlp_error err;
    mlp_status st;
    snprintf(to, sizeof to, "%s/model.safetensors", da);
    assert_int_equal(mlp_model_save_safetensors(a, to, NULL, &err), MLP_OK);
    snprintf(to, sizeof to, "%s/model.safetensors", db);
    assert_int_equal(mlp_model_save_safetensors(b, to, NULL, &err), MLP_OK); /* same model */
    const char *files[] = {"model.safetensors", "config.json"};
    for (int k = 0; k < 2; k++) {
        snprintf(from, sizeof from, "%s/%s", db, files[k]);
        snprintf(to, sizeof to, "%s/%s", da, files[k]);
        copy_file(from, to);
        got = load_dir(da, &st, &err);
        if (k == 0) { /* b's weights with a's config */
            assert_null(got);
            assert_int_equal(st, MLP_ERR_FORMAT);
            assert_non_null(strstr(err.msg, "different saves"));
        } else { /* both of b's */
            assert_non_null(got);
            assert_models_identical(b, got);
            mlp_model_free(got);
        }
    }
    mlp_model_free(a);
    mlp_model_free(b);
}

/* Files without a save_id (written by PyTorch) pair freely, but one file with
 * a save_id and one without are from different saves. */
static void test_save_id_on_one_side_only_refused(void **s)
{
    (void)s;
    size_t n;
    uint8_t *d = st_build(BASE_T, 4, &n);
    mlp_model *m;
    mlp_error err;
    char *cfg = config_edit("\"activations\"", "\"save_id\": \"0123\", \"activations\"");
    assert_int_equal(parse(d, n, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "save_id \"0123\" does not match the save_id (none)"));
    free(cfg);
    cfg = config_edit("\"activations\"", "\"save_id\": 7, \"activations\"");
    assert_int_equal(parse(d, n, cfg, &m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "\"save_id\" is a number, expected a string"));
    free(cfg);
    free(d);
}

/* ------------------------------------------------------------ torch */

/*
 * Written by python3-torch 1.13 (no safetensors package there, so the layout
 * of safetensors.torch.save_file is reproduced by hand: sorted keys, compact
 * separators, "__metadata__" {"format": "pt"}, space padding; note the biases
 * come first in the data buffer):
 *
 *   torch.manual_seed(0)
 *   net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
 *   sd = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
 *   hdr = {"__metadata__": {"format": "pt"}}; off = 0; blobs = []
 *   for n in sorted(sd):
 *       b = sd[n].numpy().astype("<f4").tobytes()
 *       hdr[n] = {"dtype": "F32", "shape": list(sd[n].shape),
 *                 "data_offsets": [off, off + len(b)]}
 *       off += len(b); blobs.append(b)
 *   h = json.dumps(hdr, separators=(",", ":")).encode()
 *   h += b" " * ((8 - len(h) % 8) % 8)
 *   data = struct.pack("<Q", len(h)) + h + b"".join(blobs)
 *   x = torch.tensor([[0.5, -1.0, 2.0], [-0.25, 0.75, 0.1]]); y = net(x)
 */
static const unsigned char torch_st[] = {
    0x18, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61,
    0x64, 0x61, 0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74,
    0x22, 0x3a, 0x22, 0x70, 0x74, 0x22, 0x7d, 0x2c, 0x22, 0x30, 0x2e, 0x62, 0x69, 0x61, 0x73, 0x22,
    0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c,
    0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x34, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74,
    0x61, 0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x30, 0x2c, 0x31, 0x36,
    0x5d, 0x7d, 0x2c, 0x22, 0x30, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22,
    0x64, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x22, 0x3a, 0x5b, 0x34, 0x2c, 0x33, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61,
    0x5f, 0x6f, 0x66, 0x66, 0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x31, 0x36, 0x2c, 0x36, 0x34,
    0x5d, 0x7d, 0x2c, 0x22, 0x32, 0x2e, 0x62, 0x69, 0x61, 0x73, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74,
    0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x22, 0x3a, 0x5b, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x36, 0x34, 0x2c, 0x37, 0x32, 0x5d, 0x7d, 0x2c, 0x22,
    0x32, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x74, 0x79, 0x70,
    0x65, 0x22, 0x3a, 0x22, 0x46, 0x33, 0x32, 0x22, 0x2c, 0x22, 0x73, 0x68, 0x61, 0x70, 0x65, 0x22,
    0x3a, 0x5b, 0x32, 0x2c, 0x34, 0x5d, 0x2c, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x66, 0x66,
    0x73, 0x65, 0x74, 0x73, 0x22, 0x3a, 0x5b, 0x37, 0x32, 0x2c, 0x31, 0x30, 0x34, 0x5d, 0x7d, 0x7d,
    0xbd, 0x33, 0x0d, 0xbf, 0xd6, 0xc5, 0xc3, 0xbe, 0x84, 0xb5, 0x73, 0xbe, 0x08, 0x34, 0xaf, 0x3c,
    0xe8, 0xa3, 0x8d, 0xbb, 0x13, 0x93, 0x9e, 0x3e, 0x7e, 0x4b, 0xf3, 0xbe, 0xc9, 0x8b, 0xd9, 0xbe,
    0xb1, 0xb4, 0x63, 0xbe, 0x53, 0x89, 0x1e, 0x3e, 0x40, 0x6b, 0x3b, 0xbc, 0x7a, 0x61, 0xea, 0x3e,
    0x42, 0xdd, 0x51, 0xbd, 0xd2, 0x70, 0x1c, 0x3e, 0x9e, 0xab, 0x32, 0xbe, 0xea, 0x6b, 0xe8, 0xbd,
    0x40, 0x0d, 0xa5, 0xbd, 0x10, 0xb5, 0x58, 0x3d, 0x60, 0x69, 0x4a, 0x3e, 0x18, 0x9b, 0x99, 0x3e,
    0x8c, 0x8d, 0xad, 0xbe, 0xfc, 0xf4, 0x5e, 0xbe, 0x98, 0xf7, 0x39, 0x3e, 0x4e, 0x94, 0xd4, 0x3e,
    0x48, 0xbd, 0xd2, 0xbd, 0x5c, 0x91, 0xbf, 0x3e,
};
static const float torch_x[] = {5.000000000e-01f,  -1.000000000e+00f, 2.000000000e+00f,
                                -2.500000000e-01f, 7.500000000e-01f,  1.000000015e-01f};
static const float torch_y[] = {-9.045117348e-02f, 6.984988600e-02f, -1.155294478e-01f,
                                4.230111465e-02f};

static void test_torch_written_file_matches_torch_outputs(void **s)
{
    (void)s;
    static const char cfg[] =
        "{\"task\": \"regression\", \"input\": {\"name\": \"x\", \"size\": 3},"
        " \"output\": {\"name\": \"y\"}, \"activations\": [\"relu\", "
        "\"identity\"]}";
    mlp_model *m;
    mlp_error err;
    assert_int_equal(mlp_model_parse_safetensors(torch_st, sizeof torch_st, cfg, strlen(cfg),
                                                 "torch.safetensors", &m, &err),
                     MLP_OK);
    assert_int_equal(m->n_inputs, 3);
    assert_int_equal(m->layers[0].out, 4);
    assert_int_equal(m->n_outputs, 2);
    test_outputs_equal(m, torch_x, 2, torch_y, 1e-6);
    mlp_model_free(m);
}

static void test_null_arguments(void **s)
{
    (void)s;
    mlp_model *m;
    mlp_error err;
    assert_int_equal(
        mlp_model_parse_safetensors(NULL, 10, CONFIG, strlen(CONFIG), ORIGIN, &m, &err),
        MLP_ERR_INVALID);
    assert_int_equal(
        mlp_model_parse_safetensors(torch_st, sizeof torch_st, NULL, 0, ORIGIN, &m, &err),
        MLP_ERR_INVALID);
    assert_int_equal(mlp_model_parse_safetensors(torch_st, sizeof torch_st, CONFIG, strlen(CONFIG),
                                                 ORIGIN, NULL, NULL),
                     MLP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_base_file_loads),
        cmocka_unit_test(test_layers_ordered_numerically),
        cmocka_unit_test(test_data_order_is_free),
        cmocka_unit_test(test_common_prefix_accepted),
        cmocka_unit_test(test_missing_bias_is_zero),
        cmocka_unit_test(test_config_metadata_applied),
        cmocka_unit_test(test_alpha_per_layer_and_default),
        cmocka_unit_test(test_f16_all_finite_values_exact),
        cmocka_unit_test(test_bf16_all_finite_values_exact),
        cmocka_unit_test(test_f64_rounds_to_nearest_float),
        cmocka_unit_test(test_mixed_dtypes_in_one_file),
        cmocka_unit_test(test_refuses_nan_f32),
        cmocka_unit_test(test_refuses_inf_f32),
        cmocka_unit_test(test_refuses_f64_overflowing_float),
        cmocka_unit_test(test_refuses_file_shorter_than_length_field),
        cmocka_unit_test(test_refuses_header_length_beyond_file),
        cmocka_unit_test(test_refuses_truncated_file),
        cmocka_unit_test(test_refuses_truncated_header),
        cmocka_unit_test(test_refuses_too_many_tensors),
        cmocka_unit_test(test_refuses_too_many_layers),
        cmocka_unit_test(test_refuses_config_not_json),
        cmocka_unit_test(test_save_load_is_bit_identical),
        cmocka_unit_test(test_saved_layout_is_torch_like),
        cmocka_unit_test(test_save_interrupted_between_renames),
        cmocka_unit_test(test_files_of_different_saves_refused),
        cmocka_unit_test(test_save_id_on_one_side_only_refused),
        cmocka_unit_test(test_load_missing_weights_file),
        cmocka_unit_test(test_load_missing_config_file),
        cmocka_unit_test(test_torch_written_file_matches_torch_outputs),
        cmocka_unit_test(test_null_arguments),
    };
    static test_list tests;
    TESTS_ADD(&tests, others);
    TESTS_ADD_CASES(&tests, header_cases, run_header_case);
    TESTS_ADD_CASES(&tests, config_cases, run_config_case);
    TESTS_ADD_CASES(&tests, non_finite16_cases, run_non_finite16_case);
    TESTS_ADD_CASES(&tests, tensor_cases, run_tensor_case);
    return tests_run("test_io_safetensors", &tests, setup_dir, teardown_dir);
}
