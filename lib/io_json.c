/*
 * io_json — the native model format: one self-describing JSON document.
 *
 *   {"format": "reluserve-mlp", "version": 1, "name": "iris",
 *    "task": "classification" | "regression",
 *    "input":  {"name": "x", "size": 4, "mean"?: [4 numbers], "std"?: [4 numbers > 0]},
 *    "output": {"name": "y", "labels"?: [one string per output]},
 *    "layers": [{"units": 16, "activation": "relu" | "leaky_relu" | "sigmoid" | "tanh" |
 *                "identity" | "softmax", "alpha"?: 0.01,
 *                "weight": [units rows x in numbers], "bias": [units numbers]}, ...]}
 *
 * Weight rows are output units (out x in), as in torch.nn.Linear; `in` is
 * input.size for the first layer and the previous layer's units after that.
 * "alpha" is the leaky_relu slope (default 0.01, PyTorch's) and is refused on
 * other activations; softmax may only be the last layer. Unknown keys are
 * ignored so later versions can add fields. The full description, with the
 * safetensors format, is docs/model-formats.md.
 *
 * Numbers are written with the fewest digits that read back as the same
 * float32 (io_text.c), so save -> load reproduces every parameter bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

#define FORMAT_NAME    "reluserve-mlp"
#define FORMAT_VERSION 1

/* ---------------------------------------------------------------- reading */

static mlp_status check_header(json_t *root, const char *origin, mlp_error *err)
{
    json_t *f = json_object_get(root, "format");
    if (!f)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "missing \"format\" (expected \"" FORMAT_NAME "\")");
    if (!json_is_string(f) || strcmp(json_string_value(f), FORMAT_NAME) != 0)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "\"format\" is %s%s%s, expected \"" FORMAT_NAME "\"",
                           json_is_string(f) ? "\"" : "",
                           json_is_string(f) ? json_string_value(f) : mlp_io_json_type(f),
                           json_is_string(f) ? "\"" : "");
    json_t *v = json_object_get(root, "version");
    if (!v) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "missing \"version\" (an integer)");
    if (!json_is_integer(v))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "\"version\" is %s, expected an integer",
                           mlp_io_json_type(v));
    if (json_integer_value(v) != FORMAT_VERSION)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "format version %lld is not supported (this libmlp reads version %d)",
                           (long long)json_integer_value(v), FORMAT_VERSION);
    return MLP_OK;
}

/* Pass 1 over one layer: units, activation, alpha. */
static mlp_status parse_layer_spec(json_t *ly, int l, int n_layers, const char *origin,
                                   mlp_layer_spec *spec, mlp_error *err)
{
    if (!json_is_object(ly))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d] is %s, expected an object", l,
                           mlp_io_json_type(ly));
    json_t *u = json_object_get(ly, "units");
    if (!u) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d]: missing \"units\"", l);
    if (!json_is_integer(u))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].units is %s, expected an integer", l, mlp_io_json_type(u));
    json_int_t units = json_integer_value(u);
    if (units < 1)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d].units is %lld, expected >= 1",
                           l, (long long)units);
    if (units > MLP_MAX_UNITS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                           "layers[%d].units = %lld exceeds the limit of %d", l, (long long)units,
                           MLP_MAX_UNITS);
    spec->units = (int)units;

    json_t *a = json_object_get(ly, "activation");
    if (!a)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d]: missing \"activation\"", l);
    char what[48];
    snprintf(what, sizeof what, "layers[%d].activation", l);
    mlp_status s = mlp_io_activation_json(a, l, n_layers, what, origin, &spec->activation, err);
    if (s != MLP_OK) return s;

    json_t *al = json_object_get(ly, "alpha");
    spec->alpha = 0.0f;
    if (spec->activation == MLP_ACT_LEAKY_RELU) {
        snprintf(what, sizeof what, "layers[%d].alpha", l);
        return mlp_io_alpha_json(al, what, origin, &spec->alpha, err);
    }
    if (al)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].alpha is given but the activation is %s (alpha is the "
                           "leaky_relu slope)",
                           l, mlp_activation_name(spec->activation));
    return MLP_OK;
}

