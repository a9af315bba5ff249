/*
 * float_shortest — the shortest decimal in a float32's rounding interval, the
 * digits mlp_format_float (float_text.c) lays out as text. Static inline, so
 * tests/tools/float_text_exhaustive.c can check its steps on every input.
 *
 * A finite non-zero |f| = c·2^q (c < 2^24, q in [-149, 104]) is what strtof
 * returns for every real of its rounding interval R: within half a spacing,
 * the end points included when c is even (ties to even). The spacing is 2^q,
 * below a power of two with a normal float under it 2^(q-1). Wanted: the
 * decimal in R with the fewest significant digits, the nearest to |f| if two
 * are that short, the even one on a tie.
 *
 * The Schubfach algorithm (Raffaello Giulietti, "The Schubfach way to render
 * doubles", 2020), worked out here for binary32:
 *
 * 1. k = floor(log10 2^q), or floor(log10 (3/4)·2^q) at such a power of two,
 *    so that R scaled by 10^-k is at least 1 and under 10 units wide: it
 *    holds one or two integers and at most one multiple of 10.
 * 2. The scaled centre and ends of R in quarter units, t = X·2^q·10^-k for
 *    X = 4c, 4c + 2 and 4c - 2 (4c - 1 at the power of two), in 32.32 fixed
 *    point: floor((X << h)·g / 2^32) with g a 64-bit entry of 10^-k
 *    (float_pow10.h, made and checked by scripts/gen-float-pow10). The
 *    centre's product takes two 32x32 -> 64-bit multiplications; the ends'
 *    differ from it by exactly g << (h + 1) (g << h), so one addition or
 *    subtraction each gives them, exactly as their own products would. All
 *    they are compared with are integers in quarter units — candidate
 *    decimals (4n) and the midpoint between two neighbouring ones (4n + 2) —
 *    and those comparisons are exact (below).
 * 3. If a multiple of 10 units lies in R it is the answer: R is under 10
 *    units wide, so no other decimal that short is inside. Otherwise, of the
 *    one or two integers in R, the one nearer to |f|, the even one on a tie.
 *
 * Why comparing the fixed-point values with integers is exact (Schubfach
 * keeps the same facts in fewer bits by rounding to odd): g exceeds
 * 10^-k·2^(63-E) (E = floor(log2 10^-k)) by at most one unit, so the
 * computed value exceeds the true t by less than X·2^(q+E-63) < 2^26·2^(3-63)
 * = 2^-34 (the generator checks q + E <= 3). A true integer n therefore shows
 * as n with no fraction bits set. A true non-integer shows its own integer
 * part and some fraction bit set as long as its fraction is in [2^-32,
 * 1 - 2^-34); then it compares with every integer as the true value does.
 * Schubfach's proof bounds how close these products come to integers; for
 * binary32 that is checked on every input instead:
 * tests/tools/float_text_exhaustive.c compares, for each of the 2^32 floats
 * and each X, "fraction bits all zero" with "t is an integer" decided by
 * divisibility (2^(k-q) divides X for k <= 0, 5^k divides X for k > 0), and
 * the text with the earlier, independent implementation (tests/ref/). The
 * closest any t comes to an integer is 1.21·2^-32 above one (0x668442d3) and
 * 5.9·2^-32 below one (0x024007f9).
 *
 * Only 32x32 -> 64-bit multiplications: the same code on every target, no
 * 128-bit integers, no floating point.
 */
#ifndef MLP_FLOAT_SHORTEST_H
#define MLP_FLOAT_SHORTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "float_pow10.h"

/* floor(q·log10 2) and floor(q·log10 2 + log10 3/4) for q in [-149, 104],
 * floor(e·log2 10) for e in [-31, 45]: the constants are the logarithms
 * times 2^22 or 2^19, and the bias keeps the shifted value non-negative (a
 * right shift of a negative int is implementation-defined). The generator
 * checks each over its whole range against exact floors. */
static inline int floor_log10_pow2(int q, bool three_quarters)
{
    return ((q * 1262611 - (three_quarters ? 524031 : 0) + (256 << 22)) >> 22) - 256;
}

static inline int floor_log2_pow10(int e)
{
    return ((e * 1741647 + (256 << 19)) >> 19) - 256;
}

