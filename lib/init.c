/*
 * init — random weight initialisation.
 *
 * Why these variances. For a layer z = W·a + b with W's entries i.i.d., zero
 * mean, variance v, independent of the fan_in inputs a:
 *     Var(z_j) = fan_in · v · E[a²].
 * - He (Kaiming): behind a ReLU, half of a symmetric z is zeroed, so
 *   E[a²] = Var(z_prev)/2. Keeping Var(z) equal from layer to layer needs
 *   fan_in · v / 2 = 1, i.e. v = 2/fan_in.
 * - Xavier (Glorot): for a linear-ish unit (tanh/sigmoid near 0, identity)
 *   the forward pass wants v = 1/fan_in and the backward pass v = 1/fan_out;
 *   the compromise is v = 2/(fan_in + fan_out).
 * A uniform U(-L, L) has variance L²/3, so the same variance v is reached with
 * L = sqrt(3v): sqrt(6/fan_in) for He and sqrt(6/(fan_in+fan_out)) for Xavier.
 * Biases start at zero (the ReLU convention; PyTorch draws them small instead).
 */
#include <math.h>

#include "internal.h"
#include "kernels.h"

mlp_status mlp_model_init(mlp_model *m, mlp_init scheme, uint64_t seed, mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    if ((int)scheme < (int)MLP_INIT_AUTO || (int)scheme > (int)MLP_INIT_XAVIER_UNIFORM)
        return mlp_set_error(err, MLP_ERR_INVALID, "unknown initialisation scheme %d", (int)scheme);
    mlp_native_drop(m);
    mlp_rng r;
    mlp_rng_seed(&r, seed);
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        mlp_init s = scheme;
        if (s == MLP_INIT_AUTO)
            s = mlp_activation_is_relu_family(ly->activation) ? MLP_INIT_HE_NORMAL
                                                              : MLP_INIT_XAVIER_UNIFORM;
        double fan_in = ly->in, fan_out = ly->out;
        double var = (s == MLP_INIT_HE_NORMAL || s == MLP_INIT_HE_UNIFORM)
                         ? 2.0 / fan_in
                         : 2.0 / (fan_in + fan_out);
        bool normal = s == MLP_INIT_HE_NORMAL || s == MLP_INIT_XAVIER_NORMAL;
        double scale = normal ? sqrt(var) : sqrt(3.0 * var);
        float *w = mlp_layer_weight_mut(m, l);
        size_t count = (size_t)ly->in * (size_t)ly->out;
        for (size_t i = 0; i < count; i++) {
            double d = normal ? mlp_rng_normal(&r) : 2.0 * mlp_rng_uniform(&r) - 1.0;
            w[i] = (float)(scale * d);
        }
        float *b = mlp_layer_bias_mut(m, l);
        for (int j = 0; j < ly->out; j++)
            b[j] = 0.0f;
    }
    return MLP_OK;
}
