/*
 * test_infer — the batch runner: merged forward, one backward over the
 * requests with diagnostics, per-request diagnostics and encoding; a
 * request's body is the same batched or alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer.h"
#include "../test_models.h"

#include "../test_params.h"

static mlp_model *model(void)
{
    mlp_model *m = TEST_MODEL(4, {16, MLP_ACT_RELU, 0}, {8, MLP_ACT_LEAKY_RELU, 0.1f},
                              {6, MLP_ACT_TANH, 0}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 11, NULL);
    /* Negative biases so some units die on some rows but not others. */
    for (int l = 0; l < 2; l++)
        for (int j = 0; j < mlp_model_layer(m, l)->out; j++)
            bias_set(m, l, j, (j % 3 == 0) ? -3.0f : 0.1f);
    return m;
}

static const rs_model_id mid = {"t", "1"};

/* Request bodies of several shapes, forms and diagnostic levels. */
static const char *bodies[] = {
    "{\"id\":\"one\",\"inputs\":[{\"name\":\"input\",\"shape\":[3,4],\"datatype\":\"FP32\","
    "\"data\":[1,-2,3,0.5,0,0,0,0,-1,2,-3,4]},{\"name\":\"labels\",\"shape\":[3],\"datatype\":"
    "\"INT32\",\"data\":[0,2,1]}],\"parameters\":{\"diagnostics\":\"full\"}}",
    "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
    "\"data\":[0.25,0.5,-0.75,2]}]}",
    "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
    "\"data\":[[5,4,3,2],[-5,-4,-3,-2]]},{\"name\":\"targets\",\"shape\":[2,3],\"datatype\":"
    "\"FP32\",\"data\":[[0.2,0.3,0.5],[1,0,0]]}],\"outputs\":[{\"name\":\"output\"},"
    "{\"name\":\"input_gradient\"},{\"name\":\"loss\"}],\"parameters\":{\"diagnostics\":\"full\","
    "\"binary_data_output\":true}}",
    "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\","
    "\"data\":[1,1,1,1,2,2,2,2]}],\"parameters\":{\"diagnostics\":\"none\"}}",
    "{\"inputs\":[{\"name\":\"input\",\"shape\":[4,4],\"datatype\":\"FP32\","
    "\"data\":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]},{\"name\":\"labels\",\"shape\":[4],"
    "\"datatype\":\"INT32\",\"data\":[2,2,2,2]}],\"outputs\":[{\"name\":\"output\","
    "\"parameters\":{\"classification\":2}},{\"name\":\"layer_dead_fraction\"}]}",
};
#define N_V2 (sizeof bodies / sizeof bodies[0])
static const char *v1_body = "{\"instances\":[[3,1,4,1],[5,9,2,6]],\"diagnostics\":\"full\"}";
#define N_REQ (N_V2 + 1)

/* v2 body i decoded into req: it must decode. */
static void decode_body(const mlp_model *m, size_t i, rs_request *req)
{
    char err[256];
    int st = rs_decode_v2(m, bodies[i], strlen(bodies[i]), 0, NULL, req, err, sizeof err);
    if (st) fail_msg("body %zu: %s", i, err);
}

static void decode_all(const mlp_model *m, rs_request *reqs)
{
    char err[256];
    for (size_t i = 0; i < N_V2; i++)
        decode_body(m, i, &reqs[i]);
    assert_int_equal(rs_decode_v1(m, v1_body, strlen(v1_body), NULL, &reqs[N_V2], err, sizeof err),
                     0);
}

static void items_init(rs_infer_item *items, rs_request *reqs, int n)
{
    for (int i = 0; i < n; i++) {
        items[i].req = &reqs[i];
        items[i].status = 0;
        items[i].json_len = 0;
        rs_buf_init(&items[i].body);
    }
}

/* Frees the n items' bodies. */
static void bodies_free(rs_infer_item *items, int n)
{
    for (int i = 0; i < n; i++)
        rs_buf_free(&items[i].body);
}

/* The N_REQ requests of bodies and v1_body decoded against model(): the
 * cmocka fixture (decoded_setup, decoded_teardown) of the tests that run
 * them as they are. */
typedef struct {
    mlp_model *m;
    rs_request reqs[N_REQ];
} decoded;

static int decoded_setup(void **state)
{
    decoded *d = malloc(sizeof *d);
    if (!d) return -1;
    d->m = model();
    decode_all(d->m, d->reqs);
    *state = d;
    return 0;
}

