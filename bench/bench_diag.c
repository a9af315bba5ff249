/*
 * bench_diag — diagnostics of a merged batch: one backward per request (how
 * the server ran until issue 9) against one mlp_backward_ranges over all of
 * them, in the same run.
 *
 * Models 4-16-16-3 and 784-512-512-10 (ReLU hidden layers, softmax output,
 * He-normal weights, seed 1), batches of R requests of `rows` rows each. The
 * workspace is set up as the server's (MLP_KERNEL_NATIVE, norms-only
 * backward). Per batch, in microseconds:
 *   - forward:     mlp_forward over all rows (what diagnostics "none" costs);
 *   - per request: forward, then per request mlp_backward over its rows and
 *                  mlp_diagnose (the old way; dg/dX always formed);
 *   - ranges sum:  forward, mlp_backward_ranges (one range per request, no
 *                  dg/dX, as for "summary"), mlp_diagnose_range per request;
 *   - ranges full: the same with dg/dX for every request (as for "full").
 * "per req/ranges" is the old time over the new one (> 1: faster now), and
 * "sum/fwd" is what summary diagnostics cost relative to none (the HTTP
 * target of issue 9 is >= 0.5 in throughput, i.e. sum/fwd <= 2 here plus the
 * HTTP costs both share).
 *
 *     build/bench/bench_diag [--quick]
 *
 * Exits 1 if a call fails or if the two ways disagree on any request's
 * diagnostics (bit for bit) — never on speed. Timing: bench_timer.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_model.h"
#include "bench_timer.h"
#include "mlp.h"

typedef struct {
    const mlp_model *m;
    mlp_workspace *ws;
    const float *x;
    int requests, rows; /* requests of `rows` rows each */
    mlp_backward_range *ranges;
    bool input_grad;
    mlp_status status; /* first failure, if any */
    double sink;       /* keeps the diagnostics read */
} diag_ctx;

static void fail_if(diag_ctx *c, mlp_status s)
{
    if (s != MLP_OK && c->status == MLP_OK) c->status = s;
}

static void run_forward(void *p)
{
    diag_ctx *c = p;
    fail_if(c, mlp_forward(c->m, c->ws, c->x, c->requests * c->rows, NULL, NULL));
}

static void run_per_request(void *p)
{
    diag_ctx *c = p;
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    fail_if(c, mlp_forward(c->m, c->ws, c->x, c->requests * c->rows, NULL, NULL));
    for (int r = 0; r < c->requests; r++) {
        mlp_diagnostics d;
        fail_if(c, mlp_backward(c->m, c->ws, r * c->rows, c->rows, &t, NULL, NULL));
        fail_if(c, mlp_diagnose(c->m, c->ws, NULL, &d, NULL));
        c->sink += d.gradient_ratio;
    }
}

