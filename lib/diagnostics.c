/*
 * diagnostics — per-layer health statistics of a batch (DESIGN.md,
 * "Diagnostics contract"): dead ReLU units, units gone non-finite, sparsity,
 * saturation, gradient norms and the first/last gradient ratio.
 *
 * Rows covered: those of the last backward when one ran since the last
 * forward, or of one of its ranges (mlp_diagnose_range: so a request in a
 * merged batch sees only its own rows), otherwise every forward row. All
 * output lives in buffers mlp_workspace_reserve sized.
 */
#include <math.h>

#include "internal.h"

mlp_diag_params mlp_diag_default_params(void)
{
    mlp_diag_params p = {.vanishing_below = 1e-3f, .exploding_above = 1e3f};
    return p;
}

/* Per-unit verdict bits over the rows: LIVE when some Z is finite and > 0,
 * NONFINITE when some Z is NaN or ±inf. A unit with neither is dead. */
enum { UNIT_LIVE = 1, UNIT_NONFINITE = 2 };

/*
 * Dead units: j with Z[i, j] finite and <= 0 for every row i (no gradient
 * passes through it for this batch; with leaky ReLU a little does, but the
 * unit is just as stuck on its negative side). Written ascending into dead.
 * A unit with a NaN or infinite Z on some row is not dead, whatever its other
 * rows say: NaN compares false both ways, so calling it dead (or alive) would
 * report how the comparison was written, not the unit. It is counted into
 * *nonfinite instead.
 */
static int find_dead(const float *z, int n, int units, int *dead, int *nonfinite)
{
    /* dead[] first holds the verdict bits per unit (rows read in storage
     * order), then is compacted in place into the ascending list of dead
     * units. */
    for (int j = 0; j < units; j++)
        dead[j] = 0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * units;
        for (int j = 0; j < units; j++) {
            float v = zi[j];
            bool finite = isfinite(v);
            dead[j] |= (finite && v > 0.0f ? UNIT_LIVE : 0) | (finite ? 0 : UNIT_NONFINITE);
        }
    }
    int n_dead = 0, n_nonfinite = 0;
    for (int j = 0; j < units; j++) {
        n_nonfinite += (dead[j] & UNIT_NONFINITE) != 0;
        if (!dead[j]) dead[n_dead++] = j;
    }
    *nonfinite = n_nonfinite;
    return n_dead;
}

/* Units of a layer whose Z is NaN or ±inf on some row (layers without dead
 * statistics). scratch: units ints. */
static int count_nonfinite(const float *z, int n, int units, int *scratch)
{
    for (int j = 0; j < units; j++)
        scratch[j] = 0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * units;
        for (int j = 0; j < units; j++)
            scratch[j] |= !isfinite(zi[j]);
    }
    int count = 0;
    for (int j = 0; j < units; j++)
        count += scratch[j];
    return count;
}

/* Fraction of entries whose |f'(z)| < 0.01, f = sigmoid or tanh (f' from y). */
static float saturated(mlp_activation act, const float *y, size_t count)
{
    size_t sat = 0;
    for (size_t i = 0; i < count; i++) {
        float d = act == MLP_ACT_SIGMOID ? y[i] * (1.0f - y[i]) : 1.0f - y[i] * y[i];
        if (fabsf(d) < 0.01f) sat++;
    }
    return (float)((double)sat / (double)count);
}

/* What both entry points refuse. */
static mlp_status check_diagnose(const mlp_model *m, const mlp_workspace *ws,
                                 const mlp_diagnostics *out, mlp_error *err)
{
    if (!m || !ws || !out)
        return mlp_set_error(err, MLP_ERR_INVALID, "model, workspace or output is NULL");
    if (ws->rows == 0)
        return mlp_set_error(err, MLP_ERR_INVALID, "the workspace holds no forward pass");
    if (!mlp_workspace_matches(ws, m))
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "the workspace's last forward ran a model of another shape");
    return MLP_OK;
}

/* The statistics of range r of the last backward, or with r NULL of every
 * forward row without gradients. */
