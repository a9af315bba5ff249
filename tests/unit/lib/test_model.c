/*
 * test_model — creation limits and errors, layout of the parameter block,
 * clone, metadata setters, validation, status and activation names.
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

static void test_create_layout(void **s)
{
    (void)s;
    mlp_model *m = TEST_MODEL(4, {5, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    assert_int_equal(mlp_model_n_inputs(m), 4);
    assert_int_equal(mlp_model_n_outputs(m), 3);
    assert_int_equal(mlp_model_max_units(m), 5);
    assert_int_equal(mlp_model_n_params(m), 4 * 5 + 5 + 5 * 3 + 3);
    assert_int_equal(mlp_model_layer(m, 0)->weight_offset, 0);
    assert_int_equal(mlp_model_layer(m, 0)->bias_offset, 20);
    assert_int_equal(mlp_model_layer(m, 1)->weight_offset, 25);
    assert_int_equal(mlp_model_layer(m, 1)->bias_offset, 40);
    assert_int_equal(mlp_model_layer(m, 1)->in, 5);
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_string_equal(mlp_model_name(m), "model");
    assert_string_equal(mlp_model_input_name(m), "input");
    assert_string_equal(mlp_model_output_name(m), "output");
    assert_null(mlp_model_labels(m));
    assert_null(mlp_model_input_mean(m));
    for (size_t i = 0; i < mlp_model_n_params(m); i++)
        assert_true(mlp_model_params(m)[i] == 0.0f);
    assert_int_equal(mlp_model_validate(m, NULL), MLP_OK);
    assert_float_equal(mlp_model_flops(m, 10), 10.0 * (4 * 5 + 5 * 3), 0);
    mlp_model_free(m);

    mlp_layer_spec reg[] = {{1, MLP_ACT_IDENTITY, 0}};
    assert_int_equal(mlp_model_create(2, reg, 1, &m, NULL), MLP_OK);
    assert_int_equal(mlp_model_task(m), MLP_TASK_REGRESSION);
    mlp_model_free(m);
}

static void expect_refused(int in, const mlp_layer_spec *spec, int n, mlp_status want)
{
    mlp_model *m = (mlp_model *)&m; /* must be reset to NULL on failure */
    mlp_error err = {{0}};
    assert_int_equal(mlp_model_create(in, spec, n, &m, &err), want);
    assert_null(m);
    assert_true(strlen(err.msg) > 0);
}

static void test_create_refusals(void **s)
{
    (void)s;
    mlp_layer_spec softmax_hidden[] = {{4, MLP_ACT_SOFTMAX, 0}, {2, MLP_ACT_IDENTITY, 0}};
    expect_refused(3, softmax_hidden, 2, MLP_ERR_INVALID);
    mlp_layer_spec zero[] = {{0, MLP_ACT_RELU, 0}, {2, MLP_ACT_IDENTITY, 0}};
    expect_refused(3, zero, 2, MLP_ERR_INVALID);
    mlp_layer_spec ok[] = {{2, MLP_ACT_RELU, 0}};
    expect_refused(0, ok, 1, MLP_ERR_INVALID);
    expect_refused(3, ok, 0, MLP_ERR_INVALID);
    expect_refused(MLP_MAX_UNITS + 1, ok, 1, MLP_ERR_LIMIT);
    mlp_layer_spec wide[] = {{MLP_MAX_UNITS + 1, MLP_ACT_RELU, 0}};
    expect_refused(3, wide, 1, MLP_ERR_LIMIT);
    /* 2^16 x 2^16 weights: every size within limits, the product is not */
    mlp_layer_spec huge[] = {{MLP_MAX_UNITS, MLP_ACT_RELU, 0}};
    expect_refused(MLP_MAX_UNITS, huge, 1, MLP_ERR_LIMIT);
    mlp_layer_spec deep[MLP_MAX_LAYERS + 1];
    for (int i = 0; i <= MLP_MAX_LAYERS; i++)
        deep[i] = (mlp_layer_spec){2, MLP_ACT_RELU, 0};
    expect_refused(3, deep, MLP_MAX_LAYERS + 1, MLP_ERR_LIMIT);
    mlp_layer_spec alpha[] = {{2, MLP_ACT_LEAKY_RELU, 1.0f}};
    expect_refused(3, alpha, 1, MLP_ERR_INVALID);
    alpha[0].alpha = -0.1f;
    expect_refused(3, alpha, 1, MLP_ERR_INVALID);
    alpha[0].alpha = NAN;
    expect_refused(3, alpha, 1, MLP_ERR_INVALID);
    mlp_layer_spec unknown[] = {{2, (mlp_activation)99, 0}};
    expect_refused(3, unknown, 1, MLP_ERR_INVALID);
    /* exactly at the layer limit is fine */
    mlp_model *m = NULL;
    assert_int_equal(mlp_model_create(3, deep, MLP_MAX_LAYERS, &m, NULL), MLP_OK);
    mlp_model_free(m);
}

