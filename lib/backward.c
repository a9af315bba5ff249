/*
 * backward — gradients of a scalar g (mlp.h) over a row range of the last
 * forward, and the losses themselves.
 *
 * With dZ_L = dg/dZ_L for the output layer, back-propagation per layer is
 *     dW_l = dZ_lᵀ · A_{l-1}          (out x in, summed over rows)
 *     db_l = Σ_rows dZ_l
 *     dA_{l-1} = dZ_l · W_l           (rows x in)
 *     dZ_{l-1} = dA_{l-1} ⊙ f'_{l-1}(Z_{l-1})
 * down to dA_{-1} = dg/dX̃ for the standardised input X̃ = (X - mean)/std,
 * so dg/dX = dg/dX̃ / std, column by column.
 *
 * Output layer, with p = softmax(z) of one row and n rows in the range:
 *   LABELS (y):        g = (1/n) Σ_i [lse(z_i) - z_iy],  dZ = (p - onehot(y)) / n
 *   DISTRIBUTION (t):  g = (1/n) Σ_i Σ_j t_j [lse(z_i) - z_ij],
 *                      dZ = (p·Σ_j t_j - t) / n  (p·1 - t when t sums to 1)
 *   MSE (t):           g = (1/(n·K)) Σ (A - t)²,  dA = 2(A - t)/(n·K), then
 *                      through f' of the last activation (softmax: its Jacobian,
 *                      dz_j = p_j (da_j - Σ_k p_k da_k))
 *   BINARY (y in [0,1]): g = (1/(n·K)) Σ [max(z,0) - z·y + log(1 + e^-|z|)],
 *                      dZ = (σ(z) - y)/(n·K)  (binary cross-entropy on the logit)
 *   MAX_LOGIT:         g = Σ_i max_j z_ij,  dZ = onehot(argmax_j z_ij) (first max)
 * lse is log Σ exp, computed after subtracting the row max (no overflow).
 * Because every formula uses only the range's rows and its own n, a range of
 * a merged batch gets exactly the gradients it would get alone.
 *
 * Per-layer norms ||dW_l||_F and ||db_l|| are computed here, while the data
 * is in cache, and kept in ws for mlp_diagnose. In norms-only mode
 * (mlp_workspace_set_param_grads false) dW is not kept: see weight_norm.
 *
 * mlp_backward_ranges runs several such ranges (the requests of a merged
 * batch) in one pass: see backward_ranges. mlp_backward is its one-range case.
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

/*
 * ||dW||_F for dW = dZᵀ·A without keeping dW: by the Gram route
 * (mlp_outer_norm2), n(n+1)/2 dots of in + out doubles, or by forming dW at
 * the start of ws->grad (free scratch in this mode) and measuring it. The
 * cost model below was fitted to timings on the 2-core dev box (AMD EPYC,
 * OpenBLAS single-threaded) over layers 784x512, 512x512, 512x10, 16x16,
 * 4x16, 16x3 and n = 2..256:
 *   Gram: ~0.4 ns per pair and per element of in + out (double, 4-wide);
 *   form: ~0.6 ns per dW element (sgemm packing, then the norm pass) plus
 *         per multiply-add ~0.035 ns with sgemm or with the own kernels from
 *         8 inputs on (measured 0.02-0.04 for both, n = 2..128), ~0.5 ns
 *         with the own kernels below 8 inputs (scalar sums).
 * So at 784x512 the Gram route is 8-300x faster for n <= 16, about even at
 * n = 64 and 2-5x slower from n = 128 on; on small layers it wins for n <= 4.
 */
static float weight_norm(mlp_workspace *ws, const float *dz, const float *a, int n, int in, int out)
{
    double pairs = 0.5 * (double)n * (double)(n + 1), elems = (double)in * (double)out;
    double gram_ns = 0.4 * pairs * (double)(in + out);
    double mac_ns = in >= 8 || mlp_grad_uses_blas(ws->kernel, n, in, out) ? 0.035 : 0.5;
    double form_ns = elems * (0.6 + mac_ns * (double)n);
    if (gram_ns <= form_ns) {
        /* A non-finite result means an inf or NaN in dZ or A. The Gram sums
         * cannot tell whether the product holds inf·0 = NaN entries (for
         * n = 1 it is |u|·|v| = inf), so form dW and measure what full mode
         * and PyTorch see; only overflowed batches pay for it. */
        float norm = mlp_outer_norm2(dz, out, a, in, n, ws->gram);
        if (isfinite(norm)) return norm;
    }
    mlp_grad_weights(ws->kernel, dz, a, n, in, out, ws->grad);
    return mlp_norm2(ws->grad, (size_t)in * (size_t)out);
}

