/*
 * test_response_bound — rs_response_bound, what --max-response-bytes is
 * checked against before anything is computed, is never below the bytes the
 * encoder then writes: for random models and requests (v1 and v2, every
 * diagnostics level, every output, preactivations, classification, JSON and
 * binary) whose every value has the longest text it can have, and for the
 * answers the batch runner really computes. The decoders refuse a request
 * whose bound is over the limit with a 413 that names the flag and what to
 * ask for instead, and accept it at the limit. The encoder's buffer never
 * grows past the bound and its NUL, nor an error's past the longest error
 * body (rs_response_capacity: the larger of the two), the memory the HTTP
 * front charges to --max-body-total for the answer before computing it.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/codec.h"
#include "infer.h"
#include "../../test_models.h"

#define CASES 3000

/* A float whose shortest text is the longest there is (MLP_FLOAT_TEXT_MAX - 1
 * characters, "-0.0000123456789"-like), found once. */
static float longest_float(void)
{
    static float found;
    static bool done;
    if (done) return found;
    char text[MLP_FLOAT_TEXT_MAX];
    float f = -1.23456789e-5f;
    while (mlp_format_float(f, text) != MLP_FLOAT_TEXT_MAX - 1)
        f = nextafterf(f, -1.0f);
    found = f;
    done = true;
    return f;
}

/* Bytes a JSON string of a name can carry: escapes ("\"", "\\"), control
 * characters (\u00XX), a byte that is not UTF-8 (\ufffd), UTF-8 as is; a
 * third of the names are max bytes that each take 6 (the longest case). */
static char *random_name(mlp_rng *r, size_t max)
{
    static const char *pieces[] = {"a", "\"", "\\", "\x01", "\n", "\xff", "\xc3\xa9", "Z"};
    if (mlp_rng_below(r, 3) == 0) {
        char *s = malloc(max + 1);
        assert_non_null(s);
        memset(s, mlp_rng_below(r, 2) ? '\x01' : '\xff', max);
        s[max] = '\0';
        return s;
    }
    size_t n = (size_t)mlp_rng_below(r, max + 1);
    char *s = malloc(2 * n + 1);
    assert_non_null(s);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[mlp_rng_below(r, sizeof pieces / sizeof pieces[0])];
        memcpy(s + len, p, strlen(p));
        len += strlen(p);
    }
    s[len] = '\0';
    return s;
}

/* A random model: 1 to 4 layers of 1 to 24 units (one in eight up to 400)
 * over 1 to 12 inputs, every
 * activation, a classifier with awkward class labels and output name half
 * the time. */
static mlp_model *random_model(mlp_rng *r)
{
    static const mlp_activation hidden[] = {MLP_ACT_RELU, MLP_ACT_LEAKY_RELU, MLP_ACT_SIGMOID,
                                            MLP_ACT_TANH, MLP_ACT_IDENTITY};
    mlp_layer_spec spec[4];
    int layers = 1 + (int)mlp_rng_below(r, 4);
    for (int l = 0; l < layers; l++) {
        spec[l].units = 1 + (int)mlp_rng_below(r, mlp_rng_below(r, 8) ? 24 : 400);
        spec[l].activation = hidden[mlp_rng_below(r, 5)];
        spec[l].alpha = 0.01f;
    }
    if (mlp_rng_below(r, 3) == 0) spec[layers - 1].activation = MLP_ACT_SOFTMAX;
    mlp_model *m = test_model_init(1 + (int)mlp_rng_below(r, 12), spec, layers, MLP_INIT_AUTO,
                                   mlp_rng_next(r));
    if (mlp_rng_below(r, 2)) {
        int n = mlp_model_n_outputs(m);
        char **labels = malloc((size_t)n * sizeof *labels);
        assert_non_null(labels);
        for (int i = 0; i < n; i++)
            labels[i] = random_name(r, 24);
        assert_int_equal(mlp_model_set_labels(m, (const char *const *)labels, NULL), MLP_OK);
        char *out = random_name(r, 8);
        assert_int_equal(mlp_model_set_io_names(m, "input", out[0] ? out : "output", NULL), MLP_OK);
        free(out);
        for (int i = 0; i < n; i++)
            free(labels[i]);
        free(labels);
    }
    return m;
}

