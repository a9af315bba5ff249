/*
 * io_safetensors — torch.nn.Sequential weights in safetensors, plus the
 * config.json beside them that says what the weights mean.
 *
 * The weights file (https://github.com/huggingface/safetensors):
 *   8 bytes      N, little-endian unsigned header length
 *   N bytes      JSON header: {"<tensor>": {"dtype": "F32" | "F64" | "F16" | "BF16",
 *                                           "shape": [...], "data_offsets": [begin, end]},
 *                              ..., "__metadata__"?: {string: string}}
 *   the rest     the data buffer; [begin, end) are byte offsets into it, values
 *                little-endian, row-major. Tensors may not overlap, and (as the
 *                reference implementation insists) they must cover the buffer
 *                exactly, with no gaps and no trailing bytes.
 *
 * Tensor names are those of a torch.nn.Sequential state_dict: "<i>.weight"
 * with shape [out, in] and "<i>.bias" with shape [out], where i is the index
 * of the nn.Linear in the Sequential. Activation modules take indices too, so
 * the numbers need not be consecutive (0, 2, 4, ...); layers are ordered by
 * the number, numerically. A common prefix ending in "." is accepted when every
 * tensor has it ("net.0.weight": a Sequential stored as attribute `net`).
 * A missing "<i>.bias" means nn.Linear(bias=False): the bias is zero. Any other
 * tensor (batch-norm statistics, ...) is refused. F64, F16 and BF16 values are
 * converted to float32 (F64 by rounding to nearest); NaN, infinities and F64
 * values beyond float32's range are refused.
 *
 * config.json (in the same version folder as model.safetensors):
 *   {
 *     "name"?:       string, the model name (default "model"),
 *     "task":        "classification" | "regression",
 *     "input":       {"name": string, "size"?: integer (must equal the first
 *                     weight's columns), "mean"?: [size numbers],
 *                     "std"?: [size numbers > 0]},
 *     "output":      {"name": string, "labels"?: [one string per output unit]},
 *     "activations": [one of "relu", "leaky_relu", "sigmoid", "tanh", "identity",
 *                     "softmax" per Linear layer, in order; softmax last only],
 *     "alpha"?:      the leaky_relu slope in [0, 1), default 0.01 (PyTorch's):
 *                    either one number for every leaky_relu layer, or an array
 *                    with one entry per Linear layer, a number for leaky_relu
 *                    layers and null for the others
 *   }
 * Inputs are standardised as (x - mean) / std before the first layer. Unknown
 * keys are ignored, except "save_id": files saved by libmlp carry one string
 * in both config.json and the weights' "__metadata__" (io_safetensors_save.c
 * says why), and a pair is refused when either has one and they differ. docs/model-formats.md
 * describes both formats for users. The writer is io_safetensors_save.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

/* The reference implementation refuses headers above 100 MB; so do we. */
#define MAX_HEADER  ((uint64_t)100 * 1000 * 1000)
#define MAX_TENSORS (2 * MLP_MAX_LAYERS)

/* Indexed by mlp_io_dtype. */
static const char *const dtype_names[] = {"F32", "F64", "F16", "BF16"};

typedef struct {
    const char *name; /* borrowed from the header document */
    long index;       /* the Sequential index */
    bool is_bias;
    mlp_io_dtype type;
    int ndim;
    uint64_t dims[2];
    uint64_t begin, end; /* byte offsets into the data buffer */
} tensor;

/* ------------------------------------------------------------ the header */

/* Splits "<prefix><digits>.weight|bias". prefix_len receives the prefix length. */
static bool parse_name(const char *name, long *index, bool *is_bias, size_t *prefix_len)
{
    size_t n = strlen(name);
    size_t suffix;
    if (n > 7 && strcmp(name + n - 7, ".weight") == 0) {
        suffix = 7;
        *is_bias = false;
    } else if (n > 5 && strcmp(name + n - 5, ".bias") == 0) {
        suffix = 5;
        *is_bias = true;
    } else {
        return false;
    }
    size_t end = n - suffix, start = end;
    while (start > 0 && name[start - 1] >= '0' && name[start - 1] <= '9')
        start--;
    if (start == end || end - start > 9) return false;
    if (start > 0 && name[start - 1] != '.') return false;
    long v = 0;
    for (size_t i = start; i < end; i++)
        v = v * 10 + (name[i] - '0');
    *index = v;
    *prefix_len = start;
    return true;
}

