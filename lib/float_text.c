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
 * Giulietti, 2020): one 32x64-bit product by a table entry of 10^-k gives
 * the scaled value and, by exact additions, the interval ends; comparisons
 * with the candidates are exact, with no floating point and no retries (see
 * there for why each step is exact). The digits are then made eight at a
 * time in one 64-bit word and written with 8-byte stores.
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

/* Stores the 8 bytes of v at p, the lowest first: one store where the byte
 * order is little-endian (x86-64, arm64, 32-bit arm as usually built), byte
 * by byte elsewhere (FLOAT_TEXT_BYTE_STORES forces that path, for its test). */
static inline void store8(char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&                        \
    !defined(FLOAT_TEXT_BYTE_STORES)
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (8 * i));
#endif
}

/* The 8 decimal digits of x < 10^8 (leading zeros included) as ASCII in
 * the bytes of a uint64_t, the first digit in the lowest byte. The value is
 * split into lanes that are divided all at once: two 32-bit lanes of 4
 * digits, then four 16-bit lanes of 2, then eight bytes of 1. Division by
 * 100 of a lane < 10^4 is (x·10486) >> 20 and by 10 of a lane < 100 is
 * (x·103) >> 10 (exact over those ranges, as scripts/gen-float-pow10
 * checks); no product reaches the next lane. */
static inline uint64_t digits8(uint32_t x, uint32_t x_div_10000)
{
    /* Each step puts a lane's quotient q in its low half and the remainder
     * r = v - q·m in its high half: q + (r << w) = (v << w) + q·(1 - m·2^w),
     * one multiplication and one addition (mod 2^64, where it is exact).
     * The caller passes x / 10^4, which it can get sooner than this could. */
    uint64_t q = x_div_10000;
    uint64_t v = ((uint64_t)x << 32) + q * (1u - (10000ull << 32));
    q = (v * 10486u) >> 20 & 0x0000007f0000007full;
    v = (v << 16) + q * (1u - (100ull << 16));
    q = (v * 103u) >> 10 & 0x000f000f000f000full;
    v = (v << 8) + q * (1u - (10ull << 8));
    return v + 0x3030303030303030ull;
}

/* Digits of 0 < d < 10^9: from its bit length b, floor(b·log10 2) (1233 /
 * 4096 is log10 2 rounded up) is the count or one less, which one compare
 * settles (the generator checks every b). */
static inline int digits_count(uint32_t d)
{
    int t = ((32 - __builtin_clz(d)) * 1233) >> 12;
    return t + (d >= ipow10[t]);
}

/* "0.000000" as store8 writes it. */
#define ZERO_POINT_ZEROS 0x3030303030302e30ull

/*
 * Lays out d·10^q (0 < d < 10^9, trailing zeros allowed): plain decimal when
 * the leading digit's exponent e is in [-5, 8], otherwise d.ddde±x. The
 * digits are held left-aligned as 9 characters, as if d had 9 digits with
 * zeros after it: `head` the first 8, `first` the first, `rest` the last 8,
 * `last` the ninth. So an integer's zeros come with them, and the text ends
 * after the significant ones (`sig`, d's digits less its trailing zeros,
 * counted without a loop). They are written with 8-byte stores that
 * may run past the text: every write stays within out[0..15], and the NUL
 * is written last. Returns prefix + the length: mlp_format_float ends in a
 * jump here, and keeping this out of line leaves each half few enough
 * registers to save (15.5 instead of 16.2 ns per float on the development VM).
 */