static mlp_model *full_model(void)
{
    mlp_model *m = TEST_MODEL(2, {4, MLP_ACT_LEAKY_RELU, 0.2f}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 9, NULL);
    const char *labels[] = {"a", "b", "c"};
    const float mean[] = {1, 2}, std[] = {3, 4};
    assert_int_equal(mlp_model_set_name(m, "iris", NULL), MLP_OK);
    assert_int_equal(mlp_model_set_io_names(m, "x", "y", NULL), MLP_OK);
    assert_int_equal(mlp_model_set_labels(m, labels, NULL), MLP_OK);
    assert_int_equal(mlp_model_set_standardization(m, mean, std, NULL), MLP_OK);
    return m;
}

static void test_clone_is_deep_and_equal(void **s)
{
    (void)s;
    mlp_model *m = full_model(), *c = NULL;
    assert_int_equal(mlp_model_clone(m, &c, NULL), MLP_OK);
    assert_ptr_not_equal(mlp_model_params(c), mlp_model_params(m));
    assert_memory_equal(mlp_model_params(c), mlp_model_params(m),
                        mlp_model_n_params(m) * sizeof(float));
    assert_string_equal(mlp_model_name(c), "iris");
    assert_string_equal(mlp_model_input_name(c), "x");
    assert_string_equal(mlp_model_output_name(c), "y");
    assert_string_equal(mlp_model_labels(c)[2], "c");
    assert_ptr_not_equal(mlp_model_labels(c), mlp_model_labels(m));
    assert_float_equal(mlp_model_input_std(c)[1], 4.0f, 0);
    assert_float_equal(mlp_model_layer(c, 0)->alpha, 0.2f, 0);
    assert_int_equal(mlp_model_task(c), mlp_model_task(m));
    param_set(c, 0, mlp_model_params(c)[0] + 1.0f);
    assert_true(mlp_model_params(c)[0] != mlp_model_params(m)[0]);
    mlp_model_free(m); /* the clone outlives its source */
    assert_int_equal(mlp_model_validate(c, NULL), MLP_OK);
    mlp_model_free(c);
}