static mlp_status parse_tensor(const char *name, json_t *v, uint64_t buffer_len, const char *origin,
                               tensor *t, mlp_error *err)
{
    t->name = name;
    if (!json_is_object(v))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "tensor \"%s\" is %s, expected an object",
                           name, mlp_io_json_type(v));
    json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "tensor \"%s\": %s \"dtype\"", name,
                           dt ? "non-string" : "missing");
    size_t k = 0;
    while (k < sizeof dtype_names / sizeof dtype_names[0] &&
           strcmp(dtype_names[k], json_string_value(dt)))
        k++;
    if (k == sizeof dtype_names / sizeof dtype_names[0])
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "tensor \"%s\" has dtype %s (supported: F32, F64, F16, BF16)", name,
                           json_string_value(dt));
    t->type = (mlp_io_dtype)k;

    json_t *shape = json_object_get(v, "shape");
    if (!json_is_array(shape))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "tensor \"%s\": %s \"shape\"", name,
                           shape ? "non-array" : "missing");
    int want = t->is_bias ? 1 : 2;
    if (json_array_size(shape) != (size_t)want)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "tensor \"%s\" has %zu dimensions, expected %d (%s)", name,
                           json_array_size(shape), want, t->is_bias ? "[out]" : "[out, in]");
    t->ndim = want;
    uint64_t count = 1;
    for (int i = 0; i < want; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 1)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "tensor \"%s\": shape[%d] must be an integer >= 1", name, i);
        if (json_integer_value(d) > MLP_MAX_UNITS)
            return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                               "tensor \"%s\": shape[%d] = %lld exceeds the limit of %d", name, i,
                               (long long)json_integer_value(d), MLP_MAX_UNITS);
        t->dims[i] = (uint64_t)json_integer_value(d);
        count *= t->dims[i]; /* <= 2^32: no overflow */
    }

    json_t *off = json_object_get(v, "data_offsets");
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "tensor \"%s\": \"data_offsets\" must be [begin, end] integers", name);
    json_int_t b = json_integer_value(json_array_get(off, 0));
    json_int_t e = json_integer_value(json_array_get(off, 1));
    if (b < 0 || e < b || (uint64_t)e > buffer_len)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "tensor \"%s\": data_offsets [%lld, %lld] lie outside the %llu-byte "
                           "data buffer",
                           name, (long long)b, (long long)e, (unsigned long long)buffer_len);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    uint64_t need = count * mlp_io_dtype_size(t->type);
    if (t->end - t->begin != need)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "tensor \"%s\" spans %llu bytes but %s %s needs %llu", name,
                           (unsigned long long)(t->end - t->begin), dtype_names[k],
                           t->is_bias ? "[out]" : "[out, in]", (unsigned long long)need);
    return MLP_OK;
}

static int by_offset(const void *a, const void *b)
{
    const tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int by_index(const void *a, const void *b)
{
    const tensor *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    return (int)x->is_bias - (int)y->is_bias;
}

/* No two tensors share a byte, and together they fill the buffer. */
static mlp_status check_layout(tensor *t, int n, uint64_t buffer_len, const char *origin,
                               mlp_error *err)
{
    qsort(t, (size_t)n, sizeof *t, by_offset);
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].begin < at)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "tensors \"%s\" and \"%s\" overlap in the data buffer",
                               t[i - 1].name, t[i].name);
        if (t[i].begin > at)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "bytes [%llu, %llu) of the data buffer belong to no tensor",
                               (unsigned long long)at, (unsigned long long)t[i].begin);
        at = t[i].end;
    }
    if (at != buffer_len)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the data buffer has %llu bytes after the last tensor",
                           (unsigned long long)(buffer_len - at));
    return MLP_OK;
}

