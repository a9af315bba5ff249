/*
 * model — creation, copying, metadata and validation of an mlp_model.
 *
 * Parameters live in one allocation, W_0 b_0 W_1 b_1 ..., so optimisers and
 * norms run one loop over params[0 .. n_params). The block starts on a
 * 64-byte boundary (released with plain free()).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static float *dup_floats(const float *v, int n)
{
    float *d = malloc((size_t)n * sizeof *d);
    if (d) memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

static void free_labels(char **labels, int n)
{
    if (!labels) return;
    for (int i = 0; i < n; i++)
        free(labels[i]);
    free(labels);
}

void mlp_model_free(mlp_model *m)
{
    if (!m) return;
    free(m->name);
    free(m->input_name);
    free(m->output_name);
    free(m->layers);
    free(m->params);
    mlp_native_drop(m);
    free(m->input_mean);
    free(m->input_std);
    free_labels(m->labels, m->n_outputs);
    free(m);
}

/* Checks one layer's own description (not how it chains to the others). */
static mlp_status check_layer(int l, int n_layers, int units, mlp_activation act, float alpha,
                              mlp_error *err)
{
    if (units < 1)
        return mlp_set_error(err, MLP_ERR_INVALID, "layer %d: units must be >= 1, got %d", l,
                             units);
    if (units > MLP_MAX_UNITS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "layer %d: %d units exceed the limit of %d", l,
                             units, MLP_MAX_UNITS);
    if ((int)act < (int)MLP_ACT_RELU || (int)act > (int)MLP_ACT_SOFTMAX)
        return mlp_set_error(err, MLP_ERR_INVALID, "layer %d: unknown activation %d", l, (int)act);
    if (act == MLP_ACT_SOFTMAX && l != n_layers - 1)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "layer %d: softmax is allowed on the last layer only", l);
    if (act == MLP_ACT_LEAKY_RELU && !(alpha >= 0.0f && alpha < 1.0f))
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "layer %d: leaky_relu alpha must be in [0, 1), got %g", l,
                             (double)alpha);
    return MLP_OK;
}

mlp_status mlp_model_create(int n_inputs, const mlp_layer_spec *layers, int n_layers,
                            mlp_model **out, mlp_error *err)
{
    if (!out) return mlp_set_error(err, MLP_ERR_INVALID, "model output pointer is NULL");
    *out = NULL;
    if (n_inputs < 1)
        return mlp_set_error(err, MLP_ERR_INVALID, "input size must be >= 1, got %d", n_inputs);
    if (n_inputs > MLP_MAX_UNITS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "input size %d exceeds the limit of %d", n_inputs,
                             MLP_MAX_UNITS);
    if (n_layers < 1 || !layers)
        return mlp_set_error(err, MLP_ERR_INVALID, "a model needs at least one layer");
    if (n_layers > MLP_MAX_LAYERS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "%d layers exceed the limit of %d", n_layers,
                             MLP_MAX_LAYERS);

    /* Sizes first: units <= 2^16 and layers <= 64 keep every product below
     * 2^39, so size_t arithmetic cannot overflow before the limit check. */
    size_t n_params = 0;
    int prev = n_inputs, max_units = n_inputs;
    for (int l = 0; l < n_layers; l++) {
        mlp_status s =
            check_layer(l, n_layers, layers[l].units, layers[l].activation, layers[l].alpha, err);
        if (s != MLP_OK) return s;
        n_params += (size_t)layers[l].units * (size_t)prev + (size_t)layers[l].units;
        prev = layers[l].units;
        if (prev > max_units) max_units = prev;
    }
    if (n_params > MLP_MAX_PARAMS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "%zu parameters exceed the limit of %zu", n_params,
                             MLP_MAX_PARAMS);

    mlp_model *m = calloc(1, sizeof *m);
    if (!m) return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory allocating the model");
    m->name = dup_str("model");
    m->input_name = dup_str("input");
    m->output_name = dup_str("output");
    m->layers = calloc((size_t)n_layers, sizeof *m->layers);
    /* 64-byte aligned (MLP_ALIGN) for the dense kernel; still one block. */
    m->params = mlp_aligned_alloc(n_params * sizeof *m->params);
    if (m->params) memset(m->params, 0, n_params * sizeof *m->params);
    m->n_layers = n_layers;
    m->n_inputs = n_inputs;
    m->n_outputs = layers[n_layers - 1].units;
    m->n_params = n_params;
    m->max_units = max_units;
    if (!m->name || !m->input_name || !m->output_name || !m->layers || !m->params) {
        mlp_model_free(m);
        return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory allocating %zu parameters",
                             n_params);
    }
    size_t off = 0;
    prev = n_inputs;
    for (int l = 0; l < n_layers; l++) {
        mlp_layer *ly = &m->layers[l];
        ly->in = prev;
        ly->out = layers[l].units;
        ly->activation = layers[l].activation;
        ly->alpha = ly->activation == MLP_ACT_LEAKY_RELU ? layers[l].alpha : 0.0f;
        ly->weight_offset = off;
        off += (size_t)ly->in * (size_t)ly->out;
        ly->bias_offset = off;
        off += (size_t)ly->out;
        prev = ly->out;
    }
    m->task = layers[n_layers - 1].activation == MLP_ACT_SOFTMAX ? MLP_TASK_CLASSIFICATION
                                                                 : MLP_TASK_REGRESSION;
    *out = m;
    return MLP_OK;
}

