/*
 * activity — per-unit activity counters across batches (the live dying-ReLU
 * monitor): for every hidden unit, the number of rows with Z finite and > 0,
 * and the number with Z NaN or ±inf. A unit is never active when it has
 * neither: a NaN row says nothing about whether the unit would fire, so it
 * makes the unit non-finite rather than silent (or, with +inf, active).
 *
 * One allocation holds every counter: active[l] points into its first half,
 * nonfinite[l] into its second.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* On failure a is zeroed, so mlp_activity_free on it is harmless. */
mlp_status mlp_activity_init(const mlp_model *m, mlp_activity *a, mlp_error *err)
{
    if (!a) return mlp_set_error(err, MLP_ERR_INVALID, "activity output pointer is NULL");
    memset(a, 0, sizeof *a);
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    if (m->n_layers < 1 || m->n_layers > MLP_MAX_LAYERS)
        return mlp_set_error(err, MLP_ERR_INVALID, "model has %d layers", m->n_layers);
    int h = m->n_layers - 1;
    if (h == 0) return MLP_OK;
    size_t total = 0;
    for (int l = 0; l < h; l++)
        total += (size_t)m->layers[l].out;
    a->units = calloc((unsigned)h, sizeof *a->units);
    a->active = calloc((unsigned)h, sizeof *a->active);
    a->nonfinite = calloc((unsigned)h, sizeof *a->nonfinite);
    uint64_t *counts = calloc(2 * total, sizeof *counts);
    if (!a->units || !a->active || !a->nonfinite || !counts) {
        free(a->units);
        free(a->active);
        free(a->nonfinite);
        free(counts);
        memset(a, 0, sizeof *a);
        return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory for %zu activity counters",
                             2 * total);
    }
    size_t off = 0;
    for (int l = 0; l < h; l++) {
        a->units[l] = m->layers[l].out;
        a->active[l] = counts + off;
        a->nonfinite[l] = counts + total + off;
        off += (size_t)m->layers[l].out;
    }
    a->n_layers = h;
    return MLP_OK;
}

void mlp_activity_free(mlp_activity *a)
{
    if (!a) return;
    if (a->active) free(a->active[0]);
    free(a->active);
    free(a->nonfinite);
    free(a->units);
    memset(a, 0, sizeof *a);
}

void mlp_activity_reset(mlp_activity *a)
{
    if (!a) return;
    for (int l = 0; l < a->n_layers; l++) {
        memset(a->active[l], 0, (size_t)a->units[l] * sizeof *a->active[l]);
        memset(a->nonfinite[l], 0, (size_t)a->units[l] * sizeof *a->nonfinite[l]);
    }
    a->rows = 0;
}

mlp_status mlp_activity_add(mlp_activity *a, const mlp_workspace *ws, int row0, int n,
                            mlp_error *err)
{
    if (!a || !ws) return mlp_set_error(err, MLP_ERR_INVALID, "activity or workspace is NULL");
    if (n < 1 || row0 < 0 || row0 > ws->rows - n)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "rows [%d, %lld) lie outside the last forward's %d rows", row0,
                             (long long)row0 + n, ws->rows);
    bool same = ws->n_layers == a->n_layers + 1;
    for (int l = 0; same && l < a->n_layers; l++)
        same = ws->units[l] == a->units[l];
    if (!same)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "the workspace's last forward ran a model of another shape than "
                             "the counters'");
    for (int l = 0; l < a->n_layers; l++) {
        int u = a->units[l];
        const float *z = ws->z[l] + (size_t)row0 * u;
        uint64_t *act = a->active[l], *nf = a->nonfinite[l];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < u; j++) {
                float v = z[(size_t)i * u + j];
                bool finite = isfinite(v);
                act[j] += finite && v > 0.0f;
                nf[j] += !finite;
            }
    }
    a->rows += (uint64_t)n;
    return MLP_OK;
}

mlp_status mlp_activity_merge(mlp_activity *a, const mlp_activity *b, mlp_error *err)
{
    if (!a || !b) return mlp_set_error(err, MLP_ERR_INVALID, "activity counters are NULL");
    bool same = a->n_layers == b->n_layers;
    for (int l = 0; same && l < a->n_layers; l++)
        same = a->units[l] == b->units[l];
    if (!same)
        return mlp_set_error(err, MLP_ERR_INVALID, "activity counters of another model shape");
    for (int l = 0; l < a->n_layers; l++)
        for (int j = 0; j < a->units[l]; j++) {
            a->active[l][j] += b->active[l][j];
            a->nonfinite[l][j] += b->nonfinite[l][j];
        }
    a->rows += b->rows;
    return MLP_OK;
}

bool mlp_activity_never_active(const mlp_activity *a, int l, int j)
{
    if (!a || l < 0 || l >= a->n_layers || j < 0 || j >= a->units[l] || a->rows == 0) return false;
    return a->active[l][j] == 0 && a->nonfinite[l][j] == 0;
}

float mlp_activity_never_active_fraction(const mlp_activity *a, int l)
{
    if (!a || l < 0 || l >= a->n_layers || a->rows == 0) return 0.0f;
    int never = 0;
    for (int j = 0; j < a->units[l]; j++)
        never += mlp_activity_never_active(a, l, j);
    return (float)never / (float)a->units[l];
}

float mlp_activity_nonfinite_fraction(const mlp_activity *a, int l)
{
    if (!a || l < 0 || l >= a->n_layers || a->rows == 0) return 0.0f;
    int bad = 0;
    for (int j = 0; j < a->units[l]; j++)
        bad += a->nonfinite[l][j] != 0;
    return (float)bad / (float)a->units[l];
}