/* The weights of a file: tensors sorted by layer, and for each layer where
 * its weight and (optional) bias are. */
typedef struct {
    tensor t[MAX_TENSORS];
    int n_tensors;
    int n_layers;
    int weight[MLP_MAX_LAYERS], bias[MLP_MAX_LAYERS]; /* index into t, bias -1 if absent */
} weights;

/* Every tensor of the header into w->t: Linear weight and bias names with
 * one common prefix, each entry well-formed (parse_tensor). */
static mlp_status collect_tensors(json_t *hdr, uint64_t buffer_len, const char *origin, weights *w,
                                  mlp_error *err)
{
    const char *key, *prefix = NULL;
    json_t *v;
    size_t prefix_len = 0;
    size_t n_keys = json_object_size(hdr) - (json_object_get(hdr, "__metadata__") ? 1 : 0);
    if (n_keys > MAX_TENSORS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                           "%zu tensors exceed the limit of %d (weight and bias of %d layers)",
                           n_keys, MAX_TENSORS, MLP_MAX_LAYERS);
    if (n_keys == 0) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "the file holds no tensors");
    w->n_tensors = 0;
    json_object_foreach(hdr, key, v)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v))
                return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                   "\"__metadata__\" is %s, expected an object",
                                   mlp_io_json_type(v));
            continue;
        }
        tensor *t = &w->t[w->n_tensors];
        size_t plen;
        if (!parse_name(key, &t->index, &t->is_bias, &plen))
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "tensor \"%s\" is not the weight or bias of a Linear layer "
                               "(expected torch.nn.Sequential names like \"0.weight\", "
                               "\"0.bias\")",
                               key);
        if (!prefix) {
            prefix = key;
            prefix_len = plen;
        } else if (plen != prefix_len || memcmp(key, prefix, plen) != 0) {
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "tensors \"%s\" and \"%s\" have different name prefixes", prefix,
                               key);
        }
        mlp_status s = parse_tensor(key, v, buffer_len, origin, t, err);
        if (s != MLP_OK) return s;
        w->n_tensors++;
    }
    return MLP_OK;
}

/* Sorts the tensors in Sequential order and pairs each weight with its
 * bias (if any) into w's layers. */
static mlp_status pair_layers(weights *w, const char *origin, mlp_error *err)
{
    qsort(w->t, (size_t)w->n_tensors, sizeof w->t[0], by_index);
    w->n_layers = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        tensor *t = &w->t[i];
        if (i > 0 && t->index == w->t[i - 1].index && t->is_bias == w->t[i - 1].is_bias)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "tensors \"%s\" and \"%s\" both name layer %ld's %s",
                               w->t[i - 1].name, t->name, t->index, t->is_bias ? "bias" : "weight");
        if (t->is_bias) {
            if (w->n_layers == 0 || w->t[w->weight[w->n_layers - 1]].index != t->index)
                return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                   "tensor \"%s\" has no matching weight", t->name);
            w->bias[w->n_layers - 1] = i;
            continue;
        }
        if (w->n_layers == MLP_MAX_LAYERS)
            return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "more than %d layers", MLP_MAX_LAYERS);
        w->weight[w->n_layers] = i;
        w->bias[w->n_layers] = -1;
        w->n_layers++;
    }
    return MLP_OK;
}

/* Each weight's columns are the rows of the weight before; each bias has
 * its weight's rows. */
static mlp_status check_chain(const weights *w, const char *origin, mlp_error *err)
{
    for (int l = 0; l < w->n_layers; l++) {
        const tensor *wt = &w->t[w->weight[l]];
        if (l > 0) {
            const tensor *prev = &w->t[w->weight[l - 1]];
            if (wt->dims[1] != prev->dims[0])
                return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                   "tensor \"%s\" has %llu columns, expected %llu (the rows of "
                                   "\"%s\")",
                                   wt->name, (unsigned long long)wt->dims[1],
                                   (unsigned long long)prev->dims[0], prev->name);
        }
        if (w->bias[l] >= 0 && w->t[w->bias[l]].dims[0] != wt->dims[0])
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "tensor \"%s\" has %llu values, expected %llu (the rows of \"%s\")",
                               w->t[w->bias[l]].name, (unsigned long long)w->t[w->bias[l]].dims[0],
                               (unsigned long long)wt->dims[0], wt->name);
    }
    return MLP_OK;
}

