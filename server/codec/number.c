/*
 * number — JSON numbers into binary floating point.
 *
 * rs_parse_number reads one JSON number. Clinger's fast path: when the decimal
 * significand fits in 53 bits and |exponent| <= 22, both the significand and
 * 10^|exponent| are exact doubles, so one IEEE multiply or divide yields the
 * correctly rounded result — what strtod returns. Everything else goes to
 * strtod on a NUL-terminated copy (the input is not NUL-terminated).
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* 10^0 .. 10^22: the powers of ten a double holds exactly (Clinger's range). */
static const double p10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

size_t rs_parse_number(const char *s, const char *end, double *out)
{
    const char *p = s;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end) return 0;

    uint64_t sig = 0; /* significant digits, at most 19 */
    int nsig = 0;     /* digits in sig (leading zeros not counted) */
    int dropped = 0;  /* integer digits beyond 19 (each scales by 10) */
    bool inexact = false;
    int frac = 0; /* fraction digits taken into sig */

    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) {
            if (nsig < 19) {
                sig = sig * 10 + (uint64_t)(*p - '0');
                nsig++;
            } else {
                dropped++;
                if (*p != '0') inexact = true;
            }
            p++;
        }
    } else {
        return 0;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) return 0;
        while (p < end && is_digit(*p)) {
            if (nsig < 19) {
                sig = sig * 10 + (uint64_t)(*p - '0');
                if (sig != 0) nsig++;
                frac++;
            } else if (*p != '0') {
                inexact = true;
            }
            p++;
        }
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
    }
    size_t n = (size_t)(p - s);
    int e10 = exp - frac + dropped;

    if (sig == 0 && !inexact) {
        *out = neg ? -0.0 : 0.0;
        return n;
    }
    if (!inexact && dropped == 0 && sig <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)sig;
        d = e10 >= 0 ? d * p10_exact[e10] : d / p10_exact[-e10];
        *out = neg ? -d : d;
        return n;
    }

    /* Slow path: strtod on a NUL-terminated copy of exactly these bytes. */
    char stack[128];
    char *copy = n < sizeof stack ? stack : malloc(n + 1);
    if (copy == NULL) return 0;
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL);
    if (copy != stack) free(copy);
    return n;
}
