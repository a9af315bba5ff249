/*
 * test_float_text_ref — mlp_format_float (the Schubfach digits of
 * lib/float_shortest.h) writes byte for byte what the implementation it
 * replaced writes (tests/ref/float_text_ref.c), on a deterministic sample
 * sized for CI: every 997th bit pattern, every power of two with its
 * neighbours (where the lower gap halves), the subnormal ends, the floats
 * around every power of ten, and each binade's ends. tests/tools/
 * float_text_exhaustive does all 2^32 once (make float-text-exhaustive).
 *
 * The reference writes the farther of two shortest decimals for 5 magnitudes
 * (float_text_ref.h); there the new text is checked to be the nearer one.
 *
 * Independently of both implementations, on part of the sample: the text
 * reads back as f (strtof), no decimal with one significant digit fewer
 * does, and of the decimals with as many digits that read back, it is the
 * nearest to f (an even last digit on a tie), judged from f's exact decimal
 * expansion (printf). The fixed-point products inside the new code are
 * checked against exact divisibility on the whole sample.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ref/float_shortest_check.h"
#include "../../ref/float_text_ref.h"
#include "mlp.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every finite non-zero magnitude's products show fraction bits exactly
 * when the true value is not an integer. */
static void check_products(uint32_t bits)
{
    uint32_t mag = bits & 0x7fffffffu;
    if (mag == 0 || mag >= 0x7f800000u) return;
    if (!float_shortest_products_exact(mag, NULL))
        fail_msg("0x%08x: a scaled product misreads an integer", (unsigned)mag);
}

static void check_independently(uint32_t bits);

/* New and reference texts identical, NUL included (except where the
 * reference is known to be wrong: then the independent check). */
static void same_as_reference(uint32_t bits)
{
    if (float_text_ref_missed(bits)) {
        check_independently(bits);
        return;
    }
    char a[MLP_FLOAT_TEXT_MAX], b[MLP_FLOAT_TEXT_MAX];
    float f = from_bits(bits);
    int na = mlp_format_float(f, a);
    int nb = mlp_format_float_ref(f, b);
    if (na != nb || memcmp(a, b, (size_t)na + 1) != 0)
        fail_msg("0x%08x: '%s' (%d), the reference writes '%s' (%d)", (unsigned)bits, a, na, b, nb);
    check_products(bits);
}

/* --------------------------------------------- independent of both */

/* The significant digits of a decimal text and the exponent of its last
 * one: value = digits·10^exp. Returns the digit count. */
static int text_digits(const char *s, char *digits, int *exp)
{
    int n = 0, frac = 0;
    bool after_point = false;
    const char *p = s + (*s == '-');
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            after_point = true;
            continue;
        }
        frac += after_point;
        if (n == 0 && *p == '0') continue; /* leading zeros */
        digits[n++] = *p;
    }
    int e = (*p == 'e' ? atoi(p + 1) : 0) - frac;
    while (n > 1 && digits[n - 1] == '0') {
        n--;
        e++;
    }
    digits[n] = '\0';
    *exp = e;
    return n;
}

/* |f|'s exact decimal expansion: "d.ddd...e±x" from printf (glibc prints
 * doubles exactly; a float's expansion has at most 112 significant digits). */
static void exact_expansion(float f, char *digits, int *lead_exp)
{
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%.150e", fabs((double)f));
    int n = 0;
    const char *p = tmp;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[n++] = *p;
    digits[n] = '\0';
    *lead_exp = atoi(p + 1);
}

static bool reads_back(uint64_t d, int exp, float mag)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%llue%d", (unsigned long long)d, exp);
    return strtof(tmp, NULL) == mag;
}

/* The text reads back; no decimal one digit shorter does; the text is the
 * nearest of its length that reads back, the even one on a tie. */
static void check_independently(uint32_t bits)
{
    float f = from_bits(bits);
    if (!isfinite(f) || f == 0) return;
    char out[MLP_FLOAT_TEXT_MAX];
    mlp_format_float(f, out);
    if (to_bits(strtof(out, NULL)) != bits)
        fail_msg("0x%08x: '%s' does not read back", (unsigned)bits, out);
    float mag = fabsf(f);
    char ours[24];
    int ours_exp;
    int n = text_digits(out, ours, &ours_exp);

    char exact[200];
    int lead;
    exact_expansion(f, exact, &lead);
    /* Truncations of the expansion to p digits and their successors: the
     * p-digit decimals next to |f| (p <= 9). */
    for (int p = n - 1; p <= n; p++) {
        if (p < 1) continue;
        uint64_t lo = 0;
        for (int i = 0; i < p; i++)
            lo = lo * 10 + (uint64_t)(exact[i] - '0');
        int e = lead - (p - 1);
        bool rest_zero = strspn(exact + p, "0") == strlen(exact + p);
        bool lo_ok = reads_back(lo, e, mag);
        bool hi_ok = reads_back(lo + 1, e, mag);
        if (p == n - 1) {
            if (lo_ok || (!rest_zero && hi_ok))
                fail_msg("0x%08x: '%s' has %d digits, %d suffice", (unsigned)bits, out, n, p);
            continue;
        }
        /* p == n: ours is lo or lo + 1 (trailing zeros aside). */
        uint64_t got = 0;
        for (int i = 0; i < n; i++)
            got = got * 10 + (uint64_t)(ours[i] - '0');
        int got_exp = ours_exp;
        while (got_exp > e) { /* ours may have dropped zeros of lo + 1 = 10..0 */
            got *= 10;
            got_exp--;
        }
        uint64_t want;
        if (rest_zero || !hi_ok) {
            want = lo;
        } else if (!lo_ok) {
            want = lo + 1;
        } else {
            /* Both read back: compare the rest with one half. */
            int cmp = exact[p] - '5';
            if (cmp == 0 && strspn(exact + p + 1, "0") != strlen(exact + p + 1)) cmp = 1;
            want = cmp < 0 || (cmp == 0 && lo % 2 == 0) ? lo : lo + 1;
        }
        if (got != want || got_exp != e)
            fail_msg("0x%08x: '%s', the nearest %d-digit decimal that reads back is %llue%d",
                     (unsigned)bits, out, n, (unsigned long long)want, e);
    }
}

