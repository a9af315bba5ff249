/*
 * fuzz_check.h — what the fuzz targets share: a check that names the broken
 * invariant before it aborts (libFuzzer then saves the input as a crash),
 * exact-size copies of the input (so ASan sees any read past the end), and
 * the invariants every model a loader accepts must satisfy.
 *
 * Header-only on purpose: every tests/fuzz/fuzz_*.c becomes one binary
 * (the Makefile's wildcard), and a target includes what it needs.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "mlp.h"

/* libFuzzer's entry point, declared for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* n bytes at p in an allocation of exactly n bytes (1 when n is 0, never
 * read), so a parser reading past the end of its input trips ASan. */
static inline void *fuzz_copy(const void *p, size_t n)
{
    void *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL, "out of memory copying %zu input bytes", n);
    if (n) memcpy(c, p, n);
    return c;
}

/* Splits data at its first NUL byte into two exact-size copies: a text
 * document (a config.json, which cannot hold a raw NUL) and the binary file
 * after it. Without a NUL the text is everything and the file is empty. The
 * split keeps the two parts apart under mutation, unlike a length prefix. */
static inline void fuzz_split(const uint8_t *data, size_t size, char **text, size_t *text_len,
                              uint8_t **file, size_t *file_len)
{
    const uint8_t *nul = memchr(data, 0, size);
    *text_len = nul ? (size_t)(nul - data) : size;
    *file_len = nul ? size - *text_len - 1 : 0;
    *text = fuzz_copy(data, *text_len);
    *file = fuzz_copy(data + size - *file_len, *file_len);
}

/* ------------------------------------------------ invariants of a model */

/* The structure the rest of libmlp and the server rely on without checking. */
static inline void fuzz_check_model_shape(const mlp_model *m)
{
    FUZZ_CHECK(m->name && m->input_name && m->output_name, "a name is NULL");
    FUZZ_CHECK(m->name[0] && m->input_name[0] && m->output_name[0], "a name is empty");
    FUZZ_CHECK(m->n_layers >= 1 && m->n_layers <= MLP_MAX_LAYERS, "n_layers = %d", m->n_layers);
    FUZZ_CHECK(m->n_inputs >= 1 && m->n_inputs <= MLP_MAX_UNITS, "n_inputs = %d", m->n_inputs);
    FUZZ_CHECK(m->task == MLP_TASK_CLASSIFICATION || m->task == MLP_TASK_REGRESSION, "task %d",
               (int)m->task);
    int in = m->n_inputs, widest = m->n_inputs;
    size_t at = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        FUZZ_CHECK(ly->in == in, "layers[%d].in = %d, but the layer before has %d units", l, ly->in,
                   in);
        FUZZ_CHECK(ly->out >= 1 && ly->out <= MLP_MAX_UNITS, "layers[%d].out = %d", l, ly->out);
        FUZZ_CHECK(ly->weight_offset == at, "layers[%d].weight_offset = %zu, expected %zu", l,
                   ly->weight_offset, at);
        at += (size_t)ly->out * (size_t)ly->in;
        FUZZ_CHECK(ly->bias_offset == at, "layers[%d].bias_offset = %zu, expected %zu", l,
                   ly->bias_offset, at);
        at += (size_t)ly->out;
        FUZZ_CHECK((unsigned)ly->activation <= MLP_ACT_SOFTMAX, "layers[%d].activation = %d", l,
                   (int)ly->activation);
        FUZZ_CHECK(ly->activation != MLP_ACT_SOFTMAX || l == m->n_layers - 1,
                   "softmax on layers[%d], not the last", l);
        FUZZ_CHECK(ly->activation != MLP_ACT_LEAKY_RELU || (ly->alpha >= 0.0f && ly->alpha < 1.0f),
                   "layers[%d].alpha = %g", l, (double)ly->alpha);
        in = ly->out;
        if (ly->out > widest) widest = ly->out;
    }
    FUZZ_CHECK(m->n_outputs == in, "n_outputs = %d, last layer has %d units", m->n_outputs, in);
    FUZZ_CHECK(m->max_units == widest, "max_units = %d, widest layer %d", m->max_units, widest);
    FUZZ_CHECK(m->n_params == at, "n_params = %zu, layers hold %zu", m->n_params, at);
    FUZZ_CHECK(m->n_params <= MLP_MAX_PARAMS, "n_params = %zu over the limit", m->n_params);
    for (size_t i = 0; i < m->n_params; i++)
        FUZZ_CHECK(isfinite(m->params[i]), "params[%zu] = %g", i, (double)m->params[i]);
    for (int i = 0; m->input_mean && i < m->n_inputs; i++)
        FUZZ_CHECK(isfinite(m->input_mean[i]), "input_mean[%d] = %g", i, (double)m->input_mean[i]);
    for (int i = 0; m->input_std && i < m->n_inputs; i++)
        FUZZ_CHECK(isfinite(m->input_std[i]) && m->input_std[i] > 0.0f, "input_std[%d] = %g", i,
                   (double)m->input_std[i]);
    for (int k = 0; m->labels && k < m->n_outputs; k++)
        FUZZ_CHECK(m->labels[k] != NULL, "labels[%d] is NULL", k);
    mlp_error e;
    FUZZ_CHECK(mlp_model_validate(m, &e) == MLP_OK, "a loaded model fails validate: %s", e.msg);
}