static mlp_status parse_header(json_t *hdr, uint64_t buffer_len, const char *origin, weights *w,
                               mlp_error *err)
{
    mlp_status s = collect_tensors(hdr, buffer_len, origin, w, err);
    if (s == MLP_OK) s = check_layout(w->t, w->n_tensors, buffer_len, origin, err);
    if (s == MLP_OK) s = pair_layers(w, origin, err);
    if (s == MLP_OK) s = check_chain(w, origin, err);
    return s;
}

/* ------------------------------------------------------------ loading */

static mlp_status fill_params(const weights *w, const uint8_t *buffer, mlp_model *m,
                              const char *origin, mlp_error *err)
{
    for (int l = 0; l < w->n_layers; l++) {
        for (int part = 0; part < 2; part++) {
            int ti = part ? w->bias[l] : w->weight[l];
            float *dst = part ? mlp_layer_bias_mut(m, l) : mlp_layer_weight_mut(m, l);
            if (ti < 0) continue; /* no bias: zero, as mlp_model_create left it */
            const tensor *t = &w->t[ti];
            size_t count = (size_t)t->dims[0] * (t->ndim == 2 ? (size_t)t->dims[1] : 1);
            for (size_t i = 0; i < count; i++) {
                double bad;
                if (mlp_io_element(buffer + t->begin, t->type, i, &dst[i], &bad)) continue;
                if (t->ndim == 2)
                    return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                       "tensor \"%s\"[%zu, %zu] = %g is not a finite float32",
                                       t->name, i / (size_t)t->dims[1], i % (size_t)t->dims[1],
                                       bad);
                return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                   "tensor \"%s\"[%zu] = %g is not a finite float32", t->name, i,
                                   bad);
            }
        }
    }
    return MLP_OK;
}

static mlp_status build(const weights *w, const uint8_t *buffer, json_t *cfg, const char *origin,
                        const char *config_origin, mlp_model **out, mlp_error *err)
{
    mlp_io_meta meta;
    mlp_status s = mlp_io_meta_parse(cfg, false, false, config_origin, &meta, err);
    if (s != MLP_OK) return s;
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    s = mlp_io_config_activations(cfg, w->n_layers, NULL, origin, config_origin, spec, err);
    if (s != MLP_OK) return s;
    const tensor *first = &w->t[w->weight[0]];
    int n_inputs = (int)first->dims[1];
    size_t n_params = 0;
    for (int l = 0; l < w->n_layers; l++) {
        const tensor *t = &w->t[w->weight[l]];
        spec[l].units = (int)t->dims[0];
        n_params += (size_t)t->dims[0] * ((size_t)t->dims[1] + 1);
    }
    if (n_params > MLP_MAX_PARAMS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "%zu parameters exceed the limit of %zu",
                           n_params, MLP_MAX_PARAMS);
    if (meta.input_size >= 0 && meta.input_size != n_inputs)
        return mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                           "input.size is %d but tensor \"%s\" in %s has %d columns",
                           meta.input_size, first->name, mlp_io_origin(origin), n_inputs);
    if ((s = mlp_io_meta_check(&meta, n_inputs, spec[w->n_layers - 1].units, config_origin, err)) !=
        MLP_OK)
        return s;

    mlp_model *m;
    mlp_error e;
    if ((s = mlp_model_create(n_inputs, spec, w->n_layers, &m, &e)) != MLP_OK)
        return mlp_io_fail(err, origin, s, "%s", e.msg);
    if ((s = fill_params(w, buffer, m, origin, err)) != MLP_OK ||
        (s = mlp_io_meta_apply(&meta, m, config_origin, err)) != MLP_OK) {
        mlp_model_free(m);
        return s;
    }
    *out = m;
    return MLP_OK;
}

/* The "save_id" of the weights' __metadata__ (hdr) and of the config must
 * be equal, or both absent: two files from different saves are refused. */
