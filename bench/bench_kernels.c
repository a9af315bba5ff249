/*
 * bench_kernels — our two kernels against cblas_sgemm, and where BLAS
 * overtakes the portable one.
 *
 * For each layer shape (in -> out) of the example models and a ladder of row
 * counts, times Z = X·Wᵀ + b with mlp_dense_portable, mlp_dense_native (the
 * best ISA of this CPU, named in the header) and mlp_dense_blas
 * (single-threaded OpenBLAS), interleaved in the same run, and prints the
 * three, the portable/BLAS and native/BLAS time ratios, the first row count
 * from which BLAS stays faster than the portable kernel (the measured
 * crossover) and what mlp_kernel_crossover_rows() encodes for the shape. The
 * rule in lib/kernels.c cites this program's output. Then the same for the
 * two backward products together (dW = dZᵀ·A and dA = dZ·W, one layer's share
 * of mlp_backward) against what mlp_grad_uses_blas(AUTO) picks.
 *
 *     build/bench/bench_kernels [--quick]
 *
 * Exits 1 only if the kernels disagree beyond float32 tolerance.
 */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timer.h"
#include "kernels.h"

typedef struct {
    const float *x, *w, *b;
    float *z;
    int n, in, out;
    mlp_native_layer w_packed; /* W as the model keeps it for the native forward */
} dense_ctx;

static void run_portable(void *p)
{
    dense_ctx *c = p;
    mlp_dense_portable(c->x, c->n, c->in, c->w, c->b, c->out, c->z);
}

/* As mlp_forward runs it: on the weights the model keeps packed
 * (mlp_native_weights), not packing W at every call. */
static void run_native(void *p)
{
    dense_ctx *c = p;
    if (c->w_packed.packed)
        mlp_dense_native_packed(mlp_native_isa_best(), c->x, c->n, c->in, c->w_packed, c->b, c->out,
                                c->z);
    else
        mlp_dense_native(mlp_native_isa_best(), c->x, c->n, c->in, c->w, c->b, c->out, c->z);
}

static void run_blas(void *p)
{
    dense_ctx *c = p;
    mlp_dense_blas(c->x, c->n, c->in, c->w, c->b, c->out, c->z);
}

/* Both backward products of one layer: x plays dZ (n x out, the first
 * n*out floats), w plays W and A (n x in, the first n*in floats), z receives
 * dW and then dA. */
static void run_grad_portable(void *p)
{
    dense_ctx *c = p;
    mlp_grad_weights_portable(c->x, c->w, c->n, c->in, c->out, c->z);
    mlp_grad_inputs_portable(c->x, c->w, c->n, c->in, c->out, c->z);
}

static void run_grad_native(void *p)
{
    dense_ctx *c = p;
    mlp_native_isa isa = mlp_native_isa_best();
    mlp_grad_weights_native(isa, c->x, c->w, c->n, c->in, c->out, c->z);
    mlp_grad_inputs_native(isa, c->x, c->w, c->n, c->in, c->out, true, c->z);
}

static void run_grad_blas(void *p)
{
    dense_ctx *c = p;
    mlp_grad_weights_blas(c->x, c->w, c->n, c->in, c->out, c->z);
    mlp_grad_inputs_blas(c->x, c->w, c->n, c->in, c->out, c->z);
}

static void fill(mlp_rng *r, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * mlp_rng_uniform(r) - 1.0);
}

/* Largest |ours - blas| of Z = X·Wᵀ + b, over the square root of the summed
 * length, for the portable (native false) or native kernel. */
static double max_disagreement(const dense_ctx *c, bool native, float *z_own, float *z_blas)
{
    if (native && c->w_packed.packed)
        mlp_dense_native_packed(mlp_native_isa_best(), c->x, c->n, c->in, c->w_packed, c->b, c->out,
                                z_own);
    else if (native)
        mlp_dense_native(mlp_native_isa_best(), c->x, c->n, c->in, c->w, c->b, c->out, z_own);
    else
        mlp_dense_portable(c->x, c->n, c->in, c->w, c->b, c->out, z_own);
    mlp_dense_blas(c->x, c->n, c->in, c->w, c->b, c->out, z_blas);
    double worst = 0.0;
    for (size_t i = 0; i < (size_t)c->n * (size_t)c->out; i++) {
        double d = fabs((double)z_own[i] - (double)z_blas[i]) / sqrt((double)c->in);
        if (d > worst) worst = d;
    }
    return worst;
}

