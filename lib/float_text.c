/*
 * float_text — the shortest decimal text of a float32.
 *
 * mlp_format_float writes the shortest decimal that strtof() reads back as the
 * same float32 and, when several are that short, the one nearest to it (an
 * even last digit on a tie). A finite non-zero |f| = c·2^q (c < 2^24 its
 * significand, q in [-149, 104]) is what strtof returns for every real in its
 * rounding interval R: those strictly less than half a spacing away, the end
 * points too when c is even (strtof rounds ties to even). The spacing is 2^q
 * on both sides, except at a power of two with a normal float below, whose
 * lower neighbour is only 2^(q-1) away.
 *
 * float_shortest.h finds that decimal with the Schubfach algorithm (Raffaello
 * Giulietti, 2020): one 32x64-bit multiplication per interval end by a
 * table entry of 10^-k, exact comparisons thanks to rounding to odd, no
 * floating point and no retries; see there for why each step is exact.
 *
 * The text: plain decimal when the leading digit's exponent is in [-5, 8],
 * otherwise d.ddde±x; "null" for NaN and infinities, which JSON lacks.
 */
#include <stdint.h>
#include <string.h>

#include "float_shortest.h"
#include "mlp.h"

/* ---------------------------------------------------------- the text */

/* Exact powers of ten as integers, 10^0 .. 10^9. */
static const uint32_t ipow10[] = {1,      10,      100,      1000,      10000,
                                  100000, 1000000, 10000000, 100000000, 1000000000};

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
 * Longest output (MLP_FLOAT_TEXT_MAX - 1 = 16 characters): the sign, then
 * "0." and four zeros for a leading digit at 10^-5, then 9 significant digits
 * (9 always suffice for float32, and floats in [1e-5, 1e-4) do need 9). Every
 * other layout is shorter: an exponent form has at most 1 + 9 + 1 + 4 =
 * 15 ("-1.23456789e-38"), a plain number >= 1 at most 1 + 9 + 1 = 11.
 * decimal_layout's scratch writes stay within the final length.
 */
int mlp_format_float(float f, char *out)
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
    /* Subnormals share the smallest normal exponent, without the hidden bit;
     * only a power of two above the smallest normal binade has the nearer
     * lower neighbour. */
    uint32_t c = bexp == 0 ? man : man | 0x800000u;
    int q = bexp == 0 ? -149 : (int)bexp - 150;
    decimal d = decimal_shortest(c, q, man == 0 && bexp > 1);
    return (int)(o - out) + decimal_layout(d.digits, d.exp10, o);
}
