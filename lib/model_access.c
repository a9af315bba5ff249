/*
 * model_access — the read-only accessors of the opaque mlp_model. Each is a
 * field read: the hot paths inside libmlp read the fields directly, callers
 * outside pay one call per value they ask for (per batch, not per row).
 */
#include "internal.h"

int mlp_model_n_inputs(const mlp_model *m)
{
    return m->n_inputs;
}

int mlp_model_n_outputs(const mlp_model *m)
{
    return m->n_outputs;
}

int mlp_model_n_layers(const mlp_model *m)
{
    return m->n_layers;
}

int mlp_model_max_units(const mlp_model *m)
{
    return m->max_units;
}

size_t mlp_model_n_params(const mlp_model *m)
{
    return m->n_params;
}

const mlp_layer *mlp_model_layer(const mlp_model *m, int l)
{
    return l >= 0 && l < m->n_layers ? &m->layers[l] : NULL;
}

const float *mlp_model_params(const mlp_model *m)
{
    return m->params;
}

const float *mlp_layer_weight(const mlp_model *m, int l)
{
    return l >= 0 && l < m->n_layers ? m->params + m->layers[l].weight_offset : NULL;
}

const float *mlp_layer_bias(const mlp_model *m, int l)
{
    return l >= 0 && l < m->n_layers ? m->params + m->layers[l].bias_offset : NULL;
}

mlp_task mlp_model_task(const mlp_model *m)
{
    return m->task;
}

const char *mlp_model_name(const mlp_model *m)
{
    return m->name;
}

const char *mlp_model_input_name(const mlp_model *m)
{
    return m->input_name;
}

const char *mlp_model_output_name(const mlp_model *m)
{
    return m->output_name;
}

const char *const *mlp_model_labels(const mlp_model *m)
{
    return (const char *const *)m->labels;
}

const float *mlp_model_input_mean(const mlp_model *m)
{
    return m->input_mean;
}

const float *mlp_model_input_std(const mlp_model *m)
{
    return m->input_std;
}
