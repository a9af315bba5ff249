/*
 * float_text_exhaustive — mlp_format_float against the implementation it
 * replaced (tests/ref/float_text_ref.c) on every one of the 2^32 float32 bit
 * patterns, byte for byte, and for every finite non-zero magnitude the
 * fixed-point products of lib/float_shortest.h against exact arithmetic
 * (tests/ref/float_shortest_check.h). A one-off proof run, not part of make
 * test: about five minutes on one core.
 *
 *     make float-text-exhaustive
 *     build/tools/float_text_exhaustive [FIRST LAST]   (hex bit patterns, inclusive)
 *
 * The reference's known mistakes (float_text_ref.h: float_text_ref_misses,
 * where the new text is the right one) are counted apart. Prints the first
 * other differences and their count, how close the products
 * came to an integer, the time taken; exits 1 if any pattern fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ref/float_shortest_check.h"
#include "../ref/float_text_ref.h"
#include "mlp.h"

int main(int argc, char **argv)
{
    uint64_t first = 0, last = 0xffffffffu;
    if (argc == 3) {
        first = strtoull(argv[1], NULL, 16);
        last = strtoull(argv[2], NULL, 16);
    } else if (argc != 1 || first > last || last > 0xffffffffu) {
        fprintf(stderr, "usage: %s [FIRST LAST]  (hex float32 bit patterns)\n", argv[0]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t differ = 0, known = 0, inexact = 0;
    product_margins margins = {UINT32_MAX, 0, 0, 0};
    for (uint64_t u = first; u <= last; u++) {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, sizeof f);
        char a[MLP_FLOAT_TEXT_MAX], b[MLP_FLOAT_TEXT_MAX];
        int na = mlp_format_float(f, a);
        int nb = mlp_format_float_ref(f, b);
        if (na != nb || memcmp(a, b, (size_t)na + 1) != 0) {
            if (float_text_ref_missed(bits)) {
                known++;
            } else if (differ++ < 20) {
                printf("0x%08x: new '%s' (%d), reference '%s' (%d)\n", (unsigned)bits, a, na, b,
                       nb);
            }
        }
        /* The sign does not reach the digits: magnitudes once, zero and
         * the non-finite (exponent 0xff) left out. */
        if (bits >> 31 == 0 && bits != 0 && bits < 0x7f800000u &&
            !float_shortest_products_exact(bits, &margins)) {
            if (inexact < 20) printf("0x%08x: a product misreads an integer\n", (unsigned)bits);
            inexact++;
        }
        if ((bits & 0x0fffffffu) == 0x0fffffffu) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            fprintf(stderr, "  .. 0x%08x, %.0f s\n", (unsigned)bits,
                    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("0x%08llx..0x%08llx: %llu bit patterns, %llu differ from the reference (besides "
           "%llu of its %d known mistakes), %llu with a product that misreads an integer, "
           "%.1f s\n",
           (unsigned long long)first, (unsigned long long)last,
           (unsigned long long)(last - first + 1), (unsigned long long)differ,
           (unsigned long long)known,
           2 * (int)(sizeof float_text_ref_misses / sizeof float_text_ref_misses[0]),
           (unsigned long long)inexact, s);
    if (margins.max_frac != 0)
        printf("closest products to an integer: fraction %u x 2^-32 above (0x%08x), "
               "%u x 2^-32 below (0x%08x)\n",
               (unsigned)margins.min_frac, (unsigned)margins.min_bits,
               (unsigned)(UINT32_MAX - margins.max_frac + 1), (unsigned)margins.max_bits);
    return differ != 0 || inexact != 0;
}
