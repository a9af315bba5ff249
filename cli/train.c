/*
 * train — `reluserve train`: fit an MLP to a CSV file and save it.
 *
 * The CSV's last column is the class name (classification) or the last
 * --targets columns are the regression targets, unless --target names the
 * column (the reader then moves it to the end); every other column is an
 * input feature. Classes become model labels in order of first appearance in
 * the file (so output unit k is the k-th distinct class seen), which keeps
 * the mapping obvious from the data and stable under appending rows.
 *
 * Inputs are standardised by default: the training set's per-column mean and
 * population standard deviation are stored in the model, which applies them
 * inside forward, so clients keep sending raw values. A constant column gets
 * std 1 (it carries no information; dividing by 0 would not help).
 *
 * --val-split F holds out a fraction of the rows, chosen by a shuffle seeded
 * with --seed, before anything is fitted (the standardisation too), so the
 * validation numbers are about rows the model never saw. The per-epoch work
 * (validation, dead units, early stopping, progress, history) is in
 * train_watch.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mlp.h"
#include "train_watch.h"

static const char train_usage[] =
    "usage: reluserve train --data FILE.csv --task classification|regression\n"
    "                       --layers N[,N...] --out PATH.json|PATH.safetensors [options]\n"
    "\n"
    "Trains a multilayer perceptron on a CSV file (header line, one row per sample)\n"
    "and saves it as a native JSON model or safetensors + config.json.\n"
    "\n"
    "  --data FILE            training data; the last column is the class name\n"
    "                         (classification) or the last --targets columns are the\n"
    "                         targets (regression); all other columns are inputs\n"
    "  --target COLUMN        the label (classification) or target (regression) is\n"
    "                         the column with this header name, wherever it is\n"
    "  --task T               classification (softmax output, cross-entropy) or\n"
    "                         regression (identity output, mean squared error)\n"
    "  --output-activation A  classification output: softmax (default; one unit per\n"
    "                         class) or sigmoid (two classes only: one unit, the\n"
    "                         probability of the second class, binary cross-entropy)\n"
    "  --layers LIST          hidden layer widths, e.g. 16,16\n"
    "  --out PATH             where to save; .json or .safetensors (config.json is\n"
    "                         written beside a .safetensors file); folders are created\n"
    "  --activation A         hidden activation: relu (default), leaky_relu, tanh, sigmoid\n"
    "  --alpha X              leaky_relu slope for x < 0 (default 0.01)\n"
    "  --optimizer O          adam (default) or sgd (momentum 0.9)\n"
    "  --lr X                 learning rate (default 0.01)\n"
    "  --momentum X           SGD momentum (default 0.9)\n"
    "  --weight-decay X       L2 penalty added to the gradient (default 0)\n"
    "  --clip-norm X          clip the global gradient norm to X (default 0: off)\n"
    "  --epochs N             passes over the data (default 100)\n"
    "  --batch-size N         rows per mini-batch (default 32)\n"
    "  --seed N               initialisation and shuffling seed (default 1)\n"
    "  --standardize yes|no   store per-column mean/std in the model (default yes)\n"
    "  --targets N            regression: number of target columns (default 1)\n"
    "  --name NAME            model name (default: the data file's name without .csv)\n"
    "  --val-split F          hold out this fraction of the rows (0 < F < 1), chosen by\n"
    "                         a shuffle seeded with --seed, and report the validation\n"
    "                         loss and accuracy (classification) or root mean squared\n"
    "                         error (regression) after every epoch\n"
    "  --early-stop N         stop when the validation loss has not improved for N\n"
    "                         epochs and keep the weights of the best epoch (needs\n"
    "                         --val-split)\n"
    "  --history FILE.csv     write per-epoch metrics: epoch, loss, accuracy, val_loss,\n"
    "                         val_accuracy or val_rmse, dead fraction per hidden layer\n"
    "                         (over all training rows; empty for non-ReLU layers),\n"
    "                         grad_norm\n"
    "  --log-every N          without a terminal: a progress line every N epochs\n"
    "                         (default epochs/10)\n"
    "  --help                 this text\n"
    "\n"
    "Classes are numbered in order of first appearance in the file; a sigmoid model's\n"
    "label is the name of class 1 (the second seen). Progress goes to stderr: on a\n"
    "terminal one line rewritten in place every epoch (loss, validation metric, dead\n"
    "fraction per hidden layer, time left), otherwise plain lines. The final summary\n"
    "goes to stdout. Exit status: 0 ok, 1 failure, 2 usage.\n";

typedef struct {
    const char *data, *out, *name;
    mlp_task task;
    bool task_set;
    int hidden[MLP_MAX_LAYERS];
    int n_hidden;
    mlp_activation activation;
    float alpha;
    bool sigmoid_output; /* classification: one sigmoid unit, binary cross-entropy */
    bool output_set;
    mlp_train_params tp;
    bool standardize;
    int n_targets;
    int log_every;
    const char *target;  /* --target COLUMN, or NULL */
    float val_split;     /* 0 = none */
    int early_stop;      /* patience in epochs, 0 = off */
    const char *history; /* --history FILE.csv, or NULL */
} train_opts;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "reluserve train: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see reluserve train --help)\n");
    return RS_EXIT_USAGE;
}

