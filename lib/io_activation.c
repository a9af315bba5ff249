/*
 * io_activation — layer activations and leaky_relu slopes as the JSON
 * documents give them: per layer in the native format (io_json.c), as the
 * "activations"/"alpha" lists of a config.json beside safetensors weights
 * (io_safetensors.c) or an ONNX graph (io_onnx.c). One parser, one set of
 * messages.
 */
#include <stdio.h>

#include "io_internal.h"

mlp_status mlp_io_activation_json(const json_t *v, int l, int n_layers, const char *what,
                                  const char *origin, mlp_activation *out, mlp_error *err)
{
    if (!json_is_string(v))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s is %s, expected a string", what,
                           mlp_io_json_type(v));
    if (mlp_activation_parse(json_string_value(v), out, NULL) != MLP_OK)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "%s \"%s\" is not supported (expected relu, leaky_relu, sigmoid, tanh, "
                           "identity or softmax)",
                           what, json_string_value(v));
    if (*out == MLP_ACT_SOFTMAX && l != n_layers - 1)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "%s is softmax, which is allowed on the last layer only (layer %d)",
                           what, n_layers - 1);
    return MLP_OK;
}

mlp_status mlp_io_alpha_json(const json_t *v, const char *what, const char *origin, float *out,
                             mlp_error *err)
{
    *out = MLP_LEAKY_RELU_ALPHA;
    if (!v) return MLP_OK;
    if (!json_is_number(v))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s is %s, expected a number", what,
                           mlp_io_json_type(v));
    double d = json_number_value(v);
    if (!(d >= 0.0 && d < 1.0))
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED, "%s = %g is outside [0, 1)", what, d);
    if (!((float)d < 1.0f)) /* 0.99999999 rounds up to 1 in float32 */
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED, "%s = %.17g rounds to 1 in float32",
                           what, d);
    *out = (float)d;
    return MLP_OK;
}

/* "alpha": one number for every leaky_relu layer, or one entry per layer
 * (a number for leaky_relu, null for the others). */
static mlp_status config_alpha(const json_t *alpha, int l, const mlp_layer_spec *spec,
                               const char *origin, float *out, mlp_error *err)
{
    bool leaky = spec->activation == MLP_ACT_LEAKY_RELU;
    const json_t *al = json_is_array(alpha) ? json_array_get(alpha, (size_t)l) : alpha;
    *out = 0.0f;
    if (json_is_array(alpha) && !leaky && !json_is_null(al))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "alpha[%d] must be null: layer %d is %s, not leaky_relu", l, l,
                           mlp_activation_name(spec->activation));
    if (!leaky) return MLP_OK;
    char what[48];
    snprintf(what, sizeof what, "alpha for layer %d", l);
    return mlp_io_alpha_json(al, what, origin, out, err);
}

mlp_status mlp_io_config_activations(const json_t *cfg, int n_layers, const mlp_layer_spec *known,
                                     const char *weights_origin, const char *origin,
                                     mlp_layer_spec *spec, mlp_error *err)
{
    const json_t *acts = json_object_get(cfg, "activations");
    if (!acts && !known)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "missing \"activations\" (an array of %d names, one per Linear layer)",
                           n_layers);
    if (acts && !json_is_array(acts))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "\"activations\" is %s, expected an array",
                           mlp_io_json_type(acts));
    if (acts && json_array_size(acts) != (size_t)n_layers)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "\"activations\" lists %zu activations but %s has %d Linear layers",
                           json_array_size(acts), mlp_io_origin(weights_origin), n_layers);
    const json_t *alpha = json_object_get(cfg, "alpha");
    if (alpha && !json_is_number(alpha) &&
        !(json_is_array(alpha) && json_array_size(alpha) == (size_t)n_layers))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "\"alpha\" must be a number or an array of %d entries (one per layer)",
                           n_layers);
    bool any_leaky = false;
    for (int l = 0; l < n_layers; l++) {
        char what[48];
        snprintf(what, sizeof what, "activations[%d]", l);
        mlp_status s = MLP_OK;
        if (acts)
            s = mlp_io_activation_json(json_array_get(acts, (size_t)l), l, n_layers, what, origin,
                                       &spec[l].activation, err);
        else
            spec[l].activation = known[l].activation;
        if (s == MLP_OK) s = config_alpha(alpha, l, &spec[l], origin, &spec[l].alpha, err);
        if (s != MLP_OK) return s;
        any_leaky |= spec[l].activation == MLP_ACT_LEAKY_RELU;
    }
    if (json_is_number(alpha) && !any_leaky)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "\"alpha\" is given but no layer is leaky_relu");
    return MLP_OK;
}
