/*
 * test_tutorial — the quick tour that opens lib/mlp.h compiles and runs as
 * written: the Makefile copies its code, character for character, into
 * build/gen/mlp_tutorial.inc, so a tour that drifts from the API stops the
 * build here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mlp.h"

#include "mlp_tutorial.inc"

static void test_tour_runs(void **s)
{
    (void)s;
    assert_int_equal(tour(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tour_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
