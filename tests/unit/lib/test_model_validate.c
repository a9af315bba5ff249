/*
 * test_model_validate — the structural half of mlp_model_validate, white-box.
 * Through the API a model cannot get out of step (mlp_model is opaque, every
 * setter keeps it whole); only a bug inside libmlp could make one, and
 * validate is the net the loaders and mlp_train put under it. So this test
 * includes internal.h and breaks the model behind the API's back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void test_validate_catches_broken_structure(void **s)
{
    (void)s;
    mlp_layer_spec spec[] = {{4, MLP_ACT_LEAKY_RELU, 0.2f}, {3, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(2, spec, 2, &m, NULL), MLP_OK);
    const float mean[] = {1, 2}, std[] = {3, 4};
    assert_int_equal(mlp_model_set_standardization(m, mean, std, NULL), MLP_OK);
    mlp_error err;
    assert_int_equal(mlp_model_validate(m, &err), MLP_OK);

    m->layers[1].in = 5; /* no longer chains to layer 0 */
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "layer 1 takes 5 inputs"));
    m->layers[1].in = 4;
    m->layers[1].bias_offset++;
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "offsets"));
    m->layers[1].bias_offset--;
    m->max_units = 3;
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "max_units"));
    m->max_units = 4;
    m->n_params--;
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    m->n_params++;
    m->input_std[0] = -1.0f;
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    m->input_std[0] = 1.0f;
    m->layers[0].activation = MLP_ACT_SOFTMAX;
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_INVALID);
    m->layers[0].activation = MLP_ACT_LEAKY_RELU;
    assert_int_equal(mlp_model_validate(m, NULL), MLP_OK);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_catches_broken_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
