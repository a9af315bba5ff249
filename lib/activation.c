/*
 * activation — elementwise activations, softmax, and their derivatives.
 */
#include <math.h>

#include "internal.h"

/* Softmax of one row, stable: subtracting the row max makes every exponent
 * <= 0, so exp never overflows and at least one term is exactly 1. */
static void softmax_row(const float *z, float *y, int units)
{
    float mx = z[0];
    for (int j = 1; j < units; j++)
        if (z[j] > mx) mx = z[j];
    double sum = 0.0;
    for (int j = 0; j < units; j++) {
        y[j] = expf(z[j] - mx);
        sum += y[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < units; j++)
        y[j] *= inv;
}

void mlp_activation_apply(mlp_activation a, float alpha, const float *z, float *out, int n,
                          int units)
{
    size_t count = (size_t)n * (size_t)units;
    switch (a) {
    case MLP_ACT_RELU:
        for (size_t i = 0; i < count; i++)
            out[i] = z[i] > 0.0f ? z[i] : 0.0f;
        break;
    case MLP_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++)
            out[i] = z[i] > 0.0f ? z[i] : alpha * z[i];
        break;
    case MLP_ACT_SIGMOID:
        /* Two branches so exp's argument is never positive: no overflow, and
         * 1 - s keeps its precision for large negative z. */
        for (size_t i = 0; i < count; i++) {
            if (z[i] >= 0.0f) {
                out[i] = 1.0f / (1.0f + expf(-z[i]));
            } else {
                float e = expf(z[i]);
                out[i] = e / (1.0f + e);
            }
        }
        break;
    case MLP_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            out[i] = tanhf(z[i]);
        break;
    case MLP_ACT_SOFTMAX:
        for (int r = 0; r < n; r++)
            softmax_row(z + (size_t)r * units, out + (size_t)r * units, units);
        break;
    case MLP_ACT_IDENTITY:
    default:
        for (size_t i = 0; i < count; i++)
            out[i] = z[i];
        break;
    }
}

void mlp_activation_backprop(mlp_activation a, float alpha, const float *z, const float *y,
                             const float *da, float *dz, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dz[i] = da[i] * mlp_activation_derivative(a, alpha, z[i], y[i]);
}
