/*
 * internal — what libmlp's own files share and users never see: the layouts
 * of mlp_model and mlp_workspace, the error helper and the per-activation
 * maths.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "mlp.h"

/*
 * Invariants every function that builds or changes a model keeps (and
 * mlp_model_validate checks): layers[l].in is the previous layer's out
 * (n_inputs for layer 0), W_l and b_l lie back to back in params in layer
 * order (weight_offset, bias_offset), n_params is their total, n_outputs the
 * last layer's out and max_units the widest layer, inputs included. Only
 * mlp_model_create allocates layers and params; nothing resizes them.
 */
struct mlp_model {
    char *name; /* never NULL */
    mlp_task task;
    char *input_name;  /* never NULL; default "input" */
    char *output_name; /* never NULL; default "output" */
    int n_inputs, n_outputs, n_layers;
    int max_units; /* widest layer, inputs included */
    mlp_layer *layers;
    float *params; /* n_params floats, 64-byte aligned (MLP_ALIGN) */
    size_t n_params;
    /* NULL, or MLP_KERNEL_NATIVE's copy of the weights (mlp_native_weights in
     * lib/kernels_native.c): built at the first native forward, published
     * atomically (the model is shared by threads), dropped by every writer
     * of params (mlp_native_drop). */
    struct mlp_native_pack *native;
    float *input_mean; /* NULL, or n_inputs values subtracted from each input */
    float *input_std;  /* NULL, or n_inputs values (> 0) the input is divided by */
    char **labels;     /* NULL, or n_outputs class names (classification) */
};

/* W_l and b_l for the library's own writers (loaders, init, training). */
static inline float *mlp_layer_weight_mut(mlp_model *m, int l)
{
    return m->params + m->layers[l].weight_offset;
}
static inline float *mlp_layer_bias_mut(mlp_model *m, int l)
{
    return m->params + m->layers[l].bias_offset;
}

/* Alignment of workspace buffers and model parameters: a cache line, which
 * is also the widest vector load (AVX-512). The own dense kernel measured
 * ~1.4x faster on 64-byte-aligned rows. */
#define MLP_ALIGN 64

/* n bytes (n > 0) aligned to MLP_ALIGN, or NULL; release with free(). */
void *mlp_aligned_alloc(size_t n);

/* One row range of the last backward and what it produced. */
typedef struct {
    int row0, n;            /* forward rows [row0, row0 + n) */
    int at;                 /* its first row in the stacked backward tensors (d0, d1) */
    int dx_row;             /* its first row in dx, or -1 when it did not ask for dg/dX */
    bool has_loss;          /* g is a loss (not MAX_LOGIT) */
    float loss;             /* g when has_loss, else NAN */
    mlp_target_kind target; /* g's kind */
} mlp_ws_range;

/*
 * Every buffer grows on demand (mlp_workspace_reserve) and is reused
 * afterwards, until mlp_workspace_shrink cuts the row-sized ones back;
 * each *_cap is that buffer's capacity in elements. Z_l and A_l of the last
 * forward live in zbuf and abuf, packed layer after layer for exactly `rows`
 * rows; z[l] and a[l] point into them (mlp_workspace_layout).
 */
struct mlp_workspace {
    mlp_kernel kernel;
    bool param_grads; /* backward forms dW/db in grad (mlp_workspace_set_param_grads) */

    /* shape of the last forward (to refuse a backward with another model) */
    int rows;     /* rows of the last forward; 0 = none yet */
    int n_inputs; /* of the model last forwarded */
    int n_layers;
    size_t n_params;
    int *units; /* units of each layer of the last forward */

    float *x;    /* input of layer 0 (standardised copy), rows x n_inputs */
    float *zbuf; /* Z_0 .. Z_{L-1} */
    float *abuf; /* A_0 .. A_{L-1} */
    float **z, **a;

