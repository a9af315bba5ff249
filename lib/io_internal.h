/*
 * io_internal — what the model readers and writers (io_*.c) share: reading and
 * atomically writing whole files, a growable text buffer, shortest round-trip
 * float text, and the metadata block (name, task, input, output) that the
 * native JSON format and the safetensors config.json have in common.
 */
#ifndef MLP_IO_INTERNAL_H
#define MLP_IO_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>

#include "internal.h"

/* Largest file the readers accept. The biggest legal model (MLP_MAX_PARAMS
 * float64 values in safetensors) stays below it; anything larger is refused
 * before a byte is read. */
#define MLP_IO_MAX_FILE ((size_t)1 << 32)

/* The name used in messages when the caller gave no origin. */
const char *mlp_io_origin(const char *origin);

/* Writes "<origin>: <message>" into err (may be NULL) and returns s. */
mlp_status mlp_io_fail(mlp_error *err, const char *origin, mlp_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads the whole regular file at path into a malloc'd buffer (caller frees
 * *data), NUL-terminated for convenience (the NUL is not counted in *len). */
mlp_status mlp_io_read_file(const char *path, uint8_t **data, size_t *len, mlp_error *err);

/* Writes data to "<path>.tmp" and renames it over path, so a reader (or a
 * server watching the folder) sees either the old file or the whole new one. */
mlp_status mlp_io_write_file(const char *path, const void *data, size_t len, mlp_error *err);

/* "<folder of path>/config.json" as a malloc'd string (caller frees), or NULL
 * when out of memory. */
char *mlp_io_sibling_config(const char *path);

/* ------------------------------------------------------------ text buffer */

/* A growable NUL-terminated string. After an allocation failure `failed` is
 * set and later appends do nothing, so writers check once at the end. */
typedef struct {
    char *data; /* owned; NULL until the first append */
    size_t len, cap;
    bool failed;
} mlp_strbuf;

void mlp_strbuf_append(mlp_strbuf *b, const char *s, size_t n);
void mlp_strbuf_puts(mlp_strbuf *b, const char *s);
void mlp_strbuf_printf(mlp_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v with the fewest significant digits (at least 6) that read back
 * as the same float32; -0 keeps its sign. v must be finite. */
void mlp_strbuf_float(mlp_strbuf *b, float v);
/* Appends a JSON string literal. Returns false (and appends nothing) when s is
 * not valid UTF-8, which no JSON reader would accept back. */
bool mlp_strbuf_json_string(mlp_strbuf *b, const char *s);
/* Appends "[v0, v1, ...]" (shortest float text). */
void mlp_strbuf_float_array(mlp_strbuf *b, const float *v, size_t n);
void mlp_strbuf_free(mlp_strbuf *b);

/* Text for v as mlp_strbuf_float writes it; buf needs 32 bytes. */
void mlp_io_format_float(char buf[32], float v);

/* ------------------------------------------------------------ metadata */

/*
 * The metadata block both formats share, as parsed from JSON: borrowed
 * pointers into the jansson document, valid while it lives.
 */
typedef struct {
    const char *name; /* NULL when absent (allowed in config.json only) */
    mlp_task task;
    const char *input_name, *output_name;
    int input_size;     /* -1 when absent (allowed in config.json only) */
    json_t *mean, *std; /* arrays or NULL */
    json_t *labels;     /* array or NULL */
} mlp_io_meta;

/* Parses "name", "task", "input" and "output" of root. name_required and
 * size_required say whether "name" and "input.size" must be present. */
mlp_status mlp_io_meta_parse(json_t *root, bool name_required, bool size_required,
                             const char *origin, mlp_io_meta *meta, mlp_error *err);

/* Checks that input.size (if given), mean/std and labels fit a model with
 * n_inputs inputs and n_outputs outputs. */
mlp_status mlp_io_meta_check(const mlp_io_meta *meta, int n_inputs, int n_outputs,
                             const char *origin, mlp_error *err);

/* Copies the metadata into m (whose shape mlp_io_meta_check accepted). */
mlp_status mlp_io_meta_apply(const mlp_io_meta *meta, mlp_model *m, const char *origin,
                             mlp_error *err);

/* Appends `"name": ..., "task": ..., "input": {...}, "output": {...}` (no
 * braces around the whole), each line after the first starting with indent.
 * Returns false when a name is empty or a name or label is not valid UTF-8. */
bool mlp_io_meta_write(mlp_strbuf *b, const mlp_model *m, const char *indent);

/* The two files mlp_model_save_safetensors writes, in memory: the
 * safetensors bytes (*weights, malloc'd) and the config.json text (*config,
 * malloc'd, NUL-terminated); the caller frees both. path and config_path only
 * name them in messages (NULL: "<memory>"). On failure both are NULL. */
mlp_status mlp_io_safetensors_build(const mlp_model *m, const char *path, const char *config_path,
                                    uint8_t **weights, size_t *weights_len, char **config,
                                    size_t *config_len, mlp_error *err);

/* binary16 and bfloat16 bit patterns as float32 (exact; io_half.c). */
float mlp_io_half_to_float(uint16_t h);
float mlp_io_bf16_to_float(uint16_t h);

/* Converts a JSON number to float32, refusing values that overflow it.
 * Values below the smallest subnormal round to (signed) zero, as strtof does. */
bool mlp_io_json_float(const json_t *v, float *out);

/* Parses activation `name`, with a message listing the known ones. */
mlp_status mlp_io_activation_parse(const char *name, const char *what, const char *origin,
                                   mlp_activation *out, mlp_error *err);

/* Loads a JSON document (duplicate keys refused) with an error naming origin. */
mlp_status mlp_io_json_load(const char *text, size_t len, const char *origin, json_t **root,
                            mlp_error *err);

/* The type of v for messages: "a string", "an array", ... */
const char *mlp_io_json_type(const json_t *v);

#endif /* MLP_IO_INTERNAL_H */
