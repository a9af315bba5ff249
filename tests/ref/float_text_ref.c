/*
 * float_text_ref — the float32 shortest-text writer libmlp used before
 * lib/float_text.c became a Schubfach implementation, kept for verification
 * only: tests/unit/lib/test_float_text_ref.c and
 * tests/tools/float_text_exhaustive.c check that the new code writes
 * byte-identical text. It is an independent method (double-precision
 * scaling, a binary search over the digit count, strtof() deciding every
 * candidate near an interval end), so agreeing with it is evidence, not
 * tautology.
 *
 * The method: mlp_format_float_ref writes the shortest decimal that strtof() reads back as the
 * same float32. A float f = m·2^e has a rounding interval: every real strictly
 * closer to f than to its neighbours reads back as f (the end points too when
 * m is even, because strtof rounds ties to even). The shortest decimal in that
 * interval is found by scaling |f| by 10^s so it has 9 integer digits, holding
 * the scaled value as 32.32 fixed point, and asking, for p significant digits,
 * whether the multiple of 10^(9-p) just below or just above lies inside the
 * interval. If any p-digit decimal lies inside, one of those two does (the
 * interval is convex and contains f), and if p digits work so do p+1, so a
 * binary search over p in [1, 9] finds the shortest (9 always works for
 * float32). Of the two candidates the nearer one is written.
 *
 * The scaling is done in double: |f|·10^s has at most two roundings (the
 * table entry and the product), a relative error below 2^-51, so the fixed
 * point value is off by less than 2^13 of its 2^-32 units. The two decisions
 * that could go wrong by that much — which side of an interval end point a
 * candidate lies — are re-checked exactly (by strtof on the candidate) when
 * the distance is within a safety margin of the end point. That happens for
 * a handful of floats in millions, so the fast path carries the speed and the
 * exact path carries correctness.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "float_text_ref.h"

/* 10^i for i in [-46, 60], each literal correctly rounded by the compiler
 * (8 - k reaches 53 for the smallest subnormal). */
#define P10_MIN (-46)
#define P10_MAX 60
static const double pow10_tab[] = {
    1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35,
    1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23,
    1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11,
    1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,
    1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,
    1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,
    1e26,  1e27,  1e28,  1e29,  1e30,  1e31,  1e32,  1e33,  1e34,  1e35,  1e36,  1e37,
    1e38,  1e39,  1e40,  1e41,  1e42,  1e43,  1e44,  1e45,  1e46,  1e47,  1e48,  1e49,
    1e50,  1e51,  1e52,  1e53,  1e54,  1e55,  1e56,  1e57,  1e58,  1e59,  1e60,
};
#define P10(i) (pow10_tab[(i)-P10_MIN])

/* Exact powers of ten as integers, 10^0 .. 10^9. */
static const uint32_t ipow10[] = {1,      10,      100,      1000,      10000,
                                  100000, 1000000, 10000000, 100000000, 1000000000};

/* ------------------------------------------------------------ formatting */

/* Writes the decimal digits of v (no leading zeros; "0" for 0); returns count. */
static int digits_write(uint64_t v, char *out)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Half of 10^j in 32.32 fixed point (10^j · 2^31), j = 0 .. 9. */
static const double half_unit[] = {2147483648.0,         21474836480.0,       214748364800.0,
                                   2147483648000.0,      21474836480000.0,    214748364800000.0,
                                   2147483648000000.0,   21474836480000000.0, 214748364800000000.0,
                                   2147483648000000000.0};

/* v / 10^j with a constant divisor per case, so the compiler multiplies by
 * a reciprocal instead of issuing a hardware divide. */
static inline uint32_t div_pow10(uint32_t v, int j)
{
    switch (j) {
    case 0:
        return v;
    case 1:
        return v / 10u;
    case 2:
        return v / 100u;
    case 3:
        return v / 1000u;
    case 4:
        return v / 10000u;
    case 5:
        return v / 100000u;
    case 6:
        return v / 1000000u;
    case 7:
        return v / 10000000u;
    default:
        return v / 100000000u;
    }
}