    /* backward: the last one covered n_ranges row ranges (1 for
     * mlp_backward); per-range results are indexed by range, the norms by
     * range * n_layers + layer. Sized for `rows` ranges by reserve (ranges
     * never overlap, so there are at most as many as forward rows). */
    float *grad;          /* parallel to model params */
    float *dx;            /* dg/dX of the ranges that asked for it, stacked */
    float *d0, *d1;       /* two rows x max_units scratch tensors */
    float *act_grad_norm; /* ||dg/dA_l||_F (last layer: of the tensor g reads) */
    float *w_grad_norm;   /* ||dg/dW_l||_F, computed by backward in both modes */
    float *b_grad_norm;   /* ||dg/db_l||_2 */
    double *gram;         /* rows doubles: one Gram row for mlp_outer_norm2 */
    mlp_ws_range *ranges;
    int n_ranges;
    bool has_grad;    /* a backward ran since the last forward */
    bool grad_formed; /* ...over one range, and formed dW/db in grad (param_grads) */

    /* diagnostics */
    mlp_layer_diag *diag;
    int *dead_units; /* sum of units entries; each layer's list at its offset */

    size_t units_cap, x_cap, zbuf_cap, abuf_cap, z_cap, a_cap, grad_cap, dx_cap, d0_cap, d1_cap,
        norm_cap, w_norm_cap, b_norm_cap, gram_cap, ranges_cap, diag_cap, dead_cap;
};

/* Writes a printf-style message into err (which may be NULL); returns s so
 * callers can `return mlp_set_error(err, MLP_ERR_INVALID, "...")`. */
mlp_status mlp_set_error(mlp_error *err, mlp_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Applies activation a in place to n rows of `units` values (softmax: per row). */
void mlp_activation_apply(mlp_activation a, float alpha, const float *z, float *out, int n,
                          int units);

/* dZ = dA ⊙ f'(Z) elementwise, for every activation but softmax. Uses z and the
 * stored activation value y = f(z) (sigmoid and tanh derivatives are cheapest
 * from y). dz may alias da. */
void mlp_activation_backprop(mlp_activation a, float alpha, const float *z, const float *y,
                             const float *da, float *dz, size_t count);

/* f'(z) given z and y = f(z), for every activation but softmax. */
static inline float mlp_activation_derivative(mlp_activation a, float alpha, float z, float y)
{
    switch (a) {
    case MLP_ACT_RELU:
        /* ReLU'(0) = 0, as in PyTorch; and 1 at NaN, whose result is not <= 0 */
        return z <= 0.0f ? 0.0f : 1.0f;
    case MLP_ACT_LEAKY_RELU:
        return z > 0.0f ? 1.0f : alpha;
    case MLP_ACT_SIGMOID:
        return y * (1.0f - y);
    case MLP_ACT_TANH:
        return 1.0f - y * y;
    default:
        return 1.0f;
    }
}

/* Σ v² in double, and sqrt of it, in norm.c's one summation order. */
double mlp_sum_squares(const float *v, size_t count);
float mlp_norm2(const float *v, size_t count);

/* ||Uᵀ·V||_F for U (n x p), V (n x q) row-major, from their Gram matrices in
 * double without forming the product, summed in the same order (norm.c); gu:
 * n doubles of scratch. */
float mlp_outer_norm2(const float *u, int p, const float *v, int q, int n, double *gu);

/* Natural log of x > 0 from +, -, *, / only: bit-identical everywhere (rng.c). */
double mlp_log_portable(double x);

/* Ensures *p holds at least need elements of size elem, keeping its contents,
 * in a block aligned to MLP_ALIGN bytes (free with free()); on failure *p is
 * untouched. */
mlp_status mlp_buffer_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Points z[l], a[l] at the packed layers for ws->rows rows (after a forward
 * or after buffers moved). */
void mlp_workspace_layout(mlp_workspace *ws);

/* Whether the last forward in ws ran a model of m's shape (so its Z, A and
 * gradient buffers line up with m's layers). */
bool mlp_workspace_matches(const mlp_workspace *ws, const mlp_model *m);

#endif /* MLP_INTERNAL_H */
