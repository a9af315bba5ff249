/*
 * inspect — `reluserve inspect`: what a model is, and how its units
 * behave on a probe data set.
 *
 * Without --data it prints the architecture. With --data it forwards the
 * whole CSV through the model in chunks and reports, per hidden layer, the
 * fraction of units never active on any probe row (mlp_activity: the
 * dying-ReLU measure that matters, as a unit silent on one batch may still
 * fire on another), the sparsity of the layer's output over all rows, and the
 * accuracy (classification) or mean squared error (regression) when the CSV
 * carries labels or targets after the input columns.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"

static const char inspect_usage[] =
    "usage: reluserve inspect MODEL_PATH [--data FILE.csv]\n"
    "\n"
    "Prints a model's architecture (.json, .safetensors with config.json beside it, .onnx).\n"
    "\n"
    "  --data FILE   probe set: a CSV with a header and the model's input columns,\n"
    "                optionally followed by the class name or index (classification)\n"
    "                or the target columns (regression). Prints per-layer dead\n"
    "                fraction (units never active on any row), sparsity, and the\n"
    "                accuracy or mean squared error.\n"
    "  --help        this text\n"
    "\n"
    "Exit status: 0 ok, 1 failure (unreadable model or data), 2 usage.\n";

#define INSPECT_CHUNK 256

static void arch_print(const mlp_model *m, const char *path)
{
    printf("model      %s (%s)\n", mlp_model_name(m),
           mlp_model_task(m) == MLP_TASK_CLASSIFICATION ? "classification" : "regression");
    printf("file       %s\n", path);
    printf("input      '%s', %d values%s\n", mlp_model_input_name(m), mlp_model_n_inputs(m),
           mlp_model_input_mean(m) || mlp_model_input_std(m) ? ", standardised in the model" : "");
    printf("output     '%s', %d value%s\n", mlp_model_output_name(m), mlp_model_n_outputs(m),
           mlp_model_n_outputs(m) == 1 ? "" : "s");
    if (mlp_model_labels(m)) {
        printf("labels     ");
        for (int k = 0; k < mlp_model_n_outputs(m); k++)
            printf("%s%s", k ? ", " : "", mlp_model_labels(m)[k]);
        printf("\n");
    }
    printf("layers     %d\n", mlp_model_n_layers(m));
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        size_t params = (size_t)L->in * (size_t)L->out + (size_t)L->out;
        printf("  %2d  %5d -> %-5d  %-10s", l, L->in, L->out, mlp_activation_name(L->activation));
        if (L->activation == MLP_ACT_LEAKY_RELU) printf(" alpha %g", (double)L->alpha);
        printf("  %zu params\n", params);
    }
    printf("parameters %zu\n", mlp_model_n_params(m));
}

/* Class index of a probe row's label text: the model's label of that name,
 * else a plain integer index. -1 when neither. A one-output classifier has
 * classes 0 and 1 and names only class 1 (its output is P(class 1)), so the
 * first other name in the file is taken as class 0 (*negative remembers it)
 * and any third name is refused. */
static int label_lookup(const mlp_model *m, const char *text, float as_number,
                        const char **negative)
{
    const int classes = mlp_model_classes(m);
    const bool binary = mlp_model_n_outputs(m) == 1 && classes == 2;
    if (mlp_model_labels(m))
        for (int k = 0; k < mlp_model_n_outputs(m); k++)
            if (strcmp(mlp_model_labels(m)[k], text) == 0) return binary ? 1 : k;
    if (!isnan(as_number) && as_number == floorf(as_number) && as_number >= 0.0f &&
        as_number < (float)classes)
        return (int)as_number;
    if (binary && mlp_model_labels(m) && isnan(as_number)) {
        if (!*negative) *negative = text;
        if (strcmp(*negative, text) == 0) return 0;
    }
    return -1;
}

/* Per-layer sums of the diagnostics over all chunks. */
typedef struct {
    double *zeros; /* sparsity x entries, summed */
    double *act;   /* mean_activation x entries, summed */
    long right;    /* classification rows predicted right */
    double sq_err; /* regression: sum of squared errors */
} probe_sums;

