/*
 * Models for the unit tests: TEST_MODEL(n_inputs, {units, activation,
 * alpha}, ...) creates one from its layers written in place (asserting that
 * creation succeeds; parameters zero until the test sets or initialises
 * them), test_model does the same from a spec array. Include after cmocka.h.
 */
#ifndef TEST_MODELS_H
#define TEST_MODELS_H

#include "mlp.h"

static inline mlp_model *test_model(int n_inputs, const mlp_layer_spec *spec, int n_layers)
{
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_create(n_inputs, spec, n_layers, &m, &err) != MLP_OK) fail_msg("%s", err.msg);
    return m;
}

#define TEST_MODEL(n_inputs, ...)                                                                  \
    test_model((n_inputs), (const mlp_layer_spec[]){__VA_ARGS__},                                  \
               (int)(sizeof((const mlp_layer_spec[]){__VA_ARGS__}) / sizeof(mlp_layer_spec)))

#endif /* TEST_MODELS_H */