/* Pass 2 over one layer: the weight is units x in, the bias units long. */
static mlp_status check_layer_shape(json_t *ly, int l, int in, int units, const char *origin,
                                    mlp_error *err)
{
    char from[48];
    if (l == 0)
        snprintf(from, sizeof from, "input.size");
    else
        snprintf(from, sizeof from, "the units of layers[%d]", l - 1);

    json_t *w = json_object_get(ly, "weight");
    if (!w) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d]: missing \"weight\"", l);
    if (!json_is_array(w))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].weight is %s, expected an array of rows", l,
                           mlp_io_json_type(w));
    if (json_array_size(w) != (size_t)units)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].weight has %zu rows, expected %d (layers[%d].units)", l,
                           json_array_size(w), units, l);
    for (int r = 0; r < units; r++) {
        json_t *row = json_array_get(w, (size_t)r);
        if (!json_is_array(row))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "layers[%d].weight[%d] is %s, expected an array of %d numbers", l, r,
                               mlp_io_json_type(row), in);
        if (json_array_size(row) == (size_t)in) continue;
        if (r == 0)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "layers[%d].weight has %zu columns, expected %d (%s)", l,
                               json_array_size(row), in, from);
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].weight[%d] has %zu columns, expected %d (%s)", l, r,
                           json_array_size(row), in, from);
    }
    json_t *b = json_object_get(ly, "bias");
    if (!b) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d]: missing \"bias\"", l);
    if (!json_is_array(b))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "layers[%d].bias is %s, expected an array",
                           l, mlp_io_json_type(b));
    if (json_array_size(b) != (size_t)units)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "layers[%d].bias has %zu values, expected %d (layers[%d].units)", l,
                           json_array_size(b), units, l);
    return MLP_OK;
}

/* Converts n numbers of array a into dst; path names a for messages
 * ("layers[0].weight[3]"). */
static mlp_status read_floats(json_t *a, size_t n, float *dst, const char *path, const char *origin,
                              mlp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s[%zu] is %s, expected a number",
                               path, i, mlp_io_json_type(v));
        if (!mlp_io_json_float(v, &dst[i]))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s[%zu] = %g is too large for float32",
                               path, i, json_number_value(v));
    }
    return MLP_OK;
}

static mlp_status fill_params(json_t *layers, mlp_model *m, const char *origin, mlp_error *err)
{
    char path[64];
    for (int l = 0; l < m->n_layers; l++) {
        json_t *ly = json_array_get(layers, (size_t)l);
        json_t *w = json_object_get(ly, "weight");
        int in = m->layers[l].in, out = m->layers[l].out;
        float *dst = mlp_layer_weight_mut(m, l);
        for (int r = 0; r < out; r++) {
            snprintf(path, sizeof path, "layers[%d].weight[%d]", l, r);
            mlp_status s = read_floats(json_array_get(w, (size_t)r), (size_t)in,
                                       dst + (size_t)r * (size_t)in, path, origin, err);
            if (s != MLP_OK) return s;
        }
        snprintf(path, sizeof path, "layers[%d].bias", l);
        mlp_status s = read_floats(json_object_get(ly, "bias"), (size_t)out,
                                   mlp_layer_bias_mut(m, l), path, origin, err);
        if (s != MLP_OK) return s;
    }
    return MLP_OK;
}

static mlp_status parse_root(json_t *root, const char *origin, mlp_model **out, mlp_error *err)
{
    mlp_status s = check_header(root, origin, err);
    if (s != MLP_OK) return s;
    mlp_io_meta meta;
    if ((s = mlp_io_meta_parse(root, true, true, origin, &meta, err)) != MLP_OK) return s;

    json_t *layers = json_object_get(root, "layers");
    if (!layers) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "missing \"layers\" (an array)");
    if (!json_is_array(layers))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "\"layers\" is %s, expected an array",
                           mlp_io_json_type(layers));
    size_t n = json_array_size(layers);
    if (n == 0) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "\"layers\" is empty");
    if (n > MLP_MAX_LAYERS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "%zu layers exceed the limit of %d", n,
                           MLP_MAX_LAYERS);
    int n_layers = (int)n;

    /* Sizes before shapes: a hostile file declaring huge layers is refused
     * here, before anything proportional to its claims is allocated. Each
     * term is below 2^33 and there are at most 64, so size_t cannot wrap. */
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    size_t n_params = 0;
    int in = meta.input_size;
    for (int l = 0; l < n_layers; l++) {
        s = parse_layer_spec(json_array_get(layers, (size_t)l), l, n_layers, origin, &spec[l], err);
        if (s != MLP_OK) return s;
        n_params += (size_t)spec[l].units * ((size_t)in + 1);
        in = spec[l].units;
    }
    if (n_params > MLP_MAX_PARAMS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "%zu parameters exceed the limit of %zu",
                           n_params, MLP_MAX_PARAMS);
    in = meta.input_size;
    for (int l = 0; l < n_layers; l++) {
        s = check_layer_shape(json_array_get(layers, (size_t)l), l, in, spec[l].units, origin, err);
        if (s != MLP_OK) return s;
        in = spec[l].units;
    }
    s = mlp_io_meta_check(&meta, meta.input_size, spec[n_layers - 1].units, origin, err);
    if (s != MLP_OK) return s;

    mlp_model *m;
    mlp_error e;
    s = mlp_model_create(meta.input_size, spec, n_layers, &m, &e);
    if (s != MLP_OK) return mlp_io_fail(err, origin, s, "%s", e.msg);
    if ((s = fill_params(layers, m, origin, err)) != MLP_OK ||
        (s = mlp_io_meta_apply(&meta, m, origin, err)) != MLP_OK) {
        mlp_model_free(m);
        return s;
    }
    *out = m;
    return MLP_OK;
}