/* floor(x·g / 2^32), exactly (x < 2^31): x·g·2^-64 as 32.32 fixed point.
 * g is split in 32-bit halves so two 32x32 -> 64 products suffice: lo <
 * 2^63, and the sum < 2^63 + 2^31 cannot overflow. decimal_shortest
 * computes the same for its centre inline; the tests use this one. */
static inline uint64_t scale_fixed(uint64_t g, uint32_t x)
{
    uint64_t lo = (uint64_t)x * (uint32_t)g;
    return (uint64_t)x * (uint32_t)(g >> 32) + (lo >> 32);
}

typedef struct {
    uint32_t digits; /* < 10^9, may end in zeros */
    int exp10;       /* value = digits·10^exp10 */
} decimal;

/* The scaling of 2^q by 10^-k: g, k and the shift h = q + floor(log2 10^-k)
 * + 1, which is in [1, 4], so that (X << h)·g is t·2^64 (up to g's
 * rounding) for t = X·2^q·10^-k. float_scales[]
 * holds it for each biased exponent; this computes it, for the powers of
 * two with the nearer lower neighbour (lower_closer) and for the tests. */
static inline float_scale float_scale_of(int q, bool lower_closer)
{
    int k = floor_log10_pow2(q, lower_closer);
    float_scale sc = {float_pow10[-k - FLOAT_POW10_MIN], k, q + floor_log2_pow10(-k) + 1};
    return sc;
}

/* The shortest decimal in |f|'s rounding interval, the nearest if two are
 * (see the header): |f| = c·2^q, sc its scaling (float_scale_of(q,
 * lower_closer)), lower_closer set at a power of two whose lower neighbour
 * is half as far as the upper one. */
static inline decimal decimal_shortest(uint32_t c, float_scale sc, bool lower_closer)
{
    uint64_t g = sc.g;
    int k = sc.k, h = sc.h;
    /* The scaled centre and ends in quarter units, 32.32 fixed point:
     * scale_fixed(g, X << h) for X = 4c, 4c + 2 and 4c - 2 (4c - 1). The
     * ends' products differ from the centre's by exactly g << (h + 1)
     * (g << h), so they come from the centre's exact product (vb·2^32 +
     * frac) by one exact addition or subtraction, floored the same way. */
    uint32_t xb = (c << 2) << h;
    uint64_t lo = (uint64_t)xb * (uint32_t)g;
    uint64_t vb = (uint64_t)xb * (uint32_t)(g >> 32) + (lo >> 32);
    uint64_t frac = (uint32_t)lo;
    int sr = h + 1, sl = h + 1 - lower_closer;
    uint64_t vbr = vb + (g >> (32 - sr)) + ((frac + (uint32_t)(g << sr)) >> 32);
    uint64_t vbl = vb - (g >> (32 - sl)) - (frac < (uint32_t)(g << sl));
    /* An end point is in R only when c is even: for an odd c, "end < n"
     * is "end + 1 <= n" (one fixed-point unit). */
    uint64_t out = c & 1;
    vbl += out;
    vbr -= out;

    /* A multiple of 10 units in R: at most one fits (R < 40 quarter units).
     * s = floor(|f|·10^-k), and 40·sp quarter units is 10·sp units. */
    uint32_t s = (uint32_t)(vb >> 34);
    uint32_t sp = s / 10;
    uint64_t up = (uint64_t)(40 * sp) << 32;
    bool up_in = vbl <= up;
    bool wp_in = up + (40ull << 32) <= vbr;
    bool shorter = up_in != wp_in;

    /* Otherwise s or s + 1, at least one of them in R (R >= 4 quarter units):
     * s + 1 when s is out, or both are in and s + 1 is nearer to |f| or as
     * near and even: the centre is above the midpoint 4s + 2, or on it and s
     * is odd. */
    uint64_t u = vb & ~((1ull << 34) - 1); /* 4s quarter units */
    bool u_in = vbl <= u;
    bool w_in = u + (4ull << 32) <= vbr;
    bool nearer_up = (vb - u) + (s & 1) > (2ull << 32);
    uint32_t take_up = (uint32_t)!u_in | ((uint32_t)w_in & (uint32_t)nearer_up);

    /* Which case is as likely as not for typical values: selected with a
     * mask rather than a branch the processor would often mispredict. */
    uint32_t take_sp = 0u - (uint32_t)shorter;
    decimal d = {((sp + wp_in) & take_sp) | ((s + take_up) & ~take_sp), k + shorter};
    return d;
}

#endif