/* A random request as the decoders leave it: v1 or v2, 1 to 9 rows, any
 * diagnostics level, for v2 any outputs (diagnostic tensors only with
 * diagnostics), binary or not each, classification, preactivations with
 * "full", an id. x is not set: the encoder does not read it. */
static void random_request(mlp_rng *r, const mlp_model *m, rs_request *req)
{
    memset(req, 0, sizeof *req);
    req->proto = mlp_rng_below(r, 4) == 0 ? RS_PROTO_V1 : RS_PROTO_V2;
    req->rows = 1 + (int)mlp_rng_below(r, 9);
    req->diag = (rs_diag_level)mlp_rng_below(r, 3);
    req->outputs = RS_OUT_PRIMARY;
    if (req->proto == RS_PROTO_V1) {
        req->v1_instances = mlp_rng_below(r, 2) != 0;
        return;
    }
    if (req->diag != RS_DIAG_NONE) req->outputs = (unsigned)mlp_rng_below(r, 512) | 1u;
    if (mlp_rng_below(r, 4) == 0 && req->diag != RS_DIAG_NONE) req->outputs &= ~RS_OUT_PRIMARY;
    if (req->outputs == 0) req->outputs = RS_OUT_PRIMARY;
    req->binary_outputs = (unsigned)mlp_rng_below(r, 512) & req->outputs;
    if (mlp_rng_below(r, 3) == 0)
        req->classification = 1 + (int)mlp_rng_below(r, (uint64_t)mlp_model_n_outputs(m));
    req->preactivations = req->diag == RS_DIAG_FULL && mlp_rng_below(r, 2);
    if (mlp_rng_below(r, 2)) req->id = random_name(r, 200);
}

/* Every value of n at the longest float text. */
static float *longest_floats(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = longest_float();
    return v;
}

/* Diagnostics with everything the encoder can write, at its longest: every
 * statistic of every layer (ReLU and saturation ones together), every unit
 * dead, gradients, a loss, the input gradient. */
typedef struct {
    mlp_diagnostics d;
    mlp_layer_diag layers[MLP_MAX_LAYERS];
    int *dead;
    float *input_gradient;
} worst_diag;

static void worst_diag_make(worst_diag *w, const mlp_model *m, int rows)
{
    float f = longest_float();
    int widest = 0;
    for (int l = 0; l < mlp_model_n_layers(m); l++)
        if (mlp_model_layer(m, l)->out > widest) widest = mlp_model_layer(m, l)->out;
    w->dead = malloc((size_t)widest * sizeof *w->dead);
    assert_non_null(w->dead);
    for (int i = 0; i < widest; i++)
        w->dead[i] = i;
    w->input_gradient = longest_floats((size_t)rows * (size_t)mlp_model_n_inputs(m));
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        w->layers[l] = (mlp_layer_diag){.index = l,
                                        .units = L->out,
                                        .activation = L->activation,
                                        .relu_stats = true,
                                        .dead_fraction = f,
                                        .n_dead = L->out,
                                        .dead_units = w->dead,
                                        .sparsity = f,
                                        .mean_activation = f,
                                        .n_nonfinite = L->out,
                                        .saturation_stats = true,
                                        .saturated_fraction = f,
                                        .weight_grad_norm = f,
                                        .bias_grad_norm = f,
                                        .activation_grad_norm = f};
    }
    w->d = (mlp_diagnostics){.n_layers = mlp_model_n_layers(m),
                             .layers = w->layers,
                             .rows = rows,
                             .dead_fraction = f,
                             .collapsed = false,
                             .nonfinite = false,
                             .has_gradients = true,
                             .gradient_ratio = f,
                             .vanishing = false,
                             .exploding = false,
                             .has_loss = true,
                             .loss = f,
                             .target = MLP_TARGET_BINARY,
                             .input_gradient = w->input_gradient};
}

static void worst_diag_free(worst_diag *w)
{
    free(w->dead);
    free(w->input_gradient);
}

