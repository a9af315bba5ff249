/*
 * infer — one batch of requests for one model, on the calling pool thread.
 *
 * The rows of every request are stacked into one input matrix (no copy when
 * the batch holds one request) and go through ONE forward pass: that is where
 * batching pays, one X·Wᵀ per layer instead of one per request. The requests
 * that ask for diagnostics then go through ONE backward
 * (mlp_backward_ranges), a row range each with its own loss: the gradient
 * products run once per layer over all their rows, the sums per request over
 * its own rows, as if it had been forwarded alone. Diagnostics and the answer
 * are then made per request, so each request gets exactly the statistics and
 * gradients it would get unbatched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "infer.h"

int rs_infer_scratch_init(rs_infer_scratch *s, mlp_kernel kernel)
{
    *s = (rs_infer_scratch){0};
    /* Both of libmlp's own kernels compute every row in one fixed order
     * whatever the batch (cblas_sgemm does not: OpenBLAS blocks differently
     * with the row count), so a request's outputs and diagnostics are
     * bit-identical however the batcher merged it — the promise of dynamic
     * batching here. AUTO and BLAS would break it. */
    if (kernel != MLP_KERNEL_NATIVE && kernel != MLP_KERNEL_PORTABLE) return -1;
    if (mlp_workspace_create(&s->ws, NULL) != MLP_OK) return -1;
    /* Responses carry gradient norms, never the gradients themselves, so the
     * backward pass skips forming dg/dW (see mlp_workspace_set_param_grads). */
    if (mlp_workspace_set_kernel(s->ws, kernel, NULL) != MLP_OK ||
        mlp_workspace_set_param_grads(s->ws, false, NULL) != MLP_OK) {
        mlp_workspace_free(s->ws);
        s->ws = NULL;
        return -1;
    }
    return 0;
}

void rs_infer_scratch_free(rs_infer_scratch *s)
{
    mlp_workspace_free(s->ws);
    free(s->x);
    free(s->ranges);
    free(s->range_of);
    *s = (rs_infer_scratch){0};
}

size_t rs_infer_scratch_trim(rs_infer_scratch *s, const mlp_model *m, int batch_rows, int keep_rows)
{
    if (batch_rows <= keep_rows || keep_rows < 0) return 0;
    size_t freed = 0, keep_x = (size_t)keep_rows * (size_t)mlp_model_n_inputs(m);
    if (s->x_cap > keep_x) {
        /* realloc to a smaller size may keep the block where it is */
        freed += (s->x_cap - keep_x) * sizeof(float);
        free(s->x);
        s->x = keep_x ? malloc(keep_x * sizeof(float)) : NULL;
        s->x_cap = s->x ? keep_x : 0;
    }
    size_t ws_freed = 0;
    if (mlp_workspace_shrink(s->ws, m, keep_rows, &ws_freed, NULL) == MLP_OK) freed += ws_freed;
#ifdef __GLIBC__
    /* Blocks under glibc's (adaptive, up to 32 MiB) mmap threshold come from
     * an arena, and free() keeps their pages; give them to the system now,
     * once per oversized batch, instead of keeping the peak for life. */
    if (freed > 0) malloc_trim(0);
#endif
    return freed;
}

/* Replaces an item's body with {"error": msg}. */
static void item_fail(rs_infer_item *it, int status, const char *msg)
{
    rs_buf_reset(&it->body);
    rs_encode_error(&it->body, msg);
    it->status = status;
    it->json_len = it->body.len;
}

void rs_infer_fail(rs_infer_item *items, int n, const char *msg)
{
    for (int i = 0; i < n; i++)
        item_fail(&items[i], 500, msg);
}

static int batch_fail(rs_infer_item *items, int n, const char *msg)
{
    rs_infer_fail(items, n, msg);
    return -1;
}

/*
 * The gradient target a request asks for (DESIGN.md "Diagnostics contract"),
 * or 400 with msg when the model has no loss for it (labels on a regression
 * model, any target on a one-softmax-output model) or a value lies outside
 * that loss's domain (binary cross-entropy targets outside [0, 1]). The
 * decoders check shapes and label indices; the loss itself is libmlp's call.
 */