/* Forward and backward on zero rows: whatever the outputs are (a hostile
 * model may overflow to inf or NaN), the calls succeed, write exactly
 * rows x n_outputs values, and a row gives the same bits alone and in a
 * batch (the promise of both of libmlp's own kernels, which the server's
 * batcher relies on), with the portable and the native kernel. */
static inline void fuzz_check_model_runs_on(const mlp_model *m, mlp_kernel kernel)
{
    enum { ROWS = 3 };
    mlp_workspace *ws = NULL;
    FUZZ_CHECK(mlp_workspace_create(&ws, NULL) == MLP_OK, "out of memory for a workspace");
    FUZZ_CHECK(mlp_workspace_set_kernel(ws, kernel, NULL) == MLP_OK, "set_kernel failed");
    size_t nin = (size_t)m->n_inputs, nout = (size_t)m->n_outputs;
    float *x = calloc(ROWS * nin, sizeof *x);
    float *one = malloc(nout * sizeof *one); /* exact sizes: ASan sees overruns */
    float *many = malloc(ROWS * nout * sizeof *many);
    FUZZ_CHECK(x && one && many, "out of memory");
    /* Different rows, so a row mixed up with another shows. */
    for (size_t j = 0; j < nin; j++)
        x[nin + j] = 1.0f, x[2 * nin + j] = (float)j - 1.5f;

    FUZZ_CHECK(mlp_forward(m, ws, x + nin, 1, one, NULL) == MLP_OK, "forward of one row failed");
    FUZZ_CHECK(mlp_workspace_rows(ws) == 1, "workspace rows %d after 1", mlp_workspace_rows(ws));
    FUZZ_CHECK(mlp_forward(m, ws, x, ROWS, many, NULL) == MLP_OK, "forward of %d rows failed",
               ROWS);
    FUZZ_CHECK(mlp_workspace_rows(ws) == ROWS, "workspace rows %d", mlp_workspace_rows(ws));
    FUZZ_CHECK(memcmp(one, many + nout, nout * sizeof *one) == 0,
               "row 1 alone and in a batch of %d differ", ROWS);
    FUZZ_CHECK(memcmp(mlp_workspace_output(ws), many, ROWS * nout * sizeof *many) == 0,
               "workspace output differs from y");

    mlp_target t = {.kind = MLP_TARGET_MAX_LOGIT};
    float loss;
    FUZZ_CHECK(mlp_backward(m, ws, 1, 2, &t, &loss, NULL) == MLP_OK, "backward failed");
    mlp_diagnostics d;
    FUZZ_CHECK(mlp_diagnose(m, ws, NULL, &d, NULL) == MLP_OK, "diagnose failed");
    FUZZ_CHECK(d.n_layers == m->n_layers && d.rows == 2, "diagnostics cover %d layers, %d rows",
               d.n_layers, d.rows);
    for (int l = 0; l < d.n_layers; l++) {
        FUZZ_CHECK(d.layers[l].units == m->layers[l].out, "diagnostics layer %d units", l);
        FUZZ_CHECK(d.layers[l].n_dead >= 0 && d.layers[l].n_dead <= d.layers[l].units,
                   "layer %d: %d dead of %d", l, d.layers[l].n_dead, d.layers[l].units);
        for (int k = 0; k < d.layers[l].n_dead; k++)
            FUZZ_CHECK(d.layers[l].dead_units[k] >= 0 &&
                           d.layers[l].dead_units[k] < d.layers[l].units &&
                           (k == 0 || d.layers[l].dead_units[k] > d.layers[l].dead_units[k - 1]),
                       "layer %d: dead unit list not ascending in range", l);
    }
    free(x);
    free(one);
    free(many);
    mlp_workspace_free(ws);
}