/* Exact test: does the decimal d·10^q read back as the float32 `mag`? */
static bool decimal_reads_back(uint64_t d, int q, float mag)
{
    char tmp[48];
    int n = digits_write(d, tmp);
    tmp[n++] = 'e';
    if (q < 0) {
        tmp[n++] = '-';
        q = -q;
    }
    n += digits_write((uint64_t)q, tmp + n);
    tmp[n] = '\0';
    return strtof(tmp, NULL) == mag;
}

typedef struct {
    float mag;  /* |f| */
    uint64_t x; /* |f|·10^s in 32.32 fixed point */
    /* Distances (same units) below lo_in are surely inside the rounding
     * interval on that side, above lo_out surely outside; in between the
     * exact check decides. Likewise hi_* above f. */
    uint64_t lo_in, lo_out, hi_in, hi_out;
    int k; /* decimal exponent of f's leading digit */
} float_ctx;

/* Exact side test for a candidate too close to an interval end to trust
 * the double-precision distances. */
static bool candidate_inside_slow(const float_ctx *c, uint64_t dist, uint64_t in, uint64_t d, int q)
{
    if (dist < in) return true;
    return decimal_reads_back(d, q, c->mag);
}

/* The nearer of the two candidates lo and lo + 1 (ties to even). */
static inline uint64_t candidate_nearer(uint64_t lo, uint64_t dist_lo, uint64_t dist_hi)
{
    if (dist_lo != dist_hi) return dist_lo < dist_hi ? lo : lo + 1;
    return (lo & 1) == 0 ? lo : lo + 1;
}

/*
 * For p significant digits: are the multiples of 10^(9-p) just below and
 * just above |f| inside the interval? Returns true if one is, and writes the
 * chosen digits (the nearer one if both are) into *digits. The common case
 * is a handful of integer compares; the exact check runs only for
 * candidates within the margin of an interval end.
 */
static bool digits_try(const float_ctx *c, int p, uint64_t *digits)
{
    int j = 9 - p;
    uint32_t unit = ipow10[j];
    uint32_t ip = (uint32_t)(c->x >> 32); /* < 2^32: scaled < 10^9 (1 + 2^-50) */
    uint64_t lo = div_pow10(ip, j);
    uint64_t r = ip - lo * unit;
    uint64_t dist_lo = (r << 32) | (c->x & 0xffffffffu);
    uint64_t dist_hi = ((uint64_t)unit << 32) - dist_lo;
    bool in_lo = dist_lo < c->lo_in, in_hi = dist_hi < c->hi_in;
    bool unsure = (!in_lo && dist_lo <= c->lo_out) | (!in_hi && dist_hi <= c->hi_out);
    if (__builtin_expect(unsure, 0)) {
        int q = c->k + 1 - p;
        in_lo =
            in_lo || (dist_lo <= c->lo_out && candidate_inside_slow(c, dist_lo, c->lo_in, lo, q));
        in_hi = in_hi ||
                (dist_hi <= c->hi_out && candidate_inside_slow(c, dist_hi, c->hi_in, lo + 1, q));
    }
    if (in_lo && in_hi)
        *digits = candidate_nearer(lo, dist_lo, dist_hi);
    else
        *digits = in_lo ? lo : lo + 1;
    return in_lo || in_hi;
}

