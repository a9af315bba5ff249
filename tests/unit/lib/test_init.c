/*
 * test_init — each scheme draws the variance its derivation promises,
 * biases start at zero, and a seed always gives the same weights.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"
#include "../test_params.h"
#include "../test_cases.h"

/* Mean, variance and max |w| of layer 0 of a 200 -> 300 layer, then layer 1. */
static void layer_stats(mlp_init scheme, mlp_activation act, int l, double *var, double *mx)
{
    mlp_model *m = TEST_MODEL(200, {300, act, 0.01f}, {100, MLP_ACT_IDENTITY, 0});
    for (size_t i = 0; i < mlp_model_n_params(m); i++)
        param_set(m, i, 7.0f); /* init must overwrite everything */
    mlp_model_init(m, scheme, 123, NULL);
    size_t n = (size_t)mlp_model_layer(m, l)->in * mlp_model_layer(m, l)->out;
    const float *w = mlp_layer_weight(m, l);
    double s1 = 0, s2 = 0;
    *mx = 0;
    for (size_t i = 0; i < n; i++) {
        s1 += w[i];
        s2 += (double)w[i] * w[i];
        *mx = fmax(*mx, fabs(w[i]));
    }
    assert_float_equal(s1 / n, 0.0, 5.0 * sqrt(s2 / n / n)); /* 5 sd of the mean */
    *var = s2 / n;
    for (int j = 0; j < mlp_model_layer(m, l)->out; j++)
        assert_true(mlp_layer_bias(m, l)[j] == 0.0f);
    mlp_model_free(m);
}

/* One scheme on one layer of layer_stats' model: the variance 2/d its
 * derivation promises (d: the fan it uses), and where the largest |w| lies
 * against the uniform bound sqrt(6/d): tail > 0 beyond it (a normal's tails
 * reach past it), tail < 0 within, 0 not checked. Each row is its own test. */
typedef struct {
    const char *name; /* the test's name */
    mlp_init scheme;
    mlp_activation act;
    int layer;
    double d;
    int tail;
} variance_case;

static const variance_case variance_cases[] = {
    {"test_he_normal_variance", MLP_INIT_HE_NORMAL, MLP_ACT_RELU, 0, 200, 1},
    {"test_he_uniform_variance", MLP_INIT_HE_UNIFORM, MLP_ACT_RELU, 0, 200, -1},
    {"test_xavier_normal_variance", MLP_INIT_XAVIER_NORMAL, MLP_ACT_TANH, 0, 500, 0},
    {"test_xavier_uniform_variance", MLP_INIT_XAVIER_UNIFORM, MLP_ACT_TANH, 0, 500, -1},
    /* AUTO picks by the layer's activation */
    {"test_auto_is_he_normal_for_leaky_relu", MLP_INIT_AUTO, MLP_ACT_LEAKY_RELU, 0, 200, 1},
    {"test_auto_is_xavier_uniform_for_identity", MLP_INIT_AUTO, MLP_ACT_RELU, 1, 400, -1},
};

static void run_variance_case(void **state)
{
    const variance_case *c = *state;
    double var, mx;
    /* 60000 draws: the sample variance is within ~1% of the truth */
    layer_stats(c->scheme, c->act, c->layer, &var, &mx);
    assert_float_equal(var, 2.0 / c->d, 0.03 * 2.0 / c->d);
    if (c->tail > 0) assert_true(mx > sqrt(6.0 / c->d));
    if (c->tail < 0) assert_true(mx <= sqrt(6.0 / c->d));
}

static void test_same_seed_same_bits(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{8, MLP_ACT_RELU, 0}, {2, MLP_ACT_SOFTMAX, 0}};
    mlp_model *a = NULL, *b = NULL;
    assert_int_equal(mlp_model_create(5, spec, 2, &a, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(5, spec, 2, &b, NULL), MLP_OK);
    mlp_model_init(a, MLP_INIT_AUTO, 77, NULL);
    mlp_model_init(b, MLP_INIT_AUTO, 77, NULL);
    assert_memory_equal(mlp_model_params(a), mlp_model_params(b),
                        mlp_model_n_params(a) * sizeof(float));
    mlp_model_init(b, MLP_INIT_AUTO, 78, NULL);
    assert_memory_not_equal(mlp_model_params(a), mlp_model_params(b),
                            mlp_model_n_params(a) * sizeof(float));
    mlp_model_free(a);
    mlp_model_free(b);
}

/* An unknown scheme is refused, leaving the weights alone (it used to be
 * drawn as Xavier uniform without a word). */
static void test_unknown_scheme_refused(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(2, {2, MLP_ACT_RELU, 0});
    mlp_error e;
    assert_int_equal(mlp_model_init(m, (mlp_init)9, 1, &e), MLP_ERR_INVALID);
    assert_string_equal(e.msg, "unknown initialisation scheme 9");
    for (int i = 0; i < 4; i++)
        assert_true(mlp_layer_weight(m, 0)[i] == 0.0f);
    assert_int_equal(mlp_model_init(NULL, MLP_INIT_AUTO, 1, &e), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_init(m, MLP_INIT_AUTO, 1, &e), MLP_OK);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_same_seed_same_bits),
        cmocka_unit_test(test_unknown_scheme_refused),
    };
    static test_list tests;
    TESTS_ADD_CASES(&tests, variance_cases, run_variance_case);
    TESTS_ADD(&tests, others);
    return tests_run("test_init", &tests, NULL, NULL);
}