mlp_status mlp_model_parse_json(const char *text, size_t len, const char *origin, mlp_model **out,
                                mlp_error *err)
{
    if (!out) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "model output pointer is NULL");
    *out = NULL;
    json_t *root;
    mlp_status s = mlp_io_json_size_check(text, len, origin, err);
    if (s == MLP_OK) s = mlp_io_json_load(text, len, origin, &root, err);
    if (s != MLP_OK) return s;
    s = parse_root(root, origin, out, err);
    json_decref(root);
    return s;
}

mlp_status mlp_model_load_json(const char *path, mlp_model **out, mlp_error *err)
{
    if (!out) return mlp_io_fail(err, path, MLP_ERR_INVALID, "model output pointer is NULL");
    *out = NULL;
    uint8_t *data;
    size_t len;
    mlp_status s = mlp_io_read_file(path, &data, &len, err);
    if (s != MLP_OK) return s;
    s = mlp_model_parse_json((const char *)data, len, path, out, err);
    free(data);
    return s;
}

/* ---------------------------------------------------------------- writing */

/* Builds the document into b; the model must have passed mlp_model_validate. */
static bool write_model(mlp_strbuf *b, const mlp_model *m)
{
    mlp_strbuf_puts(b, "{\n  \"format\": \"" FORMAT_NAME "\",\n  \"version\": 1,\n  ");
    if (!mlp_io_meta_write(b, m, "  ")) return false;
    mlp_strbuf_puts(b, ",\n  \"layers\": [");
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        mlp_strbuf_printf(b, "%s\n    {\"units\": %d, \"activation\": \"%s\"", l ? "," : "",
                          ly->out, mlp_activation_name(ly->activation));
        if (ly->activation == MLP_ACT_LEAKY_RELU) {
            mlp_strbuf_puts(b, ", \"alpha\": ");
            mlp_strbuf_float(b, ly->alpha);
        }
        mlp_strbuf_puts(b, ",\n     \"weight\": [");
        const float *w = mlp_layer_weight(m, l);
        for (int r = 0; r < ly->out; r++) {
            if (r) mlp_strbuf_puts(b, ",\n                ");
            mlp_strbuf_float_array(b, w + (size_t)r * (size_t)ly->in, (size_t)ly->in);
        }
        mlp_strbuf_puts(b, "],\n     \"bias\": ");
        mlp_strbuf_float_array(b, mlp_layer_bias(m, l), (size_t)ly->out);
        mlp_strbuf_puts(b, "}");
    }
    mlp_strbuf_puts(b, "\n  ]\n}\n");
    return true;
}

/* The document in b (caller frees b), or a status with a message. */
static mlp_status build_json(const mlp_model *m, const char *origin, mlp_strbuf *b, mlp_error *err)
{
    *b = (mlp_strbuf){0};
    if (!m) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "model is NULL");
    mlp_error e;
    mlp_status s = mlp_model_validate(m, &e);
    if (s != MLP_OK)
        return mlp_io_fail(err, origin, MLP_ERR_INVALID, "cannot save an invalid model: %s", e.msg);
    if (!write_model(b, m)) {
        mlp_strbuf_free(b);
        return mlp_io_fail(err, origin, MLP_ERR_INVALID,
                           "a name is empty, or a name or label is not valid UTF-8");
    }
    if (b->failed) {
        mlp_strbuf_free(b);
        return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory writing the model");
    }
    return MLP_OK;
}

mlp_status mlp_model_to_json(const mlp_model *m, char **out, mlp_error *err)
{
    if (!out) return mlp_set_error(err, MLP_ERR_INVALID, "JSON output pointer is NULL");
    *out = NULL;
    mlp_strbuf b;
    mlp_status s = build_json(m, NULL, &b, err);
    if (s == MLP_OK) *out = b.data;
    return s;
}

mlp_status mlp_model_save_json(const mlp_model *m, const char *path, mlp_error *err)
{
    mlp_strbuf b;
    mlp_status s = build_json(m, path, &b, err);
    if (s != MLP_OK) return s;
    s = mlp_io_write_file(path, b.data, b.len, err);
    mlp_strbuf_free(&b);
    return s;
}
