/*
 * io_file — whole-file reads for the model loaders, with messages that name
 * the file (writes: io_write.c). Loaders work on a complete in-memory copy so
 * a truncated or concurrently replaced file can never be read past its end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the char * strerror_r */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_internal.h"

const char *mlp_io_error_text(int e, char buf[128])
{
    return strerror_r(e, buf, 128);
}

const char *mlp_io_origin(const char *origin)
{
    return origin && origin[0] ? origin : "<memory>";
}

mlp_status mlp_io_fail(mlp_error *err, const char *origin, mlp_status s, const char *fmt, ...)
{
    if (!err) return s;
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", mlp_io_origin(origin));
    if (n < 0 || (size_t)n >= sizeof err->msg) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return s;
}

mlp_status mlp_io_read_file(const char *path, uint8_t **data, size_t *len, mlp_error *err)
{
    char eb[128];
    *data = NULL;
    *len = 0;
    if (!path) return mlp_set_error(err, MLP_ERR_INVALID, "model path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return mlp_io_fail(err, path, MLP_ERR_IO, "cannot open: %s", mlp_io_error_text(errno, eb));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return mlp_io_fail(err, path, MLP_ERR_IO, "cannot stat: %s", mlp_io_error_text(e, eb));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return mlp_io_fail(err, path, MLP_ERR_IO, "not a regular file");
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > MLP_IO_MAX_FILE) {
        fclose(f);
        return mlp_io_fail(err, path, MLP_ERR_LIMIT, "%lld bytes exceed the limit of %zu",
                           (long long)st.st_size, MLP_IO_MAX_FILE);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return mlp_io_fail(err, path, MLP_ERR_NOMEM, "out of memory reading %zu bytes", size);
    }
    size_t got = fread(buf, 1, size, f);
    /* A file that shrank since fstat is read as what is there (and the parser
     * reports the truncation); one that grew is read up to the stat size. */
    if (got < size && ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return mlp_io_fail(err, path, MLP_ERR_IO, "read failed: %s", mlp_io_error_text(e, eb));
    }
    fclose(f);
    buf[got] = 0;
    *data = buf;
    *len = got;
    return MLP_OK;
}

char *mlp_io_sibling_config(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    char *c = malloc(dir + sizeof "config.json");
    if (c) {
        memcpy(c, path, dir);
        memcpy(c + dir, "config.json", sizeof "config.json");
    }
    return c;
}

mlp_status mlp_io_parse_pair(mlp_io_pair_parser parse, const uint8_t *data, size_t len,
                             const char *config, size_t config_len, const char *origin,
                             mlp_model **out, mlp_error *err)
{
    char config_origin[256];
    snprintf(config_origin, sizeof config_origin, "config of %s", mlp_io_origin(origin));
    return parse(data, len, origin, config, config_len, config_origin, out, err);
}

mlp_status mlp_io_load_pair(mlp_io_pair_parser parse, const char *path, const char *config_path,
                            mlp_model **out, mlp_error *err)
{
    if (!out || !path)
        return mlp_io_fail(err, path, MLP_ERR_INVALID, "path or output pointer is NULL");
    *out = NULL;
    uint8_t *data = NULL, *cfg = NULL;
    size_t len = 0, cfg_len = 0;
    mlp_status s = mlp_io_read_file(path, &data, &len, err);
    if (s == MLP_OK && config_path) s = mlp_io_read_file(config_path, &cfg, &cfg_len, err);
    if (s == MLP_OK) s = parse(data, len, path, (const char *)cfg, cfg_len, config_path, out, err);
    free(data);
    free(cfg);
    return s;
}