static inline void fuzz_check_model_runs(const mlp_model *m)
{
    fuzz_check_model_runs_on(m, MLP_KERNEL_PORTABLE);
    fuzz_check_model_runs_on(m, MLP_KERNEL_NATIVE);
}

/* True when a and b are the same model: shape, metadata and every parameter
 * bit (NaN-free, so bits are the right comparison, and -0 must stay -0). */
static inline void fuzz_check_same_model(const mlp_model *a, const mlp_model *b, const char *how)
{
    FUZZ_CHECK(strcmp(a->name, b->name) == 0, "%s: name \"%s\" became \"%s\"", how, a->name,
               b->name);
    FUZZ_CHECK(strcmp(a->input_name, b->input_name) == 0 &&
                   strcmp(a->output_name, b->output_name) == 0,
               "%s: input/output names changed", how);
    FUZZ_CHECK(a->task == b->task, "%s: task changed", how);
    FUZZ_CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs &&
                   a->n_layers == b->n_layers && a->n_params == b->n_params,
               "%s: shape changed", how);
    for (int l = 0; l < a->n_layers; l++) {
        const mlp_layer *x = &a->layers[l], *y = &b->layers[l];
        FUZZ_CHECK(x->in == y->in && x->out == y->out && x->activation == y->activation,
                   "%s: layer %d changed", how, l);
        FUZZ_CHECK(x->activation != MLP_ACT_LEAKY_RELU || memcmp(&x->alpha, &y->alpha, 4) == 0,
                   "%s: layer %d alpha %.9g became %.9g", how, l, (double)x->alpha,
                   (double)y->alpha);
    }
    FUZZ_CHECK(memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0,
               "%s: parameters changed", how);
    size_t nin = (size_t)a->n_inputs;
    FUZZ_CHECK(!a->input_mean == !b->input_mean && !a->input_std == !b->input_std,
               "%s: standardisation appeared or vanished", how);
    FUZZ_CHECK(!a->input_mean || memcmp(a->input_mean, b->input_mean, nin * sizeof(float)) == 0,
               "%s: input mean changed", how);
    FUZZ_CHECK(!a->input_std || memcmp(a->input_std, b->input_std, nin * sizeof(float)) == 0,
               "%s: input std changed", how);
    FUZZ_CHECK(!a->labels == !b->labels, "%s: labels appeared or vanished", how);
    for (int k = 0; a->labels && k < a->n_outputs; k++)
        FUZZ_CHECK(strcmp(a->labels[k], b->labels[k]) == 0, "%s: label %d changed", how, k);
}