/* The bytes an answer takes on the wire: a JSON one ends with a newline. */
static size_t sent_bytes(const rs_buf *b, size_t json_len)
{
    return b->len + (json_len == b->len ? 1 : 0);
}

/* The answer's buffer, once it ends as it is sent (a JSON answer with the
 * newline respond_buf adds), holds no more than rs_response_capacity: doubling
 * never takes it past the bound (or the longest error body, if larger). */
static void check_held(int c, rs_buf *b, size_t json_len, const rs_model_id *mid,
                       const mlp_model *m, const rs_request *req)
{
    if (json_len == b->len) rs_buf_append(b, "\n", 1);
    assert_false(b->failed);
    size_t capacity = rs_response_capacity(mid, m, req);
    assert_int_equal(capacity, rs_capacity_of_bound(rs_response_bound(mid, m, req)));
    if (b->cap > capacity)
        fail_msg("case %d: a buffer of %zu bytes for an answer of %zu, over its capacity %zu", c,
                 b->cap, b->len, capacity);
}

static void test_longest_answers_fit_the_bound(void **state)
{
    (void)state;
    mlp_rng r;
    mlp_rng_seed(&r, 20261201);
    size_t tightest = SIZE_MAX;
    for (int c = 0; c < CASES; c++) {
        mlp_model *m = random_model(&r);
        rs_request req;
        random_request(&r, m, &req);
        char *name = random_name(&r, 100), *version = random_name(&r, 40);
        rs_model_id mid = {name, version};
        float *y = longest_floats((size_t)req.rows * (size_t)mlp_model_n_outputs(m));
        const float *z[MLP_MAX_LAYERS];
        for (int l = 0; l < mlp_model_n_layers(m); l++)
            z[l] = longest_floats((size_t)req.rows * (size_t)mlp_model_layer(m, l)->out);
        worst_diag w;
        worst_diag_make(&w, m, req.rows);
        rs_buf out;
        rs_buf_init(&out);
        size_t json_len = 0;
        assert_int_equal(rs_encode_response(&out, &mid, m, &req, y,
                                            req.diag != RS_DIAG_NONE ? &w.d : NULL, z, &json_len),
                         0);
        size_t sent = sent_bytes(&out, json_len), bound = rs_response_bound(&mid, m, &req);
        if (sent > bound)
            fail_msg("case %d (v%d, %d rows, diag %d, outputs %#x, binary %#x, top-%d, "
                     "preactivations %d): %zu bytes over the bound %zu",
                     c, req.proto == RS_PROTO_V1 ? 1 : 2, req.rows, (int)req.diag, req.outputs,
                     req.binary_outputs, req.classification, (int)req.preactivations, sent, bound);
        if (bound - sent < tightest) tightest = bound - sent;
        check_held(c, &out, json_len, &mid, m, &req);
        rs_buf_free(&out);
        worst_diag_free(&w);
        for (int l = 0; l < mlp_model_n_layers(m); l++)
            free((void *)z[l]);
        free(y);
        free(name);
        free(version);
        rs_request_free(&req);
        mlp_model_free(m);
    }
    print_message("%d cases; the closest an answer came to its bound: %zu bytes\n", CASES,
                  tightest);
}

/* The answers the batch runner computes (inputs from tiny to overflowing,
 * so some values are NaN or infinite) stay within the bound too. */
static void test_computed_answers_fit_the_bound(void **state)
{
    (void)state;
    mlp_rng r;
    mlp_rng_seed(&r, 7);
    rs_infer_scratch s;
    assert_int_equal(rs_infer_scratch_init(&s, MLP_KERNEL_NATIVE), 0);
    rs_model_id mid = {"model", "1"};
    for (int c = 0; c < CASES / 10; c++) {
        mlp_model *m = random_model(&r);
        rs_request req;
        random_request(&r, m, &req);
        req.x_count = (size_t)req.rows * (size_t)mlp_model_n_inputs(m);
        req.x = malloc(req.x_count * sizeof(float));
        assert_non_null(req.x);
        double scale = pow(10.0, (double)mlp_rng_below(&r, 80) - 40.0);
        for (size_t i = 0; i < req.x_count; i++)
            req.x[i] = (float)(scale * mlp_rng_normal(&r));
        rs_infer_item it = {.req = &req};
        rs_buf_init(&it.body);
        assert_int_equal(rs_infer_run(m, &mid, &s, &it, 1, NULL, NULL), 0);
        assert_int_equal(it.status, 200);
        size_t sent = sent_bytes(&it.body, it.json_len), bound = rs_response_bound(&mid, m, &req);
        if (sent > bound) fail_msg("case %d: %zu bytes over the bound %zu", c, sent, bound);
        check_held(c, &it.body, it.json_len, &mid, m, &req);
        rs_buf_free(&it.body);
        rs_request_free(&req);
        mlp_model_free(m);
    }
    rs_infer_scratch_free(&s);
}

