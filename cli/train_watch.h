/*
 * train_watch — what `reluserve train` does after every epoch: measures the
 * model on the validation rows, reads its dead units on the training rows
 * (counted by mlp_train's own pass after the epoch: rs_train_watch_params),
 * keeps the best weights for --early-stop, shows the progress and writes the
 * --history CSV. It only reads the model while training runs, so a run
 * without a validation split trains exactly the bits it trained before.
 */
#ifndef RS_TRAIN_WATCH_H
#define RS_TRAIN_WATCH_H

#include <stdbool.h>
#include <stdio.h>

#include "mlp.h"

/* Rows of a data set as mlp_train takes them: labels or targets. */
typedef struct {
    int n;
    const float *x;       /* n x n_inputs */
    const int *labels;    /* classification, or NULL */
    const float *targets; /* regression (n x n_outputs), or NULL */
} rs_rows;

typedef struct {
    mlp_model *m;  /* trained in place; restored to the best epoch at the end */
    rs_rows val;   /* validation rows; n == 0 without --val-split */
    int epochs;    /* planned */
    int log_every; /* plain lines: every N epochs, plus the first and last */
    int patience;  /* --early-stop N; 0 = off */
    bool tty;      /* progress as one line rewritten in place */
    FILE *out;     /* where the progress goes (stderr) */
    FILE *history; /* --history CSV, or NULL */

    /* state */
    mlp_workspace *ws;
    mlp_activity act;
    bool act_ok;
    float *best;     /* parameters of the best epoch (early stop) */
    float best_loss; /* its validation loss */
    int best_epoch, wait, last_epoch;
    bool stopped; /* early stop ended training */
    double start; /* seconds, monotonic */
    double shown; /* when the tty line was last drawn */
    float last_val_loss, last_val_metric;
    bool failed;
    char msg[600];
} rs_train_watch;

/* Sets up w (fields above "state" filled by the caller); writes the history
 * header. False with w->msg on failure; rs_train_watch_free either way. */
bool rs_train_watch_init(rs_train_watch *w);
/* mlp_train's epoch callback (user = the rs_train_watch). Returns false to
 * stop: patience exhausted, or a failure (w->failed, w->msg). */
bool rs_train_watch_epoch(const mlp_epoch_stats *s, void *user);
/* Hooks w (made by rs_train_watch_init) into tp: the callback, and the
 * activity mlp_train counts on the training rows after each epoch. */
void rs_train_watch_params(rs_train_watch *w, mlp_train_params *tp);
/* After training: ends the tty line, restores the best weights when early
 * stopping kept some. */
void rs_train_watch_finish(rs_train_watch *w);
void rs_train_watch_free(rs_train_watch *w);

/* Validation loss (the training loss on these rows) and metric: accuracy for
 * a classifier, root mean squared error for a regressor. */
mlp_status rs_rows_measure(const mlp_model *m, mlp_workspace *ws, const rs_rows *r, float *loss,
                           float *metric, mlp_error *err);

#endif /* RS_TRAIN_WATCH_H */
