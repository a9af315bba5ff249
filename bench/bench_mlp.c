/*
 * bench_mlp — libmlp forward speed against a hand-written cblas_sgemm chain.
 *
 * Models 4-16-16-3 and 784-512-512-10 (ReLU hidden layers, softmax output,
 * He-normal weights from mlp_model_init, seed 1) at batch 1, 8, 64 and 256.
 * For each: microseconds per forward batch and GFLOP/s (2 flops per
 * multiply-add, mlp_model_flops counts multiply-adds) of
 *   - mlp_forward with the AUTO kernel choice (the fastest),
 *   - the baseline measured in the same run: per layer, Z pre-filled with the
 *     bias, one cblas_sgemm (beta = 1), a ReLU loop in place, and a softmax on
 *     the last layer — the plain chain anyone would write by hand,
 *   - mlp_forward forced to each kernel (mlp_workspace_set_kernel): NATIVE
 *     (the FMA kernels, what the server runs by default), PORTABLE (the
 *     library's default, what training and `serve --kernel portable` run)
 *     and BLAS, to show where the crossover lies; "port/chain" is
 *     PORTABLE's time over the chain's, "nat/chain" NATIVE's over the
 *     chain's timed in a pair of their own (the native forward reads a
 *     packed copy of the weights that the other cases would keep cold),
 *   - forward + backward (max-logit target, all rows) + mlp_diagnose, the
 *     work of one inference request with summary diagnostics, under AUTO,
 *     with the full parameter gradient ("f+b+d full") and in norms-only mode
 *     (mlp_workspace_set_param_grads false, "f+b+d norms"), which is what
 *     a server needs for its gradient-norm diagnostics.
 * "auto/chain" is time over the chain's time: < 1 is faster. Aims (issue 2
 * for auto, issue 9 for native): <= 1.10 from batch 64 on, < 1 at batch 1.
 *
 *     build/bench/bench_mlp [--quick]
 *
 * OpenBLAS runs single-threaded, as in the server (one job per pool thread).
 * Timing: bench_timer.h (median of samples after a warm-up). Exits 1 only if
 * mlp_forward and the chain disagree or a call fails — never on speed.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_model.h"
#include "bench_timer.h"
#include "mlp.h"

/* The baseline: one sgemm per layer plus the loops a hand-written forward
 * needs. a0/a1 are ping-pong buffers of n x max_units floats. */
typedef struct {
    const mlp_model *m;
    const float *x;
    int n;
    float *a0, *a1;
    const float *y; /* where the last chain left its output */
} chain_ctx;

static void chain_forward(void *p)
{
    chain_ctx *c = p;
    const mlp_model *m = c->m;
    const float *in = c->x;
    float *bufs[2] = {c->a0, c->a1};
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        const mlp_layer *ly = mlp_model_layer(m, l);
        float *z = bufs[l % 2];
        const float *b = mlp_layer_bias(m, l);
        for (int i = 0; i < c->n; i++)
            memcpy(z + (size_t)i * ly->out, b, sizeof(float) * (size_t)ly->out);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->n, ly->out, ly->in, 1.0f, in,
                    ly->in, mlp_layer_weight(m, l), ly->in, 1.0f, z, ly->out);
        size_t count = (size_t)c->n * (size_t)ly->out;
        if (ly->activation == MLP_ACT_RELU) {
            for (size_t k = 0; k < count; k++)
                z[k] = z[k] > 0.0f ? z[k] : 0.0f;
        } else if (ly->activation == MLP_ACT_SOFTMAX) {
            for (int i = 0; i < c->n; i++) {
                float *r = z + (size_t)i * ly->out, mx = r[0], s = 0.0f;
                for (int j = 1; j < ly->out; j++)
                    mx = r[j] > mx ? r[j] : mx;
                for (int j = 0; j < ly->out; j++)
                    s += r[j] = expf(r[j] - mx);
                for (int j = 0; j < ly->out; j++)
                    r[j] /= s;
            }
        }
        in = z;
    }
    c->y = in;
}