static mlp_status check_save_id(json_t *hdr, json_t *cfg, const char *origin,
                                const char *config_origin, mlp_error *err)
{
    json_t *wv = json_object_get(json_object_get(hdr, "__metadata__"), "save_id");
    json_t *cv = json_object_get(cfg, "save_id");
    if (wv && !json_is_string(wv))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "__metadata__.save_id is %s, expected a string", mlp_io_json_type(wv));
    if (cv && !json_is_string(cv))
        return mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                           "\"save_id\" is %s, expected a string", mlp_io_json_type(cv));
    if (!wv && !cv) return MLP_OK;
    if (wv && cv && strcmp(json_string_value(wv), json_string_value(cv)) == 0) return MLP_OK;
    return mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                       "save_id %s%s%s does not match the save_id %s%s%s of %s: the files come "
                       "from different saves (a save in progress: load again; files paired by "
                       "hand: remove save_id from both)",
                       cv ? "\"" : "", cv ? json_string_value(cv) : "(none)", cv ? "\"" : "",
                       wv ? "\"" : "", wv ? json_string_value(wv) : "(none)", wv ? "\"" : "",
                       mlp_io_origin(origin));
}

static mlp_status parse_both(const uint8_t *data, size_t len, const char *origin,
                             const char *config_json, size_t config_len, const char *config_origin,
                             mlp_model **out, mlp_error *err)
{
    if (!out) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "model output pointer is NULL");
    *out = NULL;
    if ((!data && len) || !config_json)
        return mlp_io_fail(err, origin, MLP_ERR_INVALID, "weights or config text is NULL");
    if (len < 8)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "%zu bytes is too short for a safetensors file (8-byte header length "
                           "first)",
                           len);
    uint64_t n = mlp_io_le(data, 8);
    if (n > len - 8)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "header length %llu exceeds the %zu bytes that follow it (truncated "
                           "file?)",
                           (unsigned long long)n, len - 8);
    if (n > MAX_HEADER)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                           "header length %llu exceeds the limit of %llu bytes",
                           (unsigned long long)n, (unsigned long long)MAX_HEADER);
    json_t *hdr;
    mlp_error e;
    mlp_status s = mlp_io_json_load((const char *)data + 8, (size_t)n, origin, &hdr, &e);
    if (s != MLP_OK) {
        /* e.msg is "<origin>: <problem>"; re-prefix the problem with "header". */
        size_t skip = strlen(mlp_io_origin(origin)) + 2, have = strlen(e.msg);
        return mlp_io_fail(err, origin, s, "header: %s", e.msg + (skip < have ? skip : have));
    }
    weights *w = malloc(sizeof *w);
    if (!w) {
        json_decref(hdr);
        return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory");
    }
    const uint8_t *buffer = data + 8 + n;
    s = parse_header(hdr, len - 8 - n, origin, w, err);
    if (s == MLP_OK) {
        json_t *cfg;
        s = mlp_io_json_load(config_json, config_len, config_origin, &cfg, err);
        if (s == MLP_OK) {
            s = check_save_id(hdr, cfg, origin, config_origin, err);
            if (s == MLP_OK) s = build(w, buffer, cfg, origin, config_origin, out, err);
            json_decref(cfg);
        }
    }
    free(w);
    json_decref(hdr);
    return s;
}

mlp_status mlp_model_parse_safetensors(const uint8_t *data, size_t len, const char *config_json,
                                       size_t config_len, const char *origin, mlp_model **out,
                                       mlp_error *err)
{
    return mlp_io_parse_pair(parse_both, data, len, config_json, config_len, origin, out, err);
}

mlp_status mlp_model_load_safetensors(const char *path, const char *config_path, mlp_model **out,
                                      mlp_error *err)
{
    if (config_path || !path) return mlp_io_load_pair(parse_both, path, config_path, out, err);
    char *sibling = mlp_io_sibling_config(path);
    if (!sibling) {
        if (out) *out = NULL;
        return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory");
    }
    mlp_status s = mlp_io_load_pair(parse_both, path, sibling, out, err);
    free(sibling);
    return s;
}