/* The nearest p-digit candidate, for a p known to work. */
static uint64_t digits_nearest(const float_ctx *c, int p)
{
    int j = 9 - p;
    uint32_t unit = ipow10[j];
    uint32_t ip = (uint32_t)(c->x >> 32);
    uint64_t lo = div_pow10(ip, j);
    uint64_t dist_lo = ((uint64_t)(ip - (uint32_t)lo * unit) << 32) | (c->x & 0xffffffffu);
    return candidate_nearer(lo, dist_lo, ((uint64_t)unit << 32) - dist_lo);
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Writes the nd decimal digits of d (exactly nd, d < 10^nd) at out. */
static inline void digits_fixed(uint32_t d, int nd, char *out)
{
    char *o = out + nd;
    while (d >= 100) {
        uint32_t r = d % 100;
        d /= 100;
        o -= 2;
        o[0] = digit_pairs[2 * r];
        o[1] = digit_pairs[2 * r + 1];
    }
    if (d >= 10) {
        o -= 2;
        o[0] = digit_pairs[2 * d];
        o[1] = digit_pairs[2 * d + 1];
    } else {
        *--o = (char)('0' + d);
    }
}

static inline int digits_count(uint32_t d)
{
    int n = 1;
    while (n < 10 && d >= ipow10[n])
        n++;
    return n;
}

/* Lays out d·10^q (d < 2^32): plain decimal when the leading digit's
 * exponent is in [-5, 8], otherwise d.ddde±x. Returns characters written. */
static int decimal_layout(uint32_t d, int q, char *out)
{
    while (d % 10 == 0) {
        d /= 10;
        q++;
    }
    int nd = digits_count(d);
    int e = q + nd - 1;
    char *o = out;
    if (e >= -5 && e < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *o++ = '0';
        digits_fixed(d, nd, o);
        o += nd;
    } else if (e >= 0 && e <= 8) {
        if (nd <= e + 1) {
            digits_fixed(d, nd, o);
            o += nd;
            for (int i = 0; i < e + 1 - nd; i++)
                *o++ = '0';
        } else {
            /* Write the digits one place right, then pull the integer part
             * left over the gap and put the point in it. */
            digits_fixed(d, nd, o + 1);
            for (int i = 0; i <= e; i++)
                o[i] = o[i + 1];
            o[e + 1] = '.';
            o += nd + 1;
        }
    } else {
        digits_fixed(d, nd, o + 1);
        o[0] = o[1];
        if (nd > 1) {
            o[1] = '.';
            o += nd + 1;
        } else {
            o += 1;
        }
        *o++ = 'e';
        if (e < 0) {
            *o++ = '-';
            e = -e;
        }
        if (e >= 10) {
            *o++ = digit_pairs[2 * e];
            *o++ = digit_pairs[2 * e + 1];
        } else {
            *o++ = (char)('0' + e);
        }
    }
    *o = '\0';
    return (int)(o - out);
}

/*
 * The context for |f| (finite, non-zero): its scaled fixed-point value, the
 * decimal exponent of its leading digit, and the half-gaps to its neighbours
 * with the margins the double arithmetic needs.
 */
static void ctx_init(float f, uint32_t bexp, uint32_t man, float_ctx *c, double *hw_min)
{
    c->mag = fabsf(f);
    double v = (double)c->mag;
    /* f = m·2^e2 with m the 24-bit significand; the gap to the next float is
     * 2^e2 above, and below too except at a power of two, where it halves.
     * Whether an end point itself reads back (ties go to the even m) is left
     * to the exact check, which sees every candidate that close. */
    int e2 = bexp == 0 ? -149 : (int)bexp - 150;
    /* 2^e2 built from its bits (e2 >= -149 is a normal double). */
    uint64_t ubits = (uint64_t)(e2 + 1023) << 52;
    double ulp;
    memcpy(&ulp, &ubits, sizeof ulp);
    double gap_lo = (man == 0 && bexp > 1) ? ulp / 2 : ulp;

    /* k = floor(log10 v): estimate from the binary exponent (78913/2^18 is
     * log10(2) rounded down), then correct by one. */
    uint64_t vbits;
    memcpy(&vbits, &v, sizeof vbits);
    int be = (int)((vbits >> 52) & 0x7ffu) - 1023; /* v in [2^be, 2^(be+1)) */
    int k = be >= 0 ? (be * 78913) >> 18 : -((-be * 78913 + (1 << 18) - 1) >> 18);
    if (k + 1 <= P10_MAX && v >= P10(k + 1)) k++;
    if (v < P10(k)) k--;
    c->k = k;

    int s = 8 - k;
    double p10 = s >= 0 ? P10(s) : P10(-s);
    double scaled = s >= 0 ? v * p10 : v / p10;
    double sgap_lo = s >= 0 ? gap_lo * p10 : gap_lo / p10;
    double sgap_hi = s >= 0 ? ulp * p10 : ulp / p10;
    const double two32 = 4294967296.0;
    c->x = (uint64_t)(int64_t)(scaled * two32); /* < 2^62 */
    double hw_lo = sgap_lo * two32 / 2, hw_hi = sgap_hi * two32 / 2;
    double margin = 65536.0 + hw_hi * 0x1p-40;
    /* Half-gaps are at least 2^32 and below 2^60 fixed-point units (subnormals
     * included), so these are positive and fit. */
    c->lo_in = (uint64_t)(int64_t)(hw_lo - margin);
    c->lo_out = (uint64_t)(int64_t)(hw_lo + margin);
    c->hi_in = (uint64_t)(int64_t)(hw_hi - margin);
    c->hi_out = (uint64_t)(int64_t)(hw_hi + margin);
    *hw_min = (hw_lo < hw_hi ? hw_lo : hw_hi) - margin;
}

/*
 * The shortest digits: p_sure is the fewest digits for which the nearest
 * candidate is inside whatever f is (half a unit below both half-gaps,
 * margin included); 9 always is. Shorter p can still work when f happens to
 * sit near a short decimal: try p_sure - 1 (usually it fails, and the answer
 * is the nearest p_sure-digit candidate), else binary search below it. The
 * half units grow with j, so counting the ones below the half-gap needs no
 * early exit (and no unpredictable branch). Returns the digits, their count
 * in *p_out.
 */
static uint64_t digits_shortest(const float_ctx *c, double hw_min, int *p_out)
{
    int p_sure = 9;
    for (int jj = 1; jj <= 8; jj++)
        p_sure -= half_unit[jj] < hw_min;
    uint64_t d = 0;
    if (p_sure == 1 || !digits_try(c, p_sure - 1, &d)) {
        *p_out = p_sure;
        return digits_nearest(c, p_sure);
    }
    int lo = 1, hi = p_sure - 1; /* hi works, d holds its digits */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        uint64_t dm;
        if (digits_try(c, mid, &dm)) {
            hi = mid;
            d = dm;
        } else {
            lo = mid + 1;
        }
    }
    *p_out = hi;
    return d;
}

/*
 * Longest output (MLP_FLOAT_TEXT_MAX - 1 = 16 characters): the sign, then
 * "0." and four zeros for a leading digit at 10^-5, then 9 significant digits
 * (9 always suffice for float32, and floats in [1e-5, 1e-4) do need 9). Every
 * other layout is shorter: an exponent form has at most 1 + 9 + 1 + 4 =
 * 15 ("-1.23456789e-38"), a plain number >= 1 at most 1 + 9 + 1 = 11.
 * decimal_layout's scratch writes stay within the final length.
 */
int mlp_format_float_ref(float f, char *out)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint32_t bexp = (bits >> 23) & 0xffu, man = bits & 0x7fffffu;
    if (bexp == 0xffu) {
        memcpy(out, "null", 5);
        return 4;
    }
    char *o = out;
    if (bits >> 31) *o++ = '-';
    if (bexp == 0 && man == 0) {
        *o++ = '0';
        *o = '\0';
        return (int)(o - out);
    }
    float_ctx c;
    double hw_min;
    ctx_init(f, bexp, man, &c, &hw_min);
    int p;
    uint64_t d = digits_shortest(&c, hw_min, &p);
    return (int)(o - out) + decimal_layout((uint32_t)d, c.k + 1 - p, o);
}
