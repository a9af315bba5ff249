/*
 * number.h — the word-at-a-time pieces of the JSON number reader, inline so
 * that the tensor-data loop (tensor_data.c) runs the short-number path
 * without a call; number.c holds the rest (any JSON number, rs_number_scan,
 * rs_parse_number).
 *
 * Digits are found and combined eight bytes at a time in a 64-bit word
 * (SWAR): plain C, no intrinsics, loads assembled byte by byte so the word
 * is little-endian (the first byte lowest) on every host.
 */
#ifndef RS_CODEC_NUMBER_H
#define RS_CODEC_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The scanner's helpers must go inline into it: called out of line, their
 * results go through memory and the short path costs more than the loop it
 * replaces. */
#if defined(__GNUC__)
#define RS_NUM_INLINE inline __attribute__((always_inline))
#else
#define RS_NUM_INLINE inline
#endif

/* 10^0 .. 10^19 as integers (number.c). */
extern const uint64_t rs_p10_u64[20];
/* 10^0 .. 10^15, then -10^0 .. -10^15. */
extern const double rs_p10_signed[32];

/* The eight bytes at p as a little-endian word (p[0] in the low byte) on any
 * host: the shifts say what is meant, and compilers make one load of them on
 * little-endian machines. */
static RS_NUM_INLINE uint64_t rs_load8(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 | (uint64_t)u[3] << 24 |
           (uint64_t)u[4] << 32 | (uint64_t)u[5] << 40 | (uint64_t)u[6] << 48 |
           (uint64_t)u[7] << 56;
}

/* The bytes of w that are not ASCII digits, as the high bit of each such
 * byte. Adding 0x46 sets the high bit of bytes 0x3a..0xb9, subtracting 0x30
 * that of bytes below 0x30 or from 0xb0 up; digits set neither. A carry or
 * borrow between bytes starts only at a byte that is no digit, so the lowest
 * marked byte is always the first non-digit (higher ones may be marked
 * wrongly, and are never looked at). */
static RS_NUM_INLINE uint64_t rs_non_digits(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    return ((w + 0x46 * ones) | (w - 0x30 * ones)) & (0x80 * ones);
}

/* The index (0-7) of the lowest marked byte of a nonzero rs_non_digits()
 * mask: how many digits lead the word. The loop is for compilers without
 * the builtin; test_number.c runs it too (RS_NUMBER_PORTABLE). */
static RS_NUM_INLINE unsigned rs_first_marked(uint64_t m)
{
#if defined(__GNUC__) && !defined(RS_NUMBER_PORTABLE)
    return (unsigned)__builtin_ctzll(m) >> 3;
#else
    unsigned k = 0;
    while (!(m & 0x80)) {
        m >>= 8;
        k++;
    }
    return k;
#endif
}

/* The value of the k (1 to 8) digits in w's low bytes, the first the most
 * significant: shifted up so that zero bytes lead (and the bytes after the
 * digits fall off), then pairs, quads and octets of digits combined. Each
 * step's lanes hold at most 99, 9999 and 99999999, so no lane carries into
 * the next. */
static RS_NUM_INLINE uint64_t rs_value8(uint64_t w, unsigned k)
{
    w = (w << (8 * (8 - k))) & 0x0f0f0f0f0f0f0f0full;
    w = w * 10 + (w >> 8); /* pairs in bytes 0, 2, 4, 6 (the odd bytes junk) */
    const uint64_t lanes = 0x000000ff000000ffull;
    return (((w & lanes) * (100 + (1000000ull << 32))) +
            (((w >> 16) & lanes) * (1 + (10000ull << 32)))) >>
           32;
}

/* The bytes of w outside '-'..'9' (the digits, '-', '.' and '/'), marked as
 * by rs_non_digits. */
static RS_NUM_INLINE uint64_t rs_non_numeric(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    return ((w + 0x46 * ones) | (w - 0x2d * ones)) & (0x80 * ones);
}

/* How many bytes rs_number_short may read at s. */
#define RS_NUMBER_SHORT_READ 24

