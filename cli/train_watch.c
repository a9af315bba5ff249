/*
 * train_watch — the per-epoch side of `reluserve train` (train_watch.h).
 *
 * Every measure here runs through its own workspace on libmlp's own
 * fixed-order kernels, like training, so the history file holds the same
 * numbers on every machine. The dead fraction is counted over every
 * training row after the epoch (mlp_activity: finite and <= 0 on all of
 * them), not over the last mini-batch, which says little about a unit; it
 * is mlp_train that counts it, in the pass over the training rows it makes
 * after each epoch anyway (mlp_train_params.activity, set by
 * rs_train_watch_params), so the rows go through one forward pass, not two.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train_watch.h"

#define WATCH_CHUNK 256
/* A terminal line is redrawn at most this often (seconds), except for the
 * first and last epochs: faster redraws only cost time. */
#define WATCH_REDRAW_S 0.1

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool classifier(const mlp_model *m)
{
    return mlp_model_task(m) == MLP_TASK_CLASSIFICATION;
}

static bool counts_dead(const mlp_model *m, int l)
{
    return mlp_activation_is_relu_family(mlp_model_layer(m, l)->activation);
}

mlp_status rs_rows_measure(const mlp_model *m, mlp_workspace *ws, const rs_rows *r, float *loss,
                           float *metric, mlp_error *err)
{
    mlp_target_kind kind;
    mlp_status s = mlp_target_select(m, r->labels != NULL, &kind, err);
    if (s != MLP_OK) return s;
    double sum = 0.0;
    for (int r0 = 0; r0 < r->n; r0 += WATCH_CHUNK) {
        int rows = r->n - r0 < WATCH_CHUNK ? r->n - r0 : WATCH_CHUNK;
        mlp_target t = {.kind = kind,
                        .labels = r->labels ? r->labels + r0 : NULL,
                        .targets = r->targets
                                       ? r->targets + (size_t)r0 * (size_t)mlp_model_n_outputs(m)
                                       : NULL};
        float g;
        s = mlp_forward(m, ws, r->x + (size_t)r0 * (size_t)mlp_model_n_inputs(m), rows, NULL, err);
        if (s == MLP_OK) s = mlp_loss(m, ws, 0, rows, &t, &g, err);
        if (s != MLP_OK) return s;
        sum += (double)g * rows; /* the loss is a mean over the chunk's rows */
    }
    *loss = (float)(sum / r->n);
    if (r->labels) return mlp_accuracy(m, ws, r->x, r->labels, r->n, metric, err);
    *metric = (float)sqrt(sum / r->n); /* MSE is the loss: its root is in the target's units */
    return MLP_OK;
}

bool rs_train_watch_init(rs_train_watch *w)
{
    const mlp_model *m = w->m;
    mlp_error err;
    w->best_loss = INFINITY;
    w->best_epoch = w->wait = w->last_epoch = 0;
    w->stopped = w->failed = w->act_ok = false;
    w->ws = NULL;
    w->best = NULL;
    w->last_val_loss = w->last_val_metric = NAN;
    mlp_status s = mlp_workspace_create(&w->ws, &err);
    if (s == MLP_OK) s = mlp_workspace_set_kernel(w->ws, MLP_KERNEL_PORTABLE, &err);
    if (s == MLP_OK) s = mlp_activity_init(m, &w->act, &err);
    w->act_ok = s == MLP_OK;
    if (s == MLP_OK && w->patience > 0 &&
        !(w->best = malloc(mlp_model_n_params(m) * sizeof(float))))
        s = MLP_ERR_NOMEM, snprintf(err.msg, sizeof err.msg, "out of memory for the best weights");
    if (s != MLP_OK) {
        snprintf(w->msg, sizeof w->msg, "%s", err.msg);
        return false;
    }
    if (w->history) {
        fprintf(w->history, "epoch,loss%s", classifier(m) ? ",accuracy" : "");
        if (w->val.n)
            fprintf(w->history, ",val_loss,%s", classifier(m) ? "val_accuracy" : "val_rmse");
        for (int l = 0; l < mlp_model_n_layers(m) - 1; l++)
            fprintf(w->history, ",dead_%d", l);
        fprintf(w->history, ",grad_norm\n");
    }
    w->start = w->shown = now_s();
    return true;
}

static void history_row(rs_train_watch *w, const mlp_epoch_stats *s)
{
    const mlp_model *m = w->m;
    FILE *h = w->history;
    fprintf(h, "%d,%.9g", s->epoch, (double)s->loss);
    if (classifier(m)) fprintf(h, ",%.9g", (double)s->accuracy);
    if (w->val.n) fprintf(h, ",%.9g,%.9g", (double)w->last_val_loss, (double)w->last_val_metric);
    for (int l = 0; l < mlp_model_n_layers(m) - 1; l++)
        if (counts_dead(m, l))
            fprintf(h, ",%.9g", (double)mlp_activity_never_active_fraction(&w->act, l));
        else
            fprintf(h, ",");
    fprintf(h, ",%.9g\n", (double)s->grad_norm);
    fflush(h);
}