mlp_status mlp_model_clone(const mlp_model *m, mlp_model **out, mlp_error *err)
{
    if (!m || !out)
        return mlp_set_error(err, MLP_ERR_INVALID, "clone needs a model and an output pointer");
    *out = NULL;
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    if (m->n_layers < 1 || m->n_layers > MLP_MAX_LAYERS)
        return mlp_set_error(err, MLP_ERR_INVALID, "model has %d layers", m->n_layers);
    for (int l = 0; l < m->n_layers; l++) {
        spec[l].units = m->layers[l].out;
        spec[l].activation = m->layers[l].activation;
        spec[l].alpha = m->layers[l].alpha;
    }
    mlp_model *c;
    mlp_status s = mlp_model_create(m->n_inputs, spec, m->n_layers, &c, err);
    if (s != MLP_OK) return s;
    if (c->n_params != m->n_params) {
        mlp_model_free(c);
        return mlp_set_error(err, MLP_ERR_INVALID, "model parameter count is inconsistent");
    }
    memcpy(c->params, m->params, m->n_params * sizeof *m->params);
    c->task = m->task;
    s = mlp_model_set_name(c, m->name, err);
    if (s == MLP_OK) s = mlp_model_set_io_names(c, m->input_name, m->output_name, err);
    if (s == MLP_OK) s = mlp_model_set_labels(c, (const char *const *)m->labels, err);
    if (s == MLP_OK) s = mlp_model_set_standardization(c, m->input_mean, m->input_std, err);
    if (s != MLP_OK) {
        mlp_model_free(c);
        return s;
    }
    *out = c;
    return MLP_OK;
}

mlp_status mlp_model_set_params(mlp_model *m, const float *params, size_t n_params, mlp_error *err)
{
    if (!m || !params) return mlp_set_error(err, MLP_ERR_INVALID, "model or params is NULL");
    if (n_params != m->n_params)
        return mlp_set_error(err, MLP_ERR_INVALID, "the model has %zu parameters, got %zu",
                             m->n_params, n_params);
    memmove(m->params, params, n_params * sizeof *m->params); /* params may be the model's own */
    mlp_native_drop(m);
    return MLP_OK;
}

mlp_status mlp_model_set_task(mlp_model *m, mlp_task task, mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    if (task != MLP_TASK_CLASSIFICATION && task != MLP_TASK_REGRESSION)
        return mlp_set_error(err, MLP_ERR_INVALID, "unknown task %d", (int)task);
    m->task = task;
    return MLP_OK;
}

mlp_status mlp_model_set_name(mlp_model *m, const char *name, mlp_error *err)
{
    if (!m || !name) return mlp_set_error(err, MLP_ERR_INVALID, "model or name is NULL");
    char *d = dup_str(name);
    if (!d) return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory copying the name");
    free(m->name);
    m->name = d;
    return MLP_OK;
}

mlp_status mlp_model_set_io_names(mlp_model *m, const char *input, const char *output,
                                  mlp_error *err)
{
    if (!m || !input || !output)
        return mlp_set_error(err, MLP_ERR_INVALID, "model, input or output name is NULL");
    char *i = dup_str(input), *o = dup_str(output);
    if (!i || !o) {
        free(i);
        free(o);
        return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory copying the input/output names");
    }
    free(m->input_name);
    free(m->output_name);
    m->input_name = i;
    m->output_name = o;
    return MLP_OK;
}

mlp_status mlp_model_set_labels(mlp_model *m, const char *const *labels, mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    char **copy = NULL;
    if (labels) {
        if (m->n_outputs < 1 || m->n_outputs > MLP_MAX_UNITS)
            return mlp_set_error(err, MLP_ERR_INVALID, "model has %d outputs", m->n_outputs);
        for (int i = 0; i < m->n_outputs; i++)
            if (!labels[i])
                return mlp_set_error(err, MLP_ERR_INVALID,
                                     "label %d is NULL (a model with %d outputs needs %d labels)",
                                     i, m->n_outputs, m->n_outputs);
        copy = calloc((size_t)m->n_outputs, sizeof *copy);
        if (!copy) return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory copying labels");
        for (int i = 0; i < m->n_outputs; i++) {
            copy[i] = dup_str(labels[i]);
            if (!copy[i]) {
                free_labels(copy, m->n_outputs);
                return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory copying labels");
            }
        }
    }
    free_labels(m->labels, m->n_outputs);
    m->labels = copy;
    return MLP_OK;
}