typedef struct {
    const mlp_model *m;
    mlp_workspace *ws;
    const float *x;
    int n;
    mlp_status status; /* first failure, if any */
} lib_ctx;

static void lib_forward(void *p)
{
    lib_ctx *c = p;
    mlp_status s = mlp_forward(c->m, c->ws, c->x, c->n, NULL, NULL);
    if (s != MLP_OK) c->status = s;
}

static void lib_request(void *p)
{
    lib_ctx *c = p;
    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    mlp_diagnostics d;
    mlp_status s = mlp_forward(c->m, c->ws, c->x, c->n, NULL, NULL);
    if (s == MLP_OK) s = mlp_backward(c->m, c->ws, 0, c->n, &t, NULL, NULL);
    if (s == MLP_OK) s = mlp_diagnose(c->m, c->ws, NULL, &d, NULL);
    if (s != MLP_OK) c->status = s;
}

static int bench_model(const int *units, int n_layers, int n_inputs, int samples, double sample_us)
{
    static const int batches[] = {1, 8, 64, 256};
    const int max_batch = 256;
    mlp_model *m = bench_model_create("bench_mlp", units, n_layers, n_inputs);
    if (!m) return 1;

    size_t na = (size_t)max_batch * (size_t)mlp_model_max_units(m);
    float *x = bench_inputs(max_batch, n_inputs);
    float *a0 = malloc(sizeof(float) * na), *a1 = malloc(sizeof(float) * na);
    mlp_workspace *ws = NULL, *ws_own = NULL, *ws_blas = NULL, *ws_norms = NULL, *ws_nat = NULL;
    if (!x || !a0 || !a1 || mlp_workspace_create(&ws, NULL) != MLP_OK ||
        mlp_workspace_create(&ws_own, NULL) != MLP_OK ||
        mlp_workspace_create(&ws_blas, NULL) != MLP_OK ||
        mlp_workspace_create(&ws_norms, NULL) != MLP_OK ||
        mlp_workspace_create(&ws_nat, NULL) != MLP_OK ||
        mlp_workspace_reserve(ws_nat, m, max_batch, NULL) != MLP_OK ||
        mlp_workspace_reserve(ws, m, max_batch, NULL) != MLP_OK ||
        mlp_workspace_reserve(ws_own, m, max_batch, NULL) != MLP_OK ||
        mlp_workspace_reserve(ws_blas, m, max_batch, NULL) != MLP_OK ||
        mlp_workspace_reserve(ws_norms, m, max_batch, NULL) != MLP_OK) {
        fprintf(stderr, "bench_mlp: out of memory\n");
        return 1;
    }
    mlp_workspace_set_kernel(ws_own, MLP_KERNEL_PORTABLE, NULL);
    mlp_workspace_set_kernel(ws_blas, MLP_KERNEL_BLAS, NULL);
    mlp_workspace_set_kernel(ws_nat, MLP_KERNEL_NATIVE, NULL);
    mlp_workspace_set_kernel(ws_norms, MLP_KERNEL_AUTO, NULL);
    mlp_workspace_set_param_grads(ws_norms, false, NULL);

    bench_model_title(units, n_layers, n_inputs);
    printf(", us per forward batch, GFLOP/s in brackets\n");
    printf("%5s %16s %16s %10s %16s %9s %16s %10s %16s %12s %12s\n", "batch", "auto", "sgemm chain",
           "auto/chain", "native forced", "nat/chain", "portable forced", "port/chain",
           "blas forced", "f+b+d full", "f+b+d norms");
    int fail = 0;
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        int n = batches[bi];
        double gflop = 2.0 * mlp_model_flops(m, n) * 1e-3; /* per us -> GFLOP/s */
        chain_ctx cc = {m, x, n, a0, a1, NULL};
        lib_ctx lc = {m, ws, x, n, MLP_OK};

        /* Same answers first: the chain and mlp_forward must agree. */
        chain_forward(&cc);
        mlp_workspace_set_kernel(ws, MLP_KERNEL_AUTO, NULL);
        lib_forward(&lc);
        const float *y = mlp_workspace_output(ws);
        double worst = 0.0;
        for (size_t k = 0; k < (size_t)n * (size_t)mlp_model_n_outputs(m); k++)
            worst = fmax(worst, fabs((double)y[k] - (double)cc.y[k]));
        if (lc.status != MLP_OK || !(worst < 1e-4)) {
            printf("  MISMATCH at batch %d: status %s, max |mlp - chain| = %g\n", n,
                   mlp_status_str(lc.status), worst);
            fail = 1;
        }

        /* Each case has its own context: the kernel choice lives in the
         * workspace, so every forced kernel needs a workspace of its own. */
        lib_ctx own = {m, ws_own, x, n, MLP_OK}, blas = {m, ws_blas, x, n, MLP_OK};
        lib_ctx nat = {m, ws_nat, x, n, MLP_OK};
        lib_ctx req = {m, ws, x, n, MLP_OK}, req_norms = {m, ws_norms, x, n, MLP_OK};
        bench_case cases[6] = {
            {.fn = lib_forward, .ctx = &lc},  {.fn = chain_forward, .ctx = &cc},
            {.fn = lib_forward, .ctx = &own}, {.fn = lib_forward, .ctx = &blas},
            {.fn = lib_request, .ctx = &req}, {.fn = lib_request, .ctx = &req_norms}};
        bench_run(cases, 6, samples, sample_us);
        double t_auto = cases[0].median_us, t_chain = cases[1].median_us;
        double t_own = cases[2].median_us, t_blas = cases[3].median_us;
        double t_req = cases[4].median_us, t_norms = cases[5].median_us;
        /* The native forward reads the model's packed copy of the weights,
         * every other case the model's own: among five cases that keep those
         * warm, it would be the one reading from a colder cache. So it races
         * the chain alone, each with one copy of the weights, interleaved. */
        bench_case pair[2] = {{.fn = lib_forward, .ctx = &nat}, {.fn = chain_forward, .ctx = &cc}};
        bench_run(pair, 2, samples, sample_us);
        double t_nat = pair[0].median_us, t_nat_chain = pair[1].median_us;
        mlp_status st = lc.status != MLP_OK     ? lc.status
                        : own.status != MLP_OK  ? own.status
                        : blas.status != MLP_OK ? blas.status
                        : req.status != MLP_OK  ? req.status
                        : nat.status != MLP_OK  ? nat.status
                                                : req_norms.status;
        if (st != MLP_OK) {
            printf("  FAILED at batch %d: %s\n", n, mlp_status_str(st));
            fail = 1;
        }
        printf("%5d %9.2f [%4.1f] %9.2f [%4.1f] %10.2f %9.2f [%4.1f] %9.2f %9.2f [%4.1f] %10.2f "
               "%9.2f [%4.1f] %12.2f %12.2f\n",
               n, t_auto, gflop / t_auto, t_chain, gflop / t_chain, t_auto / t_chain, t_nat,
               gflop / t_nat, t_nat / t_nat_chain, t_own, gflop / t_own, t_own / t_chain, t_blas,
               gflop / t_blas, t_req, t_norms);
    }
    mlp_workspace_free(ws);
    mlp_workspace_free(ws_own);
    mlp_workspace_free(ws_blas);
    mlp_workspace_free(ws_norms);
    mlp_workspace_free(ws_nat);
    mlp_model_free(m);
    free(x);
    free(a0);
    free(a1);
    return fail;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    printf("libmlp forward vs a cblas_sgemm chain (OpenBLAS, 1 thread); native kernel: %s; ",
           mlp_kernel_native_isa());
    return bench_models_main(argc, argv, bench_model);
}
