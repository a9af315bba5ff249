/*
 * io — mlp_model_load: picks the reader by the file's extension.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_internal.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

mlp_status mlp_model_load(const char *path, mlp_model **out, mlp_error *err)
{
    if (!path || !out)
        return mlp_set_error(err, MLP_ERR_INVALID, "model path or output pointer is NULL");
    *out = NULL;
    if (ends_with(path, ".json")) return mlp_model_load_json(path, out, err);
    if (ends_with(path, ".safetensors"))
        return mlp_model_load_safetensors(path, NULL, out, err); /* config.json beside it */
    if (ends_with(path, ".onnx")) {
        /* config.json is optional beside an ONNX file: use it when it exists
         * (any other stat failure is left for the reader to report). */
        char *cfg = mlp_io_sibling_config(path);
        if (!cfg) return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory");
        struct stat st;
        bool have = stat(cfg, &st) == 0 || errno != ENOENT;
        mlp_status s = mlp_model_load_onnx(path, have ? cfg : NULL, out, err);
        free(cfg);
        return s;
    }
    return mlp_io_fail(err, path, MLP_ERR_UNSUPPORTED,
                       "unknown model file type (expected .json, .safetensors or .onnx)");
}
