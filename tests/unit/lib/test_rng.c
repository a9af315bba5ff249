/*
 * test_rng — the generator's streams are pinned bit for bit, and its
 * distributions have the right shape.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "mlp.h"

/* Seed 42. The integers were checked against an independent Python
 * transcription of splitmix64 + xoshiro256** (Blackman & Vigna's reference). */
static void test_next_pinned(void **s)
{
    (void)s;
    static const uint64_t want[] = {0x15780b2e0c2ec716u, 0x6104d9866d113a7eu, 0xae17533239e499a1u,
                                    0xecb8ad4703b360a1u};
    mlp_rng r;
    mlp_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++)
        assert_true(mlp_rng_next(&r) == want[i]);
}

/* Normals are built from correctly rounded operations only, so these exact
 * doubles must come out on every machine. */
static void test_normal_pinned(void **s)
{
    (void)s;
    static const double want[] = {-0x1.73d2feb0fb377p-1, 0x1.c5e21f7812a4ep-3, 0x1.db514bfac5b4ep-2,
                                  0x1.79eb7c13cfccdp+0};
    mlp_rng r;
    mlp_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++)
        assert_true(mlp_rng_normal(&r) == want[i]);
}

static void test_same_seed_same_stream(void **s)
{
    (void)s;
    mlp_rng a, b, c;
    mlp_rng_seed(&a, 7);
    mlp_rng_seed(&b, 7);
    mlp_rng_seed(&c, 8);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = mlp_rng_next(&a);
        assert_true(x == mlp_rng_next(&b));
        differ += x != mlp_rng_next(&c);
    }
    assert_true(differ > 990);
}

static void test_uniform_range_and_mean(void **s)
{
    (void)s;
    mlp_rng r;
    mlp_rng_seed(&r, 1);
    double sum = 0.0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = mlp_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    assert_float_equal(sum / n, 0.5, 0.005); /* sd of the mean ≈ 0.0009 */
}

static void test_normal_moments(void **s)
{
    (void)s;
    mlp_rng r;
    mlp_rng_seed(&r, 2);
    const int n = 100000;
    double s1 = 0.0, s2 = 0.0, s4 = 0.0;
    for (int i = 0; i < n; i++) {
        double x = mlp_rng_normal(&r);
        s1 += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    assert_float_equal(mean, 0.0, 0.015); /* sd ≈ 0.0032 */
    assert_float_equal(var, 1.0, 0.02);   /* sd ≈ 0.0045 */
    assert_float_equal(s4 / n, 3.0, 0.1); /* normal kurtosis, sd ≈ 0.03 */
}

/* The portable log agrees with libm to within an ulp or two. */
static void test_portable_log(void **s)
{
    (void)s;
    for (double x = 1e-300; x < 1e300; x *= 1.37) {
        double want = log(x);
        assert_true(fabs(mlp_log_portable(x) - want) <= 4e-16 * fabs(want) + 1e-300);
    }
    assert_true(mlp_log_portable(1.0) == 0.0);
    assert_float_equal(mlp_log_portable(0x1.0p-1074), -744.4400719213812, 1e-12); /* subnormal */
}

static void test_below_range_and_uniformity(void **s)
{
    (void)s;
    mlp_rng r;
    mlp_rng_seed(&r, 3);
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint64_t k = mlp_rng_below(&r, 7);
        assert_true(k < 7);
        counts[k]++;
    }
    for (int k = 0; k < 7; k++)
        assert_in_range(counts[k], 9500, 10500); /* expect 10000, sd ≈ 93 */
    assert_true(mlp_rng_below(&r, 0) == 0);
    assert_true(mlp_rng_below(&r, 1) == 0);
    /* a bound just above 2^63 rejects about half the draws yet stays in range */
    uint64_t big = ((uint64_t)1 << 63) + 12345;
    for (int i = 0; i < 100; i++)
        assert_true(mlp_rng_below(&r, big) < big);
}

static void test_shuffle_is_permutation(void **s)
{
    (void)s;
    mlp_rng r;
    mlp_rng_seed(&r, 4);
    enum { N = 50 };
    int idx[N], seen[N] = {0}, moved = 0;
    for (int i = 0; i < N; i++)
        idx[i] = i;
    mlp_rng_shuffle(&r, idx, N);
    for (int i = 0; i < N; i++) {
        assert_in_range(idx[i], 0, N - 1);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > N / 2);
    mlp_rng_shuffle(&r, idx, 0); /* empty and single arrays are fine */
    mlp_rng_shuffle(&r, idx, 1);
}

/* Each of the 6 orders of 3 items comes up about equally often. */
static void test_shuffle_uniform(void **s)
{
    (void)s;
    mlp_rng r;
    mlp_rng_seed(&r, 5);
    int counts[6] = {0};
    for (int t = 0; t < 60000; t++) {
        int v[3] = {0, 1, 2};
        mlp_rng_shuffle(&r, v, 3);
        counts[v[0] * 2 + (v[1] > v[2])]++;
    }
    for (int k = 0; k < 6; k++)
        assert_in_range(counts[k], 9500, 10500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_pinned),
        cmocka_unit_test(test_normal_pinned),
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_uniform_range_and_mean),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_portable_log),
        cmocka_unit_test(test_below_range_and_uniformity),
        cmocka_unit_test(test_shuffle_is_permutation),
        cmocka_unit_test(test_shuffle_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