/* Row max and log-sum-exp of one row of logits. */
static double row_lse(const float *z, int k, float *max_out)
{
    float mx = z[0];
    for (int j = 1; j < k; j++)
        if (z[j] > mx) mx = z[j];
    double s = 0.0;
    for (int j = 0; j < k; j++)
        s += exp((double)z[j] - (double)mx);
    *max_out = mx;
    return (double)mx + log(s);
}

/* Refuses what the workspace or target cannot serve; changes nothing. */
static mlp_status check_request(const mlp_model *m, const mlp_workspace *ws, int row0, int n,
                                const mlp_target *t, mlp_error *err)
{
    if (!m || !ws || !t)
        return mlp_set_error(err, MLP_ERR_INVALID, "model, workspace or target is NULL");
    if (ws->rows == 0)
        return mlp_set_error(err, MLP_ERR_INVALID, "the workspace holds no forward pass");
    if (n < 1 || row0 < 0 || row0 > ws->rows - n)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "rows [%d, %lld) lie outside the last forward's %d rows", row0,
                             (long long)row0 + n, ws->rows);
    if (!mlp_workspace_matches(ws, m))
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "the workspace's last forward ran a model of another shape");
    return mlp_target_check(m, t, n, err) == MLP_OK ? MLP_OK : MLP_ERR_INVALID;
}

/*
 * g for rows [row0, row0+n), and when d is not NULL its gradient w.r.t. the
 * tensor g reads (Z_L, or A_L for MSE) into d (n x K).
 */
static double output_value(const mlp_model *m, const mlp_workspace *ws, int row0, int n,
                           const mlp_target *t, float *d)
{
    int L = m->n_layers - 1, K = m->n_outputs;
    const float *z = ws->z[L] + (size_t)row0 * K;
    const float *a = ws->a[L] + (size_t)row0 * K;
    double g = 0.0;
    switch (t->kind) {
    case MLP_TARGET_MAX_LOGIT:
        for (int i = 0; i < n; i++) {
            const float *zi = z + (size_t)i * K;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (zi[j] > zi[best]) best = j;
            g += zi[best];
            if (d) {
                memset(d + (size_t)i * K, 0, (size_t)K * sizeof *d);
                d[(size_t)i * K + best] = 1.0f;
            }
        }
        return g;
    case MLP_TARGET_LABELS:
    case MLP_TARGET_DISTRIBUTION:
        for (int i = 0; i < n; i++) {
            const float *zi = z + (size_t)i * K;
            float mx;
            double lse = row_lse(zi, K, &mx);
            if (t->kind == MLP_TARGET_LABELS) {
                int y = t->labels[i];
                g += lse - (double)zi[y];
                if (d) {
                    for (int j = 0; j < K; j++)
                        d[(size_t)i * K + j] =
                            (float)((exp((double)zi[j] - lse) - (j == y ? 1.0 : 0.0)) / n);
                }
            } else {
                const float *ti = t->targets + (size_t)i * K;
                double tsum = 0.0;
                for (int j = 0; j < K; j++) {
                    g += (double)ti[j] * (lse - (double)zi[j]);
                    tsum += ti[j];
                }
                if (d) {
                    for (int j = 0; j < K; j++)
                        d[(size_t)i * K + j] =
                            (float)((exp((double)zi[j] - lse) * tsum - (double)ti[j]) / n);
                }
            }
        }
        return g / n;
    case MLP_TARGET_BINARY: {
        /* PyTorch's BCEWithLogitsLoss, written so exp never overflows:
         * -[y log σ(z) + (1-y) log(1-σ(z))] = max(z, 0) - z·y + log(1 + e^-|z|) */
        double count = (double)n * (double)K;
        for (size_t i = 0; i < (size_t)n * (size_t)K; i++) {
            double zi = z[i];
            double y = t->labels ? (double)t->labels[i] : (double)t->targets[i];
            double e = exp(-fabs(zi));
            g += (zi > 0.0 ? zi : 0.0) - zi * y + log1p(e);
            if (d) {
                double sig = zi >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
                d[i] = (float)((sig - y) / count);
            }
        }
        return g / count;
    }
    case MLP_TARGET_MSE: {
        double count = (double)n * (double)K;
        for (size_t i = 0; i < (size_t)n * (size_t)K; i++) {
            double e = (double)a[i] - (double)t->targets[i];
            g += e * e;
            if (d) d[i] = (float)(2.0 * e / count);
        }
        return g / count;
    }
    }
    return NAN;
}

mlp_status mlp_loss(const mlp_model *m, const mlp_workspace *ws, int row0, int n,
                    const mlp_target *t, float *g, mlp_error *err)
{
    if (!g) return mlp_set_error(err, MLP_ERR_INVALID, "loss output pointer is NULL");
    mlp_status s = check_request(m, ws, row0, n, t, err);
    if (s != MLP_OK) return s;
    *g = (float)output_value(m, ws, row0, n, t, NULL);
    return MLP_OK;
}

