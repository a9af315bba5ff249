/*
 * prune — `reluserve prune`: a smaller model with the same outputs on a
 * probe set.
 *
 * A ReLU unit whose pre-activation is finite and <= 0 on every probe row
 * outputs exactly 0 on each of them, so deleting it (its row of W_l and b_l)
 * and the column of W_{l+1} that reads it leaves every later sum unchanged
 * on those rows, up to the rounding of summing fewer zero terms. The units
 * are found with libmlp's activity counters (mlp_activity, the measure
 * `inspect` and the server's monitor use). Only ReLU layers are pruned: a
 * leaky_relu unit below 0 still passes alpha*z, and sigmoid/tanh units are
 * never 0, so removing them would change the outputs.
 *
 * A layer dead on every probe row keeps one unit (its first): the model
 * needs at least one, that unit outputs 0 on the probe set like the rest,
 * and the command says that the model's output is then the same for every
 * probe row, which is a broken model rather than a prunable one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mlp.h"

static const char prune_usage[] =
    "usage: reluserve prune MODEL_PATH --data PROBE.csv --out NEW.json|NEW.safetensors\n"
    "\n"
    "Removes the hidden ReLU units that are dead on the whole probe set (pre-activation\n"
    "finite and <= 0 on every row) together with their weights in the next layer, and\n"
    "saves the smaller model. Its outputs on the probe set are those of the original\n"
    "(the largest difference is printed). Prints units removed per layer, parameters\n"
    "and the forward time over the probe set before and after.\n"
    "\n"
    "  --data FILE   probe set: a CSV with a header whose first columns are the model's\n"
    "                inputs (columns after them, such as labels, are ignored)\n"
    "  --out PATH    where to save the pruned model; .json, or .safetensors with\n"
    "                config.json written beside it (any input format may be saved as\n"
    "                either); folders are created\n"
    "  --help        this text\n"
    "\n"
    "Only ReLU layers lose units (a leaky_relu, sigmoid or tanh unit is not 0 below its\n"
    "threshold). A layer dead on every probe row keeps its first unit: the model\n"
    "cannot have an empty layer, and its output is then constant on the probe set,\n"
    "which the command reports.\n"
    "\n"
    "Exit status: 0 ok, 1 failure (unreadable model or data, cannot save), 2 usage.\n";

#define PRUNE_CHUNK 256

/* Reads the probe inputs: the first n_in columns of every row. */
static float *probe_read(const char *path, int n_in, int *rows)
{
    rs_csv csv;
    char msg[600];
    float *x = NULL;
    if (!rs_csv_read(path, &csv, msg, sizeof msg)) {
        fprintf(stderr, "reluserve prune: %s\n", msg);
        goto done;
    }
    if (csv.cols < n_in) {
        fprintf(stderr, "reluserve prune: %s has %d columns; the model takes %d inputs\n", path,
                csv.cols, n_in);
        goto done;
    }
    if (csv.rows < 1) {
        fprintf(stderr, "reluserve prune: %s has no rows; a probe set needs at least one\n", path);
        goto done;
    }
    x = malloc((size_t)csv.rows * (size_t)n_in * sizeof(float));
    if (!x) {
        fprintf(stderr, "reluserve prune: out of memory for %d rows\n", csv.rows);
        goto done;
    }
    for (int i = 0; i < csv.rows; i++)
        for (int j = 0; j < n_in; j++) {
            float v = csv.num[(size_t)i * (size_t)csv.cols + j];
            if (!isfinite(v)) {
                fprintf(stderr, "reluserve prune: %s:%d: column '%s' is not a finite number\n",
                        path, csv.line[i], csv.header[j]);
                free(x);
                x = NULL;
                goto done;
            }
            x[(size_t)i * n_in + j] = v;
        }
    *rows = csv.rows;
done:
    rs_csv_free(&csv);
    return x;
}

/* Forwards all n rows through m in chunks; counts activity into act when
 * given, copies the outputs into y when given. */
static mlp_status forward_all(const mlp_model *m, mlp_workspace *ws, const float *x, int n,
                              mlp_activity *act, float *y, mlp_error *err)
{
    for (int r0 = 0; r0 < n; r0 += PRUNE_CHUNK) {
        int rows = n - r0 < PRUNE_CHUNK ? n - r0 : PRUNE_CHUNK;
        mlp_status s = mlp_forward(m, ws, x + (size_t)r0 * mlp_model_n_inputs(m), rows,
                                   y ? y + (size_t)r0 * mlp_model_n_outputs(m) : NULL, err);
        if (s == MLP_OK && act) s = mlp_activity_add(act, ws, 0, rows, err);
        if (s != MLP_OK) return s;
    }
    return MLP_OK;
}

