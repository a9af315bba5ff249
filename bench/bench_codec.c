/*
 * bench_codec — JSON and binary tensor codec throughput, against jansson.
 *
 * One 256 x 784 FP32 tensor (uniform [0, 1) values, the shape of an MNIST
 * batch), timed five ways in the same run:
 *   decode  rs_decode_v2 of a v2 request body            vs  json_loadb + walking
 *           "inputs"[0]["data"] into a float buffer
 *   encode  rs_encode_response of a v2 response with it   vs  building the same
 *           response with jansson and json_dumps(JSON_COMPACT | JSON_REAL_PRECISION(9))
 *   binary  the same request and response with the binary tensor extension
 *   mlp_format_float alone on the tensor's values (ns per float)
 * and once more decoding the values bench/http sends (bench/http/common.py
 * write_body: gauss(0, 1) rounded to 4 decimals, as Python writes them:
 * -0.8123, 1.2, 0.0001, -0.0), the short numbers of the real workload.
 * Every case is the median of interleaved samples (bench_run). MB/s counts the bytes of the body
 * (decode) or of the response (encode); ratios divide our time into the baseline's (> 1: we are
 * faster).
 *
 *     build/bench/bench_codec [--quick]
 *
 * Exits 1 only if a codec gives a wrong result (every float must survive
 * the JSON round trip bit for bit).
 */
#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timer.h"
#include "codec/codec.h"
#include "infer.h"

#define ROWS 256
#define COLS 784

typedef struct {
    const mlp_model *m;
    const char *body;
    size_t len, json_len;
    float *y; /* ROWS x COLS values to encode */
    rs_request req;
    rs_buf out;
    float *sink;
} ctx;

static void run_decode(void *p)
{
    ctx *c = p;
    rs_request r;
    char err[256];
    rs_decode_limits lim = {.max_rows = 1 << 20};
    if (rs_decode_v2(c->m, c->body, c->len, c->json_len, &lim, &r, err, sizeof err) != 0) {
        fprintf(stderr, "decode failed: %s\n", err);
        exit(1);
    }
    c->sink[0] += r.x[ROWS * COLS - 1];
    rs_request_free(&r);
}

/* The jansson baseline: parse the tree, then walk inputs[0].data into floats. */
static void run_decode_jansson(void *p)
{
    ctx *c = p;
    json_error_t e;
    json_t *root = json_loadb(c->body, c->len, 0, &e);
    json_t *data = json_object_get(json_array_get(json_object_get(root, "inputs"), 0), "data");
    size_t n = json_array_size(data);
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)json_number_value(json_array_get(data, i));
    c->sink[0] += x[n - 1];
    free(x);
    json_decref(root);
}

static void run_encode(void *p)
{
    ctx *c = p;
    rs_model_id mid = {"bench", "1"};
    size_t jl;
    rs_buf_reset(&c->out);
    if (rs_encode_response(&c->out, &mid, c->m, &c->req, c->y, NULL, NULL, &jl) != 0) {
        fprintf(stderr, "encode failed\n");
        exit(1);
    }
}

static char *encode_jansson(const ctx *c, size_t *len)
{
    json_t *root = json_object();
    json_object_set_new(root, "model_name", json_string("bench"));
    json_object_set_new(root, "model_version", json_string("1"));
    json_t *t = json_object();
    json_object_set_new(t, "name", json_string("output"));
    json_object_set_new(t, "datatype", json_string("FP32"));
    json_t *shape = json_array();
    json_array_append_new(shape, json_integer(ROWS));
    json_array_append_new(shape, json_integer(COLS));
    json_object_set_new(t, "shape", shape);
    json_t *data = json_array();
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        json_array_append_new(data, json_real(c->y[i]));
    json_object_set_new(t, "data", data);
    json_t *outs = json_array();
    json_array_append_new(outs, t);
    json_object_set_new(root, "outputs", outs);
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    *len = strlen(s);
    return s;
}

/* mlp_format_float alone over the same values, into one scratch buffer. */
typedef struct {
    const float *x;
    size_t chars;
} format_ctx;