/* "0.000/0.125": the dead fraction of each hidden layer, '-' where a layer
 * is not ReLU-family (its units are never 0 for a reason that matters). */
static void dead_text(const rs_train_watch *w, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int l = 0; l < mlp_model_n_layers(w->m) - 1 && used + 1 < len; l++) {
        int k = counts_dead(w->m, l)
                    ? snprintf(out + used, len - used, "%s%.3f", l ? "/" : "",
                               (double)mlp_activity_never_active_fraction(&w->act, l))
                    : snprintf(out + used, len - used, "%s-", l ? "/" : "");
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* "4.2s", "3m07s", "2h05m". */
static void duration_text(double s, char *out, size_t len)
{
    if (s < 60.0)
        snprintf(out, len, "%.1fs", s);
    else if (s < 3600.0)
        snprintf(out, len, "%dm%02ds", (int)(s / 60.0), (int)fmod(s, 60.0));
    else
        snprintf(out, len, "%dh%02dm", (int)(s / 3600.0), (int)fmod(s / 60.0, 60.0));
}

static void progress_show(rs_train_watch *w, const mlp_epoch_stats *s, bool last)
{
    const bool cls = classifier(w->m);
    char dead[256];
    dead_text(w, dead, sizeof dead);
    char val[96] = "";
    if (w->val.n)
        snprintf(val, sizeof val, "  val_loss %.6g  %s %.4f", (double)w->last_val_loss,
                 cls ? "val_accuracy" : "val_rmse", (double)w->last_val_metric);
    char acc[32] = "";
    if (cls) snprintf(acc, sizeof acc, "  accuracy %.4f", (double)s->accuracy);
    if (w->tty) {
        double t = now_s();
        if (!last && s->epoch != 1 && t - w->shown < WATCH_REDRAW_S) return;
        w->shown = t;
        double left = (t - w->start) / s->epoch * (w->epochs - s->epoch);
        char when[32];
        duration_text(last ? t - w->start : left, when, sizeof when);
        /* \r and erase-line: the line is rewritten in place. */
        fprintf(w->out, "\r\033[Kepoch %d/%d  loss %.6g%s%s  dead %s  %s %s", s->epoch, w->epochs,
                (double)s->loss, acc, val, dead, last ? "took" : "left", when);
        fflush(w->out);
        return;
    }
    if (s->epoch % w->log_every != 0 && s->epoch != w->epochs && s->epoch != 1 && !last) return;
    fprintf(w->out, "epoch %6d/%d  loss %.6g%s%s  dead %s  grad_norm %.4g\n", s->epoch, w->epochs,
            (double)s->loss, acc, val, dead, (double)s->grad_norm);
}

void rs_train_watch_params(rs_train_watch *w, mlp_train_params *tp)
{
    tp->on_epoch = rs_train_watch_epoch;
    tp->user = w;
    tp->activity = &w->act;
}

bool rs_train_watch_epoch(const mlp_epoch_stats *s, void *user)
{
    rs_train_watch *w = user;
    mlp_error err;
    w->last_epoch = s->epoch;
    mlp_status st = MLP_OK;
    if (w->val.n)
        st = rs_rows_measure(w->m, w->ws, &w->val, &w->last_val_loss, &w->last_val_metric, &err);
    if (st != MLP_OK) {
        snprintf(w->msg, sizeof w->msg, "epoch %d: %s", s->epoch, err.msg);
        w->failed = true;
        return false;
    }
    if (w->patience > 0) {
        if (w->last_val_loss < w->best_loss) { /* NaN never improves */
            w->best_loss = w->last_val_loss;
            w->best_epoch = s->epoch;
            w->wait = 0;
            memcpy(w->best, mlp_model_params(w->m), mlp_model_n_params(w->m) * sizeof(float));
        } else if (++w->wait >= w->patience) {
            w->stopped = true;
        }
    }
    if (w->history) history_row(w, s);
    progress_show(w, s, w->stopped || s->epoch == w->epochs);
    return !w->stopped;
}

void rs_train_watch_finish(rs_train_watch *w)
{
    if (w->tty && w->last_epoch) fputc('\n', w->out);
    /* Cannot fail: w->best holds exactly the model's parameter count. */
    if (w->best && w->best_epoch > 0)
        (void)mlp_model_set_params(w->m, w->best, mlp_model_n_params(w->m), NULL);
}

void rs_train_watch_free(rs_train_watch *w)
{
    if (w->act_ok) mlp_activity_free(&w->act);
    w->act_ok = false;
    mlp_workspace_free(w->ws);
    w->ws = NULL;
    free(w->best);
    w->best = NULL;
}
