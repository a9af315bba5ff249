/*
 * number — JSON numbers into binary floating point.
 *
 * rs_number_scan reads one JSON number. Request bodies are mostly short
 * numbers (an optional '-', a few integer digits, a fraction, no exponent),
 * and reading them a digit at a time, with a branch per digit and per sign
 * that real data makes unpredictable, was a fifth of the server's CPU time.
 * rs_number_short (number.h, inline so that the tensor-data loop runs it
 * without a call) reads those with a fixed sequence of 64-bit word
 * operations. Everything else, and any number within RS_NUMBER_SHORT_READ
 * bytes of the end of the text, goes through scan_general here, which finds
 * and converts the digit runs eight bytes at a time as well.
 *
 * When the integer and fraction digits are at most 19 together their value
 * is exact in 64 bits; longer significands keep their first 19 significant
 * digits. Then Clinger's fast path: when that significand fits in 53 bits
 * and |exponent| <= 22, both it and 10^|exponent| are exact doubles, so one
 * IEEE multiply or divide yields the correctly rounded result — what strtod
 * returns. Everything outside it goes to strtod on a NUL-terminated copy
 * (the input is not NUL-terminated).
 *
 * tests/unit/server/codec/reference_decoder.h keeps the digit-at-a-time
 * parser this one replaced; test_number.c checks that both read every input
 * to the same length and the same bits.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "number.h"

/* 10^0 .. 10^22, the powers of ten a double holds exactly (Clinger's range). */
static const double p10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

const double rs_p10_signed[32] = {1e0,  1e1,  1e2,   1e3,   1e4,   1e5,   1e6,   1e7,
                                  1e8,  1e9,  1e10,  1e11,  1e12,  1e13,  1e14,  1e15,
                                  -1e0, -1e1, -1e2,  -1e3,  -1e4,  -1e5,  -1e6,  -1e7,
                                  -1e8, -1e9, -1e10, -1e11, -1e12, -1e13, -1e14, -1e15};

const uint64_t rs_p10_u64[20] = {1ull,
                                 10ull,
                                 100ull,
                                 1000ull,
                                 10000ull,
                                 100000ull,
                                 1000000ull,
                                 10000000ull,
                                 100000000ull,
                                 1000000000ull,
                                 10000000000ull,
                                 100000000000ull,
                                 1000000000000ull,
                                 10000000000000ull,
                                 100000000000000ull,
                                 1000000000000000ull,
                                 10000000000000000ull,
                                 100000000000000000ull,
                                 1000000000000000000ull,
                                 10000000000000000000ull};

/* The rare paths stay out of line, so that the common one needs a small
 * stack frame. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define COLD     __attribute__((noinline, cold))
#else
#define NOINLINE
#define COLD
#endif

static inline bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* The run of digits at p (not past end): returns its length, and in *value
 * the number it spells when that length is at most 19 (wrapped otherwise). */
