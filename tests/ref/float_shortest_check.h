/*
 * float_shortest_check — checks lib/float_shortest.h's one inexact step, the
 * 32.32 fixed-point products t = X·2^q·10^-k (by a rounded-up power of
 * ten), against exact arithmetic for one float: the product must show no
 * fraction bits exactly when the true t is an integer. Given the
 * generator's bound on the table error (the computed value is above the
 * true one by less than 2^-34), that is all the comparisons with integers
 * need: a wrong integer part would come with no fraction bits on a true
 * non-integer, which this reports too.
 *
 * Integer or not is decided by divisibility, no big numbers needed:
 * X·2^q·10^-k = X·2^(q-k)·5^-k is an integer for k <= 0 exactly when
 * 2^(k-q) divides X (always when k <= q), and for k > 0 (where q > k) when
 * 5^k divides X (never for k >= 14: 5^14 > 2^32 > X).
 */
#ifndef FLOAT_SHORTEST_CHECK_H
#define FLOAT_SHORTEST_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "float_shortest.h"

static inline bool product_is_integer(uint32_t x, int q, int k)
{
    if (k <= 0) {
        int z = k - q;
        return z <= 0 || (z < 32 && (x & ((1u << z) - 1)) == 0);
    }
    if (k >= 14) return false;
    uint32_t p5 = 1;
    for (int i = 0; i < k; i++)
        p5 *= 5;
    return x % p5 == 0;
}

/* Smallest and largest fraction word (x·g·2^-32 mod 2^32) seen among
 * non-integers, with the bit patterns: how close the products come. */
typedef struct {
    uint32_t min_frac, max_frac;
    uint32_t min_bits, max_bits;
} product_margins;

/* For the finite non-zero float with these bits: true when each of its three
 * products (interval ends and centre) shows fraction bits exactly when the
 * true value is not an integer. Updates *m when m is not NULL. */
static inline bool float_shortest_products_exact(uint32_t bits, product_margins *m)
{
    uint32_t bexp = (bits >> 23) & 0xffu, man = bits & 0x7fffffu;
    uint32_t c = bexp == 0 ? man : man | 0x800000u;
    int q = bexp == 0 ? -149 : (int)bexp - 150;
    bool lower_closer = man == 0 && bexp > 1;
    float_scale sc = float_scale_of(q, lower_closer);
    int k = sc.k, h = sc.h;
    uint64_t g = sc.g;
    uint32_t xs[3] = {4 * c - 2 + lower_closer, 4 * c, 4 * c + 2};
    for (int i = 0; i < 3; i++) {
        uint32_t frac = (uint32_t)scale_fixed(g, xs[i] << h);
        if ((frac == 0) != product_is_integer(xs[i], q, k)) return false;
        if (m && frac != 0 && frac < m->min_frac) {
            m->min_frac = frac;
            m->min_bits = bits;
        }
        if (m && frac > m->max_frac) {
            m->max_frac = frac;
            m->max_bits = bits;
        }
    }
    return true;
}

#endif