static void run_format(void *p)
{
    format_ctx *c = p;
    char tmp[MLP_FLOAT_TEXT_MAX];
    size_t chars = 0;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        chars += (size_t)mlp_format_float(c->x[i], tmp);
    c->chars = chars;
}

static void run_encode_jansson(void *p)
{
    ctx *c = p;
    size_t len;
    free(encode_jansson(c, &len));
}

/* A v2 request body for x, as JSON or with a binary tail. */
static char *request_body(const float *x, bool binary, size_t *len, size_t *json_len)
{
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b, "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,%d],\"datatype\":\"FP32\",",
                  ROWS, COLS);
    if (binary) {
        rs_buf_printf(&b, "\"parameters\":{\"binary_data_size\":%zu}}]}",
                      (size_t)ROWS * COLS * sizeof(float));
        *json_len = b.len;
        rs_buf_append(&b, x, (size_t)ROWS * COLS * sizeof(float));
    } else {
        rs_buf_puts(&b, "\"data\":[");
        for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
            if (i) rs_buf_puts(&b, ",");
            /* Clients write 9 significant digits (numpy/json.dumps of a
             * float32 cast to double writes up to 17; 9 is the common case). */
            rs_buf_printf(&b, "%.9g", (double)x[i]);
        }
        rs_buf_puts(&b, "]}]}");
        *json_len = 0;
    }
    return rs_buf_steal(&b, len);
}

/* A v2 request body of ROWS x COLS values drawn as bench/http/common.py
 * write_body draws them: round(gauss(0, 1), 4) written as Python's repr
 * writes that (shortest round trip: at most 4 decimals, trailing zeros
 * dropped but one kept, "-0.0" for a negative zero). *want gets the floats
 * the text means. */
static char *request_body_gauss(mlp_rng *rng, float *want, size_t *len)
{
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b,
                  "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,%d],\"datatype\":\"FP32\","
                  "\"data\":[",
                  ROWS, COLS);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        char t[32];
        double v = round(mlp_rng_normal(rng) * 1e4) / 1e4;
        int n = snprintf(t, sizeof t, "%.4f", v);
        while (n > 0 && t[n - 1] == '0' && t[n - 2] != '.')
            t[--n] = '\0';
        want[i] = (float)strtod(t, NULL);
        if (i) rs_buf_puts(&b, ",");
        rs_buf_puts(&b, t);
    }
    rs_buf_puts(&b, "]}]}");
    return rs_buf_steal(&b, len);
}

/* A batch-1 request to the tiny iris-shaped model: decode, forward (and
 * backward + diagnostics when asked) and encode — everything but HTTP. */
typedef struct {
    const mlp_model *m;
    const char *body;
    size_t len;
    rs_infer_scratch sc;
    rs_infer_item it;
} tiny_ctx;

static void run_tiny(void *p)
{
    tiny_ctx *c = p;
    rs_request r;
    char err[256];
    if (rs_decode_v2(c->m, c->body, c->len, 0, NULL, &r, err, sizeof err) != 0) {
        fprintf(stderr, "tiny decode failed: %s\n", err);
        exit(1);
    }
    rs_model_id mid = {"iris", "1"};
    c->it.req = &r;
    if (rs_infer_run(c->m, &mid, &c->sc, &c->it, 1, NULL, NULL) != 0 || c->it.status != 200) {
        fprintf(stderr, "tiny inference failed\n");
        exit(1);
    }
    rs_request_free(&r);
}

static void tiny_init(tiny_ctx *c, const mlp_model *m, const char *body)
{
    memset(c, 0, sizeof *c);
    c->m = m;
    c->body = body;
    c->len = strlen(body);
    /* The server's default kernel (serve --kernel native). */
    if (rs_infer_scratch_init(&c->sc, MLP_KERNEL_NATIVE) != 0) exit(1);
    rs_buf_init(&c->it.body);
}