/* The same for the two backward products (summed lengths n for dW, out for dA). */
static double grad_disagreement(const dense_ctx *c, bool native, float *g_own, float *g_blas)
{
    size_t nw = (size_t)c->out * (size_t)c->in, na = (size_t)c->n * (size_t)c->in;
    if (native) {
        mlp_native_isa isa = mlp_native_isa_best();
        mlp_grad_weights_native(isa, c->x, c->w, c->n, c->in, c->out, g_own);
        mlp_grad_inputs_native(isa, c->x, c->w, c->n, c->in, c->out, true, g_own + nw);
    } else {
        mlp_grad_weights_portable(c->x, c->w, c->n, c->in, c->out, g_own);
        mlp_grad_inputs_portable(c->x, c->w, c->n, c->in, c->out, g_own + nw);
    }
    mlp_grad_weights_blas(c->x, c->w, c->n, c->in, c->out, g_blas);
    mlp_grad_inputs_blas(c->x, c->w, c->n, c->in, c->out, g_blas + nw);
    double worst = 0.0;
    for (size_t i = 0; i < nw + na; i++) {
        double d = fabs((double)g_own[i] - (double)g_blas[i]) / sqrt(i < nw ? c->n : c->out);
        if (d > worst) worst = d;
    }
    return worst;
}

/* One product measured three ways: portable, native and BLAS kernels. */
typedef struct {
    bench_fn run[3];
    /* |own - BLAS| / sqrt(norm) of the portable or native kernel's result */
    double (*disagreement)(const dense_ctx *c, bool native, float *own, float *blas);
    const char *norm;
    double flops_per_mac; /* 2 for the forward, 4 for dW and dA together */
} product;

/*
 * Checks the portable and native kernels against BLAS on c (a mismatch is
 * printed and sets *fail), times the three interleaved, and prints the
 * common columns of the row (no newline: the caller may add its own).
 * t[0..2]: the portable, native and BLAS medians, us.
 */
static void measure(const product *p, dense_ctx *c, float *own, float *blas, int samples,
                    double sample_us, double t[3], int *fail)
{
    for (int native = 0; native < 2; native++) {
        double d = p->disagreement(c, native, own, blas);
        if (!(d < 1e-5)) {
            printf("  MISMATCH at %d rows: |%s - blas| / sqrt(%s) = %g\n", c->n,
                   native ? "native" : "portable", p->norm, d);
            *fail = 1;
        }
    }
    bench_case cases[3];
    for (int i = 0; i < 3; i++)
        cases[i] = (bench_case){.fn = p->run[i], .ctx = c};
    bench_run(cases, 3, samples, sample_us);
    for (int i = 0; i < 3; i++)
        t[i] = cases[i].median_us;
    double gf = p->flops_per_mac * c->n * c->in * c->out * 1e-3;
    printf("%6d %10.3f %10.3f %10.3f %9.2f %9.2f %8.2f %8.2f %8.2f", c->n, t[0], t[1], t[2],
           t[0] / t[2], t[1] / t[2], gf / t[0], gf / t[1], gf / t[2]);
}

static const product forward = {{run_portable, run_native, run_blas}, max_disagreement, "in", 2.0};
static const product backward = {
    {run_grad_portable, run_grad_native, run_grad_blas}, grad_disagreement, "length", 4.0};

