/*
 * Models, random data and a workspace fixture for the unit tests:
 * TEST_MODEL(n_inputs, {units, activation, alpha}, ...) creates a model from
 * its layers written in place (asserting that creation succeeds; parameters
 * zero until the test sets or initialises them), test_model does the same
 * from a spec array, test_model_init then draws the parameters by a scheme,
 * test_model_random also the biases; test_fill_uniform fills an array from
 * [-1, 1), test_fill_normal from N(0, scale^2), test_normals allocates such
 * an array; test_outputs_equal checks a forward pass's outputs;
 * test_workspace_new/test_workspace_free give each test that uses them a
 * fresh workspace as its state. Include after cmocka.h.
 */
#ifndef TEST_MODELS_H
#define TEST_MODELS_H

#include <stdlib.h>

#include "mlp.h"
#include "test_params.h"

static inline mlp_model *test_model(int n_inputs, const mlp_layer_spec *spec, int n_layers)
{
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_create(n_inputs, spec, n_layers, &m, &err) != MLP_OK) fail_msg("%s", err.msg);
    return m;
}

/* test_model with its parameters drawn by mlp_model_init (scheme, seed). */
static inline mlp_model *test_model_init(int n_inputs, const mlp_layer_spec *spec, int n_layers,
                                         mlp_init scheme, uint64_t seed)
{
    mlp_model *m = test_model(n_inputs, spec, n_layers);
    assert_int_equal(mlp_model_init(m, scheme, seed, NULL), MLP_OK);
    return m;
}

/* Parameters by `scheme` (seed), then biases 0.3·N(0, 1) (seed + 1), so
 * that bias gradients are exercised off the origin. */
static inline mlp_model *test_model_random(int n_inputs, const mlp_layer_spec *spec, int n_layers,
                                           mlp_init scheme, uint64_t seed)
{
    mlp_model *m = test_model(n_inputs, spec, n_layers);
    assert_int_equal(mlp_model_init(m, scheme, seed, NULL), MLP_OK);
    mlp_rng r;
    mlp_rng_seed(&r, seed + 1);
    float *p = params_copy(m);
    for (int l = 0; l < n_layers; l++) {
        const mlp_layer *ly = mlp_model_layer(m, l);
        for (int j = 0; j < ly->out; j++)
            p[ly->bias_offset + (size_t)j] = (float)(0.3 * mlp_rng_normal(&r));
    }
    params_put(m, p);
    return m;
}

static inline void test_fill_uniform(mlp_rng *r, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * mlp_rng_uniform(r) - 1.0);
}

/* n values drawn from N(0, scale^2), the stream seeded with seed. */
static inline void test_fill_normal(float *v, size_t n, uint64_t seed, double scale)
{
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(scale * mlp_rng_normal(&r));
}

/* The same in a new array, which the caller frees. */
static inline float *test_normals(size_t n, uint64_t seed, double scale)
{
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    test_fill_normal(v, n, seed, scale);
    return v;
}

/* Forwards the n rows x through m on a workspace of its own: each of the
 * n x n_outputs outputs must be within tol of want. */
static inline void test_outputs_equal(const mlp_model *m, const float *x, int n, const float *want,
                                      double tol)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    size_t k = (size_t)n * (size_t)mlp_model_n_outputs(m);
    float *y = malloc(k * sizeof *y);
    assert_non_null(y);
    assert_int_equal(mlp_forward(m, ws, x, n, y, NULL), MLP_OK);
    for (size_t i = 0; i < k; i++)
        assert_float_equal(y[i], want[i], tol);
    free(y);
    mlp_workspace_free(ws);
}

/* A cmocka fixture: each test that uses it gets a new workspace as its
 * state (cmocka_unit_test_setup_teardown(test, test_workspace_new,
 * test_workspace_free)). */
static inline int test_workspace_new(void **state)
{
    mlp_workspace *ws = NULL;
    if (mlp_workspace_create(&ws, NULL) != MLP_OK) return -1;
    *state = ws;
    return 0;
}

static inline int test_workspace_free(void **state)
{
    mlp_workspace_free(*state);
    return 0;
}

#define TEST_MODEL(n_inputs, ...)                                                                  \
    test_model((n_inputs), (const mlp_layer_spec[]){__VA_ARGS__},                                  \
               (int)(sizeof((const mlp_layer_spec[]){__VA_ARGS__}) / sizeof(mlp_layer_spec)))

#endif /* TEST_MODELS_H */