static int request_target(const mlp_model *m, const rs_request *req, mlp_target *t, char *msg,
                          size_t cap)
{
    *t = (mlp_target){.kind = MLP_TARGET_MAX_LOGIT, .labels = NULL, .targets = NULL};
    if (req->labels == NULL && req->targets == NULL) return 0;
    mlp_error e;
    if (mlp_target_select(m, req->labels != NULL, &t->kind, &e) == MLP_OK) {
        t->labels = req->labels;
        t->targets = req->labels != NULL ? NULL : req->targets;
        if (mlp_target_check(m, t, req->rows, &e) == MLP_OK) return 0;
    }
    snprintf(msg, cap, "input '%s': %s", req->labels != NULL ? "labels" : "targets", e.msg);
    return 400;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Room for n requests' ranges; -1 when memory runs out. */
static int ranges_fit(rs_infer_scratch *s, int n)
{
    if ((size_t)n <= s->ranges_cap) return 0;
    mlp_backward_range *r = realloc(s->ranges, (size_t)n * sizeof *r);
    if (r == NULL) return -1;
    s->ranges = r;
    int *of = realloc(s->range_of, (size_t)n * sizeof *of);
    if (of == NULL) return -1;
    s->range_of = of;
    s->ranges_cap = (size_t)n;
    return 0;
}

/* Whether req's answer carries dg/dX: the "full" diagnostics object, or the
 * input_gradient tensor. Only those requests pay for the layer-0 product. */
static bool wants_input_grad(const rs_request *req)
{
    return req->diag == RS_DIAG_FULL || (req->outputs & RS_OUT_INPUT_GRADIENT) != 0;
}

/* s->range_of[i] for a request without a range: no diagnostics asked, or
 * answered already (its 400). */
enum { NO_RANGE = -1, ANSWERED = -2 };

/*
 * The backward of every request that asks for diagnostics, in one
 * mlp_backward_ranges call: s->range_of[i] gets request i's range, NO_RANGE,
 * or ANSWERED for a target the model has no loss for (answered 400 here,
 * with or without diagnostics, as alone). Returns 0, or -1 when the backward
 * failed, with msg (every request with a range then fails with it).
 */
static int batch_backward(const mlp_model *m, rs_infer_scratch *s, rs_infer_item *items, int n,
                          char *msg, size_t cap)
{
    int k = 0, row0 = 0;
    for (int i = 0; i < n; i++) {
        const rs_request *req = items[i].req;
        s->range_of[i] = NO_RANGE;
        mlp_target t;
        int bad = request_target(m, req, &t, msg, cap);
        if (bad) {
            item_fail(&items[i], bad, msg);
            s->range_of[i] = ANSWERED;
        } else if (req->diag != RS_DIAG_NONE) {
            s->ranges[k] = (mlp_backward_range){
                .row0 = row0, .n = req->rows, .target = t, .input_grad = wants_input_grad(req)};
            s->range_of[i] = k++;
        }
        row0 += req->rows;
    }
    mlp_error e;
    if (k == 0 || mlp_backward_ranges(m, s->ws, s->ranges, k, NULL, &e) == MLP_OK) return 0;
    snprintf(msg, cap, "diagnostics failed: %s", e.msg);
    return -1;
}

int rs_infer_run(const mlp_model *m, const rs_model_id *mid, rs_infer_scratch *s,
                 rs_infer_item *items, int n, const mlp_diag_params *dp, mlp_activity *activity)
{
    s->input_ns = s->infer_ns = s->output_ns = 0;
    if (n <= 0) return 0;
    uint64_t t0 = mono_ns();
    size_t width = (size_t)mlp_model_n_inputs(m);
    long long total = 0;
    for (int i = 0; i < n; i++) {
        const rs_request *req = items[i].req;
        /* x holds x_count values (rs_request_bind); the forward pass reads
         * rows x n_inputs of them, so the two must agree. */
        if (req->rows < 1 || req->x_count != (size_t)req->rows * width)
            return batch_fail(items, n, "a request's input does not hold rows x n_inputs values");
        total += req->rows;
    }
    if (total > (1 << 30)) return batch_fail(items, n, "batch has an impossible row count");

    /* The merged input: the request's own buffer when it is alone. */
    const float *x = items[0].req->x;
    if (n > 1) {
        size_t need = (size_t)total * width;
        if (need > s->x_cap) {
            float *p = realloc(s->x, need * sizeof(float));
            if (p == NULL) return batch_fail(items, n, "out of memory for the batch input");
            s->x = p;
            s->x_cap = need;
        }
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(s->x + off, items[i].req->x, items[i].req->x_count * sizeof(float));
            off += items[i].req->x_count;
        }
        x = s->x;
    }

    uint64_t t1 = mono_ns();
    s->input_ns = t1 - t0;
    mlp_error e;
    mlp_status st = mlp_forward(m, s->ws, x, (int)total, NULL, &e);
    if (st != MLP_OK) {
        char msg[640];
        snprintf(msg, sizeof msg, "forward pass failed: %s", e.msg);
        return batch_fail(items, n, msg);
    }
    /* The counters were made for this model (rs_monitor), so adding cannot
     * fail; if it ever did, the activity statistics would miss a batch,
     * never the response. */
    if (activity != NULL) (void)mlp_activity_add(activity, s->ws, 0, (int)total, NULL);

    /* The output buffer belongs to ws and is overwritten by nothing below
     * (backward and diagnose leave the forward results in place). */
    const float *y = mlp_workspace_output(s->ws);
    uint64_t t2 = mono_ns();
    s->infer_ns = t2 - t1;
    if (ranges_fit(s, n) < 0) return batch_fail(items, n, "out of memory for the batch ranges");
    char msg[640];
    bool backward_failed = batch_backward(m, s, items, n, msg, sizeof msg) < 0;
    for (int i = 0, row0 = 0; i < n; row0 += items[i].req->rows, i++) {
        rs_infer_item *it = &items[i];
        const rs_request *req = it->req;
        int range = s->range_of[i];
        if (range == ANSWERED) continue;
        mlp_diagnostics d;
        const mlp_diagnostics *dptr = NULL;
        if (range >= 0) {
            if (backward_failed) {
                item_fail(it, 500, msg);
                continue;
            }
            if (mlp_diagnose_range(m, s->ws, range, dp, &d, &e) != MLP_OK) {
                snprintf(msg, sizeof msg, "diagnostics failed: %s", e.msg);
                item_fail(it, 500, msg);
                continue;
            }
            dptr = &d;
        }
        rs_buf_reset(&it->body);
        const float *yi = y + (size_t)row0 * (size_t)mlp_model_n_outputs(m);
        /* The request's rows of every Z_l, for parameters.preactivations. */
        const float *z[MLP_MAX_LAYERS];
        for (int l = 0; l < mlp_model_n_layers(m); l++)
            z[l] = mlp_workspace_preactivation(s->ws, l) +
                   (size_t)row0 * (size_t)mlp_model_layer(m, l)->out;
        int status = rs_encode_response(&it->body, mid, m, req, yi, dptr, z, &it->json_len);
        if (status != 0)
            item_fail(it, status, "could not encode the response (out of memory)");
        else
            it->status = 200;
    }
    s->output_ns = mono_ns() - t2;
    return 0;
}