static int probe_run(const mlp_model *m, const char *data_path)
{
    rs_csv csv;
    char msg[600];
    if (!rs_csv_read(data_path, &csv, msg, sizeof msg)) {
        fprintf(stderr, "reluserve inspect: %s\n", msg);
        rs_csv_free(&csv);
        return RS_EXIT_FAIL;
    }
    const int n = csv.rows, n_in = mlp_model_n_inputs(m);
    const int extra = csv.cols - n_in;
    const bool classify = mlp_model_task(m) == MLP_TASK_CLASSIFICATION;
    /* The columns after the inputs: none, one label (classification), or
     * n_outputs targets (regression). */
    if (extra < 0 || (extra != 0 && extra != (classify ? 1 : mlp_model_n_outputs(m)))) {
        fprintf(stderr,
                "reluserve inspect: %s has %d columns; the model takes %d inputs, so expected "
                "%d, or %d with %s\n",
                data_path, csv.cols, n_in, n_in, n_in + (classify ? 1 : mlp_model_n_outputs(m)),
                classify ? "a label column" : "the target columns");
        rs_csv_free(&csv);
        return RS_EXIT_FAIL;
    }
    int rc = RS_EXIT_FAIL;
    const char *negative = NULL; /* a one-output classifier's class-0 name */
    const bool binary = mlp_model_n_outputs(m) == 1 && mlp_model_classes(m) == 2;
    float *x = malloc((size_t)n * (size_t)n_in * sizeof(float));
    int *labels = classify && extra ? malloc((size_t)n * sizeof(int)) : NULL;
    float *targets = !classify && extra ? malloc((size_t)n * (size_t)extra * sizeof(float)) : NULL;
    mlp_workspace *ws = NULL;
    mlp_status ws_status = mlp_workspace_create(&ws, NULL);
    /* The portable kernel (the library's default, set because the promise
     * depends on it): a probe row's statistics are the same bits however the
     * rows are chunked here, and on every machine. The server computes with
     * `--kernel native` by default, whose bits differ in the last places, so a
     * unit whose pre-activation sits at 0 within rounding may be counted
     * differently there; `--kernel portable` gives the server these bits. */
    if (ws_status == MLP_OK) ws_status = mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, NULL);
    mlp_activity act;
    bool act_ok = false;
    probe_sums sums = {calloc((size_t)mlp_model_n_layers(m), sizeof(double)),
                       calloc((size_t)mlp_model_n_layers(m), sizeof(double)), 0, 0.0};
    if (!x || (classify && extra && !labels) || (!classify && extra && !targets) ||
        ws_status != MLP_OK || !sums.zeros || !sums.act) {
        fprintf(stderr, "reluserve inspect: out of memory for %d rows\n", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const float *row = csv.num + (size_t)i * (size_t)csv.cols;
        int numeric = classify ? n_in : csv.cols;
        for (int j = 0; j < numeric; j++)
            if (isnan(row[j])) {
                fprintf(stderr, "reluserve inspect: %s:%d: column '%s' is not a number\n",
                        data_path, csv.line[i], csv.header[j]);
                goto done;
            }
        memcpy(x + (size_t)i * n_in, row, (size_t)n_in * sizeof(float));
        if (targets) memcpy(targets + (size_t)i * extra, row + n_in, (size_t)extra * sizeof(float));
        if (labels && (labels[i] = label_lookup(m, csv.last[i], row[n_in], &negative)) < 0) {
            fprintf(stderr, "reluserve inspect: %s:%d: '%s' is not one of the model's classes\n",
                    data_path, csv.line[i], csv.last[i]);
            goto done;
        }
    }
    mlp_error err;
    if (mlp_activity_init(m, &act, &err) != MLP_OK) {
        fprintf(stderr, "reluserve inspect: %s\n", err.msg);
        goto done;
    }
    act_ok = true;

    for (int r0 = 0; r0 < n; r0 += INSPECT_CHUNK) {
        int rows = n - r0 < INSPECT_CHUNK ? n - r0 : INSPECT_CHUNK;
        mlp_status s = mlp_forward(m, ws, x + (size_t)r0 * n_in, rows, NULL, &err);
        mlp_diagnostics d;
        if (s == MLP_OK) s = mlp_diagnose(m, ws, NULL, &d, &err);
        if (s == MLP_OK) s = mlp_activity_add(&act, ws, 0, rows, &err);
        if (s != MLP_OK) {
            fprintf(stderr, "reluserve inspect: forward failed: %s\n", err.msg);
            goto done;
        }
        for (int l = 0; l < mlp_model_n_layers(m); l++) {
            double entries = (double)rows * mlp_model_layer(m, l)->out;
            sums.zeros[l] += (double)d.layers[l].sparsity * entries;
            sums.act[l] += (double)d.layers[l].mean_activation * entries;
        }
        const float *y = mlp_workspace_output(ws);
        const float *logit = mlp_workspace_preactivation(ws, mlp_model_n_layers(m) - 1);
        for (int i = 0; i < rows; i++) {
            const float *yi = y + (size_t)i * mlp_model_n_outputs(m);
            if (labels && binary) {
                sums.right += (logit[i] > 0.0f) == (labels[r0 + i] == 1); /* sigmoid > 1/2 */
            } else if (labels) {
                int best = 0;
                for (int k = 1; k < mlp_model_n_outputs(m); k++)
                    if (yi[k] > yi[best]) best = k;
                sums.right += best == labels[r0 + i];
            } else if (targets) {
                for (int k = 0; k < mlp_model_n_outputs(m); k++) {
                    double e = (double)yi[k] - targets[(size_t)(r0 + i) * extra + k];
                    sums.sq_err += e * e;
                }
            }
        }
    }

    printf("\nprobe set  %s, %d rows\n", data_path, n);
    printf("  layer  units  activation  never_active  sparsity  mean_activation\n");
    int dead = 0, relu_units = 0;
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        double entries = (double)n * L->out;
        bool hidden_relu =
            l < mlp_model_n_layers(m) - 1 && mlp_activation_is_relu_family(L->activation);
        printf("  %5d  %5d  %-10s  ", l, L->out, mlp_activation_name(L->activation));
        if (hidden_relu) {
            float f = mlp_activity_never_active_fraction(&act, l);
            dead += (int)lroundf(f * (float)L->out);
            relu_units += L->out;
            printf("%12.4f  %8.4f  ", (double)f, sums.zeros[l] / entries);
        } else {
            printf("%12s  %8s  ", "-", "-");
        }
        printf("%15.4f\n", sums.act[l] / entries);
    }
    if (relu_units)
        printf(
            "dead units %d of %d ReLU-family hidden units (%.4f) never active on the probe set\n",
            dead, relu_units, (double)dead / relu_units);
    if (labels)
        printf("accuracy   %.4f (%ld/%d)\n", (double)sums.right / n, sums.right, n);
    else if (targets)
        printf("mse        %.6g\n", sums.sq_err / ((double)n * mlp_model_n_outputs(m)));
    rc = RS_EXIT_OK;
done:
    if (act_ok) mlp_activity_free(&act);
    free(sums.zeros);
    free(sums.act);
    mlp_workspace_free(ws);
    free(x);
    free(labels);
    free(targets);
    rs_csv_free(&csv);
    return rc;
}

int rs_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(inspect_usage, stdout);
            return RS_EXIT_OK;
        } else if (rs_arg_match(argc, argv, &i, "data", &v)) {
            if (!v) {
                fprintf(stderr, "reluserve inspect: --data needs a file name\n");
                return RS_EXIT_USAGE;
            }
            data = v;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr,
                    "reluserve inspect: unexpected argument '%s'\n"
                    "(see reluserve inspect --help)\n",
                    argv[i]);
            return RS_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "reluserve inspect: MODEL_PATH is required\n"
                        "(see reluserve inspect --help)\n");
        return RS_EXIT_USAGE;
    }
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_load(path, &m, &err) != MLP_OK) {
        fprintf(stderr, "reluserve inspect: %s\n", err.msg);
        return RS_EXIT_FAIL;
    }
    arch_print(m, path);
    int rc = data ? probe_run(m, data) : RS_EXIT_OK;
    mlp_model_free(m);
    return rc;
}