static void diagnose(const mlp_model *m, mlp_workspace *ws, const mlp_ws_range *r, int range,
                     const mlp_diag_params *p, mlp_diagnostics *out)
{
    mlp_diag_params dp = p ? *p : mlp_diag_default_params();
    bool grads = r != NULL;
    int row0 = grads ? r->row0 : 0;
    int n = grads ? r->n : ws->rows;
    int L = m->n_layers;
    const float *wn = grads ? ws->w_grad_norm + (size_t)range * L : NULL;
    const float *bn = grads ? ws->b_grad_norm + (size_t)range * L : NULL;
    const float *an = grads ? ws->act_grad_norm + (size_t)range * L : NULL;

    size_t dead_total = 0, relu_units = 0, dead_off = 0;
    bool collapsed = false, nonfinite = false;
    for (int l = 0; l < L; l++) {
        const mlp_layer *ly = &m->layers[l];
        mlp_layer_diag *d = &ws->diag[l];
        size_t count = (size_t)n * (size_t)ly->out;
        const float *z = ws->z[l] + (size_t)row0 * ly->out;
        const float *a = ws->a[l] + (size_t)row0 * ly->out;
        *d = (mlp_layer_diag){.index = l, .units = ly->out, .activation = ly->activation};

        double sum = 0.0;
        size_t zeros = 0;
        for (size_t i = 0; i < count; i++) {
            sum += a[i];
            zeros += a[i] == 0.0f;
        }
        d->mean_activation = (float)(sum / (double)count);

        int *dead = ws->dead_units + dead_off;
        if (mlp_activation_is_relu_family(ly->activation) && l < L - 1) {
            d->relu_stats = true;
            d->n_dead = find_dead(z, n, ly->out, dead, &d->n_nonfinite);
            d->dead_units = dead;
            d->dead_fraction = (float)d->n_dead / (float)ly->out;
            d->sparsity = (float)((double)zeros / (double)count);
            dead_total += (size_t)d->n_dead;
            relu_units += (size_t)ly->out;
            collapsed = collapsed || d->n_dead == ly->out;
        } else {
            d->n_nonfinite = count_nonfinite(z, n, ly->out, dead); /* its list is unused */
        }
        nonfinite = nonfinite || d->n_nonfinite > 0;
        dead_off += (size_t)ly->out;

        if (ly->activation == MLP_ACT_SIGMOID || ly->activation == MLP_ACT_TANH) {
            d->saturation_stats = true;
            d->saturated_fraction = saturated(ly->activation, a, count);
        }
        if (grads) {
            /* measured by mlp_backward (in either gradient mode) */
            d->weight_grad_norm = wn[l];
            d->bias_grad_norm = bn[l];
            d->activation_grad_norm = an[l];
        }
    }

    *out = (mlp_diagnostics){
        .n_layers = L,
        .layers = ws->diag,
        .rows = n,
        .dead_fraction = relu_units ? (float)((double)dead_total / (double)relu_units) : 0.0f,
        .collapsed = collapsed,
        .nonfinite = nonfinite,
        .has_gradients = grads,
        .gradient_ratio = NAN,
        .has_loss = grads && r->has_loss,
        .loss = grads && r->has_loss ? r->loss : NAN,
        .target = grads && r->has_loss ? r->target : MLP_TARGET_MAX_LOGIT,
        .input_gradient = grads && r->dx_row >= 0 ? ws->dx + (size_t)r->dx_row * m->n_inputs : NULL,
    };
    if (grads) {
        /* first/last; a zero last norm under a live first is an infinite
         * ratio (exploding); 0/0 says nothing either way: NAN, no flags. A
         * NaN norm (inf·0 in an overflowed layer) makes the ratio NaN, as
         * first / last does in PyTorch, not an infinite one. */
        float first = ws->diag[0].weight_grad_norm, last = ws->diag[L - 1].weight_grad_norm;
        if (last != 0.0f)
            out->gradient_ratio = first / last;
        else if (first > 0.0f)
            out->gradient_ratio = INFINITY;
        if (!isnan(out->gradient_ratio)) {
            out->vanishing = out->gradient_ratio < dp.vanishing_below;
            out->exploding = out->gradient_ratio > dp.exploding_above;
        }
    }
}

mlp_status mlp_diagnose(const mlp_model *m, mlp_workspace *ws, const mlp_diag_params *p,
                        mlp_diagnostics *out, mlp_error *err)
{
    mlp_status s = check_diagnose(m, ws, out, err);
    if (s != MLP_OK) return s;
    if (ws->has_grad && ws->n_ranges > 1)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "the last backward covered %d row ranges: diagnose each with "
                             "mlp_diagnose_range",
                             ws->n_ranges);
    diagnose(m, ws, ws->has_grad ? &ws->ranges[0] : NULL, 0, p, out);
    return MLP_OK;
}

mlp_status mlp_diagnose_range(const mlp_model *m, mlp_workspace *ws, int range,
                              const mlp_diag_params *p, mlp_diagnostics *out, mlp_error *err)
{
    mlp_status s = check_diagnose(m, ws, out, err);
    if (s != MLP_OK) return s;
    if (!ws->has_grad)
        return mlp_set_error(err, MLP_ERR_INVALID, "no backward ran since the last forward");
    if (range < 0 || range >= ws->n_ranges)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "range %d: the last backward covered ranges 0 to %d", range,
                             ws->n_ranges - 1);
    diagnose(m, ws, &ws->ranges[range], range, p, out);
    return MLP_OK;
}
