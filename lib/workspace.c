/*
 * workspace — per-thread scratch memory: allocation, growth, shrinking and
 * accessors.
 *
 * Buffers grow on demand: mlp_workspace_reserve (and mlp_forward, which calls
 * it) allocates; growth copies the old contents into the new block, so the
 * last forward/backward results stay valid. They shrink only when asked
 * (mlp_workspace_shrink, after a batch far larger than usual), which drops
 * the results. Every
 * buffer starts on a 64-byte boundary (MLP_ALIGN), so rows of layers whose
 * width is a multiple of 16 floats are cache-line aligned for the kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *mlp_aligned_alloc(size_t n)
{
    void *p = NULL;
    /* posix_memalign rather than C11 aligned_alloc: no size-multiple rule. */
    if (n == 0 || posix_memalign(&p, MLP_ALIGN, n) != 0) return NULL;
    return p;
}

mlp_status mlp_buffer_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return MLP_OK;
    if (need > SIZE_MAX / elem) return MLP_ERR_NOMEM;
    void *q = mlp_aligned_alloc(need * elem);
    if (!q) return MLP_ERR_NOMEM;
    if (*p && *cap) memcpy(q, *p, *cap * elem);
    free(*p);
    *p = q;
    *cap = need;
    return MLP_OK;
}

mlp_status mlp_workspace_create(mlp_workspace **out, mlp_error *err)
{
    if (!out) return mlp_set_error(err, MLP_ERR_INVALID, "workspace output pointer is NULL");
    mlp_workspace *ws = calloc(1, sizeof *ws);
    *out = ws;
    if (!ws) return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory allocating a workspace");
    ws->kernel = MLP_KERNEL_PORTABLE;
    ws->param_grads = true;
    return MLP_OK;
}

void mlp_workspace_free(mlp_workspace *ws)
{
    if (!ws) return;
    free(ws->x);
    free(ws->zbuf);
    free(ws->abuf);
    free(ws->z);
    free(ws->a);
    free(ws->units);
    free(ws->grad);
    free(ws->dx);
    free(ws->d0);
    free(ws->d1);
    free(ws->act_grad_norm);
    free(ws->w_grad_norm);
    free(ws->b_grad_norm);
    free(ws->gram);
    free(ws->ranges);
    free(ws->diag);
    free(ws->dead_units);
    free(ws);
}

void mlp_workspace_layout(mlp_workspace *ws)
{
    size_t off = 0;
    for (int l = 0; l < ws->n_layers; l++) {
        ws->z[l] = ws->zbuf + off;
        ws->a[l] = ws->abuf + off;
        off += (size_t)ws->rows * (size_t)ws->units[l];
    }
}

bool mlp_workspace_matches(const mlp_workspace *ws, const mlp_model *m)
{
    if (ws->n_layers != m->n_layers || ws->n_inputs != m->n_inputs || ws->n_params != m->n_params)
        return false;
    for (int l = 0; l < m->n_layers; l++)
        if (ws->units[l] != m->layers[l].out) return false;
    return true;
}

static size_t sum_units(const mlp_model *m)
{
    size_t s = 0;
    for (int l = 0; l < m->n_layers; l++)
        s += (size_t)m->layers[l].out;
    return s;
}

mlp_status mlp_workspace_reserve(mlp_workspace *ws, const mlp_model *m, int n_rows, mlp_error *err)
{
    if (!ws || !m) return mlp_set_error(err, MLP_ERR_INVALID, "workspace or model is NULL");
    if (n_rows < 0) return mlp_set_error(err, MLP_ERR_INVALID, "rows must be >= 0, got %d", n_rows);
    size_t rows = (size_t)n_rows, su = sum_units(m), layers = (size_t)m->n_layers;
    size_t widest = rows * (size_t)m->max_units, inputs = rows * (size_t)m->n_inputs;
    /* room for one backward range per row (at least one) */
    size_t slots = rows > 0 ? rows : 1;
    /* A failed grow leaves its buffer and capacity as they were, so a failed
     * reserve still leaves a consistent workspace. */
    mlp_status s = mlp_buffer_grow((void **)&ws->units, &ws->units_cap, layers, sizeof(int));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->x, &ws->x_cap, inputs, sizeof(float));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->zbuf, &ws->zbuf_cap, rows * su, sizeof(float));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->abuf, &ws->abuf_cap, rows * su, sizeof(float));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->z, &ws->z_cap, layers, sizeof(float *));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->a, &ws->a_cap, layers, sizeof(float *));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->grad, &ws->grad_cap, m->n_params, sizeof(float));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->dx, &ws->dx_cap, inputs, sizeof(float));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->d0, &ws->d0_cap, widest, sizeof(float));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->d1, &ws->d1_cap, widest, sizeof(float));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->act_grad_norm, &ws->norm_cap, slots * layers,
                            sizeof(float));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->w_grad_norm, &ws->w_norm_cap, slots * layers,
                            sizeof(float));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->b_grad_norm, &ws->b_norm_cap, slots * layers,
                            sizeof(float));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->gram, &ws->gram_cap, rows, sizeof(double));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->ranges, &ws->ranges_cap, slots, sizeof(mlp_ws_range));
    if (s == MLP_OK)
        s = mlp_buffer_grow((void **)&ws->diag, &ws->diag_cap, layers, sizeof(mlp_layer_diag));
    if (s == MLP_OK) s = mlp_buffer_grow((void **)&ws->dead_units, &ws->dead_cap, su, sizeof(int));
    if (ws->rows > 0) mlp_workspace_layout(ws); /* zbuf/abuf may have moved */
    if (s != MLP_OK)
        return mlp_set_error(err, s, "out of memory reserving a workspace for %d rows", n_rows);
    return MLP_OK;
}