/* Big answers are bounded by their values: the fixed parts' slack is small
 * beside them, so the limit refuses little that would have fitted. */
static void test_bound_is_close_for_big_answers(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(8, {64, MLP_ACT_RELU, 0}, {10, MLP_ACT_IDENTITY, 0});
    rs_request req = {.proto = RS_PROTO_V2,
                      .rows = 2000,
                      .diag = RS_DIAG_FULL,
                      .outputs = RS_OUT_PRIMARY | RS_OUT_INPUT_GRADIENT,
                      .preactivations = true};
    rs_model_id mid = {"m", "1"};
    float *y = longest_floats(2000 * 10);
    const float *z[2] = {longest_floats(2000 * 64), y};
    worst_diag w;
    worst_diag_make(&w, m, req.rows);
    rs_buf out;
    rs_buf_init(&out);
    size_t json_len;
    assert_int_equal(rs_encode_response(&out, &mid, m, &req, y, &w.d, z, &json_len), 0);
    size_t sent = sent_bytes(&out, json_len), bound = rs_response_bound(&mid, m, &req);
    print_message("%zu bytes, bound %zu\n", sent, bound);
    assert_true(sent <= bound);
    assert_true(bound - sent <= sent / 1000); /* within 0.1% */
    check_held(0, &out, json_len, &mid, m, &req);
    rs_buf_free(&out);
    worst_diag_free(&w);
    free((void *)z[0]);
    free(y);
    mlp_model_free(m);
}

/* A buffer whose capacity is exactly cap bytes (so an answer written into it
 * meets the end of its room at a chosen byte), without a limit after. */
static void buf_with_capacity(rs_buf *b, size_t cap)
{
    rs_buf_init(b);
    b->limit = cap;
    assert_true(rs_buf_reserve(b, cap - 1));
    assert_int_equal(b->cap, cap);
    b->limit = 0;
}

/* The encoder's writers check the room they need once for a literal and a
 * value at its longest, then write without checks: each must make room for
 * all it writes. Answers whose every value has its longest text (floats,
 * and integers at INT_MIN where the encoder takes them from an int) are
 * written into buffers of every capacity up to their length, so every
 * writer meets the end of its room at every byte; a writer that made too
 * little room writes past the allocation (ASan reports it) or differs from
 * the answer written in one piece. */
