/*
 * bench_kernels — where cblas_sgemm overtakes our own kernels.
 *
 * For each layer shape (in -> out) of the example models and a ladder of row
 * counts, times Z = X·Wᵀ + b with mlp_dense_own and mlp_dense_blas
 * (single-threaded OpenBLAS) and prints both, their ratio, the first row count
 * from which BLAS stays faster (the measured crossover) and what
 * mlp_kernel_crossover_rows() encodes for the shape. The rule in
 * lib/kernels.c cites this program's output. Then the same for the two
 * backward products together (dW = dZᵀ·A and dA = dZ·W, one layer's share of
 * mlp_backward) against what mlp_grad_uses_blas(AUTO) picks.
 *
 *     build/bench/bench_kernels [--quick]
 *
 * Exits 1 only if the two kernels disagree beyond float32 tolerance.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timer.h"
#include "kernels.h"

typedef struct {
    const float *x, *w, *b;
    float *z;
    int n, in, out;
} dense_ctx;

static void run_own(void *p)
{
    dense_ctx *c = p;
    mlp_dense_own(c->x, c->n, c->in, c->w, c->b, c->out, c->z);
}

static void run_blas(void *p)
{
    dense_ctx *c = p;
    mlp_dense_blas(c->x, c->n, c->in, c->w, c->b, c->out, c->z);
}

/* Both backward products of one layer: x plays dZ (n x out, the first
 * n*out floats), w plays W and A (n x in, the first n*in floats), z receives
 * dW and then dA. */
static void run_grad_own(void *p)
{
    dense_ctx *c = p;
    mlp_grad_weights_own(c->x, c->w, c->n, c->in, c->out, c->z);
    mlp_grad_inputs_own(c->x, c->w, c->n, c->in, c->out, c->z);
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

/* Largest |own - blas| relative to the magnitude of the terms summed. */
static double max_disagreement(const dense_ctx *c, float *z_own, float *z_blas)
{
    mlp_dense_own(c->x, c->n, c->in, c->w, c->b, c->out, z_own);
    mlp_dense_blas(c->x, c->n, c->in, c->w, c->b, c->out, z_blas);
    double worst = 0.0;
    for (size_t i = 0; i < (size_t)c->n * (size_t)c->out; i++) {
        double d = fabs((double)z_own[i] - (double)z_blas[i]) / sqrt((double)c->in);
        if (d > worst) worst = d;
    }
    return worst;
}

/* Largest |own - blas| of the two backward products, relative to the square
 * root of the summed length (n for dW, out for dA). */
static double grad_disagreement(const dense_ctx *c, float *g_own, float *g_blas)
{
    size_t nw = (size_t)c->out * (size_t)c->in, na = (size_t)c->n * (size_t)c->in;
    mlp_grad_weights_own(c->x, c->w, c->n, c->in, c->out, g_own);
    mlp_grad_weights_blas(c->x, c->w, c->n, c->in, c->out, g_blas);
    mlp_grad_inputs_own(c->x, c->w, c->n, c->in, c->out, g_own + nw);
    mlp_grad_inputs_blas(c->x, c->w, c->n, c->in, c->out, g_blas + nw);
    double worst = 0.0;
    for (size_t i = 0; i < nw + na; i++) {
        double d = fabs((double)g_own[i] - (double)g_blas[i]) / sqrt(i < nw ? c->n : c->out);
        if (d > worst) worst = d;
    }
    return worst;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const int shapes[][2] = {{4, 16}, {16, 16}, {16, 3}, {784, 512}, {512, 512}, {512, 10}};
    static const int rows[] = {1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256};
    const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    const int n_rows = (int)(sizeof rows / sizeof rows[0]);
    const int max_rows = 256;
    int samples = quick ? 7 : 31;
    double sample_us = quick ? 300.0 : 1000.0;

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

    printf("dense layer Z = X·Wᵀ + b: own kernel vs cblas_sgemm (1 thread), us per call "
           "(median of %d interleaved samples of ~%.1f ms)\n",
           samples, sample_us / 1000.0);
    int fail = 0;
    for (int s = 0; s < n_shapes; s++) {
        int in = shapes[s][0], out = shapes[s][1];
        printf("\nshape %d -> %d\n%6s %10s %10s %9s %8s %8s\n", in, out, "rows", "own_us",
               "blas_us", "own/blas", "own_GF", "blas_GF");
        int crossover = 0; /* first row count from which BLAS stays faster */
        for (int r = 0; r < n_rows; r++) {
            dense_ctx c = {x, w, b, z, rows[r], in, out};
            double d = max_disagreement(&c, z, z2);
            if (!(d < 1e-5)) {
                printf("  MISMATCH at %d rows: |own - blas| / sqrt(in) = %g\n", rows[r], d);
                fail = 1;
            }
            bench_case cases[2] = {{.fn = run_own, .ctx = &c}, {.fn = run_blas, .ctx = &c}};
            bench_run(cases, 2, samples, sample_us);
            double t_own = cases[0].median_us, t_blas = cases[1].median_us;
            double gf = 2.0 * rows[r] * in * out * 1e-3;
            printf("%6d %10.3f %10.3f %9.2f %8.2f %8.2f\n", rows[r], t_own, t_blas, t_own / t_blas,
                   gf / t_own, gf / t_blas);
            if (t_blas < t_own) {
                if (!crossover) crossover = rows[r];
            } else {
                crossover = 0;
            }
        }
        if (crossover)
            printf("measured crossover: BLAS faster from %d rows on", crossover);
        else
            printf("measured crossover: own kernel faster up to %d rows", max_rows);
        printf("; mlp_kernel_crossover_rows(%d, %d) = %d\n", in, out,
               mlp_kernel_crossover_rows(in, out));
    }

    printf("\nbackward products dW = dZᵀ·A and dA = dZ·W of one layer, both per call: own "
           "kernels vs cblas_sgemm (1 thread), us\n");
    for (int s = 0; s < n_shapes; s++) {
        int in = shapes[s][0], out = shapes[s][1];
        printf("\nshape %d -> %d\n%6s %10s %10s %9s %8s %8s %5s\n", in, out, "rows", "own_us",
               "blas_us", "own/blas", "own_GF", "blas_GF", "auto");
        for (int r = 0; r < n_rows; r++) {
            dense_ctx c = {x, w, b, g, rows[r], in, out};
            double d = grad_disagreement(&c, g, g2);
            if (!(d < 1e-5)) {
                printf("  MISMATCH at %d rows: |own - blas| / sqrt(length) = %g\n", rows[r], d);
                fail = 1;
            }
            bench_case cases[2] = {{.fn = run_grad_own, .ctx = &c},
                                   {.fn = run_grad_blas, .ctx = &c}};
            bench_run(cases, 2, samples, sample_us);
            double t_own = cases[0].median_us, t_blas = cases[1].median_us;
            double gf = 4.0 * rows[r] * in * out * 1e-3;
            printf("%6d %10.3f %10.3f %9.2f %8.2f %8.2f %5s\n", rows[r], t_own, t_blas,
                   t_own / t_blas, gf / t_own, gf / t_blas,
                   mlp_grad_uses_blas(MLP_KERNEL_AUTO, rows[r], in, out) ? "blas" : "own");
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
