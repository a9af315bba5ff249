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

/* strerror_r's text for errno e in buf (strerror is not thread-safe, and
 * models load on any thread). */
const char *mlp_io_error_text(int e, char buf[128]);

/* ------------------------------------------------------------ writing (io_write.c) */

/* Writes data to a new file beside path with a unique name ("<path>.tmp-"
 * and 16 random hex digits, created exclusively) and fsyncs it; *tmp is that
 * name (malloc'd), for mlp_io_temp_commit or mlp_io_temp_discard. On failure
 * nothing is left behind and *tmp is NULL. */
mlp_status mlp_io_temp_write(const char *path, const void *data, size_t len, char **tmp,
                             mlp_error *err);
/* Renames tmp over path and fsyncs the folder; frees tmp (and removes the
 * file if the rename fails). */
mlp_status mlp_io_temp_commit(char *tmp, const char *path, mlp_error *err);
/* Removes and frees tmp (NULL: nothing to do). */
void mlp_io_temp_discard(char *tmp);

/* mlp_io_temp_write then mlp_io_temp_commit: a reader (or a server watching
 * the folder) sees either the old file or the whole new one, also after a
 * crash, and concurrent writers never write into one another's file. */
mlp_status mlp_io_write_file(const char *path, const void *data, size_t len, mlp_error *err);

/* 2·nbytes random hex digits and a NUL into out (nbytes <= 32): the kernel's
 * randomness, or when it has none yet a mix of clock, process and counter. */
void mlp_io_random_hex(char *out, size_t nbytes);

/* A reader of weights plus an optional config.json text (NULL when there is
 * none), each named in messages by its origin. */
typedef mlp_status (*mlp_io_pair_parser)(const uint8_t *data, size_t len, const char *origin,
                                         const char *config, size_t config_len,
                                         const char *config_origin, mlp_model **out,
                                         mlp_error *err);

/* Runs parse on weights and config in memory, the config named "config of
 * <origin>" in messages. */
mlp_status mlp_io_parse_pair(mlp_io_pair_parser parse, const uint8_t *data, size_t len,
                             const char *config, size_t config_len, const char *origin,
                             mlp_model **out, mlp_error *err);

/* Reads the weights at path and the config at config_path (NULL: none) and
 * runs parse on them, each named by its path. */
mlp_status mlp_io_load_pair(mlp_io_pair_parser parse, const char *path, const char *config_path,
                            mlp_model **out, mlp_error *err);

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

/* The two files mlp_model_save_safetensors writes (without their save_id),
 * in memory: the
 * safetensors bytes (*weights, malloc'd) and the config.json text (*config,
 * malloc'd, NUL-terminated); the caller frees both. path and config_path only
 * name them in messages (NULL: "<memory>"). On failure both are NULL. */
mlp_status mlp_io_safetensors_build(const mlp_model *m, const char *path, const char *config_path,
                                    uint8_t **weights, size_t *weights_len, char **config,
                                    size_t *config_len, mlp_error *err);

/*
 * mlp_model_save_safetensors in its steps (io_safetensors_save.c explains the
 * scheme), so tests can stop between them: prepare writes both files, stamped
 * with one fresh save_id, under temporary names; commit_config renames
 * config.json into place, commit_weights the weights; discard removes what
 * was not renamed and frees p (always call it).
 */
typedef struct {
    char *path, *config_path;       /* owned copies of the targets */
    char *weights_tmp, *config_tmp; /* written and synced; NULL once renamed */
} mlp_io_pending_pair;

mlp_status mlp_io_pair_prepare(const mlp_model *m, const char *path, const char *config_path,
                               mlp_io_pending_pair *p, mlp_error *err);
mlp_status mlp_io_pair_commit_config(mlp_io_pending_pair *p, mlp_error *err);
mlp_status mlp_io_pair_commit_weights(mlp_io_pending_pair *p, mlp_error *err);
void mlp_io_pair_discard(mlp_io_pending_pair *p);

/* ------------------------------------------------------------ floats (io_float.c) */

/* The stored floating-point formats the binary readers convert: safetensors
 * F32/F64/F16/BF16 and ONNX FLOAT/DOUBLE/FLOAT16/BFLOAT16. */
typedef enum { MLP_IO_F32, MLP_IO_F64, MLP_IO_F16, MLP_IO_BF16 } mlp_io_dtype;

/* Bytes per element of t: 4, 8, 2, 2. */
size_t mlp_io_dtype_size(mlp_io_dtype t);

/* The little-endian unsigned integer of `bytes` (at most 8) bytes at p. */
uint64_t mlp_io_le(const uint8_t *p, size_t bytes);

/* d as float32 (rounded to nearest); false when it overflows float32 (or is
 * not finite). Values below the smallest subnormal round to signed zero, as
 * strtof does. */
bool mlp_io_double_to_float(double d, float *out);

/* One stored value of type t, given as its bit pattern, as float32 (F16 and
 * BF16 exactly, F64 rounded to nearest). false when it is NaN, infinite or
 * (F64) beyond float32's range; *bad holds the value for the message. */
bool mlp_io_bits_to_float(mlp_io_dtype t, uint64_t bits, float *out, double *bad);

/* Element i of little-endian data of type t at p, as mlp_io_bits_to_float. */
bool mlp_io_element(const uint8_t *p, mlp_io_dtype t, size_t i, float *out, double *bad);

/* Converts a JSON number to float32, refusing values that overflow it
 * (mlp_io_double_to_float). */
bool mlp_io_json_float(const json_t *v, float *out);

/* ------------------------------------------------ activations (io_activation.c) */

/* One layer's activation from JSON value v, a name (what names v in
 * messages: "layers[0].activation"): softmax only when l is the last of
 * n_layers. */
mlp_status mlp_io_activation_json(const json_t *v, int l, int n_layers, const char *what,
                                  const char *origin, mlp_activation *out, mlp_error *err);

/* A leaky_relu slope from JSON value v (NULL when not given:
 * MLP_LEAKY_RELU_ALPHA): a number in [0, 1) that stays below 1 in float32. */
mlp_status mlp_io_alpha_json(const json_t *v, const char *what, const char *origin, float *out,
                             mlp_error *err);

/* "activations" and "alpha" of a config.json beside weights that hold
 * n_layers Linear layers (weights_origin names them), into the activation and
 * alpha of spec[0 .. n_layers). io_safetensors.c documents the keys. With
 * known non-NULL, "activations" may be left out and known's are used. */
mlp_status mlp_io_config_activations(const json_t *cfg, int n_layers, const mlp_layer_spec *known,
                                     const char *weights_origin, const char *origin,
                                     mlp_layer_spec *spec, mlp_error *err);

/* Refuses native JSON model text whose size its declared shapes cannot
 * explain, before it is parsed (io_json_size.c). */
mlp_status mlp_io_json_size_check(const char *text, size_t len, const char *origin, mlp_error *err);

/* Loads a JSON document (duplicate keys refused) with an error naming origin. */
mlp_status mlp_io_json_load(const char *text, size_t len, const char *origin, json_t **root,
                            mlp_error *err);

/* The type of v for messages: "a string", "an array", ... */
const char *mlp_io_json_type(const json_t *v);

#endif /* MLP_IO_INTERNAL_H */