static void test_setters(void **s)
{
    (void)s;
    mlp_model *m = full_model();
    mlp_error err;
    const float bad_std[] = {1, 0}, nan_mean[] = {NAN, 0};
    assert_int_equal(mlp_model_set_standardization(m, NULL, bad_std, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "std[1]"));
    assert_float_equal(mlp_model_input_std(m)[1], 4.0f, 0); /* unchanged on failure */
    assert_int_equal(mlp_model_set_standardization(m, nan_mean, NULL, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_set_standardization(m, NULL, NULL, NULL), MLP_OK);
    assert_null(mlp_model_input_mean(m));
    assert_null(mlp_model_input_std(m));
    assert_int_equal(mlp_model_set_labels(m, NULL, NULL), MLP_OK);
    assert_null(mlp_model_labels(m));
    const char *holes[] = {"a", NULL, "c"};
    assert_int_equal(mlp_model_set_labels(m, holes, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "label 1 is NULL"));
    assert_int_equal(mlp_model_set_name(m, NULL, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "NULL"));
    assert_string_equal(mlp_model_name(m), "iris");
    assert_int_equal(mlp_model_set_io_names(m, "x", NULL, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "NULL"));
    mlp_model_free(m);
}

/* The read-only accessors, and the setters that keep the model whole. */
static void test_accessors_and_setters(void **s)
{
    (void)s;
    mlp_model *m = full_model();
    assert_int_equal(mlp_model_n_layers(m), 2);
    assert_null(mlp_model_layer(m, 2));
    assert_null(mlp_model_layer(m, -1));
    assert_null(mlp_layer_weight(m, 2));
    assert_null(mlp_layer_bias(m, -1));
    assert_ptr_equal(mlp_layer_weight(m, 1), mlp_model_params(m) + 2 * 4 + 4);
    assert_ptr_equal(mlp_layer_bias(m, 1), mlp_model_params(m) + 2 * 4 + 4 + 4 * 3);
    assert_float_equal(mlp_model_input_mean(m)[1], 2.0f, 0);
    assert_string_equal(mlp_model_labels(m)[0], "a");

    mlp_error err;
    size_t n = mlp_model_n_params(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)i - 7.5f;
    assert_int_equal(mlp_model_set_params(m, p, n - 1, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "has 27 parameters, got 26"));
    assert_int_equal(mlp_model_set_params(m, NULL, n, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_model_set_params(m, p, n, &err), MLP_OK);
    assert_memory_equal(mlp_model_params(m), p, n * sizeof *p);
    assert_float_equal(mlp_layer_bias(m, 0)[3], 11 - 7.5f, 0);
    /* its own parameters back in place (memmove, not memcpy) */
    assert_int_equal(mlp_model_set_params(m, mlp_model_params(m), n, &err), MLP_OK);
    assert_memory_equal(mlp_model_params(m), p, n * sizeof *p);
    free(p);

    assert_int_equal(mlp_model_set_task(m, (mlp_task)5, &err), MLP_ERR_INVALID);
    assert_string_equal(err.msg, "unknown task 5");
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_int_equal(mlp_model_set_task(m, MLP_TASK_REGRESSION, &err), MLP_OK);
    assert_int_equal(mlp_model_task(m), MLP_TASK_REGRESSION);
    assert_int_equal(mlp_model_validate(m, &err), MLP_OK);
    mlp_model_free(m);
}

static void test_validate_catches(void **s)
{
    (void)s;
    mlp_model *m = full_model();
    mlp_error err;
    param_set(m, 3, NAN);
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "weight[1][1]"));
    param_set(m, 3, 0.0f);
    param_set(m, mlp_model_n_params(m) - 1, INFINITY);
    assert_int_equal(mlp_model_validate(m, &err), MLP_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "bias[2]"));
    param_set(m, mlp_model_n_params(m) - 1, 0.0f);
    assert_int_equal(mlp_model_validate(m, NULL), MLP_OK);
    /* the structural checks: test_model_validate.c, behind the API's back */
    assert_int_equal(mlp_model_validate(NULL, NULL), MLP_ERR_INVALID);
    mlp_model_free(m);
    mlp_model_free(NULL);
}

static void test_names(void **s)
{
    (void)s;
    for (int a = MLP_ACT_RELU; a <= MLP_ACT_SOFTMAX; a++) {
        mlp_activation back;
        assert_int_equal(mlp_activation_parse(mlp_activation_name((mlp_activation)a), &back, NULL),
                         MLP_OK);
        assert_int_equal(back, a);
    }
    mlp_activation x = MLP_ACT_TANH;
    mlp_error e;
    assert_int_equal(mlp_activation_parse("ReLU", &x, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "\"ReLU\""));
    assert_int_equal(mlp_activation_parse(NULL, &x, NULL), MLP_ERR_INVALID);
    assert_int_equal(x, MLP_ACT_TANH);
    assert_string_equal(mlp_activation_name(MLP_ACT_LEAKY_RELU), "leaky_relu");
    assert_true(mlp_activation_is_relu_family(MLP_ACT_RELU));
    assert_true(mlp_activation_is_relu_family(MLP_ACT_LEAKY_RELU));
    assert_false(mlp_activation_is_relu_family(MLP_ACT_SIGMOID));
    assert_string_equal(mlp_status_str(MLP_OK), "ok");
    assert_string_equal(mlp_status_str(MLP_ERR_NOMEM), "out of memory");
    assert_string_equal(mlp_status_str((mlp_status)42), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_layout),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_clone_is_deep_and_equal),
        cmocka_unit_test(test_setters),
        cmocka_unit_test(test_accessors_and_setters),
        cmocka_unit_test(test_validate_catches),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