static int decoded_teardown(void **state)
{
    decoded *d = *state;
    for (size_t i = 0; i < N_REQ; i++)
        rs_request_free(&d->reqs[i]);
    mlp_model_free(d->m);
    free(d);
    return 0;
}

/* Frees the n items' bodies and the requests they answered. */
static void items_free(rs_infer_item *items, rs_request *reqs, int n)
{
    for (int i = 0; i < n; i++) {
        rs_buf_free(&items[i].body);
        rs_request_free(&reqs[i]);
    }
}

/* state: the scratch's kernel; both promise the same bits in any batch */
static void test_batch_equals_alone(void **s)
{
    mlp_kernel kernel = *(const mlp_kernel *)*s;
    mlp_model *m = model();
    rs_request reqs[N_REQ];
    decode_all(m, reqs);

    /* Each request alone, on a fresh scratch each time. */
    rs_infer_item alone[N_REQ];
    items_init(alone, reqs, N_REQ);
    for (int i = 0; i < (int)N_REQ; i++) {
        rs_infer_scratch sc;
        assert_int_equal(rs_infer_scratch_init(&sc, kernel), 0);
        assert_int_equal(rs_infer_run(m, &mid, &sc, &alone[i], 1, NULL, NULL), 0);
        assert_int_equal(alone[i].status, 200);
        rs_infer_scratch_free(&sc);
    }
    assert_non_null(strstr(alone[0].body.data, "\"dead_units\""));
    assert_non_null(strstr(alone[0].body.data, "\"loss\""));
    assert_true(alone[2].json_len < alone[2].body.len); /* binary tail */

    /* All together, and in every rotation, on one reused scratch. */
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, kernel), 0);
    for (int rot = 0; rot < (int)N_REQ; rot++) {
        rs_request order[N_REQ];
        int map[N_REQ];
        for (int i = 0; i < (int)N_REQ; i++) {
            map[i] = (i + rot) % (int)N_REQ;
            order[i] = reqs[map[i]];
        }
        rs_infer_item batch[N_REQ];
        items_init(batch, order, N_REQ);
        assert_int_equal(rs_infer_run(m, &mid, &sc, batch, N_REQ, NULL, NULL), 0);
        for (int i = 0; i < (int)N_REQ; i++) {
            const rs_infer_item *a = &alone[map[i]];
            assert_int_equal(batch[i].status, 200);
            assert_int_equal(batch[i].json_len, a->json_len);
            assert_int_equal(batch[i].body.len, a->body.len);
            if (memcmp(batch[i].body.data, a->body.data, a->body.len) != 0)
                fail_msg("rotation %d, request %d differs:\n%s\n%s", rot, map[i],
                         batch[i].body.data, a->body.data);
            rs_buf_free(&batch[i].body);
        }
    }
    rs_infer_scratch_free(&sc);
    items_free(alone, reqs, N_REQ);
    mlp_model_free(m);
}

/* ------------------------------------------- mixed batches, generated */

enum { MIX_REQ = 24, MIX_BODY = 8192 };

