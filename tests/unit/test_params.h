/*
 * How the tests write a model's parameters: through mlp_model_set_params, the
 * one way to change them from outside libmlp (mlp_model is opaque, and its
 * accessors give read-only views). Each helper copies every parameter,
 * changes some and writes them all back: slow, and fine for the small models
 * of the tests. Include after cmocka.h and mlp.h.
 */
#ifndef TEST_PARAMS_H
#define TEST_PARAMS_H

#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of m's parameters (mlp_model_params order) to edit and
 * give back with params_put. */
static inline float *params_copy(const mlp_model *m)
{
    size_t n = mlp_model_n_params(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    memcpy(p, mlp_model_params(m), n * sizeof *p);
    return p;
}

/* Writes p (from params_copy) into m and frees it. */
static inline void params_put(mlp_model *m, float *p)
{
    assert_int_equal(mlp_model_set_params(m, p, mlp_model_n_params(m), NULL), MLP_OK);
    free(p);
}

/* All n parameters at once (n must be the model's count). */
static inline void params_set_all(mlp_model *m, const float *p, size_t n)
{
    assert_int_equal(mlp_model_set_params(m, p, n, NULL), MLP_OK);
}

/* Parameter i of mlp_model_params. */
static inline void param_set(mlp_model *m, size_t i, float v)
{
    float *p = params_copy(m);
    p[i] = v;
    params_put(m, p);
}

/* Element i (row * in + column) of W_l, and element j of b_l. */
static inline void weight_set(mlp_model *m, int l, size_t i, float v)
{
    param_set(m, mlp_model_layer(m, l)->weight_offset + i, v);
}

static inline void bias_set(mlp_model *m, int l, int j, float v)
{
    param_set(m, mlp_model_layer(m, l)->bias_offset + (size_t)j, v);
}

/* All of W_l (out x in values), and all of b_l (out values). */
static inline void weights_put(mlp_model *m, int l, const float *w)
{
    const mlp_layer *ly = mlp_model_layer(m, l);
    float *p = params_copy(m);
    memcpy(p + ly->weight_offset, w, (size_t)ly->out * (size_t)ly->in * sizeof *w);
    params_put(m, p);
}

static inline void biases_put(mlp_model *m, int l, const float *b)
{
    const mlp_layer *ly = mlp_model_layer(m, l);
    float *p = params_copy(m);
    memcpy(p + ly->bias_offset, b, (size_t)ly->out * sizeof *b);
    params_put(m, p);
}

#endif /* TEST_PARAMS_H */