/* dZ_L from dA_L for MSE: elementwise f', or softmax's Jacobian per row. */
static void last_layer_backprop(const mlp_layer *ly, const float *z, const float *a,
                                const float *da, float *dz, int n)
{
    int K = ly->out;
    if (ly->activation != MLP_ACT_SOFTMAX) {
        mlp_activation_backprop(ly->activation, ly->alpha, z, a, da, dz, (size_t)n * K);
        return;
    }
    for (int i = 0; i < n; i++) {
        const float *p = a + (size_t)i * K, *dai = da + (size_t)i * K;
        double dot = 0.0;
        for (int j = 0; j < K; j++)
            dot += (double)p[j] * (double)dai[j];
        for (int j = 0; j < K; j++)
            dz[(size_t)i * K + j] = (float)((double)p[j] * ((double)dai[j] - dot));
    }
}

/*
 * The backward of ranges r[0 .. n_ranges), already checked. The rows of every
 * range are stacked in d0/d1 (range k from row r[k].at): the gradient
 * products dA = dZ·W run once per layer over all of them, since a row of dA
 * depends only on its own row of dZ and the portable and native kernels sum
 * each element in one fixed order whatever the row count (kernels_grad.c,
 * kernels_native.c; AUTO/BLAS: to float32 rounding only). Everything that
 * sums over rows (g and the output dZ, which divide by the range's n; db and
 * the norms) runs per range over exactly its rows, with the same calls on the
 * same values as for that range alone, so each range gets the bits it would
 * get alone.
 */
static void backward_ranges(const mlp_model *m, mlp_workspace *ws, const mlp_backward_range *r,
                            int n_ranges, float *losses)
{
    int L = m->n_layers - 1, NL = m->n_layers;
    const mlp_layer *last = &m->layers[L];
    float *dz = ws->d0, *da = ws->d1;
    int total = 0, dx_rows = 0;
    for (int k = 0; k < n_ranges; k++) {
        mlp_ws_range *w = &ws->ranges[k];
        w->row0 = r[k].row0;
        w->n = r[k].n;
        w->at = total;
        w->dx_row = r[k].input_grad ? dx_rows : -1;
        total += r[k].n;
        dx_rows += r[k].input_grad ? r[k].n : 0;
    }

    for (int k = 0; k < n_ranges; k++) {
        const mlp_target *t = &r[k].target;
        mlp_ws_range *w = &ws->ranges[k];
        size_t off = (size_t)w->at * last->out, count = (size_t)w->n * last->out;
        double g;
        if (t->kind == MLP_TARGET_MSE) {
            g = output_value(m, ws, w->row0, w->n, t, da + off);
            ws->act_grad_norm[(size_t)k * NL + L] = mlp_norm2(da + off, count);
            last_layer_backprop(last, ws->z[L] + (size_t)w->row0 * last->out,
                                ws->a[L] + (size_t)w->row0 * last->out, da + off, dz + off, w->n);
        } else {
            g = output_value(m, ws, w->row0, w->n, t, dz + off);
            ws->act_grad_norm[(size_t)k * NL + L] = mlp_norm2(dz + off, count);
        }
        w->has_loss = t->kind != MLP_TARGET_MAX_LOGIT;
        w->target = t->kind;
        w->loss = w->has_loss ? (float)g : NAN;
        if (losses) losses[k] = w->loss;
    }

    /* Whether W_l is finite, as the native kernel's copy of the weights knows
     * (false for the other kernels, and when there is no copy): a finite W
     * lets a one-row dA = dZ·W step over the zeros of dZ. */
    mlp_native_isa isa = ws->kernel == MLP_KERNEL_NATIVE ? mlp_native_isa_best() : MLP_ISA_PORTABLE;
    for (int l = L; l >= 0; l--) {
        const mlp_layer *ly = &m->layers[l];
        const float *w_l = m->params + ly->weight_offset;
        bool w_finite = mlp_native_weights(m, isa, l).finite;
        for (int k = 0; k < n_ranges; k++) {
            const mlp_ws_range *w = &ws->ranges[k];
            int n = w->n;
            const float *in = (l > 0 ? ws->a[l - 1] : ws->x) + (size_t)w->row0 * ly->in;
            const float *dzk = dz + (size_t)w->at * ly->out;
            /* Norms-only mode forms nothing in grad: db goes to its start as
             * scratch, measured at once, and weight_norm uses it again for
             * dW. With several ranges in full mode each range's dW and db
             * overwrite the last one's (only the norms are results then). */
            float *db = ws->param_grads ? ws->grad + ly->bias_offset : ws->grad;
            for (int j = 0; j < ly->out; j++)
                db[j] = 0.0f;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < ly->out; j++)
                    db[j] += dzk[(size_t)i * ly->out + j];
            ws->b_grad_norm[(size_t)k * NL + l] = mlp_norm2(db, (size_t)ly->out);
            if (ws->param_grads) {
                float *dw = ws->grad + ly->weight_offset;
                mlp_grad_weights(ws->kernel, dzk, in, n, ly->in, ly->out, dw);
                ws->w_grad_norm[(size_t)k * NL + l] =
                    mlp_norm2(dw, (size_t)ly->in * (size_t)ly->out);
            } else {
                ws->w_grad_norm[(size_t)k * NL + l] = weight_norm(ws, dzk, in, n, ly->in, ly->out);
            }
        }

        if (l > 0) {
            mlp_grad_inputs(ws->kernel, dz, w_l, total, ly->in, ly->out, w_finite, da);
            const mlp_layer *prev = &m->layers[l - 1];
            for (int k = 0; k < n_ranges; k++) {
                const mlp_ws_range *w = &ws->ranges[k];
                size_t off = (size_t)w->at * prev->out, count = (size_t)w->n * prev->out;
                ws->act_grad_norm[(size_t)k * NL + l - 1] = mlp_norm2(da + off, count);
                mlp_activation_backprop(
                    prev->activation, prev->alpha, ws->z[l - 1] + (size_t)w->row0 * prev->out,
                    ws->a[l - 1] + (size_t)w->row0 * prev->out, da + off, da + off, count);
            }
            float *tmp = dz;
            dz = da;
            da = tmp;
        } else if (dx_rows == total) {
            mlp_grad_inputs(ws->kernel, dz, w_l, total, ly->in, ly->out, w_finite, ws->dx);
        } else if (dx_rows > 0) {
            /* Only some ranges want dg/dX: their dZ_0 rows, stacked in the
             * free buffer, go through one product. */
            for (int k = 0; k < n_ranges; k++) {
                const mlp_ws_range *w = &ws->ranges[k];
                if (w->dx_row >= 0)
                    memcpy(da + (size_t)w->dx_row * ly->out, dz + (size_t)w->at * ly->out,
                           (size_t)w->n * (size_t)ly->out * sizeof *da);
            }
            mlp_grad_inputs(ws->kernel, da, w_l, dx_rows, ly->in, ly->out, w_finite, ws->dx);
        }
    }
    if (m->input_std) {
        for (int i = 0; i < dx_rows; i++)
            for (int k = 0; k < m->n_inputs; k++)
                ws->dx[(size_t)i * m->n_inputs + k] /= m->input_std[k];
    }

    ws->n_ranges = n_ranges;
    ws->has_grad = true;
    ws->grad_formed = ws->param_grads && n_ranges == 1;
}

