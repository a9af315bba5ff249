/*
 * forward — runs a batch through the model, keeping every Z_l and A_l.
 *
 * A_{-1} = X (standardised: (x - mean) / std), and for l = 0 .. L-1
 *     Z_l = A_{l-1}·W_lᵀ + b_l,   A_l = f_l(Z_l).
 * The input is always copied into the workspace, so backward and diagnostics
 * never read caller memory after mlp_forward returns.
 */
#include <string.h>

#include "internal.h"
#include "kernels.h"

mlp_status mlp_forward(const mlp_model *m, mlp_workspace *ws, const float *x, int n, float *y,
                       mlp_error *err)
{
    if (!m || !ws || !x)
        return mlp_set_error(err, MLP_ERR_INVALID, "model, workspace or x is NULL");
    if (n < 1) return mlp_set_error(err, MLP_ERR_INVALID, "rows must be >= 1, got %d", n);
    mlp_status s = mlp_workspace_reserve(ws, m, n, err);
    if (s != MLP_OK) return s;

    ws->rows = n;
    ws->n_inputs = m->n_inputs;
    ws->n_layers = m->n_layers;
    ws->n_params = m->n_params;
    for (int l = 0; l < m->n_layers; l++)
        ws->units[l] = m->layers[l].out;
    ws->has_grad = false;
    ws->n_ranges = 0;
    mlp_workspace_layout(ws);

    int d = m->n_inputs;
    if (m->input_mean || m->input_std) {
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < d; k++) {
                float v = x[(size_t)i * d + k];
                if (m->input_mean) v -= m->input_mean[k];
                if (m->input_std) v /= m->input_std[k];
                ws->x[(size_t)i * d + k] = v;
            }
        }
    } else {
        memcpy(ws->x, x, (size_t)n * (size_t)d * sizeof(float));
    }

    const float *in = ws->x;
    /* the CPU's isa once per forward, not once per layer */
    mlp_native_isa isa = ws->kernel == MLP_KERNEL_NATIVE ? mlp_native_isa_best() : MLP_ISA_PORTABLE;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        const float *w = m->params + ly->weight_offset, *b = m->params + ly->bias_offset;
        mlp_native_layer packed = mlp_native_weights(m, isa, l); /* none for the portable isa */
        if (packed.packed)
            mlp_dense_native_packed(isa, in, n, ly->in, packed, b, ly->out, ws->z[l]);
        else
            mlp_dense(ws->kernel, in, n, ly->in, w, b, ly->out, ws->z[l]);
        mlp_activation_apply(ly->activation, ly->alpha, ws->z[l], ws->a[l], n, ly->out);
        in = ws->a[l];
    }
    if (y) memcpy(y, ws->a[m->n_layers - 1], (size_t)n * (size_t)m->n_outputs * sizeof(float));
    return MLP_OK;
}
