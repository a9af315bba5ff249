/* The previous mlp_format_float, for verification only (float_text_ref.c). */
#ifndef FLOAT_TEXT_REF_H
#define FLOAT_TEXT_REF_H

#include <stdbool.h>
#include <stdint.h>

/* Same contract as mlp_format_float (lib/mlp.h): at most 17 bytes with the NUL. */
int mlp_format_float_ref(float f, char *out);

/* The magnitudes (either sign) where the reference is wrong: two decimals of
 * the shortest length read back, f lies closer to their midpoint than its
 * double-precision scaling resolves, and it writes the farther one. E.g.
 * 0x1fdc84c4 is 9.33932665000000084e-20, just above the midpoint of
 * 9.3393266e-20 and 9.3393267e-20: the reference writes the lower. Found by
 * tests/tools/float_text_exhaustive (all 2^32 floats); the new code writes
 * the nearer one, which test_float_text_ref checks from f's exact expansion. */
static const uint32_t float_text_ref_misses[] = {0x1fdc84c4u, 0x24eb1256u, 0x70fa9200u, 0x729c9b40u,
                                                 0x75f4b294u};

static inline bool float_text_ref_missed(uint32_t bits)
{
    for (unsigned i = 0; i < sizeof float_text_ref_misses / sizeof float_text_ref_misses[0]; i++)
        if ((bits & 0x7fffffffu) == float_text_ref_misses[i]) return true;
    return false;
}

#endif