__attribute__((noinline)) static int decimal_layout(uint32_t d, int q, char *out, int prefix)
{
    int nd = digits_count(d);
    int e = q + nd - 1;
    /* d's 9 digits right-aligned (c0 then r8, computed without waiting for
     * nd), then shifted left over the 9 - nd leading zeros; OR-ing '0' into
     * every byte turns the bytes shifted in into '0' and leaves digits be. */
    uint32_t top = d / 100000000u, mid4 = d / 10000u; /* side by side */
    uint64_t c0 = '0' + top;
    uint64_t r8 = digits8(d - top * 100000000u, mid4 - top * 10000u);
    unsigned lead = (unsigned)(9 - nd);
    uint64_t head = (lead ? r8 >> (8 * lead - 8) : (c0 | r8 << 8)) | 0x3030303030303030ull;
    uint64_t last = lead ? '0' : r8 >> 56;
    uint64_t first = head & 0xff;
    uint64_t rest = head >> 8 | last << 56;
    /* d's trailing zeros are r8's highest bytes that equal '0' (all 8 and
     * then d = c0·10^8); counted in r8, beside the shift above. */
    uint64_t nonzero = r8 ^ 0x3030303030303030ull;
    int sig = nd - (nonzero ? __builtin_clzll(nonzero) >> 3 : 8);
    int n;
    if (e >= -5 && e < 0) { /* "0.", -e - 1 zeros, the digits: at most 15 */
        int z = -e - 1;
        store8(out, ZERO_POINT_ZEROS);
        store8(out + 2 + z, head);
        out[10 + z] = (char)last;
        n = 2 + z + sig;
    } else if (e >= 0 && e <= 8) {
        store8(out, head);
        if (sig <= e + 1) { /* an integer: its e + 1 digits, zeros included */
            out[8] = (char)last;
            n = e + 1;
        } else if (e < 7) { /* e + 1 digits, the point, the rest */
            store8(out + e + 2, rest >> (8 * e));
            out[e + 1] = '.';
            n = sig + 1;
        } else { /* 8 digits, the point, the ninth */
            out[8] = '.';
            out[9] = (char)last;
            n = 10;
        }
    } else { /* d.ddd, then e and the exponent: at most 14 */
        out[0] = (char)first;
        out[1] = '.';
        store8(out + 2, rest);
        n = sig > 1 ? sig + 1 : 1;
        out[n++] = 'e';
        if (e < 0) {
            out[n++] = '-';
            e = -e;
        }
        if (e >= 10) {
            out[n++] = digit_pairs[2 * e];
            out[n++] = digit_pairs[2 * e + 1];
        } else {
            out[n++] = (char)('0' + e);
        }
    }
    out[n] = '\0';
    return prefix + n;
}

/*
 * Longest output (MLP_FLOAT_TEXT_MAX - 1 = 16 characters): the sign, then
 * "0." and four zeros for a leading digit at 10^-5, then 9 significant digits
 * (9 always suffice for float32, and floats in [1e-5, 1e-4) do need 9). Every
 * other layout is shorter: an exponent form has at most 1 + 9 + 1 + 4 =
 * 15 ("-1.23456789e-38"), a plain number >= 1 at most 1 + 9 + 1 = 11.
 * decimal_layout's 8-byte stores may run past the text but stay within the
 * 16 bytes after the sign's place: within MLP_FLOAT_TEXT_MAX bytes in all.
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
    /* The sign without a branch (answers mix signs unpredictably): '-' is
     * written either way, and the text overwrites it when f is positive. */
    out[0] = '-';
    char *o = out + (bits >> 31);
    if (bexp == 0 && man == 0) {
        *o++ = '0';
        *o = '\0';
        return (int)(o - out);
    }
    /* Subnormals share the smallest normal exponent, without the hidden bit;
     * only a power of two above the smallest normal binade has the nearer
     * lower neighbour. */
    uint32_t c = man | (uint32_t)(bexp != 0) << 23;
    decimal d;
    if (__builtin_expect(man == 0, 0) && bexp > 1)
        d = decimal_shortest(c, float_scale_of((int)bexp - 150, true), true);
    else
        d = decimal_shortest(c, float_scales[bexp], false);
    return decimal_layout(d.digits, d.exp10, o, (int)(o - out));
}