int main(int argc, char **argv)
{
    bench_sampling sm = bench_sampling_from_args(argc, argv);
    static const int shapes[][2] = {{4, 16}, {16, 16}, {16, 3}, {784, 512}, {512, 512}, {512, 10}};
    static const int rows[] = {1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256};
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    const int n_rows = (int)(sizeof rows / sizeof rows[0]);
    const int max_rows = 256;
    int samples = sm.samples;
    double sample_us = sm.sample_us;

    openblas_set_num_threads(1);
    mlp_rng rng;
    mlp_rng_seed(&rng, 1);
    float *x = malloc(sizeof(float) * (size_t)max_rows * 784);
    float *w = malloc(sizeof(float) * 784 * 512);
    float *b = malloc(sizeof(float) * 512);
    float *z = malloc(sizeof(float) * (size_t)max_rows * 512);
    float *z2 = malloc(sizeof(float) * (size_t)max_rows * 512);
    /* dW and dA of the widest layer, twice (own and BLAS) */
    size_t g_len = (size_t)784 * 512 + (size_t)max_rows * 784;
    float *g = malloc(sizeof(float) * g_len), *g2 = malloc(sizeof(float) * g_len);
    if (!x || !w || !b || !z || !z2 || !g || !g2) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    fill(&rng, x, (size_t)max_rows * 784);
    fill(&rng, w, 784 * 512);
    fill(&rng, b, 512);

    printf("dense layer Z = X·Wᵀ + b: portable and native (%s) kernels vs cblas_sgemm (1 "
           "thread), us per call (median of %d interleaved samples of ~%.1f ms)\n",
           mlp_kernel_native_isa(), samples, sample_us / 1000.0);
    int fail = 0;
    for (int s = 0; s < n_shapes; s++) {
        int in = shapes[s][0], out = shapes[s][1];
        printf("\nshape %d -> %d\n%6s %10s %10s %10s %9s %9s %8s %8s %8s\n", in, out, "rows",
               "port_us", "native_us", "blas_us", "port/blas", "nat/blas", "port_GF", "nat_GF",
               "blas_GF");
        int crossover = 0; /* first row count from which BLAS stays faster */
        /* A one-layer model holding w and b, for the weights it keeps packed */
        mlp_native_isa isa = mlp_native_isa_best();
        mlp_layer_spec spec = {out, MLP_ACT_IDENTITY, 0.0f};
        mlp_model *layer = NULL;
        float *params = malloc(sizeof(float) * ((size_t)in * out + (size_t)out));
        if (!params || mlp_model_create(in, &spec, 1, &layer, NULL) != MLP_OK) {
            fprintf(stderr, "bench_kernels: out of memory\n");
            return 1;
        }
        memcpy(params, w, sizeof(float) * (size_t)in * out);
        memcpy(params + (size_t)in * out, b, sizeof(float) * (size_t)out);
        mlp_model_set_params(layer, params, (size_t)in * out + (size_t)out, NULL);
        free(params);
        for (int r = 0; r < n_rows; r++) {
            dense_ctx c = {x, w, b, z, rows[r], in, out, mlp_native_weights(layer, isa, 0)};
            double t[3];
            measure(&forward, &c, z, z2, samples, sample_us, t, &fail);
            printf("\n");
            if (t[2] < t[0]) {
                if (!crossover) crossover = rows[r];
            } else {
                crossover = 0;
            }
        }
        if (crossover)
            printf("measured crossover: BLAS faster than portable from %d rows on", crossover);
        else
            printf("measured crossover: portable kernel faster up to %d rows", max_rows);
        printf("; mlp_kernel_crossover_rows(%d, %d) = %d\n", in, out,
               mlp_kernel_crossover_rows(in, out));
        mlp_model_free(layer);
    }

    printf("\nbackward products dW = dZᵀ·A and dA = dZ·W of one layer, both per call: portable "
           "and native kernels vs cblas_sgemm (1 thread), us\n");
    for (int s = 0; s < n_shapes; s++) {
        int in = shapes[s][0], out = shapes[s][1];
        printf("\nshape %d -> %d\n%6s %10s %10s %10s %9s %9s %8s %8s %8s %5s\n", in, out, "rows",
               "port_us", "native_us", "blas_us", "port/blas", "nat/blas", "port_GF", "nat_GF",
               "blas_GF", "auto");
        for (int r = 0; r < n_rows; r++) {
            dense_ctx c = {x, w, b, g, rows[r], in, out, {0}};
            double t[3];
            measure(&backward, &c, g, g2, samples, sample_us, t, &fail);
            printf(" %5s\n",
                   mlp_grad_uses_blas(MLP_KERNEL_AUTO, rows[r], in, out) ? "blas" : "port");
        }
    }
    free(g);
    free(g2);
    free(x);
    free(w);
    free(b);
    free(z);
    free(z2);
    return fail;
}