/*
 * The numbers clients write — an optional '-', 1 to 7 integer digits (no
 * leading zero), an optional fraction, no exponent, at most 15 digits in
 * all — with a fixed sequence of word operations: no loop, and no branch on
 * the sign or the first digit (in real data both are coin tosses; the other
 * branches go the same way number after number). The 16 bytes after the
 * sign are two words; the '.' is cut out of them, so that the integer and
 * fraction digits are one run, whose value (< 10^15, an exact double) is
 * divided by 10^(fraction digits) (exact as well): one correctly rounded
 * division, Clinger's fast path, the same double as strtod. The length
 * returned is taken first from a cheaper mask and must agree. Returns the
 * bytes read, the double in *out and in *integral whether there was no
 * fraction; 0 for everything else, also for text that is no number:
 * rs_number_scan decides those. Needs RS_NUMBER_SHORT_READ readable bytes
 * at s (it reads at most 18).
 */
static RS_NUM_INLINE size_t rs_number_short(const char *s, double *out, bool *integral)
{
    /* The length first, from the words at s alone: the run of bytes in
     * '-'..'9' (signs, '.', '/' and digits). The caller's next number waits
     * for it, and would wait about twice as long for the reading below
     * (dependent loads and masks); that reading must find the same length,
     * or the number is refused, so the length returned is always the
     * reading's. */
    uint64_t a0 = rs_load8(s);
    uint64_t r0 = rs_non_numeric(a0);
    unsigned len = r0 ? rs_first_marked(r0)
                      : 8 + rs_first_marked(rs_non_numeric(rs_load8(s + 8)) | 1ull << 63);
    bool neg = s[0] == '-';
    const char *p = s + neg;
    uint64_t w0 = rs_load8(p), w1 = rs_load8(p + 8);
    uint64_t m = rs_non_digits(w0);
    unsigned ni = m ? rs_first_marked(m) : 8; /* integer digits */
    /* Cut the byte after them out if it is the '.'. */
    unsigned sh = 8 * (ni & 7);
    bool dot = ((w0 >> sh) & 0xff) == '.';
    uint64_t below = ((uint64_t)1 << sh) - 1;
    uint64_t d0 = dot ? (w0 & below) | (((w0 >> 8) | (w1 << 56)) & ~below) : w0;
    uint64_t d1 = dot ? w1 >> 8 : w1;
    /* All the digits: the first non-digit of the joined words (d1's top byte
     * is 0 after a cut; without one the run ends in d0 or is refused). The
     * '.' is found at ni or not at all: a second one ends the run. */
    uint64_t m0 = rs_non_digits(d0), m1 = rs_non_digits(d1);
    unsigned nd = m0 ? rs_first_marked(m0) : 8 + (m1 ? rs_first_marked(m1) : 8);
    /* Refused: no integer digit, 8 or more of them, a leading zero ("012"
     * is 0 and then something else), "1." without fraction digits, more
     * than 15 digits (the run then goes on past the cut's 0 byte), a
     * length other than the quick one, an exponent. In real data none of
     * these happens, so each is a branch that is always guessed right (and
     * costs less than folding them). */
    if (ni - 1 > 6 || (ni > 1 && (w0 & 0xff) == '0') || (dot && nd == ni) || nd > 15 ||
        len != neg + nd + dot)
        return 0;
    unsigned char next = (unsigned char)p[nd + dot];
    if ((unsigned char)(next - '0') < 10 || (next | 0x20) == 'e') return 0;
    uint64_t sig =
        nd <= 8 ? rs_value8(d0, nd) : rs_value8(d0, 8) * rs_p10_u64[nd - 8] + rs_value8(d1, nd - 8);
    unsigned nf = dot ? nd - ni : 0;
    /* sig < 10^15: as a signed integer its conversion is one instruction.
     * Dividing by -10^nf for a '-' is exactly -(sig / 10^nf) (the rounding
     * is symmetric), -0.0 for 0, without moving the double to an integer
     * register and back to set its sign. */
    *out = (double)(int64_t)sig / rs_p10_signed[16 * neg + nf];
    *integral = !dot;
    return len;
}

#endif