/* Fastest of a few passes over the probe set, in milliseconds. */
static double forward_ms(const mlp_model *m, mlp_workspace *ws, const float *x, int n)
{
    double best = INFINITY;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (forward_all(m, ws, x, n, NULL, NULL, NULL) != MLP_OK) return NAN;
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        if (ms < best) best = ms;
    }
    return best;
}

/*
 * keep[l][j]: unit j of hidden layer l stays. A unit goes when its layer is
 * ReLU and the activity counters saw it never active (finite and <= 0 on
 * every row); a layer that would lose every unit keeps unit 0.
 */
static void keep_decide(const mlp_model *m, const mlp_activity *act, bool **keep, int *kept)
{
    for (int l = 0; l < mlp_model_n_layers(m) - 1; l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        kept[l] = 0;
        for (int j = 0; j < L->out; j++) {
            keep[l][j] = L->activation != MLP_ACT_RELU || !mlp_activity_never_active(act, l, j);
            kept[l] += keep[l][j];
        }
        if (kept[l] == 0) {
            keep[l][0] = true;
            kept[l] = 1;
        }
    }
    kept[mlp_model_n_layers(m) - 1] = mlp_model_layer(m, mlp_model_n_layers(m) - 1)->out;
}

/* The pruned copy: kept rows of every W_l and b_l, kept columns of W_l for
 * the kept inputs, and the original's metadata. */
static mlp_status model_pruned(const mlp_model *m, bool *const *keep, const int *kept,
                               mlp_model **out, mlp_error *err)
{
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    for (int l = 0; l < mlp_model_n_layers(m); l++)
        spec[l] = (mlp_layer_spec){kept[l], mlp_model_layer(m, l)->activation,
                                   mlp_model_layer(m, l)->alpha};
    mlp_model *p = NULL;
    mlp_status s = mlp_model_create(mlp_model_n_inputs(m), spec, mlp_model_n_layers(m), &p, err);
    if (s != MLP_OK) return s;
    /* The kept parameters, laid out as p holds them, then copied in at once. */
    float *params = malloc(mlp_model_n_params(p) * sizeof *params);
    if (!params) {
        mlp_model_free(p);
        snprintf(err->msg, sizeof err->msg, "out of memory for the pruned parameters");
        return MLP_ERR_NOMEM;
    }
    for (int l = 0; l < mlp_model_n_layers(m); l++) {
        const mlp_layer *L = mlp_model_layer(m, l), *P = mlp_model_layer(p, l);
        const bool *rows = l < mlp_model_n_layers(m) - 1 ? keep[l] : NULL;
        const bool *cols = l > 0 ? keep[l - 1] : NULL;
        const float *w = mlp_layer_weight(m, l), *b = mlp_layer_bias(m, l);
        float *pw = params + P->weight_offset, *pb = params + P->bias_offset;
        for (int i = 0; i < L->out; i++) {
            if (rows && !rows[i]) continue;
            for (int j = 0; j < L->in; j++)
                if (!cols || cols[j]) *pw++ = w[(size_t)i * L->in + j];
            *pb++ = b[i];
        }
    }
    s = mlp_model_set_params(p, params, mlp_model_n_params(p), err);
    free(params);
    if (s == MLP_OK) s = mlp_model_set_task(p, mlp_model_task(m), err);
    if (s == MLP_OK) s = mlp_model_set_name(p, mlp_model_name(m), err);
    if (s == MLP_OK)
        s = mlp_model_set_io_names(p, mlp_model_input_name(m), mlp_model_output_name(m), err);
    if (s == MLP_OK && mlp_model_labels(m)) s = mlp_model_set_labels(p, mlp_model_labels(m), err);
    if (s == MLP_OK) /* either may be absent: each is copied as it is */
        s = mlp_model_set_standardization(p, mlp_model_input_mean(m), mlp_model_input_std(m), err);
    if (s != MLP_OK) {
        mlp_model_free(p);
        return s;
    }
    *out = p;
    return MLP_OK;
}