static void test_writers_make_room_at_every_edge(void **state)
{
    (void)state;
    mlp_model *m =
        TEST_MODEL(3, {4, MLP_ACT_RELU, 0}, {5, MLP_ACT_LEAKY_RELU, 0}, {2, MLP_ACT_SIGMOID, 0});
    worst_diag w;
    worst_diag_make(&w, m, 2);
    int dead[5] = {INT_MIN, INT_MIN, INT_MIN, INT_MIN, INT_MIN};
    for (int l = 0; l < w.d.n_layers; l++) {
        w.layers[l].index = INT_MIN;
        w.layers[l].n_nonfinite = INT_MIN;
        w.layers[l].dead_units = dead;
    }
    float *y = longest_floats(2 * 2);
    const float *z[3] = {longest_floats(2 * 4), longest_floats(2 * 5), y};
    rs_model_id mid = {"m\"\x01", "1"};
    rs_request req = {.proto = RS_PROTO_V2,
                      .rows = 2,
                      .diag = RS_DIAG_FULL,
                      .outputs = RS_OUT_PRIMARY | RS_OUT_LAYER_SPARSITY | RS_OUT_LOSS,
                      .preactivations = true,
                      .id = "r\\1"};
    for (int kind = 0; kind < 3; kind++) {
        /* kind 0: the diagnostics object alone (rows and units at INT_MIN
         * too), 1: a v2 answer with it (rows and units sizing the
         * preactivations as the request's), 2: the same with the output as
         * classes */
        w.d.rows = kind == 0 ? INT_MIN : 2;
        for (int l = 0; l < w.d.n_layers; l++)
            w.layers[l].units = kind == 0 ? INT_MIN : mlp_model_layer(m, l)->out;
        w.d.input_gradient = kind == 0 ? NULL : w.input_gradient;
        req.classification = kind == 2 ? 2 : 0;
        rs_buf whole;
        rs_buf_init(&whole);
        size_t json_len;
        if (kind == 0)
            rs_encode_diagnostics(&whole, m, &w.d, RS_DIAG_FULL);
        else
            assert_int_equal(rs_encode_response(&whole, &mid, m, &req, y, &w.d, z, &json_len), 0);
        assert_false(whole.failed);
        for (size_t cap = 1; cap <= whole.len + 1; cap++) {
            rs_buf b;
            buf_with_capacity(&b, cap);
            if (kind == 0)
                rs_encode_diagnostics(&b, m, &w.d, RS_DIAG_FULL);
            else
                assert_int_equal(rs_encode_response(&b, &mid, m, &req, y, &w.d, z, &json_len), 0);
            assert_false(b.failed);
            if (b.len != whole.len || memcmp(b.data, whole.data, b.len) != 0)
                fail_msg("kind %d, capacity %zu: the answer differs from the one written whole",
                         kind, cap);
            rs_buf_free(&b);
        }
        rs_buf_free(&whole);
    }
    worst_diag_free(&w);
    free((void *)z[0]);
    free((void *)z[1]);
    free(y);
    mlp_model_free(m);
}

/* A v2 body of rows rows of a 4-input model: "outputs" and "parameters"
 * spliced in as given. */
static char *v2_body(int rows, const char *rest)
{
    rs_buf b;
    rs_buf_init(&b);
    rs_buf_printf(&b,
                  "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,4],\"datatype\":\"FP32\","
                  "\"data\":[",
                  rows);
    for (int i = 0; i < rows * 4; i++)
        rs_buf_puts(&b, i ? ",1" : "1");
    rs_buf_printf(&b, "]}]%s}", rest);
    size_t len;
    return rs_buf_steal(&b, &len);
}

/* The decoders refuse past the limit (413, naming the flag, the bound and
 * what to ask for instead) and accept at it, for v1, v2 JSON and v2 binary
 * outputs; the same request fits when it asks for its output in binary. */