/* Appends printf-style text to body (MIX_BODY bytes). */
static void put(char *body, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(char *body, const char *fmt, ...)
{
    size_t len = strlen(body);
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(body + len, MIX_BODY - len, fmt, ap);
    va_end(ap);
    assert_true(w >= 0 && (size_t)w < MIX_BODY - len);
}

/* "[[...],...]" of rows x cols values drawn from [lo, hi). */
static void put_matrix(char *body, mlp_rng *r, int rows, int cols, double lo, double hi)
{
    put(body, "[");
    for (int i = 0; i < rows; i++) {
        put(body, i ? ",[" : "[");
        for (int j = 0; j < cols; j++)
            put(body, j ? ",%.6g" : "%.6g", lo + (hi - lo) * mlp_rng_uniform(r));
        put(body, "]");
    }
    put(body, "]");
}

/*
 * A random request for m: 1..5 rows; diagnostics none, summary or full (v2;
 * v1 now and then); labels, targets or neither; the input_gradient tensor
 * at summary level (dg/dX for that request only), other diagnostic tensors,
 * binary outputs, preactivations.
 */
static void mix_body(const mlp_model *m, mlp_rng *r, char *body)
{
    int in = mlp_model_n_inputs(m), K = mlp_model_n_outputs(m);
    int rows = 1 + (int)mlp_rng_below(r, 5);
    static const char *levels[] = {"none", "summary", "full"};
    const char *level = levels[mlp_rng_below(r, 3)];
    int loss = (int)mlp_rng_below(r, 3); /* 0 none, 1 labels, 2 targets */
    int classes = mlp_model_classes(m);
    if (classes == 0 && loss == 1) loss = 2; /* the decoder refuses labels there */
    body[0] = '\0';
    if (mlp_rng_below(r, 6) == 0) { /* v1 */
        put(body, "{\"instances\":");
        put_matrix(body, r, rows, in, -3.0, 3.0);
        if (loss == 1) {
            put(body, ",\"labels\":[");
            for (int i = 0; i < rows; i++)
                put(body, i ? ",%d" : "%d", (int)mlp_rng_below(r, (uint64_t)classes));
            put(body, "]");
        }
        put(body, ",\"diagnostics\":\"%s\"}", level);
        return;
    }
    put(body,
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[%d,%d],\"datatype\":\"FP32\",\"data\":", rows,
        in);
    put_matrix(body, r, rows, in, -3.0, 3.0);
    put(body, "}");
    if (loss == 1) {
        put(body, ",{\"name\":\"labels\",\"shape\":[%d],\"datatype\":\"INT32\",\"data\":[", rows);
        for (int i = 0; i < rows; i++)
            put(body, i ? ",%d" : "%d", (int)mlp_rng_below(r, (uint64_t)classes));
        put(body, "]}");
    } else if (loss == 2) {
        put(body, ",{\"name\":\"targets\",\"shape\":[%d,%d],\"datatype\":\"FP32\",\"data\":", rows,
            K);
        /* in [0, 1]: a distribution's entries, BCE probabilities, MSE values */
        put_matrix(body, r, rows, K, 0.0, 1.0);
        put(body, "}");
    }
    put(body, "]");
    int outs = strcmp(level, "none") == 0 ? 0 : (int)mlp_rng_below(r, 3);
    if (outs == 1)
        put(body,
            ",\"outputs\":[{\"name\":\"output\"},{\"name\":\"input_gradient\"},"
            "%s{\"name\":\"layer_weight_grad_norm\"}]",
            loss ? "{\"name\":\"loss\"}," : "");
    else if (outs == 2)
        put(body, ",\"outputs\":[{\"name\":\"layer_activation_grad_norm\"},"
                  "{\"name\":\"layer_bias_grad_norm\"},{\"name\":\"layer_sparsity\"}]");
    bool full = strcmp(level, "full") == 0;
    put(body, ",\"parameters\":{\"diagnostics\":\"%s\"%s%s}}", level,
        full && mlp_rng_below(r, 2) ? ",\"preactivations\":true" : "",
        mlp_rng_below(r, 3) == 0 ? ",\"binary_data_output\":true" : "");
}

/* Each request alone (a fresh scratch), then in batches cut from random
 * orders of all of them (one reused scratch): byte for byte the same. */
static void mixed_batches(const mlp_model *m, uint64_t seed, mlp_kernel kernel)
{
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    rs_request reqs[MIX_REQ];
    static char body[MIX_BODY];
    int diag = 0, refused = 0;
    for (int i = 0; i < MIX_REQ; i++) {
        char err[256];
        mix_body(m, &r, body);
        int st = body[2] == 'i' && body[3] == 'n' && body[4] == 's'
                     ? rs_decode_v1(m, body, strlen(body), NULL, &reqs[i], err, sizeof err)
                     : rs_decode_v2(m, body, strlen(body), 0, NULL, &reqs[i], err, sizeof err);
        if (st) fail_msg("request %d: %s\n%s", i, err, body);
        diag += reqs[i].diag != RS_DIAG_NONE;
    }
    /* One label out of range, which the decoders would refuse: the batch
     * runner answers that request 400 alone and batched, the others 200. */
    int broken = 0;
    for (int i = 0; i < MIX_REQ && !broken; i++)
        if (reqs[i].labels != NULL) {
            reqs[i].labels[reqs[i].rows - 1] = 7;
            broken = 1;
        }
    rs_infer_item alone[MIX_REQ];
    items_init(alone, reqs, MIX_REQ);
    for (int i = 0; i < MIX_REQ; i++) {
        rs_infer_scratch sc;
        assert_int_equal(rs_infer_scratch_init(&sc, kernel), 0);
        assert_int_equal(rs_infer_run(m, &mid, &sc, &alone[i], 1, NULL, NULL), 0);
        rs_infer_scratch_free(&sc);
        refused += alone[i].status == 400;
        if (alone[i].status != 200 && alone[i].status != 400)
            fail_msg("request %d alone: %d %s", i, alone[i].status, alone[i].body.data);
    }
    assert_true(diag >= MIX_REQ / 3); /* the draws cover what they should */
    assert_int_equal(refused, broken);

    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, kernel), 0);
    for (int round = 0; round < 6; round++) {
        int order[MIX_REQ];
        for (int i = 0; i < MIX_REQ; i++)
            order[i] = i;
        mlp_rng_shuffle(&r, order, MIX_REQ);
        for (int at = 0; at < MIX_REQ;) {
            /* the whole set in the first round, then batches of 1..12 */
            int n = round == 0 ? MIX_REQ : 1 + (int)mlp_rng_below(&r, 12);
            if (n > MIX_REQ - at) n = MIX_REQ - at;
            rs_request batch_reqs[MIX_REQ];
            for (int i = 0; i < n; i++)
                batch_reqs[i] = reqs[order[at + i]];
            rs_infer_item batch[MIX_REQ];
            items_init(batch, batch_reqs, n);
            assert_int_equal(rs_infer_run(m, &mid, &sc, batch, n, NULL, NULL), 0);
            for (int i = 0; i < n; i++) {
                const rs_infer_item *a = &alone[order[at + i]];
                if (batch[i].status != a->status || batch[i].json_len != a->json_len ||
                    batch[i].body.len != a->body.len ||
                    memcmp(batch[i].body.data, a->body.data, a->body.len) != 0)
                    fail_msg("round %d, request %d (%d of a batch of %d) differs:\n%.*s\n%.*s",
                             round, order[at + i], i, n, (int)batch[i].json_len, batch[i].body.data,
                             (int)a->json_len, a->body.data);
                rs_buf_free(&batch[i].body);
            }
            at += n;
        }
    }
    rs_infer_scratch_free(&sc);
    items_free(alone, reqs, MIX_REQ);
}

