/*
 * rng — xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 *
 * Everything here is integer arithmetic or IEEE 754 basic operations (+, -, *,
 * /, sqrt), which are correctly rounded, so a seed gives the same bits on every
 * machine and compiler (the Makefile disables FMA contraction). libm's log is
 * not correctly rounded and differs between libcs, so mlp_rng_normal uses its
 * own log built from those operations.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void mlp_rng_seed(mlp_rng *r, uint64_t seed)
{
    /* splitmix64 spreads any seed (0 included) over the 256-bit state, which
     * then cannot be all zero. */
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mlp_rng_next(mlp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mlp_rng_uniform(mlp_rng *r)
{
    /* The top 53 bits as an integer times 2^-53: exact, uniform on a grid. */
    return (double)(mlp_rng_next(r) >> 11) * 0x1.0p-53;
}

/*
 * Natural log of x > 0 (finite, normal or subnormal) from +, -, *, / only.
 * Write x = 2^e · m with m in [sqrt(1/2), sqrt(2)); then
 *   ln x = e·ln 2 + ln m,   ln m = 2·atanh(t) = 2(t + t³/3 + t⁵/5 + ...),
 * with t = (m-1)/(m+1), |t| <= 0.1716, so t² <= 0.0295 and 13 terms leave a
 * truncation error below 0.0295^13 ≈ 1e-20, far under a double's ulp. The
 * term count is fixed so the sequence of operations never depends on data.
 * ln 2 is split in a high part with trailing zero bits (e·LN2_HI is exact for
 * |e| < 2^11) and a low correction, as in fdlibm.
 */
double mlp_log_portable(double x)
{
    static const double LN2_HI = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    static const double LN2_LO = 1.90821492927058770002e-10; /* 0x3dea39ef35793c76 */
    static const double SQRT2 = 1.41421356237309504880;
    uint64_t bits;
    int e = 0;
    if (x < 0x1.0p-1022) { /* subnormal: scale into the normal range first */
        x *= 0x1.0p54;
        e = -54;
    }
    memcpy(&bits, &x, sizeof bits);
    e += (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffu) | 0x3ff0000000000000u; /* m in [1, 2) */
    double m;
    memcpy(&m, &bits, sizeof m);
    if (m >= SQRT2) {
        m *= 0.5; /* exact */
        e += 1;
    }
    double t = (m - 1.0) / (m + 1.0);
    double t2 = t * t;
    /* Horner on the odd series: sum_{k=0}^{12} t^{2k} / (2k+1). */
    double s = 1.0 / 25.0;
    for (int k = 11; k >= 0; k--)
        s = s * t2 + 1.0 / (double)(2 * k + 1);
    double lnm = 2.0 * t * s;
    return (double)e * LN2_HI + ((double)e * LN2_LO + lnm);
}

double mlp_rng_normal(mlp_rng *r)
{
    /* Marsaglia's polar method: (u, v) uniform in the unit disc, s = u²+v²;
     * then u·sqrt(-2 ln s / s) is standard normal. The second variate of the
     * pair is dropped: the generator keeps no state beyond s[4]. */
    for (;;) {
        double u = 2.0 * mlp_rng_uniform(r) - 1.0;
        double v = 2.0 * mlp_rng_uniform(r) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0) return u * sqrt(-2.0 * mlp_log_portable(s) / s);
    }
}

uint64_t mlp_rng_below(mlp_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    /* Reject the lowest 2^64 mod n values so every residue is equally
     * likely: what remains is a whole number of blocks of n. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = mlp_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

void mlp_rng_shuffle(mlp_rng *r, int *idx, int n)
{
    /* Fisher–Yates: position i takes a uniform pick from the i+1 not yet placed. */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mlp_rng_below(r, (uint64_t)i + 1);
        int tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}
