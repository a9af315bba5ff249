/*
 * test_number — the JSON number reader and the tensor-data loop against the
 * code they replaced, byte for byte and bit for bit.
 *
 * server/codec/number.c and number.h read numbers a word at a time;
 * tensor_data.c takes runs of `,number` in a tighter loop. The code before
 * them read digits one at a time and is kept, verbatim but renamed, in
 * reference_decoder.h. For every number text both parsers must consume the
 * same number of bytes (0 = not a number) and give the same double, bits
 * compared (so -0.0 and 0.0 differ); rs_number_short, where it takes a
 * number, must agree as well. Inputs: millions of deterministic
 * pseudo-random texts of every shape — signs, leading zeros, 0 to 25 digits
 * in the integer and the fraction part, exponents of 0 to 9 digits, up to 40
 * bytes of what may follow — each cut at every byte and placed at the very
 * end of a heap block, so that a read past `end` is an ASan error. For
 * random "data" arrays, both tensor-data readers must give the same verdict
 * and message, the same values bit for bit and the same datatype facts.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/internal.h"
/* The direct calls of rs_number_short below take the portable byte loop
 * for the first marked byte; through rs_number_scan and the tensor-data
 * loop the server's build (with the compiler's count of trailing zeros)
 * runs. */
#define RS_NUMBER_PORTABLE
#include "codec/number.h"

/* Sanitizer builds run fewer random texts (same code paths). */
#if defined(__SANITIZE_ADDRESS__)
#define RANDOM_TEXTS 40000L
#else
#define RANDOM_TEXTS 200000L
#endif

#include "reference_decoder.h"

/* libmlp's generator, seeded once in main: every run tests the same texts. */
static mlp_rng rng;

static uint64_t rng_next(void)
{
    return mlp_rng_next(&rng);
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)mlp_rng_below(&rng, n);
}

/* The heap block every text is parsed from: the text ends at its last byte. */
#define BLOCK 160
static char *block;
static long compared, short_taken;

static int setup(void **s)
{
    (void)s;
    block = malloc(BLOCK);
    return block == NULL ? -1 : 0;
}

static int teardown(void **s)
{
    (void)s;
    free(block);
    return 0;
}

/* text[0..len) printable for a failure message: other bytes as \xNN. */
static const char *shown(const char *text, size_t len)
{
    static char out[4 * BLOCK + 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, sizeof out - n, "\\x%02x", c);
    }
    out[n] = '\0';
    return out;
}

/* Parses text[0..len) placed at the end of the block with both parsers. */
static void compare(const char *text, size_t len)
{
    assert_true(len <= BLOCK);
    char *s = block + BLOCK - len;
    memmove(s, text, len);
    const char *end = block + BLOCK;
    double want = 1234.5, got = 1234.5;
    size_t n_want = ref_parse_number(s, end, &want);
    size_t n_got = rs_parse_number(s, end, &got);
    compared++;
    if (n_got != n_want || (n_want > 0 && memcmp(&got, &want, sizeof got) != 0))
        fail_msg("'%s' (%zu bytes): reference reads %zu bytes as %.17g, rs_parse_number "
                 "%zu as %.17g",
                 shown(text, len), len, n_want, want, n_got, got);
    /* The flavour tensor_data and rs_json_number use: the same bytes and
     * bits, and "integral" exactly when no '.', 'e' or 'E' was consumed. */
    bool integral = false;
    got = 1234.5;
    n_got = rs_number_scan(s, end, &got, &integral);
    if (n_got != n_want || (n_want > 0 && memcmp(&got, &want, sizeof got) != 0))
        fail_msg("'%s': reference reads %zu bytes as %.17g, rs_number_scan %zu as %.17g",
                 shown(text, len), n_want, want, n_got, got);
    bool want_integral = n_want > 0 && memchr(s, '.', n_want) == NULL &&
                         memchr(s, 'e', n_want) == NULL && memchr(s, 'E', n_want) == NULL;
    if (n_want > 0 && integral != want_integral)
        fail_msg("'%s': integral %d, want %d", shown(text, len), integral, want_integral);
    /* The word path alone (what the tensor-data loop calls): where it takes
     * a number, exactly the reference's reading of it. */
    if (len >= RS_NUMBER_SHORT_READ) {
        integral = !want_integral;
        got = 1234.5;
        n_got = rs_number_short(s, &got, &integral);
        if (n_got != 0) {
            short_taken++;
            if (n_got != n_want || memcmp(&got, &want, sizeof got) != 0 ||
                integral != want_integral)
                fail_msg("'%s': reference reads %zu bytes as %.17g, rs_number_short %zu as "
                         "%.17g (integral %d)",
                         shown(text, len), n_want, want, n_got, got, integral);
        }
    }
}