mlp_status mlp_model_set_standardization(mlp_model *m, const float *mean, const float *std,
                                         mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    for (int i = 0; mean && i < m->n_inputs; i++)
        if (!isfinite(mean[i]))
            return mlp_set_error(err, MLP_ERR_INVALID, "input mean[%d] is not finite", i);
    for (int i = 0; std && i < m->n_inputs; i++)
        if (!(std[i] > 0.0f) || !isfinite(std[i]))
            return mlp_set_error(err, MLP_ERR_INVALID,
                                 "input std[%d] must be finite and > 0, got %g", i, (double)std[i]);
    float *mc = mean ? dup_floats(mean, m->n_inputs) : NULL;
    float *sc = std ? dup_floats(std, m->n_inputs) : NULL;
    if ((mean && !mc) || (std && !sc)) {
        free(mc);
        free(sc);
        return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory copying standardisation");
    }
    free(m->input_mean);
    free(m->input_std);
    m->input_mean = mc;
    m->input_std = sc;
    return MLP_OK;
}

double mlp_model_flops(const mlp_model *m, int n_rows)
{
    double macs = 0.0;
    for (int l = 0; l < m->n_layers; l++)
        macs += (double)m->layers[l].in * (double)m->layers[l].out;
    return macs * (double)n_rows;
}

mlp_status mlp_model_validate(const mlp_model *m, mlp_error *err)
{
    if (!m || !m->layers || !m->params)
        return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL or empty");
    if (m->n_layers < 1 || m->n_layers > MLP_MAX_LAYERS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "model has %d layers (1..%d allowed)", m->n_layers,
                             MLP_MAX_LAYERS);
    if (m->n_inputs < 1 || m->n_inputs > MLP_MAX_UNITS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "input size %d outside 1..%d", m->n_inputs,
                             MLP_MAX_UNITS);
    if (m->n_params > MLP_MAX_PARAMS)
        return mlp_set_error(err, MLP_ERR_LIMIT, "%zu parameters exceed the limit", m->n_params);
    int prev = m->n_inputs, max_units = m->n_inputs;
    size_t off = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        mlp_status s = check_layer(l, m->n_layers, ly->out, ly->activation, ly->alpha, err);
        if (s != MLP_OK) return s;
        if (ly->in != prev)
            return mlp_set_error(err, MLP_ERR_FORMAT,
                                 "layer %d takes %d inputs but the layer before gives %d", l,
                                 ly->in, prev);
        size_t w = (size_t)ly->in * (size_t)ly->out;
        if (ly->weight_offset != off || ly->bias_offset != off + w)
            return mlp_set_error(err, MLP_ERR_FORMAT, "layer %d: parameter offsets inconsistent",
                                 l);
        off += w + (size_t)ly->out;
        prev = ly->out;
        if (prev > max_units) max_units = prev;
    }
    if (off != m->n_params)
        return mlp_set_error(err, MLP_ERR_FORMAT, "model holds %zu parameters, layers need %zu",
                             m->n_params, off);
    if (m->n_outputs != prev)
        return mlp_set_error(err, MLP_ERR_FORMAT, "n_outputs %d but the last layer has %d units",
                             m->n_outputs, prev);
    if (m->max_units != max_units)
        return mlp_set_error(err, MLP_ERR_FORMAT, "max_units %d but the widest layer has %d",
                             m->max_units, max_units);
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        size_t w = (size_t)ly->in * (size_t)ly->out;
        for (size_t i = 0; i < w + (size_t)ly->out; i++) {
            if (!isfinite(m->params[ly->weight_offset + i])) {
                if (i < w)
                    return mlp_set_error(err, MLP_ERR_FORMAT,
                                         "layer %d: weight[%zu][%zu] is not finite", l,
                                         i / (size_t)ly->in, i % (size_t)ly->in);
                return mlp_set_error(err, MLP_ERR_FORMAT, "layer %d: bias[%zu] is not finite", l,
                                     i - w);
            }
        }
    }
    for (int i = 0; i < m->n_inputs; i++) {
        if (m->input_mean && !isfinite(m->input_mean[i]))
            return mlp_set_error(err, MLP_ERR_FORMAT, "input mean[%d] is not finite", i);
        if (m->input_std && !(m->input_std[i] > 0.0f && isfinite(m->input_std[i])))
            return mlp_set_error(err, MLP_ERR_FORMAT, "input std[%d] must be finite and > 0", i);
    }
    return MLP_OK;
}
