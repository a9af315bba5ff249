/*
 * save — how the offline commands write a model: the format by the path's
 * extension (.json, or .safetensors with config.json beside it), the
 * folders created first.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "mlp.h"

bool rs_path_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool rs_mkdirs_for(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) return false;
    char *slash = strrchr(dir, '/');
    if (!slash) return true;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    return dir[0] == '\0' || mkdir(dir, 0755) == 0 || errno == EEXIST;
}

mlp_status rs_model_save(const mlp_model *m, const char *out, mlp_error *err)
{
    if (rs_path_ends_with(out, ".json")) return mlp_model_save_json(m, out, err);
    char config[4096];
    const char *slash = strrchr(out, '/');
    int dir_len = slash ? (int)(slash - out) : 0;
    if (snprintf(config, sizeof config, "%.*s%sconfig.json", dir_len, out, slash ? "/" : "") >=
        (int)sizeof config) {
        snprintf(err->msg, sizeof err->msg, "path too long: %s", out);
        return MLP_ERR_INVALID;
    }
    return mlp_model_save_safetensors(m, out, config, err);
}