/* Requests mixing diagnostic levels, row counts, labels, targets and
 * outputs, on a classifier (cross-entropy, distributions, BCE targets), a
 * regression model (MSE; labels refused) and a one-output classifier (binary
 * cross-entropy), with layers wide enough that the gradient products run
 * their 4-row tiles and their one-row tail in the same call. */
/* state: the scratch's kernel */
static void test_mixed_batches_equal_alone(void **s)
{
    mlp_kernel kernel = *(const mlp_kernel *)*s;
    mlp_model *cls = model();
    mixed_batches(cls, 1, kernel);
    mlp_model_free(cls);

    mlp_model *wide = TEST_MODEL(20, {40, MLP_ACT_RELU, 0}, {24, MLP_ACT_LEAKY_RELU, 0.05f},
                                 {5, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(wide, MLP_INIT_HE_NORMAL, 3, NULL);
    for (int j = 0; j < 40; j += 4)
        bias_set(wide, 0, j, -2.0f);
    mixed_batches(wide, 2, kernel);
    mlp_model_free(wide);

    mlp_model *reg =
        TEST_MODEL(6, {32, MLP_ACT_RELU, 0}, {16, MLP_ACT_SIGMOID, 0}, {2, MLP_ACT_IDENTITY, 0});
    mlp_model_init(reg, MLP_INIT_HE_NORMAL, 4, NULL);
    mixed_batches(reg, 3, kernel);
    mlp_model_free(reg);

    mlp_model *bin = TEST_MODEL(17, {33, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    mlp_model_init(bin, MLP_INIT_HE_NORMAL, 5, NULL);
    assert_int_equal(mlp_model_set_task(bin, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    mixed_batches(bin, 4, kernel);
    mlp_model_free(bin);
}

/* Activity counts cover every row of the batch once. */
static void test_activity_counts_whole_batch(void **s)
{
    decoded *d = *s;
    int rows = 0;
    for (int i = 0; i < (int)N_REQ; i++)
        rows += d->reqs[i].rows;
    mlp_activity a;
    assert_int_equal(mlp_activity_init(d->m, &a, NULL), MLP_OK);
    rs_infer_item items[N_REQ];
    items_init(items, d->reqs, N_REQ);
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_NATIVE), 0);
    assert_int_equal(rs_infer_run(d->m, &mid, &sc, items, N_REQ, NULL, &a), 0);
    assert_true(a.rows == (uint64_t)rows);
    /* Same counts as one forward over all rows stacked by hand. */
    float *x = malloc((size_t)rows * 4 * sizeof(float));
    int off = 0;
    for (int i = 0; i < (int)N_REQ; i++) {
        memcpy(x + off * 4, d->reqs[i].x, (size_t)d->reqs[i].rows * 4 * sizeof(float));
        off += d->reqs[i].rows;
    }
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(d->m, ws, x, rows, NULL, NULL), MLP_OK);
    mlp_activity b;
    assert_int_equal(mlp_activity_init(d->m, &b, NULL), MLP_OK);
    assert_int_equal(mlp_activity_add(&b, ws, 0, rows, NULL), MLP_OK);
    for (int l = 0; l < a.n_layers; l++)
        assert_memory_equal(a.active[l], b.active[l], (size_t)a.units[l] * sizeof(uint64_t));
    mlp_activity_free(&a);
    mlp_activity_free(&b);
    mlp_workspace_free(ws);
    free(x);
    rs_infer_scratch_free(&sc);
    bodies_free(items, N_REQ);
}

/* A bad request in a batch fails alone; the others still succeed. */
static void test_bad_labels_fail_only_their_item(void **s)
{
    (void)s;
    mlp_model *m = model();
    rs_request reqs[2];
    decode_body(m, 1, &reqs[0]);
    decode_body(m, 0, &reqs[1]);
    reqs[1].labels[2] = 7; /* out of range: decode would have refused it */
    rs_infer_item items[2];
    items_init(items, reqs, 2);
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_NATIVE), 0);
    assert_int_equal(rs_infer_run(m, &mid, &sc, items, 2, NULL, NULL), 0);
    assert_int_equal(items[0].status, 200);
    assert_int_equal(items[1].status, 400);
    assert_non_null(strstr(items[1].body.data, "\"error\""));
    assert_non_null(strstr(items[1].body.data, "labels"));
    assert_int_equal(items[1].json_len, items[1].body.len);
    rs_infer_scratch_free(&sc);
    items_free(items, reqs, 2);
    mlp_model_free(m);
}

/* The batch reads a request's input by the count its buffer holds
 * (x_count, set by rs_request_bind), never by rows x n_inputs alone: a
 * request whose rows claim more than x holds is refused, alone or batched,
 * instead of being read past its end. */
static void test_rows_beyond_input_refused(void **s)
{
    (void)s;
    mlp_model *m = model();
    rs_request reqs[2];
    for (int i = 0; i < 2; i++)
        decode_body(m, 1, &reqs[i]);
    reqs[1].rows = 2; /* x holds one row of 4 values */
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_NATIVE), 0);
    for (int n = 1; n <= 2; n++) {
        rs_infer_item items[2];
        items_init(items, &reqs[2 - n], n);
        assert_int_equal(rs_infer_run(m, &mid, &sc, items, n, NULL, NULL), -1);
        for (int i = 0; i < n; i++) {
            assert_int_equal(items[i].status, 500);
            assert_non_null(strstr(items[i].body.data, "rows x n_inputs"));
            rs_buf_free(&items[i].body);
        }
    }
    rs_infer_scratch_free(&sc);
    for (int i = 0; i < 2; i++)
        rs_request_free(&reqs[i]);
    mlp_model_free(m);
}

