/*
 * test_float — shortest round-trip float32 text and JSON number parsing.
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

#include "codec/codec.h"

/* Sanitizer builds run ten times fewer random cases (same code paths). */
#if defined(__SANITIZE_ADDRESS__)
#define RANDOM_FLOATS 1000000L
#else
#define RANDOM_FLOATS 10000000L
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static float float_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Significant digits of a decimal text (leading zeros and the exponent and
 * trailing zeros of the integer part not counted). */
static int significant_digits(const char *s)
{
    char dig[32];
    int n = 0;
    for (const char *p = s; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '0' && *p <= '9' && n < 31) dig[n++] = *p;
    int a = 0;
    while (a < n && dig[a] == '0')
        a++;
    while (n > a && dig[n - 1] == '0')
        n--;
    return n - a;
}

/* Fewest digits p for which printf's "%.{p}g" reads back as f. */
static int brute_force_digits(float f)
{
    char tmp[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, (double)f);
        if (same_bits(strtof(tmp, NULL), f)) return p;
    }
    return 99;
}

static void check_round_trip(float f)
{
    char out[32];
    memset(out, 'x', sizeof out);
    int n = mlp_format_float(f, out);
    assert_true(n > 0 && n < MLP_FLOAT_TEXT_MAX);
    assert_int_equal((int)strlen(out), n);
    float g = strtof(out, NULL);
    if (!same_bits(f, g))
        fail_msg("%.9g written as %s reads back as %.9g", (double)f, out, (double)g);
}

static void test_special_values(void **s)
{
    (void)s;
    static const struct {
        float f;
        const char *text;
    } want[] = {
        {0.0f, "0"},
        {-0.0f, "-0"},
        {INFINITY, "null"},
        {-INFINITY, "null"},
        {NAN, "null"},
        {1.0f, "1"},
        {0.1f, "0.1"},
        {-2.5f, "-2.5"},
        {100.0f, "100"},
        {1e-5f, "0.00001"},
        {1e-6f, "1e-6"},
        {1e10f, "1e10"},
        {16777216.0f, "16777216"},
        {FLT_MAX, "3.4028235e38"},
        {FLT_MIN, "1.1754944e-38"},
        {0x1p-149f, "1e-45"}, /* the smallest subnormal */
    };
    char out[32];
    assert_int_equal(mlp_format_float(0.0f, out), 1);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mlp_format_float(want[i].f, out);
        if (strcmp(out, want[i].text) != 0)
            fail_msg("%.9g written as %s, not %s", (double)want[i].f, out, want[i].text);
    }
    check_round_trip(float_from_bits(0x007fffff)); /* largest subnormal */
    check_round_trip(float_from_bits(0x7f7fffff));
    check_round_trip(-FLT_MAX);
}

static void test_powers_and_integers(void **s)
{
    (void)s;
    for (int e = -149; e <= 127; e++) {
        float f = ldexpf(1.0f, e);
        check_round_trip(f);
        check_round_trip(nextafterf(f, 0.0f));
        check_round_trip(nextafterf(f, INFINITY));
    }
    char tmp[64], out[32];
    for (int e = -45; e <= 38; e++) {
        snprintf(tmp, sizeof tmp, "1e%d", e);
        float f = strtof(tmp, NULL);
        check_round_trip(f);
        mlp_format_float(f, out);
        assert_int_equal(significant_digits(out), 1); /* 10^e: one digit */
    }
    for (int i = -100000; i <= 100000; i++) {
        mlp_format_float((float)i, out);
        snprintf(tmp, sizeof tmp, "%d", i);
        assert_string_equal(out, tmp);
    }
}

static void test_random_bits_round_trip(void **s)
{
    (void)s;
    char out[32];
    for (long i = 0; i < RANDOM_FLOATS; i++) {
        uint32_t u = (uint32_t)rng_next();
        float f = float_from_bits(u);
        if (!isfinite(f)) continue;
        mlp_format_float(f, out);
        float g = strtof(out, NULL);
        if (!same_bits(f, g))
            fail_msg("0x%08x written as %s reads back as %.9g", (unsigned)u, out, (double)g);
    }
}

/* Never longer than the shortest "%.{p}g"; shorter only when printf's nearest
 * p-digit rounding misses the interval but the other neighbour is inside
 * (then ours still reads back — checked — and is the true shortest). */
static void test_shortest_against_brute_force(void **s)
{
    (void)s;
    char out[32];
    long shorter = 0, samples = 0;
    for (long i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rng_next();
        float f = float_from_bits(u);
        if (!isfinite(f)) continue;
        if (i % 2) f = (float)((double)(u >> 8) / 16777216.0 * 2 - 1); /* typical outputs */
        mlp_format_float(f, out);
        int ours = significant_digits(out);
        int best = brute_force_digits(f);
        samples++;
        if (ours > best)
            fail_msg("%.9g: ours %s has %d digits, %%.%dg suffices", (double)f, out, ours, best);
        if (ours < best) shorter++;
        assert_true(same_bits(strtof(out, NULL), f));
    }
    assert_true(shorter * 1000 < samples);
}