static RS_NUM_INLINE size_t digit_run(const char *p, const char *end, uint64_t *value)
{
    const char *q = p;
    uint64_t v = 0;
    while (end - q >= 8) {
        uint64_t w = rs_load8(q);
        uint64_t m = rs_non_digits(w);
        if (m != 0) {
            unsigned k = rs_first_marked(m);
            if (k > 0) v = v * rs_p10_u64[k] + rs_value8(w, k);
            *value = v;
            return (size_t)(q - p) + k;
        }
        v = v * 100000000 + rs_value8(w, 8);
        q += 8;
    }
    while (q < end && is_digit(*q)) {
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    *value = v;
    return (size_t)(q - p);
}

/* A significand of more than 19 digits as the decimal reader has always
 * taken it: its first 19 significant digits in sig (leading zeros of the
 * fraction count in frac but not as significant), `dropped` integer digits
 * past those (each a factor of 10), inexact if a dropped digit is not 0. */
typedef struct {
    uint64_t sig;
    int frac, dropped;
    bool inexact;
} long_significand;

/* frac and dropped stop counting here. A number whose counts pass it (2^28
 * digits: a 256 MiB number, which --max-body, up to 1 TiB, may let in) has a
 * decimal exponent far outside Clinger's +-22 either way, so it goes to
 * strtod with its whole text all the same; and the int arithmetic on the
 * counts (e10) cannot overflow, as it could past 2^31 digits. */
#define DIGIT_COUNT_MAX (1 << 28)

static COLD long_significand long_digits(const char *ip, size_t ni, const char *fp, size_t nf)
{
    long_significand r = {0, 0, 0, false};
    int nsig = 0;
    for (size_t i = 0; i < ni; i++) {
        if (nsig < 19) {
            r.sig = r.sig * 10 + (uint64_t)(ip[i] - '0');
            nsig++;
        } else {
            r.dropped += r.dropped < DIGIT_COUNT_MAX;
            if (ip[i] != '0') r.inexact = true;
        }
    }
    for (size_t i = 0; i < nf; i++) {
        if (nsig < 19) {
            r.sig = r.sig * 10 + (uint64_t)(fp[i] - '0');
            if (r.sig != 0) nsig++;
            r.frac += r.frac < DIGIT_COUNT_MAX;
        } else if (fp[i] != '0') {
            r.inexact = true;
        }
    }
    return r;
}

/* strtod on a NUL-terminated copy of exactly the n bytes at s. */
static COLD size_t slow_path(const char *s, size_t n, double *out)
{
    char stack[128];
    char *copy = n < sizeof stack ? stack : malloc(n + 1);
    if (copy == NULL) return 0;
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL);
    if (copy != stack) free(copy);
    return n;
}

/* Any JSON number, and anything that is not one: 0 then. Out of line (a
 * smaller frame for rs_number_scan's common case), but not cold: numbers
 * with 17 significant digits or exponents are common from some clients. */
static NOINLINE size_t scan_general(const char *s, const char *end, double *out, bool *integral)
{
    const char *p = s;
    bool neg = p < end && *p == '-';
    p += neg;
    if (p >= end || !is_digit(*p)) return 0;

    /* The integer part, in [ip, ip + ni): "0" alone (JSON has no leading
     * zeros: "012" is 0 followed by something else) or a run of digits. */
    const char *ip = p;
    uint64_t iv;
    size_t ni = digit_run(p, end, &iv);
    bool zero = *p == '0';
    ni = zero ? 1 : ni;
    iv = zero ? 0 : iv;
    p += ni;
    /* The fraction, in [fp, fp + nf). */
    const char *fp = p;
    size_t nf = 0;
    uint64_t fv = 0;
    bool whole = true;
    if (p < end && *p == '.') {
        p++;
        fp = p;
        nf = digit_run(p, end, &fv);
        if (nf == 0) return 0;
        p += nf;
        whole = false;
    }
    int exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p)) return 0;
        while (p < end && is_digit(*p)) {
            if (exp < 100000) /* saturate; anything this large is 0 or inf */
                exp = exp * 10 + (*p - '0');
            p++;
        }
        if (eneg) exp = -exp;
        whole = false;
    }
    size_t n = (size_t)(p - s);
    *integral = whole;

    long_significand m;
    if (ni + nf <= 19)
        m = (long_significand){iv * rs_p10_u64[nf] + fv, (int)nf, 0, false};
    else if (zero) /* that "0" is no significant digit */
        m = long_digits(ip + 1, 0, fp, nf);
    else
        m = long_digits(ip, ni, fp, nf);
    int e10 = exp - m.frac + m.dropped;

    if (m.sig == 0 && !m.inexact) {
        *out = neg ? -0.0 : 0.0;
        return n;
    }
    if (!m.inexact && m.dropped == 0 && m.sig <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m.sig;
        d = e10 >= 0 ? d * p10_exact[e10] : d / p10_exact[-e10];
        *out = neg ? -d : d;
        return n;
    }

    return slow_path(s, n, out);
}

size_t rs_number_scan(const char *s, const char *end, double *out, bool *integral)
{
    if (end - s >= RS_NUMBER_SHORT_READ) {
        size_t n = rs_number_short(s, out, integral);
        if (n > 0) return n;
    }
    return scan_general(s, end, out, integral);
}

size_t rs_parse_number(const char *s, const char *end, double *out)
{
    bool integral;
    return rs_number_scan(s, end, out, &integral);
}
