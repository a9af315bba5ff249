/*
 * test_blas — the binary's start-up pins OpenBLAS to one thread, whatever it
 * started with (OPENBLAS_NUM_THREADS, or one thread per core when unset).
 */
#ifndef MLP_NO_BLAS
#include <cblas.h>
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli.h"

static void test_pins_openblas_to_one_thread(void **s)
{
    (void)s;
#ifdef MLP_NO_BLAS
    assert_int_equal(rs_blas_single_thread(), 0); /* make BLAS=0: nothing to pin */
#else
    /* What OPENBLAS_NUM_THREADS=2, or no variable on a 2-core machine, gives. */
    openblas_set_num_threads(2);
    assert_int_equal(openblas_get_num_threads(), 2);
    assert_int_equal(rs_blas_single_thread(), 1);
    assert_int_equal(openblas_get_num_threads(), 1);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pins_openblas_to_one_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
