/*
 * norm — Euclidean (Frobenius) norms of float arrays, summed in double.
 *
 * Eight independent partial sums break the add-latency chain (and let GCC
 * pack pairs of them into vector registers); the fixed summation order keeps
 * the result identical on every machine.
 */
#include <math.h>

#include "internal.h"

float mlp_norm2(const float *v, size_t count)
{
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += (double)v[i + k] * (double)v[i + k];
    for (; i < count; i++)
        s[0] += (double)v[i] * (double)v[i];
    double total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    return (float)sqrt(total);
}
