/*
 * io_meta — the metadata both model formats share (name, task, input and
 * output names, labels, input standardisation), read from and written to
 * JSON, plus the small JSON helpers every reader uses.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

const char *mlp_io_json_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

mlp_status mlp_io_json_load(const char *text, size_t len, const char *origin, json_t **root,
                            mlp_error *err)
{
    *root = NULL;
    if (!text && len) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "text is NULL");
    json_error_t je;
    /* jansson rejects invalid UTF-8 and \u0000 in strings; duplicate keys
     * are refused because which one wins is reader-dependent. */
    json_t *j = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "invalid JSON at line %d, column %d: %s",
                           je.line, je.column, je.text);
    if (!json_is_object(j)) {
        mlp_status s = mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                                   "the document is %s, expected an object", mlp_io_json_type(j));
        json_decref(j);
        return s;
    }
    *root = j;
    return MLP_OK;
}

bool mlp_io_json_float(const json_t *v, float *out)
{
    return json_is_number(v) && mlp_io_double_to_float(json_number_value(v), out);
}

/* A required (or optional, when !required) non-empty string member. */
static mlp_status get_string(json_t *obj, const char *key, const char *path, bool required,
                             const char *origin, const char **out, mlp_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (!required) return MLP_OK;
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "missing %s (a string)", path);
    }
    if (!json_is_string(v))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s is %s, expected a string", path,
                           mlp_io_json_type(v));
    if (json_string_length(v) == 0)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s is empty", path);
    *out = json_string_value(v);
    return MLP_OK;
}

static mlp_status get_object(json_t *obj, const char *key, const char *origin, json_t **out,
                             mlp_error *err)
{
    *out = json_object_get(obj, key);
    if (!*out) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "missing \"%s\" (an object)", key);
    if (!json_is_object(*out))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "\"%s\" is %s, expected an object", key,
                           mlp_io_json_type(*out));
    return MLP_OK;
}

static mlp_status get_array(json_t *obj, const char *key, const char *path, const char *origin,
                            json_t **out, mlp_error *err)
{
    *out = json_object_get(obj, key);
    if (*out && !json_is_array(*out))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s is %s, expected an array", path,
                           mlp_io_json_type(*out));
    return MLP_OK;
}

mlp_status mlp_io_meta_parse(json_t *root, bool name_required, bool size_required,
                             const char *origin, mlp_io_meta *meta, mlp_error *err)
{
    memset(meta, 0, sizeof *meta);
    meta->input_size = -1;
    mlp_status s = get_string(root, "name", "\"name\"", name_required, origin, &meta->name, err);
    if (s != MLP_OK) return s;

    const char *task;
    s = get_string(root, "task", "\"task\"", true, origin, &task, err);
    if (s != MLP_OK) return s;
    if (strcmp(task, "classification") == 0)
        meta->task = MLP_TASK_CLASSIFICATION;
    else if (strcmp(task, "regression") == 0)
        meta->task = MLP_TASK_REGRESSION;
    else
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "task \"%s\" is not supported (expected classification or regression)",
                           task);

    json_t *in, *outp;
    if ((s = get_object(root, "input", origin, &in, err)) != MLP_OK ||
        (s = get_string(in, "name", "input.name", true, origin, &meta->input_name, err)) !=
            MLP_OK ||
        (s = get_array(in, "mean", "input.mean", origin, &meta->mean, err)) != MLP_OK ||
        (s = get_array(in, "std", "input.std", origin, &meta->std, err)) != MLP_OK)
        return s;
    json_t *size = json_object_get(in, "size");
    if (size) {
        if (!json_is_integer(size))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "input.size is %s, expected an integer",
                               mlp_io_json_type(size));
        json_int_t n = json_integer_value(size);
        if (n < 1)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "input.size is %lld, expected >= 1",
                               (long long)n);
        if (n > MLP_MAX_UNITS)
            return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                               "input.size %lld exceeds the limit of %d", (long long)n,
                               MLP_MAX_UNITS);
        meta->input_size = (int)n;
    } else if (size_required) {
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "missing input.size (an integer)");
    }

    if ((s = get_object(root, "output", origin, &outp, err)) != MLP_OK ||
        (s = get_string(outp, "name", "output.name", true, origin, &meta->output_name, err)) !=
            MLP_OK ||
        (s = get_array(outp, "labels", "output.labels", origin, &meta->labels, err)) != MLP_OK)
        return s;
    return MLP_OK;
}

/* mean or std: n finite float32 numbers (std also > 0). */
static mlp_status check_stats(json_t *a, const char *path, int n, bool positive, const char *origin,
                              mlp_error *err)
{
    if (!a) return MLP_OK;
    if (json_array_size(a) != (size_t)n)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s has %zu values, expected %d (inputs)",
                           path, json_array_size(a), n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        float f;
        if (!json_is_number(v))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s[%d] is %s, expected a number", path,
                               i, mlp_io_json_type(v));
        if (!mlp_io_json_float(v, &f))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s[%d] = %g overflows float32", path,
                               i, json_number_value(v));
        if (positive && !(f > 0.0f))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "%s[%d] = %g, expected > 0", path, i,
                               json_number_value(v));
    }
    return MLP_OK;
}

