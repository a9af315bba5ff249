/*
 * io_half — 16-bit floating-point formats as float32, for the readers of
 * formats that store them (safetensors F16/BF16, ONNX FLOAT16/BFLOAT16).
 */
#include <math.h>
#include <string.h>

#include "io_internal.h"

/*
 * IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits.
 * Normal: (1024 + f) * 2^(e - 25); subnormal (e = 0): f * 2^-24; e = 31 is
 * infinity (f = 0) or NaN. Every half is exactly a float, and ldexpf by a
 * power of two is exact, so the conversion is exact.
 */
float mlp_io_half_to_float(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int f = h & 0x3ff;
    float v;
    if (e == 0)
        v = ldexpf((float)f, -24);
    else if (e == 31)
        v = f ? NAN : INFINITY;
    else
        v = ldexpf((float)(f | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* bfloat16 is the top half of a float32: same exponent, 7 fraction bits. */
float mlp_io_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}