/* ------------------------------------------------------------- tests */

static void test_every_997th_bit_pattern(void **s)
{
    (void)s;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 997) {
        same_as_reference((uint32_t)u);
        if (u % (997 * 16) == 0) check_independently((uint32_t)u);
    }
}

/* Powers of two are where the lower gap halves (but not at the smallest
 * normal, whose lower neighbour is a subnormal as close as the upper one). */
static void test_powers_of_two_and_neighbours(void **s)
{
    (void)s;
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t e = 0; e < 255; e++) {
            uint32_t base = sign << 31 | e << 23;
            for (uint32_t d = 0; d <= 8; d++) {
                same_as_reference(base + d);
                if (base + d >= 8) same_as_reference(base - d); /* the binade below's end */
                check_independently(base + d);
            }
        }
}

static void test_subnormal_ends(void **s)
{
    (void)s;
    for (uint32_t m = 1; m < 20000; m++) {
        same_as_reference(m);
        same_as_reference(0x80000000u | m);
        same_as_reference(0x007fffffu - m);
        if (m < 2000) check_independently(m);
    }
    for (uint32_t m = 20000; m < 0x7fffff; m += 61)
        same_as_reference(m);
}

static void test_around_powers_of_ten(void **s)
{
    (void)s;
    char tmp[32];
    for (int e = -45; e <= 38; e++) {
        snprintf(tmp, sizeof tmp, "1e%d", e);
        uint32_t b = to_bits(strtof(tmp, NULL));
        for (uint32_t d = 0; d <= 64; d++) {
            same_as_reference(b + d);
            same_as_reference(b - d);
            check_independently(b + d);
            check_independently(b - d);
        }
    }
}

/* Decimal-looking values: short decimals and integers, where interval ends
 * and ties between candidates fall on exact decimals. */
static void test_short_decimals_and_integers(void **s)
{
    (void)s;
    char tmp[32];
    for (int d = 1; d < 10000; d++)
        for (int e = -12; e <= 12; e += 3) {
            snprintf(tmp, sizeof tmp, "%de%d", d, e);
            uint32_t b = to_bits(strtof(tmp, NULL));
            same_as_reference(b);
            same_as_reference(b + 1);
            same_as_reference(b - 1);
        }
    /* every float in [2^23, 2^25): integers and halves around 2^24, where
     * the spacing passes 1 */
    for (uint32_t b = 0x4b000000u; b < 0x4c000000u; b += 7) {
        same_as_reference(b);
        if (b % 1001 == 0) check_independently(b);
    }
}

/* The halving rule ("0.126953125" has two 8-digit neighbours at the same
 * distance, both inside: the even one) and values on interval ends. */
static void test_known_ties(void **s)
{
    (void)s;
    char out[MLP_FLOAT_TEXT_MAX];
    mlp_format_float(from_bits(0x3e020000), out);
    assert_string_equal(out, "0.12695312"); /* 0.126953125: tie, even 2 */
    mlp_format_float(from_bits(0x3e060000), out);
    assert_string_equal(out, "0.13085938"); /* 0.130859375: tie, even 8 */
    mlp_format_float(16777216.0f, out);
    assert_string_equal(out, "16777216");
    mlp_format_float(16777218.0f, out);
    assert_string_equal(out, "16777218");
    for (uint32_t b = 0x3e000000u; b < 0x3e200000u; b += 0x1000)
        check_independently(b);
}

/* Where the reference writes the farther of two shortest decimals (its
 * double-precision scaling cannot resolve f's distance to their midpoint):
 * the new text is the nearer, by f's exact expansion. */
static void test_reference_mistakes(void **s)
{
    (void)s;
    static const char *const want[] = {"9.3393267e-20", "1.01946067e-16", "6.2038205e29",
                                       "6.2038205e30", "6.2038205e32"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        for (uint32_t sign = 0; sign < 2; sign++) {
            uint32_t bits = sign << 31 | float_text_ref_misses[i];
            char a[MLP_FLOAT_TEXT_MAX], b[MLP_FLOAT_TEXT_MAX];
            mlp_format_float(from_bits(bits), a);
            mlp_format_float_ref(from_bits(bits), b);
            assert_string_equal(a + sign, want[i]);
            assert_string_not_equal(a, b);
            check_independently(bits);
            check_products(bits);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_997th_bit_pattern),
        cmocka_unit_test(test_powers_of_two_and_neighbours),
        cmocka_unit_test(test_subnormal_ends),
        cmocka_unit_test(test_around_powers_of_ten),
        cmocka_unit_test(test_short_decimals_and_integers),
        cmocka_unit_test(test_known_ties),
        cmocka_unit_test(test_reference_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
