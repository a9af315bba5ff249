/*
 * bench_model — what bench_mlp and bench_diag share, so that they time the
 * same networks on the same inputs: the model (ReLU layers of the given
 * widths, the last a softmax, He-normal weights from seed 1), its inputs
 * (standard normals from seed 2), its section title, and the main that runs
 * a bench on the two networks with the sampling --quick asks for.
 */
#ifndef BENCH_MODEL_H
#define BENCH_MODEL_H

#include <stdio.h>
#include <stdlib.h>

#include "bench_timer.h"
#include "mlp.h"

/* n_layers (at most 4) widths in units; NULL, said on stderr under the
 * bench's name, if the model cannot be built. */
static inline mlp_model *bench_model_create(const char *bench, const int *units, int n_layers,
                                            int n_inputs)
{
    mlp_layer_spec spec[4];
    for (int l = 0; l < n_layers && l < 4; l++)
        spec[l] = (mlp_layer_spec){units[l], l == n_layers - 1 ? MLP_ACT_SOFTMAX : MLP_ACT_RELU, 0};
    mlp_model *m = NULL;
    mlp_error err;
    if (n_layers > 4 || mlp_model_create(n_inputs, spec, n_layers, &m, &err) != MLP_OK) {
        fprintf(stderr, "%s: %s\n", bench, n_layers > 4 ? "more than 4 layers" : err.msg);
        return NULL;
    }
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 1, NULL);
    return m;
}

/* rows x n_inputs standard normal inputs from seed 2 (malloc'd; NULL if
 * out of memory). */
static inline float *bench_inputs(int rows, int n_inputs)
{
    size_t n = (size_t)rows * (size_t)n_inputs;
    float *x = malloc(sizeof(float) * n);
    mlp_rng rng;
    mlp_rng_seed(&rng, 2);
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)mlp_rng_normal(&rng);
    return x;
}

/* The start of a network's section: "model 784-512-512-10 (relu hidden,
 * softmax out)", the line left open for the bench to say what it times. */
static inline void bench_model_title(const int *units, int n_layers, int n_inputs)
{
    printf("\nmodel %d", n_inputs);
    for (int l = 0; l < n_layers; l++)
        printf("-%d", units[l]);
    printf(" (relu hidden, softmax out)");
}

/* One bench over one network: units, n_layers and n_inputs as for
 * bench_model_create; nonzero if it failed. */
typedef int (*bench_model_fn)(const int *units, int n_layers, int n_inputs, int samples,
                              double sample_us);

/* A bench's main after its own title: the sampling the command line asks
 * for (ending the title's line), then fn on the two networks both benches
 * time, 4 -> 16 -> 16 -> 3 and 784 -> 512 -> 512 -> 10; nonzero if either
 * failed. */
static inline int bench_models_main(int argc, char **argv, bench_model_fn fn)
{
    bench_sampling sm = bench_sampling_from_args(argc, argv);
    printf("median of %d interleaved samples of ~%.1f ms\n", sm.samples, sm.sample_us / 1000.0);
    static const int tiny[] = {16, 16, 3}, medium[] = {512, 512, 10};
    int fail = fn(tiny, 3, 4, sm.samples, sm.sample_us);
    fail |= fn(medium, 3, 784, sm.samples, sm.sample_us);
    return fail;
}

#endif