static void run_ranges(void *p)
{
    diag_ctx *c = p;
    fail_if(c, mlp_forward(c->m, c->ws, c->x, c->requests * c->rows, NULL, NULL));
    for (int r = 0; r < c->requests; r++)
        c->ranges[r] = (mlp_backward_range){.row0 = r * c->rows,
                                            .n = c->rows,
                                            .target = {.kind = MLP_TARGET_MAX_LOGIT},
                                            .input_grad = c->input_grad};
    fail_if(c, mlp_backward_ranges(c->m, c->ws, c->ranges, c->requests, NULL, NULL));
    for (int r = 0; r < c->requests; r++) {
        mlp_diagnostics d;
        fail_if(c, mlp_diagnose_range(c->m, c->ws, r, NULL, &d, NULL));
        c->sink += d.gradient_ratio;
    }
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Every request's gradient norms and loss: the two ways must agree bit for
 * bit (the server's batch invariance). */
static int check_same(diag_ctx *old, diag_ctx *now)
{
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    run_ranges(now);
    if (now->status != MLP_OK) return 1;
    fail_if(old, mlp_forward(old->m, old->ws, old->x, old->requests * old->rows, NULL, NULL));
    for (int r = 0; r < old->requests; r++) {
        mlp_diagnostics a, b;
        fail_if(old, mlp_backward(old->m, old->ws, r * old->rows, old->rows, &t, NULL, NULL));
        fail_if(old, mlp_diagnose(old->m, old->ws, NULL, &a, NULL));
        fail_if(now, mlp_diagnose_range(now->m, now->ws, r, NULL, &b, NULL));
        if (old->status != MLP_OK || now->status != MLP_OK) return 1;
        for (int l = 0; l < a.n_layers; l++) {
            const mlp_layer_diag *x = &a.layers[l], *y = &b.layers[l];
            if (!same_bits(x->weight_grad_norm, y->weight_grad_norm) ||
                !same_bits(x->bias_grad_norm, y->bias_grad_norm) ||
                !same_bits(x->activation_grad_norm, y->activation_grad_norm) ||
                x->n_dead != y->n_dead || !same_bits(x->sparsity, y->sparsity))
                return 1;
        }
    }
    return 0;
}

static int bench_model(const int *units, int n_layers, int n_inputs, int samples, double sample_us)
{
    static const struct {
        int requests, rows;
    } shapes[] = {{1, 1}, {8, 1}, {64, 1}, {16, 4}};
    const int max_rows = 64;
    mlp_model *m = bench_model_create("bench_diag", units, n_layers, n_inputs);
    if (!m) return 1;
    float *x = bench_inputs(max_rows, n_inputs);
    mlp_backward_range *ranges = malloc(sizeof *ranges * (size_t)max_rows);
    mlp_workspace *ws[4] = {NULL};
    if (!x || !ranges) return 1;
    for (int i = 0; i < 4; i++)
        if (mlp_workspace_create(&ws[i], NULL) != MLP_OK ||
            mlp_workspace_reserve(ws[i], m, max_rows, NULL) != MLP_OK ||
            mlp_workspace_set_kernel(ws[i], MLP_KERNEL_NATIVE, NULL) != MLP_OK ||
            mlp_workspace_set_param_grads(ws[i], false, NULL) != MLP_OK) {
            fprintf(stderr, "bench_diag: out of memory\n");
            return 1;
        }

    bench_model_title(units, n_layers, n_inputs);
    printf(", us per batch\n");
    printf("%8s %5s %10s %12s %12s %12s %14s %8s\n", "requests", "rows", "forward", "per request",
           "ranges sum", "ranges full", "per req/ranges", "sum/fwd");
    int fail = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int R = shapes[si].requests, rows = shapes[si].rows;
        diag_ctx fwd = {m, ws[0], x, R, rows, ranges, false, MLP_OK, 0.0};
        diag_ctx old = {m, ws[1], x, R, rows, ranges, false, MLP_OK, 0.0};
        diag_ctx sum = {m, ws[2], x, R, rows, ranges, false, MLP_OK, 0.0};
        diag_ctx full = {m, ws[3], x, R, rows, ranges, true, MLP_OK, 0.0};
        if (check_same(&old, &sum) || check_same(&old, &full)) {
            printf("  MISMATCH or failure at %d x %d rows\n", R, rows);
            fail = 1;
        }
        bench_case cases[4] = {{.fn = run_forward, .ctx = &fwd},
                               {.fn = run_per_request, .ctx = &old},
                               {.fn = run_ranges, .ctx = &sum},
                               {.fn = run_ranges, .ctx = &full}};
        bench_run(cases, 4, samples, sample_us);
        if (fwd.status || old.status || sum.status || full.status) {
            printf("  FAILED at %d x %d rows\n", R, rows);
            fail = 1;
        }
        printf("%8d %5d %10.2f %12.2f %12.2f %12.2f %14.2f %8.2f\n", R, rows, cases[0].median_us,
               cases[1].median_us, cases[2].median_us, cases[3].median_us,
               cases[1].median_us / cases[2].median_us, cases[2].median_us / cases[0].median_us);
    }
    for (int i = 0; i < 4; i++)
        mlp_workspace_free(ws[i]);
    mlp_model_free(m);
    free(x);
    free(ranges);
    return fail;
}

int main(int argc, char **argv)
{
    printf("diagnostics of a merged batch: per-request backward vs mlp_backward_ranges "
           "(own kernels, norms-only); ");
    return bench_models_main(argc, argv, bench_model);
}