/* Frees *p and re-makes it with room for need elements when it holds more;
 * returns the bytes given back. A failed re-make leaves it empty. */
static size_t buffer_shrink(void **p, size_t *cap, size_t need, size_t elem)
{
    if (*cap <= need) return 0;
    size_t before = *cap * elem;
    free(*p);
    *p = NULL;
    *cap = 0;
    if (need > 0) mlp_buffer_grow(p, cap, need, elem);
    return before - *cap * elem;
}

mlp_status mlp_workspace_shrink(mlp_workspace *ws, const mlp_model *m, int n_rows,
                                size_t *freed_out, mlp_error *err)
{
    if (!ws || !m) return mlp_set_error(err, MLP_ERR_INVALID, "workspace or model is NULL");
    if (n_rows < 0) return mlp_set_error(err, MLP_ERR_INVALID, "rows must be >= 0, got %d", n_rows);
    size_t rows = (size_t)n_rows, su = sum_units(m), layers = (size_t)m->n_layers;
    size_t widest = rows * (size_t)m->max_units, inputs = rows * (size_t)m->n_inputs;
    size_t slots = rows > 0 ? rows : 1;
    size_t freed = 0;
    freed += buffer_shrink((void **)&ws->x, &ws->x_cap, inputs, sizeof(float));
    freed += buffer_shrink((void **)&ws->zbuf, &ws->zbuf_cap, rows * su, sizeof(float));
    freed += buffer_shrink((void **)&ws->abuf, &ws->abuf_cap, rows * su, sizeof(float));
    freed += buffer_shrink((void **)&ws->dx, &ws->dx_cap, inputs, sizeof(float));
    freed += buffer_shrink((void **)&ws->d0, &ws->d0_cap, widest, sizeof(float));
    freed += buffer_shrink((void **)&ws->d1, &ws->d1_cap, widest, sizeof(float));
    freed += buffer_shrink((void **)&ws->gram, &ws->gram_cap, rows, sizeof(double));
    freed +=
        buffer_shrink((void **)&ws->act_grad_norm, &ws->norm_cap, slots * layers, sizeof(float));
    freed +=
        buffer_shrink((void **)&ws->w_grad_norm, &ws->w_norm_cap, slots * layers, sizeof(float));
    freed +=
        buffer_shrink((void **)&ws->b_grad_norm, &ws->b_norm_cap, slots * layers, sizeof(float));
    freed += buffer_shrink((void **)&ws->ranges, &ws->ranges_cap, slots, sizeof(mlp_ws_range));
    if (freed > 0) {
        /* z[l]/a[l] pointed into the old blocks: no results any more */
        ws->rows = 0;
        ws->has_grad = false;
        ws->n_ranges = 0;
    }
    if (freed_out) *freed_out = freed;
    return MLP_OK;
}

size_t mlp_workspace_bytes(const mlp_workspace *ws)
{
    if (!ws) return 0;
    return sizeof *ws + ws->units_cap * sizeof(int) +
           (ws->x_cap + ws->zbuf_cap + ws->abuf_cap + ws->grad_cap + ws->dx_cap + ws->d0_cap +
            ws->d1_cap + ws->norm_cap + ws->w_norm_cap + ws->b_norm_cap) *
               sizeof(float) +
           ws->gram_cap * sizeof(double) + ws->ranges_cap * sizeof(mlp_ws_range) +
           (ws->z_cap + ws->a_cap) * sizeof(float *) + ws->diag_cap * sizeof(mlp_layer_diag) +
           ws->dead_cap * sizeof(int);
}

const float *mlp_workspace_output(const mlp_workspace *ws)
{
    if (!ws || ws->rows == 0) return NULL;
    return ws->a[ws->n_layers - 1];
}

const float *mlp_workspace_preactivation(const mlp_workspace *ws, int l)
{
    if (!ws || ws->rows == 0 || l < 0 || l >= ws->n_layers) return NULL;
    return ws->z[l];
}

const float *mlp_workspace_activation(const mlp_workspace *ws, int l)
{
    if (!ws || ws->rows == 0 || l < 0 || l >= ws->n_layers) return NULL;
    return ws->a[l];
}

int mlp_workspace_rows(const mlp_workspace *ws)
{
    return ws ? ws->rows : 0;
}

const float *mlp_workspace_param_grad(const mlp_workspace *ws)
{
    /* grad_formed, not the current mode: what the last backward actually did */
    return ws && ws->has_grad && ws->grad_formed ? ws->grad : NULL;
}

const float *mlp_workspace_input_grad(const mlp_workspace *ws)
{
    if (!ws || !ws->has_grad) return NULL;
    for (int r = 0; r < ws->n_ranges; r++)
        if (ws->ranges[r].dx_row >= 0) return ws->dx;
    return NULL;
}

mlp_status mlp_workspace_set_kernel(mlp_workspace *ws, mlp_kernel k, mlp_error *err)
{
    if (!ws) return mlp_set_error(err, MLP_ERR_INVALID, "workspace is NULL");
    if ((int)k < (int)MLP_KERNEL_PORTABLE || (int)k > (int)MLP_KERNEL_NATIVE)
        return mlp_set_error(err, MLP_ERR_INVALID, "unknown kernel choice %d", (int)k);
    ws->kernel = k;
    return MLP_OK;
}

mlp_status mlp_workspace_set_param_grads(mlp_workspace *ws, bool keep, mlp_error *err)
{
    if (!ws) return mlp_set_error(err, MLP_ERR_INVALID, "workspace is NULL");
    ws->param_grads = keep; /* takes effect at the next backward */
    return MLP_OK;
}
