/*
 * test_float_text — mlp_format_float's buffer contract: it never writes more
 * than MLP_FLOAT_TEXT_MAX bytes (NUL included), and what it writes reads
 * back as the same float32.
 *
 * The longest outputs are negative numbers in [1e-5, 1e-4) that need all 9
 * significant digits ("-0.0000100000025", 16 characters). The binade
 * [2^-17, 2^-16) holds the start of that class and the end of the exponent
 * form just below 1e-5, so every negative float in it is formatted into a
 * buffer of exactly MLP_FLOAT_TEXT_MAX bytes followed by guard bytes. Every
 * other class (sign, each of the 256 exponents with subnormals and
 * infinities/NaN, mantissas at both ends and on a stride) is sampled
 * systematically with the same checks.
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

#include "mlp.h"

#define GUARD 16

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Formats f into MLP_FLOAT_TEXT_MAX bytes followed by guard bytes; fails if
 * the guard is touched, the length or NUL is off, or (round_trip) strtof
 * does not give back f's bits ("null" for NaN and infinities). Returns the
 * length. */
static int check(uint32_t bits, bool round_trip)
{
    float f = from_bits(bits);
    char buf[MLP_FLOAT_TEXT_MAX + GUARD];
    memset(buf, '#', sizeof buf);
    int n = mlp_format_float(f, buf);
    for (size_t i = MLP_FLOAT_TEXT_MAX; i < sizeof buf; i++)
        if (buf[i] != '#')
            fail_msg("0x%08x: wrote past %d bytes", (unsigned)bits, MLP_FLOAT_TEXT_MAX);
    if (n < 1 || n > MLP_FLOAT_TEXT_MAX - 1 || buf[n] != '\0' || (int)strlen(buf) != n)
        fail_msg("0x%08x: length %d, text '%.*s'", (unsigned)bits, n, MLP_FLOAT_TEXT_MAX, buf);
    if (!round_trip) return n;
    if (!isfinite(f)) {
        if (strcmp(buf, "null") != 0) fail_msg("0x%08x: '%s', expected null", (unsigned)bits, buf);
        return n;
    }
    float g = strtof(buf, NULL);
    if (memcmp(&f, &g, sizeof f) != 0)
        fail_msg("0x%08x (%.9g) written as %s reads back as %.9g", (unsigned)bits, (double)f, buf,
                 (double)g);
    return n;
}

static void test_longest_class_exhaustive(void **s)
{
    (void)s;
    /* every negative float in [2^-17, 2^-16): biased exponent 127 - 17 */
    const uint32_t first = 0x80000000u | (uint32_t)(127 - 17) << 23;
    long longest = 0;
    int max_len = 0;
    for (uint32_t m = 0; m < (1u << 23); m++) {
        uint32_t bits = first | m;
        /* strtof is most of the cost: every longest output, every 16th other */
        int n = check(bits, false);
        if (n == MLP_FLOAT_TEXT_MAX - 1 || m % 16 == 0) check(bits, true);
        longest += n == MLP_FLOAT_TEXT_MAX - 1;
        if (n > max_len) max_len = n;
    }
    /* the class really reaches the bound: a 16-byte contract would fail here */
    assert_int_equal(max_len, MLP_FLOAT_TEXT_MAX - 1);
    assert_true(longest > 100000);
}

static void test_every_exponent_and_sign_sampled(void **s)
{
    (void)s;
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t e = 0; e < 256; e++) {
            uint32_t base = sign << 31 | e << 23;
            static const uint32_t ends[] = {0, 1, 2, 3, 0x7ffffc, 0x7ffffd, 0x7ffffe, 0x7fffff};
            for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++)
                check(base | ends[k], true);
            for (uint32_t m = 4; m < 0x7ffffc; m += 4093) /* a prime stride */
                check(base | m, true);
        }
}

static void test_longest_texts_of_each_form(void **s)
{
    (void)s;
    char out[MLP_FLOAT_TEXT_MAX];
    assert_int_equal(mlp_format_float(from_bits(0xb727c5af), out), 16);
    assert_string_equal(out, "-0.0000100000025"); /* plain, 9 digits, leading at 10^-5 */
    assert_int_equal(mlp_format_float(nextafterf(-1e-5f, 0.0f), out), 12);
    assert_string_equal(out, "-9.999999e-6"); /* just below: exponent form */
    assert_int_equal(mlp_format_float(-FLT_MAX, out), 13);
    assert_string_equal(out, "-3.4028235e38");
    assert_int_equal(mlp_format_float(-FLT_MIN, out), 14);
    assert_string_equal(out, "-1.1754944e-38");
    assert_int_equal(mlp_format_float(from_bits(0x807fffff), out), 14); /* largest subnormal */
    assert_string_equal(out, "-1.1754942e-38");
    assert_int_equal(mlp_format_float(from_bits(0x80000001), out), 6); /* smallest subnormal */
    assert_string_equal(out, "-1e-45");
    assert_int_equal(mlp_format_float(-INFINITY, out), 4);
    assert_string_equal(out, "null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_class_exhaustive),
        cmocka_unit_test(test_every_exponent_and_sign_sampled),
        cmocka_unit_test(test_longest_texts_of_each_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