/* The scratch grows to the largest batch and is reused (results unchanged
 * after a big batch then a small one). */
static void test_scratch_reuse(void **s)
{
    decoded *d = *s;
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_NATIVE), 0);
    rs_infer_item first;
    items_init(&first, &d->reqs[1], 1);
    assert_int_equal(rs_infer_run(d->m, &mid, &sc, &first, 1, NULL, NULL), 0);
    rs_infer_item all[N_REQ];
    items_init(all, d->reqs, N_REQ);
    assert_int_equal(rs_infer_run(d->m, &mid, &sc, all, N_REQ, NULL, NULL), 0);
    size_t cap = sc.x_cap;
    assert_true(cap >= 14 * 4);
    rs_infer_item again;
    items_init(&again, &d->reqs[1], 1);
    assert_int_equal(rs_infer_run(d->m, &mid, &sc, &again, 1, NULL, NULL), 0);
    assert_int_equal(sc.x_cap, cap);
    assert_string_equal(first.body.data, again.body.data);
    rs_buf_free(&first.body);
    rs_buf_free(&again.body);
    bodies_free(all, N_REQ);
    rs_infer_scratch_free(&sc);
}

/* After a batch over keep_rows rows the scratch gives its memory back (merged
 * input and workspace down to keep_rows rows); batches within keep_rows never
 * shrink it, so ordinary traffic does not reallocate. */