static void test_decoders_refuse_answers_over_the_limit(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(4, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    const char *full = ",\"outputs\":[{\"name\":\"output\"},{\"name\":\"input_gradient\"}],"
                       "\"parameters\":{\"diagnostics\":\"full\",\"preactivations\":true}";
    char *body = v2_body(50, full);
    rs_decode_limits lim = {.max_rows = 1000, .mid = {"m", "1"}};
    rs_request req;
    char err[512];
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    size_t bound = rs_response_bound(&lim.mid, m, &req);
    /* The decoder records the bound the server charges and encodes to. */
    assert_int_equal(req.bound, bound);
    assert_int_equal(rs_request_capacity(&req, &lim.mid, m),
                     rs_response_capacity(&lim.mid, m, &req));
    rs_request_free(&req);

    lim.max_response_bytes = bound; /* at the limit: served */
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    rs_request_free(&req);
    lim.max_response_bytes = bound - 1; /* one byte over: refused */
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 413);
    assert_null(req.x);
    char want[160];
    snprintf(want, sizeof want,
             "could take up to %zu bytes, over the server's "
             "--max-response-bytes of %zu",
             bound, bound - 1);
    if (strstr(err, want) == NULL || strstr(err, "fewer rows") == NULL ||
        strstr(err, "binary_data_output") == NULL || strstr(err, "preactivations") == NULL)
        fail_msg("message: %s", err);
    free(body);

    /* v2 with a binary output: its bound is 4 bytes a value, so the same
     * limit that refuses it in JSON serves it. */
    body = v2_body(50, "");
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    size_t json_bound = rs_response_bound(&lim.mid, m, &req);
    rs_request_free(&req);
    free(body);
    body = v2_body(50, ",\"parameters\":{\"binary_data_output\":true}");
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    size_t bin_bound = rs_response_bound(&lim.mid, m, &req);
    rs_request_free(&req);
    assert_true(bin_bound < json_bound);
    lim.max_response_bytes = bin_bound;
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    rs_request_free(&req);
    free(body);
    body = v2_body(50, "");
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 413);
    assert_non_null(strstr(err, "binary_data_output"));
    free(body);

    /* v1 */
    const char *v1 = "{\"instances\":[[1,2,3,4],[5,6,7,8]]}";
    lim.max_response_bytes = 0;
    assert_int_equal(rs_decode_v1(m, v1, strlen(v1), &lim, &req, err, sizeof err), 0);
    bound = rs_response_bound(&lim.mid, m, &req);
    assert_int_equal(req.bound, bound); /* recorded without a limit too */
    rs_request_free(&req);
    lim.max_response_bytes = bound;
    assert_int_equal(rs_decode_v1(m, v1, strlen(v1), &lim, &req, err, sizeof err), 0);
    rs_request_free(&req);
    lim.max_response_bytes = bound - 1;
    assert_int_equal(rs_decode_v1(m, v1, strlen(v1), &lim, &req, err, sizeof err), 413);
    assert_non_null(strstr(err, "--max-response-bytes"));
    assert_null(req.x);
    mlp_model_free(m);
}

/* An inference that fails writes its error into the buffer its answer would
 * have used, so the capacity charged for the answer must hold the longest
 * error too: messages of control characters and of bytes that are no UTF-8
 * (each written as 6 bytes), short and far past RS_ERROR_TEXT_MAX, into the
 * buffer of a tiny model's one-row answer, with the newline the server adds. */
static void test_errors_fit_the_smallest_capacity(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(4, {3, MLP_ACT_SOFTMAX, 0});
    char *body = v2_body(1, "");
    rs_decode_limits lim = {.max_rows = 10, .mid = {"m", "1"}};
    rs_request req;
    char err[512];
    assert_int_equal(rs_decode_v2(m, body, strlen(body), 0, &lim, &req, err, sizeof err), 0);
    assert_true(rs_response_bound(&lim.mid, m, &req) < RS_ERROR_BODY_MAX); /* the error decides */
    size_t cap = rs_request_capacity(&req, &lim.mid, m);
    assert_int_equal(cap, RS_ERROR_BODY_MAX + 1);
    static const unsigned char fill[] = {0x01, 0xff, '"', 'a'};
    static const size_t lengths[] = {10, RS_ERROR_TEXT_MAX - 1, RS_ERROR_TEXT_MAX,
                                     RS_ERROR_TEXT_MAX + 1, 5000};
    for (size_t f = 0; f < sizeof fill; f++) {
        for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
            size_t n = lengths[k];
            char *msg = malloc(n + 1);
            assert_non_null(msg);
            memset(msg, fill[f], n);
            msg[n] = '\0';
            rs_buf out;
            rs_buf_init_answer(&out, &req); /* as the server's answers start */
            rs_encode_error(&out, msg);
            rs_buf_puts(&out, "\n");
            assert_false(out.failed);
            assert_true(out.len + 1 <= cap);
            assert_true(out.cap <= cap);
            if (n > RS_ERROR_TEXT_MAX) assert_memory_equal(out.data + out.len - 6, "...\"}\n", 6);
            rs_buf_free(&out);
            free(msg);
        }
    }
    rs_request_free(&req);
    free(body);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_answers_fit_the_bound),
        cmocka_unit_test(test_computed_answers_fit_the_bound),
        cmocka_unit_test(test_bound_is_close_for_big_answers),
        cmocka_unit_test(test_writers_make_room_at_every_edge),
        cmocka_unit_test(test_decoders_refuse_answers_over_the_limit),
        cmocka_unit_test(test_errors_fit_the_smallest_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