/* Formatted text is valid JSON number syntax (what rs_parse_number reads). */
static void test_output_is_json_number(void **s)
{
    (void)s;
    char out[32];
    for (long i = 0; i < 100000; i++) {
        float f = float_from_bits((uint32_t)rng_next());
        if (!isfinite(f)) continue;
        int n = mlp_format_float(f, out);
        double d;
        assert_int_equal(rs_parse_number(out, out + n, &d), (size_t)n);
        assert_true(same_bits((float)d, f));
    }
}

/* ------------------------------------------------------------- parsing */

static void check_parse(const char *text)
{
    size_t n = strlen(text);
    double got = 12345.0;
    size_t used = rs_parse_number(text, text + n, &got);
    char *end;
    double want = strtod(text, &end);
    if (used != (size_t)(end - text) || memcmp(&got, &want, sizeof got) != 0)
        fail_msg("'%s': parsed %zu chars as %.17g, strtod %zu chars as %.17g", text, used, got,
                 (size_t)(end - text), want);
}

static void test_parse_edge_cases(void **s)
{
    (void)s;
    const char *cases[] = {
        "0",
        "-0",
        "1",
        "-1",
        "0.5",
        "123456789",
        "1e10",
        "1E10",
        "1e+10",
        "1e-10",
        "0.1",
        "0.2",
        "0.30000000000000004",
        "9007199254740992",
        "9007199254740993",
        "9007199254740995",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678901234567890",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "4.9e-324",
        "2.4703282292062327e-324",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "1e400",
        "-1e400",
        "1e-400",
        "0.000001",
        "1.00000000000000011",
        "3.4028235e38",
        "3.4028236e38",
        "1.401298464324817e-45",
        "0.0000000000000000000000000000001",
        "100000000000000000000000.0",
        "0e0",
        "0e-999999",
        "123e99999999999",
        "7.038531e-26",
        "1.0e-7",
        "340282356779733661637539395458142568448",
        "0.000000000000000000000000000000000000000000001401298464324817070923729583289916131280",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_parse(cases[i]);
}

static void test_parse_rejects_non_json(void **s)
{
    (void)s;
    const char *bad[] = {"",    "-",   "+1", ".5",       "1.",  "1.e5", "1e",
                         "1e+", "-e5", "x",  "Infinity", "NaN", "-.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double d;
        const char *t = bad[i];
        if (rs_parse_number(t, t + strlen(t), &d) != 0) fail_msg("'%s' accepted", t);
    }
    /* JSON has no leading zeros: "01" is the number 0 followed by junk. */
    double d;
    assert_int_equal(rs_parse_number("01", "01" + 2, &d), 1);
    /* The end pointer bounds the read: "12" with end after '1' is 1. */
    const char *t = "12";
    assert_int_equal(rs_parse_number(t, t + 1, &d), 1);
    assert_true(d == 1.0);
    assert_int_equal(rs_parse_number(t, t, &d), 0);
}

static void test_parse_random_against_strtod(void **s)
{
    (void)s;
    char text[96];
    for (long i = 0; i < 300000; i++) {
        uint64_t r = rng_next();
        int kind = (int)(r % 4);
        if (kind == 0) {
            double v;
            uint64_t bits = rng_next();
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v)) continue;
            snprintf(text, sizeof text, "%.17g", v);
        } else if (kind == 1) {
            snprintf(text, sizeof text, "%.9g", (double)float_from_bits((uint32_t)rng_next()));
            if (strchr(text, 'n') || strchr(text, 'i')) continue;
        } else {
            /* Random digits, fraction and exponent in JSON syntax. */
            int n = 0, nd = 1 + (int)(rng_next() % 25);
            if (rng_next() & 1) text[n++] = '-';
            text[n++] = (char)('1' + rng_next() % 9);
            for (int k = 1; k < nd; k++)
                text[n++] = (char)('0' + rng_next() % 10);
            if (rng_next() & 1) {
                text[n++] = '.';
                int nf = 1 + (int)(rng_next() % 20);
                for (int k = 0; k < nf; k++)
                    text[n++] = (char)('0' + rng_next() % 10);
            }
            if (kind == 3)
                n += snprintf(text + n, sizeof text - (size_t)n, "e%d",
                              (int)(rng_next() % 700) - 350);
            text[n] = '\0';
        }
        check_parse(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_powers_and_integers),
        cmocka_unit_test(test_random_bits_round_trip),
        cmocka_unit_test(test_shortest_against_brute_force),
        cmocka_unit_test(test_output_is_json_number),
        cmocka_unit_test(test_parse_edge_cases),
        cmocka_unit_test(test_parse_rejects_non_json),
        cmocka_unit_test(test_parse_random_against_strtod),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