static void test_scratch_trim_after_oversized_batch(void **s)
{
    (void)s;
    mlp_model *m = model();
    enum { BIG = 3000, KEEP = 8 };
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_NATIVE), 0);
    /* two requests of BIG/2 rows each, merged */
    rs_request reqs[2];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 2; i++) {
        reqs[i].proto = RS_PROTO_V2;
        reqs[i].rows = BIG / 2;
        reqs[i].diag = RS_DIAG_SUMMARY;
        reqs[i].outputs = RS_OUT_PRIMARY;
        reqs[i].x_count = (size_t)BIG / 2 * 4;
        reqs[i].x = calloc(reqs[i].x_count, sizeof(float));
        assert_non_null(reqs[i].x);
    }
    rs_infer_item items[2];
    items_init(items, reqs, 2);
    assert_int_equal(rs_infer_run(m, &mid, &sc, items, 2, NULL, NULL), 0);
    assert_int_equal(items[0].status, 200);
    size_t ws_big = mlp_workspace_bytes(sc.ws);
    assert_true(sc.x_cap >= (size_t)BIG * 4);

    /* within keep_rows: nothing moves */
    assert_int_equal(rs_infer_scratch_trim(&sc, m, BIG, BIG), 0);
    assert_int_equal(mlp_workspace_bytes(sc.ws), ws_big);

    size_t given = rs_infer_scratch_trim(&sc, m, BIG, KEEP);
    assert_true(given > 0);
    assert_int_equal(sc.x_cap, (size_t)KEEP * 4);
    assert_true(mlp_workspace_bytes(sc.ws) < ws_big / 10);

    /* still serves, with the same answer as a fresh scratch */
    rs_infer_scratch fresh;
    assert_int_equal(rs_infer_scratch_init(&fresh, MLP_KERNEL_NATIVE), 0);
    rs_request one[N_REQ];
    decode_all(m, one);
    rs_infer_item a, b;
    items_init(&a, &one[0], 1);
    items_init(&b, &one[0], 1);
    assert_int_equal(rs_infer_run(m, &mid, &sc, &a, 1, NULL, NULL), 0);
    assert_int_equal(rs_infer_run(m, &mid, &fresh, &b, 1, NULL, NULL), 0);
    assert_string_equal(a.body.data, b.body.data);
    rs_buf_free(&a.body);
    rs_buf_free(&b.body);
    for (int i = 0; i < (int)N_REQ; i++)
        rs_request_free(&one[i]);
    items_free(items, reqs, 2);
    rs_infer_scratch_free(&fresh);
    rs_infer_scratch_free(&sc);
    mlp_model_free(m);
}

/* The server's scratch takes only the kernels that keep a row's bits
 * whatever its batch. */
static void test_scratch_refuses_batch_dependent_kernels(void **s)
{
    (void)s;
    rs_infer_scratch sc;
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_AUTO), -1);
    assert_null(sc.ws);
    assert_int_equal(rs_infer_scratch_init(&sc, MLP_KERNEL_BLAS), -1);
    assert_null(sc.ws);
}

static const mlp_kernel NATIVE = MLP_KERNEL_NATIVE, PORTABLE = MLP_KERNEL_PORTABLE;

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_batch_equals_alone, (void *)&NATIVE),
        cmocka_unit_test_prestate(test_batch_equals_alone, (void *)&PORTABLE),
        cmocka_unit_test_prestate(test_mixed_batches_equal_alone, (void *)&NATIVE),
        cmocka_unit_test_prestate(test_mixed_batches_equal_alone, (void *)&PORTABLE),
        cmocka_unit_test(test_scratch_refuses_batch_dependent_kernels),
        cmocka_unit_test_setup_teardown(test_activity_counts_whole_batch, decoded_setup,
                                        decoded_teardown),
        cmocka_unit_test(test_bad_labels_fail_only_their_item),
        cmocka_unit_test(test_rows_beyond_input_refused),
        cmocka_unit_test_setup_teardown(test_scratch_reuse, decoded_setup, decoded_teardown),
        cmocka_unit_test(test_scratch_trim_after_oversized_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
