/*
 * io_float — stored floating-point values as float32, for every reader:
 * safetensors (F32, F64, F16, BF16), ONNX (FLOAT, DOUBLE, FLOAT16, BFLOAT16)
 * and JSON numbers. One place decides what reads as a finite float32.
 */
#include <math.h>
#include <string.h>

#include "io_internal.h"

uint64_t mlp_io_le(const uint8_t *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = bytes; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

size_t mlp_io_dtype_size(mlp_io_dtype t)
{
    static const size_t size[] = {
        [MLP_IO_F32] = 4, [MLP_IO_F64] = 8, [MLP_IO_F16] = 2, [MLP_IO_BF16] = 2};
    return size[t];
}

bool mlp_io_double_to_float(double d, float *out)
{
    /* Doubles at or beyond FLT_MAX + half an ulp (2^128 - 2^104) round to
     * infinity; everything below rounds to a finite float (to nearest; values
     * below the smallest subnormal to signed zero, as strtof does). */
    if (!(fabs(d) < 0x1.ffffffp+127)) return false;
    *out = (float)d;
    return true;
}

/*
 * IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits.
 * Normal: (1024 + f) * 2^(e - 25); subnormal (e = 0): f * 2^-24; e = 31 is
 * infinity (f = 0) or NaN. Every half is exactly a float, and ldexpf by a
 * power of two is exact, so the conversion is exact.
 */
static float half_to_float(uint16_t h)
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

/* float32 bits, and bfloat16 (the top half of a float32: same exponent, 7
 * fraction bits) shifted into place. */
static float bits_float(uint32_t bits)
{
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

bool mlp_io_bits_to_float(mlp_io_dtype t, uint64_t bits, float *out, double *bad)
{
    double d;
    switch (t) {
    case MLP_IO_F64:
        memcpy(&d, &bits, sizeof d);
        *bad = d;
        return mlp_io_double_to_float(d, out);
    case MLP_IO_F32:
        *out = bits_float((uint32_t)bits);
        break;
    case MLP_IO_F16:
        *out = half_to_float((uint16_t)bits);
        break;
    default:
        *out = bits_float((uint32_t)(uint16_t)bits << 16);
        break;
    }
    *bad = *out;
    return isfinite(*out);
}

bool mlp_io_element(const uint8_t *p, mlp_io_dtype t, size_t i, float *out, double *bad)
{
    size_t size = mlp_io_dtype_size(t);
    return mlp_io_bits_to_float(t, mlp_io_le(p + i * size, size), out, bad);
}