/* save(m) then load gives m back, and saving that gives the same bytes. */
static inline void fuzz_check_json_round_trip(const mlp_model *m)
{
    char *text;
    mlp_error e;
    FUZZ_CHECK(mlp_model_to_json(m, &text, &e) == MLP_OK,
               "a loaded model cannot be written as JSON: %s", e.msg);
    mlp_model *back;
    FUZZ_CHECK(mlp_model_parse_json(text, strlen(text), "round trip", &back, &e) == MLP_OK,
               "the JSON writer's output does not load: %s", e.msg);
    fuzz_check_same_model(m, back, "JSON round trip");
    char *again;
    FUZZ_CHECK(mlp_model_to_json(back, &again, &e) == MLP_OK && strcmp(text, again) == 0,
               "JSON save(load(save(m))) != save(m)");
    free(again);
    free(text);
    mlp_model_free(back);
}

static inline void fuzz_check_safetensors_round_trip(const mlp_model *m)
{
    uint8_t *w;
    char *cfg;
    size_t wn, cn;
    mlp_error e;
    FUZZ_CHECK(mlp_io_safetensors_build(m, NULL, NULL, &w, &wn, &cfg, &cn, &e) == MLP_OK,
               "a loaded model cannot be written as safetensors: %s", e.msg);
    mlp_model *back;
    FUZZ_CHECK(mlp_model_parse_safetensors(w, wn, cfg, cn, "round trip", &back, &e) == MLP_OK,
               "the safetensors writer's output does not load: %s", e.msg);
    fuzz_check_same_model(m, back, "safetensors round trip");
    mlp_model_free(back);
    free(w);
    free(cfg);
}

/* Everything a model that a loader accepted must satisfy. */
static inline void fuzz_check_loaded_model(const mlp_model *m)
{
    fuzz_check_model_shape(m);
    mlp_model *copy;
    mlp_error e;
    FUZZ_CHECK(mlp_model_clone(m, &copy, &e) == MLP_OK, "clone failed: %s", e.msg);
    fuzz_check_same_model(m, copy, "clone");
    mlp_model_free(copy);
    fuzz_check_model_runs(m);
    fuzz_check_json_round_trip(m);
    fuzz_check_safetensors_round_trip(m);
}

/* A loader's answer: a model that passes fuzz_check_loaded_model (then
 * freed), or a refusal with a message and no model. */
static inline void fuzz_check_parsed(mlp_status s, mlp_model *m, const mlp_error *err)
{
    if (s == MLP_OK) {
        fuzz_check_loaded_model(m);
        mlp_model_free(m);
    } else {
        FUZZ_CHECK(m == NULL && err->msg[0], "a refused model has no message or a model");
    }
}

/* A reader of a model file together with its config.json text
 * (mlp_model_parse_onnx, mlp_model_parse_safetensors). */
typedef mlp_status (*fuzz_pair_reader)(const uint8_t *data, size_t len, const char *config_json,
                                       size_t config_len, const char *origin, mlp_model **out,
                                       mlp_error *err);

/* The target of such a reader: data split by fuzz_split into the config and
 * the file, each in an allocation of exactly its size, read as origin and
 * checked by fuzz_check_parsed. With config_optional an empty config part
 * is passed as no config.json (NULL), as when the file is absent. */
static inline int fuzz_pair_target(const uint8_t *data, size_t size, fuzz_pair_reader read,
                                   const char *origin, bool config_optional)
{
    char *config;
    uint8_t *file;
    size_t config_len, file_len;
    fuzz_split(data, size, &config, &config_len, &file, &file_len);
    mlp_model *m;
    mlp_error err = {{0}};
    const char *cfg = config_optional && config_len == 0 ? NULL : config;
    mlp_status s = read(file, file_len, cfg, config_len, origin, &m, &err);
    fuzz_check_parsed(s, m, &err);
    free(file);
    free(config);
    return 0;
}

#endif /* FUZZ_CHECK_H */