mlp_status mlp_io_meta_check(const mlp_io_meta *meta, int n_inputs, int n_outputs,
                             const char *origin, mlp_error *err)
{
    mlp_status s = check_stats(meta->mean, "input.mean", n_inputs, false, origin, err);
    if (s == MLP_OK) s = check_stats(meta->std, "input.std", n_inputs, true, origin, err);
    if (s != MLP_OK || !meta->labels) return s;
    if (json_array_size(meta->labels) != (size_t)n_outputs)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "output.labels has %zu names, expected %d (the outputs)",
                           json_array_size(meta->labels), n_outputs);
    for (int i = 0; i < n_outputs; i++) {
        json_t *v = json_array_get(meta->labels, (size_t)i);
        if (!json_is_string(v))
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "output.labels[%d] is %s, expected a string", i,
                               mlp_io_json_type(v));
    }
    return MLP_OK;
}

/* Reads n checked numbers of a (or NULL) into a malloc'd array in *out. */
static bool stats_floats(json_t *a, int n, float **out)
{
    *out = NULL;
    if (!a) return true;
    *out = malloc((size_t)n * sizeof **out);
    if (!*out) return false;
    for (int i = 0; i < n; i++)
        mlp_io_json_float(json_array_get(a, (size_t)i), &(*out)[i]);
    return true;
}

mlp_status mlp_io_meta_apply(const mlp_io_meta *meta, mlp_model *m, const char *origin,
                             mlp_error *err)
{
    m->task = meta->task;
    if ((meta->name && mlp_model_set_name(m, meta->name, NULL) != MLP_OK) ||
        mlp_model_set_io_names(m, meta->input_name, meta->output_name, NULL) != MLP_OK)
        return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory copying names");
    if (meta->labels) {
        const char **labels = malloc((size_t)m->n_outputs * sizeof *labels);
        if (!labels) return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory copying labels");
        for (int i = 0; i < m->n_outputs; i++)
            labels[i] = json_string_value(json_array_get(meta->labels, (size_t)i));
        mlp_status s = mlp_model_set_labels(m, labels, NULL);
        free(labels);
        if (s != MLP_OK)
            return mlp_io_fail(err, origin, s, "cannot copy labels: %s", mlp_status_str(s));
    }
    float *mean, *std;
    bool ok_mean = stats_floats(meta->mean, m->n_inputs, &mean);
    bool ok_std = stats_floats(meta->std, m->n_inputs, &std);
    mlp_status s = MLP_ERR_NOMEM;
    if (ok_mean && ok_std && (mean || std)) {
        mlp_error e;
        s = mlp_model_set_standardization(m, mean, std, &e);
        if (s != MLP_OK) mlp_io_fail(err, origin, s, "%s", e.msg);
    } else if (ok_mean && ok_std) {
        s = MLP_OK;
    } else {
        mlp_io_fail(err, origin, s, "out of memory copying standardisation");
    }
    free(mean);
    free(std);
    return s;
}

bool mlp_io_meta_write(mlp_strbuf *b, const mlp_model *m, const char *indent)
{
    /* The readers refuse empty names (the HTTP API addresses tensors by them). */
    if (!m->name[0] || !m->input_name[0] || !m->output_name[0]) return false;
    mlp_strbuf_puts(b, "\"name\": ");
    if (!mlp_strbuf_json_string(b, m->name)) return false;
    mlp_strbuf_printf(b, ",\n%s\"task\": \"%s\",\n%s\"input\": {\"name\": ", indent,
                      m->task == MLP_TASK_CLASSIFICATION ? "classification" : "regression", indent);
    if (!mlp_strbuf_json_string(b, m->input_name)) return false;
    mlp_strbuf_printf(b, ", \"size\": %d", m->n_inputs);
    if (m->input_mean) {
        mlp_strbuf_puts(b, ", \"mean\": ");
        mlp_strbuf_float_array(b, m->input_mean, (size_t)m->n_inputs);
    }
    if (m->input_std) {
        mlp_strbuf_puts(b, ", \"std\": ");
        mlp_strbuf_float_array(b, m->input_std, (size_t)m->n_inputs);
    }
    mlp_strbuf_printf(b, "},\n%s\"output\": {\"name\": ", indent);
    if (!mlp_strbuf_json_string(b, m->output_name)) return false;
    if (m->labels) {
        mlp_strbuf_puts(b, ", \"labels\": [");
        for (int i = 0; i < m->n_outputs; i++) {
            if (i) mlp_strbuf_puts(b, ", ");
            if (!mlp_strbuf_json_string(b, m->labels[i])) return false;
        }
        mlp_strbuf_puts(b, "]");
    }
    mlp_strbuf_puts(b, "}");
    return true;
}