mlp_status mlp_backward(const mlp_model *m, mlp_workspace *ws, int row0, int n, const mlp_target *t,
                        float *loss, mlp_error *err)
{
    mlp_status s = check_request(m, ws, row0, n, t, err);
    if (s != MLP_OK) return s;
    mlp_backward_range r = {.row0 = row0, .n = n, .target = *t, .input_grad = true};
    backward_ranges(m, ws, &r, 1, loss);
    return MLP_OK;
}

mlp_status mlp_backward_ranges(const mlp_model *m, mlp_workspace *ws,
                               const mlp_backward_range *ranges, int n_ranges, float *losses,
                               mlp_error *err)
{
    if (!m || !ws || !ranges)
        return mlp_set_error(err, MLP_ERR_INVALID, "model, workspace or ranges is NULL");
    if (ws->rows == 0)
        return mlp_set_error(err, MLP_ERR_INVALID, "the workspace holds no forward pass");
    if (n_ranges < 1 || n_ranges > ws->rows)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "%d ranges: need 1 to %d (one per row of the last forward)", n_ranges,
                             ws->rows);
    if (!mlp_workspace_matches(ws, m))
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "the workspace's last forward ran a model of another shape");
    int end = 0; /* ranges ascend and never overlap: each starts at or after this */
    for (int k = 0; k < n_ranges; k++) {
        int row0 = ranges[k].row0, n = ranges[k].n;
        if (n < 1 || row0 < end || row0 > ws->rows - n)
            return mlp_set_error(err, MLP_ERR_INVALID,
                                 "range %d: rows [%d, %lld) must lie within the last forward's "
                                 "%d rows, after the previous range (which ends at row %d)",
                                 k, row0, (long long)row0 + n, ws->rows, end);
        mlp_error e;
        if (mlp_target_check(m, &ranges[k].target, n, &e) != MLP_OK)
            return mlp_set_error(err, MLP_ERR_INVALID, "range %d: %s", k, e.msg);
        end = row0 + n;
    }
    backward_ranges(m, ws, ranges, n_ranges, losses);
    return MLP_OK;
}