static int prune_run(const mlp_model *m, const char *data, const char *out_path)
{
    int rc = RS_EXIT_FAIL, n = 0;
    const int hidden = mlp_model_n_layers(m) - 1;
    float *x = probe_read(data, mlp_model_n_inputs(m), &n);
    if (!x) return RS_EXIT_FAIL;
    mlp_workspace *ws = NULL;
    mlp_model *p = NULL;
    mlp_activity act;
    bool act_ok = false;
    mlp_error err;
    bool *keep[MLP_MAX_LAYERS] = {0};
    int kept[MLP_MAX_LAYERS];
    float *y0 = malloc((size_t)n * (size_t)mlp_model_n_outputs(m) * sizeof(float));
    float *y1 = malloc((size_t)n * (size_t)mlp_model_n_outputs(m) * sizeof(float));
    bool oom = !y0 || !y1;
    for (int l = 0; l < hidden; l++)
        oom |= !(keep[l] = calloc((size_t)mlp_model_layer(m, l)->out, sizeof(bool)));
    if (oom) {
        fprintf(stderr, "reluserve prune: out of memory for %d rows\n", n);
        goto done;
    }
    mlp_status s = mlp_workspace_create(&ws, &err);
    /* The portable kernel (the library's default, set because the numbers
     * printed below depend on it): the outputs compared are the same bits on
     * every machine. The server computes with `--kernel native` by default,
     * so the forward times printed are the portable kernel's, not what
     * serving the model takes. */
    if (s == MLP_OK) s = mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, &err);
    if (s == MLP_OK) s = mlp_activity_init(m, &act, &err);
    act_ok = s == MLP_OK;
    if (s == MLP_OK) s = forward_all(m, ws, x, n, &act, y0, &err);
    if (s != MLP_OK) {
        fprintf(stderr, "reluserve prune: forward over %s failed: %s\n", data, err.msg);
        goto done;
    }
    keep_decide(m, &act, keep, kept);
    if (model_pruned(m, keep, kept, &p, &err) != MLP_OK ||
        forward_all(p, ws, x, n, NULL, y1, &err) != MLP_OK) {
        fprintf(stderr, "reluserve prune: cannot build the pruned model: %s\n", err.msg);
        goto done;
    }
    double diff = 0.0;
    for (size_t i = 0; i < (size_t)n * (size_t)mlp_model_n_outputs(m); i++) {
        double d = fabs((double)y0[i] - (double)y1[i]);
        if (!(d <= diff)) diff = d; /* NaN wins: it must show */
    }

    printf("probe set  %s, %d rows\n", data, n);
    printf("  layer  activation  units  removed  kept\n");
    for (int l = 0; l < hidden; l++) {
        const mlp_layer *L = mlp_model_layer(m, l);
        printf("  %5d  %-10s  %5d  %7d  %4d%s\n", l, mlp_activation_name(L->activation), L->out,
               L->out - kept[l], kept[l],
               L->activation != MLP_ACT_RELU ? "  (not ReLU: not pruned)" : "");
        if (L->activation == MLP_ACT_RELU && kept[l] == 1 && mlp_activity_never_active(&act, l, 0))
            printf("  warning: layer %d is dead on every probe row; it keeps unit 0, and the "
                   "model's output is the same for every probe row\n",
                   l);
    }
    double t0 = forward_ms(m, ws, x, n), t1 = forward_ms(p, ws, x, n);
    printf("parameters %zu -> %zu (%.1f%% fewer)\n", mlp_model_n_params(m), mlp_model_n_params(p),
           100.0 * (1.0 - (double)mlp_model_n_params(p) / (double)mlp_model_n_params(m)));
    printf("forward    %.3f ms -> %.3f ms over the probe set (fastest of 5)\n", t0, t1);
    printf("outputs    largest difference on the probe set %.3g\n", diff);
    if (!rs_mkdirs_for(out_path)) {
        fprintf(stderr, "reluserve prune: cannot create the folder for %s\n", out_path);
        goto done;
    }
    if (rs_model_save(p, out_path, &err) != MLP_OK) {
        fprintf(stderr, "reluserve prune: cannot save %s: %s\n", out_path, err.msg);
        goto done;
    }
    printf("saved      %s\n", out_path);
    rc = RS_EXIT_OK;
done:
    for (int l = 0; l < hidden; l++)
        free(keep[l]);
    if (act_ok) mlp_activity_free(&act);
    mlp_model_free(p);
    mlp_workspace_free(ws);
    free(y0);
    free(y1);
    free(x);
    return rc;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "reluserve prune: %s%s\n(see reluserve prune --help)\n", what, arg);
    return RS_EXIT_USAGE;
}

int rs_cmd_prune(int argc, char **argv)
{
    const char *path = NULL, *data = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(prune_usage, stdout);
            return RS_EXIT_OK;
        } else if (rs_arg_match(argc, argv, &i, "data", &v)) {
            if (!v) return usage_error("--data needs a file name", "");
            data = v;
        } else if (rs_arg_match(argc, argv, &i, "out", &v)) {
            if (!v) return usage_error("--out needs a path", "");
            out = v;
        } else if (argv[i][0] == '-' || path) {
            return usage_error("unexpected argument ", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return usage_error("MODEL_PATH is required", "");
    if (!data) return usage_error("--data PROBE.csv is required", "");
    if (!out) return usage_error("--out NEW.json|NEW.safetensors is required", "");
    if (!rs_path_ends_with(out, ".json") && !rs_path_ends_with(out, ".safetensors"))
        return usage_error("--out must end in .json or .safetensors, not ", out);
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_load(path, &m, &err) != MLP_OK) {
        fprintf(stderr, "reluserve prune: %s\n", err.msg);
        return RS_EXIT_FAIL;
    }
    int rc = prune_run(m, data, out);
    mlp_model_free(m);
    return rc;
}