static void tiny_free(tiny_ctx *c)
{
    rs_buf_free(&c->it.body);
    rs_infer_scratch_free(&c->sc);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int samples = quick ? 3 : 9;
    double sample_us = quick ? 20000 : 100000;
    int fails = 0;
    /* As in the server: one BLAS thread, so no idle BLAS thread spins on the
     * other core while the codec is timed. */
    openblas_set_num_threads(1);

    mlp_layer_spec spec[] = {{COLS, MLP_ACT_IDENTITY, 0}};
    mlp_model *m;
    if (mlp_model_create(COLS, spec, 1, &m, NULL) != MLP_OK) return 1;
    mlp_rng rng;
    mlp_rng_seed(&rng, 5);
    float *x = malloc((size_t)ROWS * COLS * sizeof(float));
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        x[i] = (float)mlp_rng_uniform(&rng);
    float sink = 0;

    /* ---- the bodies, and a correctness check of each codec */
    ctx c = {.m = m, .sink = &sink};
    char *json_body = request_body(x, false, &c.len, &c.json_len);
    c.body = json_body;
    rs_request r;
    char err[256];
    if (rs_decode_v2(m, c.body, c.len, 0, NULL, &r, err, sizeof err) != 0 ||
        memcmp(r.x, x, (size_t)ROWS * COLS * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL: JSON decode does not reproduce the tensor (%s)\n", err);
        fails++;
    }
    rs_request_free(&r);
    size_t bin_len, bin_json_len;
    char *bin_body = request_body(x, true, &bin_len, &bin_json_len);
    ctx cb = {.m = m, .body = bin_body, .len = bin_len, .json_len = bin_json_len, .sink = &sink};
    float *xg = malloc((size_t)ROWS * COLS * sizeof(float));
    ctx cg = {.m = m, .sink = &sink};
    char *gauss_body = request_body_gauss(&rng, xg, &cg.len);
    cg.body = gauss_body;
    if (rs_decode_v2(m, cg.body, cg.len, 0, NULL, &r, err, sizeof err) != 0 ||
        memcmp(r.x, xg, (size_t)ROWS * COLS * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL: JSON decode of the gauss body is not strtod's (%s)\n", err);
        fails++;
    }
    rs_request_free(&r);

    ctx e = {.m = m, .y = x};
    e.req.proto = RS_PROTO_V2;
    e.req.rows = ROWS;
    e.req.outputs = RS_OUT_PRIMARY;
    e.req.diag = RS_DIAG_NONE;
    rs_buf_init(&e.out);
    run_encode(&e);
    size_t enc_len = e.out.len;
    {
        /* Every float must read back bit for bit. */
        json_t *root = json_loadb(e.out.data, e.out.len, 0, NULL);
        json_t *data = json_object_get(json_array_get(json_object_get(root, "outputs"), 0), "data");
        for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
            if ((float)json_number_value(json_array_get(data, i)) != x[i]) {
                fprintf(stderr, "FAIL: encoded value %zu does not round-trip\n", i);
                fails++;
                break;
            }
        json_decref(root);
    }
    size_t enc_j_len;
    free(encode_jansson(&e, &enc_j_len));
    ctx eb = e;
    rs_buf_init(&eb.out);
    eb.req.binary_outputs = RS_OUT_PRIMARY;
    run_encode(&eb);
    size_t enc_b_len = eb.out.len;

    mlp_layer_spec tspec[] = {
        {16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *tiny;
    if (mlp_model_create(4, tspec, 3, &tiny, NULL) != MLP_OK) return 1;
    mlp_model_init(tiny, MLP_INIT_HE_NORMAL, 1, NULL);
    tiny_ctx tn, ts;
    tiny_init(&tn, tiny,
              "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
              "\"data\":[5.1,3.5,1.4,0.2]}],\"parameters\":{\"diagnostics\":\"none\"}}");
    tiny_init(&ts, tiny,
              "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
              "\"data\":[5.1,3.5,1.4,0.2]}]}");

    format_ctx fmt = {.x = x, .chars = 0};

    /* ---- timing, all cases interleaved sample by sample */
    bench_case cases[] = {
        {.fn = run_decode, .ctx = &c},         {.fn = run_decode_jansson, .ctx = &c},
        {.fn = run_decode, .ctx = &cb},        {.fn = run_encode, .ctx = &e},
        {.fn = run_encode_jansson, .ctx = &e}, {.fn = run_encode, .ctx = &eb},
        {.fn = run_tiny, .ctx = &tn},          {.fn = run_tiny, .ctx = &ts},
        {.fn = run_format, .ctx = &fmt},       {.fn = run_decode, .ctx = &cg},
    };
    bench_run(cases, (int)(sizeof cases / sizeof cases[0]), samples, sample_us);
    double t_dec = cases[0].median_us, t_dec_j = cases[1].median_us, t_dec_b = cases[2].median_us;
    double t_enc = cases[3].median_us, t_enc_j = cases[4].median_us, t_enc_b = cases[5].median_us;

    double t_fmt = cases[8].median_us; /* float formatting alone */
    size_t chars = fmt.chars;

#define MBS(bytes, us) ((double)(bytes) / (us))
    printf("codec: one %d x %d FP32 tensor (uniform [0,1) values), median of %d interleaved "
           "samples\n",
           ROWS, COLS, samples);
    printf("%-34s %10s %10s %10s\n", "", "bytes", "us", "MB/s");
    printf("%-34s %10zu %10.0f %10.1f\n", "decode JSON  rs_decode_v2", c.len, t_dec,
           MBS(c.len, t_dec));
    printf("%-34s %10zu %10.0f %10.1f\n", "decode JSON  jansson (baseline)", c.len, t_dec_j,
           MBS(c.len, t_dec_j));
    printf("%-34s %10zu %10.0f %10.1f  (%.1f ns/value)\n", "decode JSON  gauss, 4 decimals", cg.len,
           cases[9].median_us, MBS(cg.len, cases[9].median_us),
           cases[9].median_us * 1e3 / (ROWS * COLS));
    printf("%-34s %10zu %10.0f %10.1f\n", "decode binary rs_decode_v2", bin_len, t_dec_b,
           MBS(bin_len, t_dec_b));
    printf("%-34s %10zu %10.0f %10.1f\n", "encode JSON  rs_encode_response", enc_len, t_enc,
           MBS(enc_len, t_enc));
    printf("%-34s %10zu %10.0f %10.1f\n", "encode JSON  jansson (baseline)", enc_j_len, t_enc_j,
           MBS(enc_j_len, t_enc_j));
    printf("%-34s %10zu %10.0f %10.1f\n", "encode binary rs_encode_response", enc_b_len, t_enc_b,
           MBS(enc_b_len, t_enc_b));
    printf("%-34s %10zu %10.0f %10.1f  (%.1f ns/float)\n", "mlp_format_float alone", chars, t_fmt,
           MBS(chars, t_fmt), t_fmt * 1e3 / (ROWS * COLS));
    printf("ratios: decode ours/jansson %.1fx, encode ours/jansson %.1fx (jansson writes %.0f%% "
           "more bytes), binary/JSON decode %.1fx, binary/JSON encode %.1fx\n",
           t_dec_j / t_dec, t_enc_j / t_enc, 100.0 * ((double)enc_j_len / (double)enc_len - 1),
           t_dec / t_dec_b, t_enc / t_enc_b);
    printf("batch-1 request to a 4-16-16-3 model, decode + rs_infer_run + encode (no HTTP): "
           "%.2f us with diagnostics none, %.2f us with summary\n",
           cases[6].median_us, cases[7].median_us);
    printf("target (issue 4): JSON codec >= 100 MB/s each way: decode %s, encode %s\n",
           MBS(c.len, t_dec) >= 100 ? "met" : "MISSED",
           MBS(enc_len, t_enc) >= 100 ? "met" : "MISSED");

    if (sink == 12345.0f) puts("");
    tiny_free(&tn);
    tiny_free(&ts);
    mlp_model_free(tiny);
    rs_buf_free(&e.out);
    rs_buf_free(&eb.out);
    free(json_body);
    free(gauss_body);
    free(xg);
    free(bin_body);
    free(x);
    mlp_model_free(m);
    return fails ? 1 : 0;
}