/* "16,16" -> {16, 16}. */
static bool layers_parse(const char *s, train_opts *o)
{
    o->n_hidden = 0;
    const char *p = s;
    while (*p) {
        char tmp[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof tmp || o->n_hidden >= MLP_MAX_LAYERS - 1) return false;
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        long v;
        if (!rs_arg_int(tmp, 1, MLP_MAX_UNITS, &v)) return false;
        o->hidden[o->n_hidden++] = (int)v;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return false;
        }
    }
    return o->n_hidden > 0;
}

/* Parses argv into o. Returns -1 to go on, or an exit code. */
static int opts_parse(int argc, char **argv, train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->activation = MLP_ACT_RELU;
    o->alpha = MLP_LEAKY_RELU_ALPHA;
    o->tp = mlp_train_default_params();
    o->tp.optimizer = MLP_OPT_ADAM;
    o->tp.learning_rate = 0.01f;
    o->standardize = true;
    o->n_targets = 1;
    bool targets_set = false;
    const char *layers = NULL;

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long n;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(train_usage, stdout);
            return RS_EXIT_OK;
        } else if (rs_arg_match(argc, argv, &i, "data", &v)) {
            if (!v) return usage_error("--data needs a file name", "");
            o->data = v;
        } else if (rs_arg_match(argc, argv, &i, "out", &v)) {
            if (!v) return usage_error("--out needs a path", "");
            o->out = v;
        } else if (rs_arg_match(argc, argv, &i, "name", &v)) {
            if (!v || !*v) return usage_error("--name needs a non-empty name", "");
            o->name = v;
        } else if (rs_arg_match(argc, argv, &i, "task", &v)) {
            bool regression;
            if (!rs_arg_choice(v, "classification", "regression", &regression))
                return usage_error("--task must be classification or regression, not '%s'",
                                   v ? v : "");
            o->task = regression ? MLP_TASK_REGRESSION : MLP_TASK_CLASSIFICATION;
            o->task_set = true;
        } else if (rs_arg_match(argc, argv, &i, "layers", &v)) {
            if (!v || !layers_parse(v, o))
                return usage_error("--layers must be a comma-separated list of widths in "
                                   "[1, 65536], like 16,16 (got '%s')",
                                   v ? v : "");
            layers = v;
        } else if (rs_arg_match(argc, argv, &i, "activation", &v)) {
            if (!v || mlp_activation_parse(v, &o->activation, NULL) != MLP_OK ||
                o->activation == MLP_ACT_SOFTMAX || o->activation == MLP_ACT_IDENTITY)
                return usage_error("--activation must be relu, leaky_relu, tanh or sigmoid, "
                                   "not '%s'",
                                   v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "output-activation", &v)) {
            if (!rs_arg_choice(v, "softmax", "sigmoid", &o->sigmoid_output))
                return usage_error("--output-activation must be softmax or sigmoid, not '%s'",
                                   v ? v : "");
            o->output_set = true;
        } else if (rs_arg_match(argc, argv, &i, "alpha", &v)) {
            if (!rs_arg_float(v, &o->alpha) || o->alpha < 0.0f || o->alpha >= 1.0f)
                return usage_error("--alpha must be a number in [0, 1), not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "optimizer", &v)) {
            bool sgd;
            if (!rs_arg_choice(v, "adam", "sgd", &sgd))
                return usage_error("--optimizer must be adam or sgd, not '%s'", v ? v : "");
            o->tp.optimizer = sgd ? MLP_OPT_SGD : MLP_OPT_ADAM;
        } else if (rs_arg_match(argc, argv, &i, "lr", &v)) {
            if (!rs_arg_float(v, &o->tp.learning_rate) || !(o->tp.learning_rate > 0.0f))
                return usage_error("--lr must be a number > 0, not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "momentum", &v)) {
            if (!rs_arg_float(v, &o->tp.momentum) || o->tp.momentum < 0.0f ||
                o->tp.momentum >= 1.0f)
                return usage_error("--momentum must be a number in [0, 1), not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "weight-decay", &v)) {
            if (!rs_arg_float(v, &o->tp.weight_decay) || o->tp.weight_decay < 0.0f)
                return usage_error("--weight-decay must be a number >= 0, not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "clip-norm", &v)) {
            if (!rs_arg_float(v, &o->tp.clip_norm) || o->tp.clip_norm < 0.0f)
                return usage_error("--clip-norm must be a number >= 0, not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "epochs", &v)) {
            if (!rs_arg_int(v, 1, 100000000, &n))
                return usage_error("--epochs must be an integer >= 1, not '%s'", v ? v : "");
            o->tp.epochs = (int)n;
        } else if (rs_arg_match(argc, argv, &i, "batch-size", &v)) {
            if (!rs_arg_int(v, 1, 1 << 20, &n))
                return usage_error("--batch-size must be an integer in [1, 1048576], not '%s'",
                                   v ? v : "");
            o->tp.batch_size = (int)n;
        } else if (rs_arg_match(argc, argv, &i, "seed", &v)) {
            char *end;
            errno = 0;
            unsigned long long s = v ? strtoull(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || v[0] == '-')
                return usage_error("--seed must be a non-negative integer, not '%s'", v ? v : "");
            o->tp.seed = (uint64_t)s;
        } else if (rs_arg_match(argc, argv, &i, "standardize", &v)) {
            if (!rs_arg_choice(v, "no", "yes", &o->standardize))
                return usage_error("--standardize must be yes or no, not '%s'", v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "targets", &v)) {
            if (!rs_arg_int(v, 1, MLP_MAX_UNITS, &n))
                return usage_error("--targets must be an integer >= 1, not '%s'", v ? v : "");
            o->n_targets = (int)n;
            targets_set = true;
        } else if (rs_arg_match(argc, argv, &i, "target", &v)) {
            if (!v || !*v) return usage_error("--target needs a column name%s", "");
            o->target = v;
        } else if (rs_arg_match(argc, argv, &i, "val-split", &v)) {
            if (!rs_arg_float(v, &o->val_split) || !(o->val_split > 0.0f) || !(o->val_split < 1.0f))
                return usage_error("--val-split must be a fraction in (0, 1), like 0.2, not '%s'",
                                   v ? v : "");
        } else if (rs_arg_match(argc, argv, &i, "early-stop", &v)) {
            if (!rs_arg_int(v, 1, 100000000, &n))
                return usage_error("--early-stop must be a patience in epochs >= 1, not '%s'",
                                   v ? v : "");
            o->early_stop = (int)n;
        } else if (rs_arg_match(argc, argv, &i, "history", &v)) {
            if (!v || !*v) return usage_error("--history needs a file name%s", "");
            o->history = v;
        } else if (rs_arg_match(argc, argv, &i, "log-every", &v)) {
            if (!rs_arg_int(v, 1, 100000000, &n))
                return usage_error("--log-every must be an integer >= 1, not '%s'", v ? v : "");
            o->log_every = (int)n;
        } else {
            return usage_error("unknown argument '%s'", argv[i]);
        }
    }
    if (!o->data) return usage_error("--data FILE.csv is required%s", "");
    if (!o->task_set) return usage_error("--task classification|regression is required%s", "");
    if (!layers) return usage_error("--layers is required (hidden widths, e.g. 16,16)%s", "");
    if (!o->out) return usage_error("--out PATH is required%s", "");
    if (!rs_path_ends_with(o->out, ".json") && !rs_path_ends_with(o->out, ".safetensors"))
        return usage_error("--out must end in .json or .safetensors, not '%s'", o->out);
    if (targets_set && o->task == MLP_TASK_CLASSIFICATION)
        return usage_error("--targets is for regression; a classifier reads one label column%s",
                           "");
    if (o->output_set && o->task != MLP_TASK_CLASSIFICATION)
        return usage_error("--output-activation is for classification; regression has an "
                           "identity output%s",
                           "");
    if (o->target && targets_set)
        return usage_error("--target names the one target column; --targets N takes the last N "
                           "columns: give one of them%s",
                           "");
    if (o->early_stop && o->val_split == 0.0f)
        return usage_error("--early-stop watches the validation loss: add --val-split, like "
                           "--val-split 0.2%s",
                           "");
    if (o->log_every == 0) o->log_every = o->tp.epochs >= 10 ? o->tp.epochs / 10 : 1;
    return -1;
}

/* ------------------------------------------------------------ the data */

typedef struct {
    int n, n_in, n_out;
    float *x;       /* n x n_in */
    int *labels;    /* classification: n class indices */
    float *targets; /* regression: n x n_out */
    char **classes; /* classification: n_out names, owned */
} train_data;

static void data_free(train_data *d)
{
    rs_strings_free(d->classes, d->n_out);
    free(d->x);
    free(d->labels);
    free(d->targets);
}

/* Index of name among classes, adding it when new; -1 when out of memory. */
static int class_index(train_data *d, int *cap, const char *name)
{
    for (int k = 0; k < d->n_out; k++)
        if (strcmp(d->classes[k], name) == 0) return k;
    if (d->n_out == *cap) {
        int ncap = *cap ? *cap * 2 : 8;
        char **c = realloc(d->classes, (size_t)ncap * sizeof(char *));
        if (!c) return -1;
        d->classes = c;
        *cap = ncap;
    }
    if (!(d->classes[d->n_out] = strdup(name))) return -1;
    return d->n_out++;
}

/* Splits the CSV into inputs and labels/targets; false with a message. */
static bool data_from_csv(const rs_csv *c, const train_opts *o, train_data *d)
{
    memset(d, 0, sizeof *d);
    int n_lab = o->task == MLP_TASK_CLASSIFICATION ? 1 : o->n_targets;
    if (c->cols <= n_lab) {
        fprintf(stderr,
                "reluserve train: %s has %d columns; need at least one input column plus %d "
                "%s column%s\n",
                o->data, c->cols, n_lab,
                n_lab == 1 && o->task == MLP_TASK_CLASSIFICATION ? "label" : "target",
                n_lab == 1 ? "" : "s");
        return false;
    }
    d->n = c->rows;
    d->n_in = c->cols - n_lab;
    if (d->n_in > MLP_MAX_UNITS) {
        fprintf(stderr, "reluserve train: %s has %d input columns (limit %d)\n", o->data, d->n_in,
                MLP_MAX_UNITS);
        return false;
    }
    d->x = malloc((size_t)d->n * (size_t)d->n_in * sizeof(float));
    if (o->task == MLP_TASK_CLASSIFICATION)
        d->labels = malloc((size_t)d->n * sizeof(int));
    else
        d->targets = malloc((size_t)d->n * (size_t)n_lab * sizeof(float));
    if (!d->x || (!d->labels && !d->targets)) {
        fprintf(stderr, "reluserve train: out of memory for %d rows\n", d->n);
        return false;
    }
    int class_cap = 0;
    for (int i = 0; i < d->n; i++) {
        const float *row = c->num + (size_t)i * (size_t)c->cols;
        int numeric_cols = o->task == MLP_TASK_CLASSIFICATION ? d->n_in : c->cols;
        for (int j = 0; j < numeric_cols; j++)
            if (isnan(row[j])) {
                fprintf(stderr, "reluserve train: %s:%d: column '%s' is not a number%s\n", o->data,
                        c->line[i], c->header[j],
                        j >= d->n_in ? " (regression targets are numbers; class names need "
                                       "--task classification)"
                                     : "");
                return false;
            }
        memcpy(d->x + (size_t)i * d->n_in, row, (size_t)d->n_in * sizeof(float));
        if (d->targets) {
            memcpy(d->targets + (size_t)i * n_lab, row + d->n_in, (size_t)n_lab * sizeof(float));
            continue;
        }
        if (!c->last[i][0]) {
            fprintf(stderr, "reluserve train: %s:%d: empty class name in column '%s'\n", o->data,
                    c->line[i], c->header[c->cols - 1]);
            return false;
        }
        int k = class_index(d, &class_cap, c->last[i]);
        if (k < 0 || d->n_out > MLP_MAX_UNITS) {
            fprintf(stderr, "reluserve train: %s: too many classes\n", o->data);
            return false;
        }
        d->labels[i] = k;
    }
    if (d->targets) d->n_out = n_lab;
    if (d->labels && d->n_out < 2) {
        fprintf(stderr, "reluserve train: %s has a single class '%s'; a classifier needs two\n",
                o->data, d->classes[0]);
        return false;
    }
    if (d->labels && o->sigmoid_output && d->n_out != 2) {
        fprintf(stderr,
                "reluserve train: %s has %d classes; a sigmoid output separates exactly two "
                "(use --output-activation softmax)\n",
                o->data, d->n_out);
        return false;
    }
    return true;
}

/* ----------------------------------------------------------- the model */

static mlp_model *model_build(const train_opts *o, const train_data *d)
{
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    for (int l = 0; l < o->n_hidden; l++)
        spec[l] = (mlp_layer_spec){o->hidden[l], o->activation, o->alpha};
    /* A sigmoid classifier has one unit for two classes: its logit is the
     * log-odds of class 1, trained with binary cross-entropy. */
    mlp_activation out_act = o->task != MLP_TASK_CLASSIFICATION ? MLP_ACT_IDENTITY
                             : o->sigmoid_output                ? MLP_ACT_SIGMOID
                                                                : MLP_ACT_SOFTMAX;
    spec[o->n_hidden] = (mlp_layer_spec){o->sigmoid_output ? 1 : d->n_out, out_act, 0};
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_create(d->n_in, spec, o->n_hidden + 1, &m, &err) != MLP_OK ||
        mlp_model_init(m, MLP_INIT_AUTO, o->tp.seed, &err) != MLP_OK) {
        fprintf(stderr, "reluserve train: cannot build the model: %s\n", err.msg);
        mlp_model_free(m);
        return NULL;
    }
    mlp_model_set_task(m, o->task, NULL); /* a task opts_parse accepted */

    /* Name: --name, or the data file's base name without its extension. */
    char name[256];
    if (o->name) {
        snprintf(name, sizeof name, "%s", o->name);
    } else {
        const char *base = strrchr(o->data, '/');
        snprintf(name, sizeof name, "%s", base ? base + 1 : o->data);
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = '\0';
    }
    bool ok = mlp_model_set_name(m, name, NULL) == MLP_OK;
    /* One name per output unit: a sigmoid model's one output is class 1. */
    const char *const *names = (const char *const *)d->classes;
    if (ok && names)
        ok = mlp_model_set_labels(m, o->sigmoid_output ? names + 1 : names, NULL) == MLP_OK;
    if (ok && o->standardize) {
        float *mean = malloc((size_t)d->n_in * sizeof(float));
        float *sd = malloc((size_t)d->n_in * sizeof(float));
        ok = mean && sd;
        for (int j = 0; ok && j < d->n_in; j++) {
            double s = 0.0, s2 = 0.0;
            for (int i = 0; i < d->n; i++)
                s += d->x[(size_t)i * d->n_in + j];
            s /= d->n;
            for (int i = 0; i < d->n; i++) {
                double e = d->x[(size_t)i * d->n_in + j] - s;
                s2 += e * e;
            }
            double std = sqrt(s2 / d->n);
            mean[j] = (float)s;
            sd[j] = std > 1e-12 && (float)std > 0.0f ? (float)std : 1.0f;
        }
        if (ok && mlp_model_set_standardization(m, mean, sd, &err) != MLP_OK) {
            fprintf(stderr, "reluserve train: cannot store standardisation: %s\n", err.msg);
            ok = false;
        }
        free(mean);
        free(sd);
    }
    if (!ok) {
        fprintf(stderr, "reluserve train: out of memory setting up the model\n");
        mlp_model_free(m);
        return NULL;
    }
    return m;
}

/* Mean squared error over all outputs of the whole data set, in chunks. */
static mlp_status regression_mse(const mlp_model *m, mlp_workspace *ws, const train_data *d,
                                 double *mse, mlp_error *err)
{
    double sum = 0.0;
    const int chunk = 256;
    for (int r0 = 0; r0 < d->n; r0 += chunk) {
        int rows = d->n - r0 < chunk ? d->n - r0 : chunk;
        mlp_target t = {.kind = MLP_TARGET_MSE, .targets = d->targets + (size_t)r0 * d->n_out};
        float loss;
        mlp_status s = mlp_forward(m, ws, d->x + (size_t)r0 * d->n_in, rows, NULL, err);
        if (s == MLP_OK) s = mlp_loss(m, ws, 0, rows, &t, &loss, err);
        if (s != MLP_OK) return s;
        sum += (double)loss * rows;
    }
    *mse = sum / d->n;
    return MLP_OK;
}

/*
 * Moves round(frac x n) rows, picked by a Fisher-Yates shuffle seeded with
 * seed, out of d into val (which owns its arrays; classes stay with d). d
 * keeps the other rows in file order. False with a message when either side
 * would be empty or memory runs out.
 */
static bool data_split(train_data *d, float frac, uint64_t seed, const char *path, train_data *val)
{
    memset(val, 0, sizeof *val);
    const int n = d->n, in = d->n_in, out = d->n_out;
    const int nv = (int)lround((double)frac * n);
    if (nv < 1 || nv > n - 1) {
        fprintf(stderr,
                "reluserve train: --val-split %g of %s's %d rows leaves %s; it needs at least one "
                "training and one validation row\n",
                (double)frac, path, n, nv < 1 ? "no validation row" : "no training row");
        return false;
    }
    int *idx = malloc((size_t)n * sizeof(int));
    bool *is_val = calloc((size_t)n, sizeof(bool));
    *val = (train_data){.n = nv, .n_in = in, .n_out = out};
    val->x = malloc((size_t)nv * (size_t)in * sizeof(float));
    if (d->labels) val->labels = malloc((size_t)nv * sizeof(int));
    if (d->targets) val->targets = malloc((size_t)nv * (size_t)out * sizeof(float));
    if (!idx || !is_val || !val->x || (d->labels && !val->labels) ||
        (d->targets && !val->targets)) {
        fprintf(stderr, "reluserve train: out of memory splitting %d rows\n", n);
        free(idx);
        free(is_val);
        return false;
    }
    for (int i = 0; i < n; i++)
        idx[i] = i;
    mlp_rng rng;
    mlp_rng_seed(&rng, seed);
    mlp_rng_shuffle(&rng, idx, n);
    for (int k = 0; k < nv; k++) {
        int r = idx[k];
        is_val[r] = true;
        memcpy(val->x + (size_t)k * in, d->x + (size_t)r * in, (size_t)in * sizeof(float));
        if (d->labels) val->labels[k] = d->labels[r];
        if (d->targets)
            memcpy(val->targets + (size_t)k * out, d->targets + (size_t)r * out,
                   (size_t)out * sizeof(float));
    }
    int w = 0; /* compacts the training rows in place: w <= r always */
    for (int r = 0; r < n; r++) {
        if (is_val[r]) continue;
        memmove(d->x + (size_t)w * in, d->x + (size_t)r * in, (size_t)in * sizeof(float));
        if (d->labels) d->labels[w] = d->labels[r];
        if (d->targets)
            memmove(d->targets + (size_t)w * out, d->targets + (size_t)r * out,
                    (size_t)out * sizeof(float));
        w++;
    }
    d->n = w;
    free(idx);
    free(is_val);
    return true;
}

static rs_rows rows_of(const train_data *d)
{
    return (rs_rows){.n = d->n, .x = d->x, .labels = d->labels, .targets = d->targets};
}

/* Opens the --history file (folders created); NULL with a message. */
static FILE *history_open(const char *path)
{
    FILE *f = rs_mkdirs_for(path) ? fopen(path, "w") : NULL;
    if (!f)
        fprintf(stderr, "reluserve train: cannot write --history %s: %s\n", path, strerror(errno));
    return f;
}

int rs_cmd_train(int argc, char **argv)
{
    train_opts o;
    int rc = opts_parse(argc, argv, &o);
    if (rc >= 0) return rc;

    rs_csv csv;
    char msg[600];
    if (!rs_csv_read_with(o.data, o.target, &csv, msg, sizeof msg)) {
        fprintf(stderr, "reluserve train: %s\n", msg);
        rs_csv_free(&csv);
        return RS_EXIT_FAIL;
    }
    train_data d, val;
    memset(&val, 0, sizeof val);
    bool ok = data_from_csv(&csv, &o, &d);
    rs_csv_free(&csv);
    if (ok && o.val_split > 0.0f) ok = data_split(&d, o.val_split, o.tp.seed, o.data, &val);
    mlp_model *m = ok ? model_build(&o, &d) : NULL;
    mlp_workspace *ws = NULL;
    rs_train_watch w = {0};
    bool watching = false;
    FILE *history = NULL;
    rc = RS_EXIT_FAIL;
    if (!m) goto done;
    if (!rs_mkdirs_for(o.out)) {
        fprintf(stderr, "reluserve train: cannot create the folder for %s: %s\n", o.out,
                strerror(errno));
        goto done;
    }
    if (o.history && !(history = history_open(o.history))) goto done;

    fprintf(stderr, "training %s on %s: %d rows", mlp_model_name(m), o.data, d.n);
    if (val.n) fprintf(stderr, " (%d more held out for validation)", val.n);
    fprintf(stderr, ", %d inputs -> %d %s, %zu parameters\n", d.n_in, d.n_out,
            o.task == MLP_TASK_CLASSIFICATION ? "classes" : "targets", mlp_model_n_params(m));
    if (o.sigmoid_output)
        fprintf(stderr, "one sigmoid output: P('%s') against '%s' (binary cross-entropy)\n",
                d.classes[1], d.classes[0]);
    w = (rs_train_watch){.m = m,
                         .val = rows_of(&val),
                         .epochs = o.tp.epochs,
                         .log_every = o.log_every,
                         .patience = o.early_stop,
                         .tty = isatty(fileno(stderr)) == 1,
                         .out = stderr,
                         .history = history};
    watching = true;
    if (!rs_train_watch_init(&w)) {
        fprintf(stderr, "reluserve train: %s\n", w.msg);
        goto done;
    }
    rs_train_watch_params(&w, &o.tp);
    mlp_error err;
    mlp_status trained = mlp_train(m, d.x, d.labels, d.targets, d.n, &o.tp, &err);
    rs_train_watch_finish(&w);
    if (trained != MLP_OK || w.failed) {
        fprintf(stderr, "reluserve train: %s\n", trained != MLP_OK ? err.msg : w.msg);
        goto done;
    }
    if (history && fclose(history) != 0) {
        history = NULL;
        fprintf(stderr, "reluserve train: cannot write --history %s: %s\n", o.history,
                strerror(errno));
        goto done;
    }
    history = NULL;
    if (w.stopped)
        fprintf(stderr,
                "early stop at epoch %d: no lower validation loss for %d epochs; keeping the "
                "weights of epoch %d\n",
                w.last_epoch, o.early_stop, w.best_epoch);
    if (rs_model_save(m, o.out, &err) != MLP_OK) {
        fprintf(stderr, "reluserve train: cannot save %s: %s\n", o.out, err.msg);
        goto done;
    }
    /* The summary printed below, like the training before it, never goes
     * through BLAS: the same numbers on every machine. */
    float acc = 0.0f, vloss = NAN, vmetric = NAN;
    double mse = 0.0;
    mlp_status s = mlp_workspace_create(&ws, &err);
    if (s == MLP_OK) s = mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, &err);
    if (s == MLP_OK)
        s = d.labels ? mlp_accuracy(m, ws, d.x, d.labels, d.n, &acc, &err)
                     : regression_mse(m, ws, &d, &mse, &err);
    if (s == MLP_OK && val.n) {
        rs_rows vr = rows_of(&val);
        s = rs_rows_measure(m, ws, &vr, &vloss, &vmetric, &err);
    }
    if (s != MLP_OK) {
        fprintf(stderr, "reluserve train: saved %s, but cannot measure it: %s\n", o.out, err.msg);
        goto done;
    }
    if (d.labels)
        printf("%s: training accuracy %.4f (%ld/%d), saved to %s\n", mlp_model_name(m), (double)acc,
               lround((double)acc * d.n), d.n, o.out);
    else
        printf("%s: training MSE %.6g over %d rows, saved to %s\n", mlp_model_name(m), mse, d.n,
               o.out);
    if (val.n)
        printf("%s: validation loss %.9g, %s %.4f over %d rows\n", mlp_model_name(m), (double)vloss,
               d.labels ? "accuracy" : "rmse", (double)vmetric, val.n);
    rc = RS_EXIT_OK;
done:
    if (history) fclose(history);
    if (watching) rs_train_watch_free(&w);
    mlp_workspace_free(ws);
    mlp_model_free(m);
    data_free(&d);
    data_free(&val);
    return rc;
}
