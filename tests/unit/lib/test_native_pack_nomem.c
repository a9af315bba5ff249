/*
 * test_native_pack_nomem — when memory runs out for MLP_KERNEL_NATIVE's
 * packed copy of the weights, the failure is remembered with the model: the
 * forwards after it compute with the kernel packing W per call (the same
 * bits, batch-invariant as always) without trying the large allocation again
 * and again, mlp_model_prepare tries once more when asked, and a change of
 * the parameters forgets it.
 *
 * Linked with -Wl,--wrap=mlp_aligned_alloc (its own Makefile rule): libmlp's
 * calls to it from other files than workspace.c (the pack in
 * kernels_native.c, the parameters in model.c) come here, which counts them
 * and fails them while `failing` is set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"

void *__real_mlp_aligned_alloc(size_t n);
void *__wrap_mlp_aligned_alloc(size_t n);

static bool failing;
static int calls;

void *__wrap_mlp_aligned_alloc(size_t n)
{
    calls++;
    return failing ? NULL : __real_mlp_aligned_alloc(n);
}

#define ROWS 37

static float *forward(const mlp_model *m, const float *x, int n)
{
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_NATIVE, NULL), MLP_OK);
    float *y = malloc((size_t)n * (size_t)mlp_model_n_outputs(m) * sizeof *y);
    assert_non_null(y);
    assert_int_equal(mlp_forward(m, ws, x, n, y, NULL), MLP_OK);
    mlp_workspace_free(ws);
    return y;
}

static void assert_same_bits(const float *a, const float *b, size_t n)
{
    assert_memory_equal(a, b, n * sizeof *a);
}

static void test_pack_failure_is_remembered(void **state)
{
    (void)state;
    if (strcmp(mlp_kernel_native_isa(), "portable") == 0) skip(); /* no FMA: nothing packed */
    mlp_layer_spec spec[] = {
        {64, MLP_ACT_RELU, 0}, {48, MLP_ACT_RELU, 0}, {5, MLP_ACT_IDENTITY, 0}};
    mlp_model *ref = test_model_random(9, spec, 3, MLP_INIT_HE_NORMAL, 41);
    mlp_model *m = test_model_random(9, spec, 3, MLP_INIT_HE_NORMAL, 41);
    float *x = test_normals((size_t)ROWS * 9, 5, 1.0);
    size_t ny = (size_t)ROWS * 5;

    /* the reference: the packed weights built */
    assert_int_equal(mlp_model_prepare(ref, MLP_KERNEL_NATIVE, NULL), MLP_OK);
    float *want = forward(ref, x, ROWS);

    /* out of memory from here: the first native forward tries to pack once,
     * computes unpacked, and no later forward tries again */
    failing = true;
    calls = 0;
    for (int i = 0; i < 3; i++) {
        float *y = forward(m, x, ROWS);
        assert_same_bits(y, want, ny);
        free(y);
        assert_int_equal(calls, 1);
    }
    /* each row alone gets the bits it got in the batch */
    for (int r = 0; r < ROWS; r += 12) {
        float *y = forward(m, x + (size_t)r * 9, 1);
        assert_same_bits(y, want + (size_t)r * 5, 5);
        free(y);
    }
    assert_int_equal(calls, 1);

    /* asked, prepare tries again: still out of memory */
    mlp_error e;
    assert_int_equal(mlp_model_prepare(m, MLP_KERNEL_NATIVE, &e), MLP_ERR_NOMEM);
    assert_non_null(strstr(e.msg, "out of memory"));
    assert_int_equal(calls, 2);

    /* memory back: forwards keep to what was remembered until prepare */
    failing = false;
    float *y = forward(m, x, ROWS);
    assert_same_bits(y, want, ny);
    free(y);
    assert_int_equal(calls, 2);
    assert_int_equal(mlp_model_prepare(m, MLP_KERNEL_NATIVE, NULL), MLP_OK);
    assert_int_equal(calls, 3);
    y = forward(m, x, ROWS);
    assert_same_bits(y, want, ny);
    free(y);
    assert_int_equal(mlp_model_prepare(m, MLP_KERNEL_NATIVE, NULL), MLP_OK);
    assert_int_equal(calls, 3); /* built: nothing more to do */

    /* new parameters drop the copy and anything remembered: the next
     * forward tries once, fails, and is remembered again */
    float *p = params_copy(m);
    assert_int_equal(mlp_model_set_params(m, p, mlp_model_n_params(m), NULL), MLP_OK);
    free(p);
    failing = true;
    calls = 0;
    for (int i = 0; i < 2; i++) {
        y = forward(m, x, ROWS);
        assert_same_bits(y, want, ny);
        free(y);
    }
    assert_int_equal(calls, 1);
    failing = false;

    free(want);
    free(x);
    mlp_model_free(m);
    mlp_model_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_failure_is_remembered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