/* Every prefix of text, from empty to whole. */
static void compare_cuts(const char *text, size_t len)
{
    for (size_t m = 0; m <= len; m++)
        compare(text, m);
}

static void test_hand_written(void **s)
{
    (void)s;
    const char *cases[] = {
        "0",
        "-0",
        "-0.0",
        "0.0",
        "00",
        "01",
        "-01.5",
        "0.",
        "1.",
        ".5",
        "-",
        "--1",
        "+1",
        "-.5",
        "1e",
        "1e+",
        "1e-",
        "1E5",
        "1e05",
        "1e+0000000000000000000000000022",
        "1e99999999999999999999",
        "1e-99999999999999999999",
        "0e99999999",
        "-0e-5",
        "0.000000000000000000000000000000",
        "12345678",
        "123456789",
        "1234567890123456789",
        "12345678901234567890",
        "99999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "9007199254740992",
        "9007199254740993",
        "0.1234567890123456789",
        "0.12345678901234567890",
        "1.234567890123456789",
        "12345678901.23456789",
        "1234567890123456789.0",
        "1234567890123456789.5",
        "12345678901234567890.000001",
        "0.00000000000000000001234567",
        "1.0000000000000000000000001",
        "100000000000000000000000",
        "1e22",
        "1e23",
        "123.456e-7",
        "-0.8123,",
        "1.2]",
        "0.0001 ",
        "5.1,3.5,1.4,0.2",
        "0.123456789,0.5",
        "1x",
        "1.5x",
        "1e5x",
        "12345678:",
        "1234567/",
        "9.87654321e-05",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_cuts(cases[i], strlen(cases[i]));
}

/* The bytes that follow numbers in requests, and a few that must stop or
 * extend a number: one picked at random. */
static char follower(void)
{
    static const char set[] = ",]} \n\t.eE+-0123456789x/:\"";
    if (rng_below(8) == 0) return (char)(rng_next() & 0xff);
    return set[rng_below(sizeof set - 1)];
}

/* n digits: uniform, all one digit (0s and 9s make carries and zero runs),
 * or runs of zeros among others. */
static size_t put_digits(char *out, int n)
{
    int style = (int)rng_below(4);
    char one = rng_below(2) ? '0' : '9';
    for (int i = 0; i < n; i++) {
        char c = (char)('0' + rng_below(10));
        if (style == 1) c = one;
        if (style == 2 && rng_below(3) != 0) c = '0';
        out[i] = c;
    }
    return (size_t)n;
}

/* One random text shaped like a number (often a malformed one), followed by
 * 0 to 40 bytes of what may come next (cut at every byte, the short ones
 * test reads near the end, the long ones the word path). */
static size_t random_text(char *t)
{
    size_t n = 0;
    unsigned r = rng_below(20);
    if (r < 7) t[n++] = '-';
    if (r == 7) t[n++] = '+';
    if (r == 8) {
        t[n++] = '-';
        t[n++] = '-';
    }
    /* The integer part. */
    switch (rng_below(8)) {
    case 0:
        break; /* none */
    case 1:
    case 2:
        t[n++] = '0';
        break;
    case 3: /* leading zeros */
        t[n++] = '0';
        n += put_digits(t + n, 1 + (int)rng_below(6));
        break;
    default: {
        int k = 1 + (int)rng_below(25);
        n += put_digits(t + n, k);
        if (t[n - (size_t)k] == '0' && rng_below(2)) t[n - (size_t)k] = (char)('1' + rng_below(9));
    }
    }
    /* The fraction. */
    r = rng_below(8);
    if (r >= 2) {
        t[n++] = '.';
        int k = r == 2 ? 0 : 1 + (int)rng_below(25);
        if (r == 3 && k > 1) { /* leading zeros, then digits */
            int z = 1 + (int)rng_below((unsigned)k);
            memset(t + n, '0', (size_t)z);
            n += (size_t)z;
            k -= z;
        }
        n += put_digits(t + n, k);
    }
    /* The exponent. */
    r = rng_below(6);
    if (r >= 4) {
        t[n++] = rng_below(2) ? 'e' : 'E';
        unsigned sg = rng_below(3);
        if (sg == 1) t[n++] = '+';
        if (sg == 2) t[n++] = '-';
        int k = (int)rng_below(10);
        if (rng_below(2)) k = k > 3 ? 3 : k; /* mostly short ones */
        n += put_digits(t + n, k);
    }
    int tail = (int)rng_below(41);
    for (int i = 0; i < tail; i++)
        t[n++] = follower();
    return n;
}

static void test_random_shapes_every_cut(void **s)
{
    (void)s;
    char t[BLOCK];
    for (long i = 0; i < RANDOM_TEXTS; i++) {
        size_t n = random_text(t);
        compare_cuts(t, n);
    }
}

/* What clients send: Python's repr of round(gauss(0, 1), 4) (the benchmark's
 * bodies), %.9g of uniform floats, %.17g of any finite double, integers;
 * each followed by ',' and the next value, cut at every byte. */
static void test_client_shapes(void **s)
{
    (void)s;
    char t[BLOCK];
    for (long i = 0; i < RANDOM_TEXTS / 4; i++) {
        size_t n = 0;
        for (int v = 0; v < 5; v++) {
            double x;
            uint64_t bits;
            switch (rng_below(4)) {
            case 0: {
                double g = 0;
                for (int k = 0; k < 12; k++)
                    g += (double)(rng_next() >> 11) / 9007199254740992.0;
                x = round((g - 6) * 1e4) / 1e4;
                int m = snprintf(t + n, 16, "%.4f", x);
                while (m > 2 && t[n + (size_t)m - 1] == '0' && t[n + (size_t)m - 2] != '.')
                    m--;
                n += (size_t)m;
                break;
            }
            case 1:
                n += (size_t)snprintf(
                    t + n, 24, "%.9g",
                    (double)(float)((double)(rng_next() >> 11) / 9007199254740992.0));
                break;
            case 2:
                bits = rng_next();
                memcpy(&x, &bits, sizeof x);
                if (!isfinite(x)) x = 0.5;
                n += (size_t)snprintf(t + n, 32, "%.17g", x);
                break;
            default:
                /* at most 63 bits: fits in a long long either sign */
                n += (size_t)snprintf(t + n, 24, "%lld",
                                      (long long)(rng_next() >> (1 + rng_below(63))) *
                                          (rng_below(2) ? 1 : -1));
            }
            t[n++] = ',';
        }
        compare_cuts(t, n);
    }
}

/* Long digit runs: hundreds of digits either side of the point (the
 * strtod copy, the heap copy beyond 127 bytes), 0 or a few after the end. */
static void test_long_runs(void **s)
{
    (void)s;
    char t[BLOCK];
    for (long i = 0; i < 3000; i++) {
        size_t n = 0;
        if (rng_below(2)) t[n++] = '-';
        int a = (int)rng_below(70), b = (int)rng_below(70);
        if (a == 0 || rng_below(3) == 0) {
            t[n++] = '0';
        } else {
            n += put_digits(t + n, a);
            t[n - (size_t)a] = (char)('1' + rng_below(9));
        }
        if (b > 0) {
            t[n++] = '.';
            n += put_digits(t + n, b);
        }
        if (rng_below(2)) n += (size_t)snprintf(t + n, 8, "e%d", (int)rng_below(800) - 400);
        compare(t, n);
        compare_cuts(t, n);
    }
}

/* ------------------------------------------------ the tensor-data loop */

/* One array element as clients write it, or something else now and then. */
static size_t element(char *t)
{
    switch (rng_below(40)) {
    case 0:
        return (size_t)sprintf(t, "true");
    case 1:
        return (size_t)sprintf(t, "false");
    case 2:
        return (size_t)sprintf(t, "-");
    case 3: { /* any shape, maybe no number: the reference says what it is */
        size_t n = random_text(t);
        return n > 30 ? 30 : n;
    }
    case 4:
        return (size_t)sprintf(t, "%s", rng_below(2) ? "3.5e39" : "-1e39"); /* not float32 */
    case 5:
        return (size_t)sprintf(t, "%s", rng_below(2) ? "\"x\"" : "null");
    case 6:
        return (size_t)sprintf(t, "%lld", (long long)(rng_next() >> (1 + rng_below(63))));
    case 7:
        return (size_t)sprintf(t, "%.17g", (double)(rng_next() >> 11) / 9007199254740992.0);
    default:
        break;
    }
    double g = 0;
    for (int k = 0; k < 12; k++)
        g += (double)(rng_next() >> 11) / 9007199254740992.0;
    double x = round((g - 6) * 1e4) / 1e4 * (rng_below(8) ? 1 : 1000);
    if (rng_below(3) == 0) return (size_t)sprintf(t, "%.9g", (double)(float)x);
    int m = sprintf(t, "%.4f", x);
    while (m > 2 && t[m - 1] == '0' && t[m - 2] != '.')
        m--;
    return (size_t)m;
}

/* What separates elements: mostly ",", some ", ", rarely other space. */
static const char *separator(void)
{
    static const char *seps[] = {",",  ",",  ",",   ",",  ",",    ",",
                                 ", ", ", ", ",\n", " ,", ",\t ", ",  "};
    return seps[rng_below(sizeof seps / sizeof seps[0])];
}

/* A random "data" array: flat or [rows][cols] (sometimes ragged), of
 * elements mostly like the benchmark's, sometimes booleans, integers, long
 * numbers, numbers float32 cannot hold, malformed ones; then what follows
 * the array in a request. */
static size_t random_array(char *out, size_t cap)
{
    size_t n = 0;
    int rows = rng_below(4) == 0 ? 1 + (int)rng_below(4) : 0;
    int cols = (int)rng_below(rng_below(4) == 0 ? 3000 : 60);
    bool clean = rng_below(3) == 0; /* benchmark-like values only */
    out[n++] = '[';
    for (int r = 0; r < (rows ? rows : 1); r++) {
        if (rows) {
            if (r) n += (size_t)sprintf(out + n, "%s", separator());
            out[n++] = '[';
        }
        int c_here = rows && rng_below(30) == 0 ? cols + 1 : cols;
        for (int c = 0; c < c_here && n + 64 < cap; c++) {
            if (c) n += (size_t)sprintf(out + n, "%s", rng_below(50) ? "," : separator());
            if (clean) { /* redrawn until it is a number without exponent */
                size_t k;
                do {
                    k = element(out + n);
                } while (ref_parse_number(out + n, out + n + k, &(double){0}) != k ||
                         memchr(out + n, 'e', k) != NULL);
                n += k;
            } else {
                n += element(out + n);
            }
        }
        if (rows) out[n++] = ']';
    }
    out[n++] = ']';
    n += (size_t)sprintf(out + n, "%s",
                         rng_below(2) ? "}]}" : ",\"shape\":[1,784],\"datatype\":\"FP32\"}]}");
    return n;
}

/* Both readers over one text in an exact heap block: the same verdict and
 * message, values bit for bit, the same facts and cursor. */
static void compare_tensor(const char *text, size_t len, size_t hint)
{
    char *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, text, len);
    char err_want[256] = "", err_got[256] = "";
    rs_json jw, jg;
    rs_tensor_data want, got;
    rs_json_init(&jw, buf, len, err_want, sizeof err_want);
    rs_json_init(&jg, buf, len, err_got, sizeof err_got);
    int r_want = ref_tensor_data_read(&jw, &want, hint, "inputs[0].data");
    int r_got = rs_tensor_data_read(&jg, &got, hint, "inputs[0].data");
    if (r_want != r_got || strcmp(err_want, err_got) != 0)
        fail_msg("%.60s...: reference %d '%s', rs_tensor_data_read %d '%s'", text, r_want, err_want,
                 r_got, err_got);
    if (r_want == 0) {
        if (got.n != want.n || got.cap != want.cap || jg.p != jw.p || got.depth != want.depth ||
            memcmp(got.dims, want.dims, sizeof got.dims) != 0 ||
            (want.n > 0 && memcmp(got.v, want.v, want.n * sizeof(float)) != 0))
            fail_msg("%.60s...: values or shape differ (n %zu/%zu)", text, got.n, want.n);
        if (got.saw_bool != want.saw_bool || got.bool_at != want.bool_at ||
            got.saw_number != want.saw_number || got.number_at != want.number_at ||
            got.saw_fraction != want.saw_fraction || got.fraction_at != want.fraction_at ||
            memcmp(&got.fraction_value, &want.fraction_value, sizeof(double)) != 0 ||
            memcmp(&got.min, &want.min, sizeof(double)) != 0 ||
            memcmp(&got.max, &want.max, sizeof(double)) != 0 || got.leaf_depth != want.leaf_depth ||
            got.max_depth != want.max_depth)
            fail_msg("%.60s...: the datatype facts differ", text);
        rs_tensor_data_free(&got);
        rs_tensor_data_free(&want);
    }
    free(buf);
}

static void test_tensor_data_against_reference(void **s)
{
    (void)s;
    size_t cap = 3000 * 40 + 4096;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < RANDOM_TEXTS / 200; i++) {
        size_t n = random_array(text, cap);
        size_t hint = rng_below(2) ? 0 : rng_below(4000);
        compare_tensor(text, n, hint);
        /* and cut short somewhere */
        compare_tensor(text, 1 + rng_below((unsigned)n), hint);
    }
    free(text);
}

int main(void)
{
    mlp_rng_seed(&rng, 0x2545f4914f6cdd1dull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_written),
        cmocka_unit_test(test_random_shapes_every_cut),
        cmocka_unit_test(test_client_shapes),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_tensor_data_against_reference),
    };
    int r = cmocka_run_group_tests(tests, setup, teardown);
    fprintf(stderr, "test_number: %ld texts compared, %ld of them taken by rs_number_short\n",
            compared, short_taken);
    return r;
}
