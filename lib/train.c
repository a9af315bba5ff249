/*
 * train — mini-batch training: SGD with momentum, Adam, gradient clipping.
 *
 * Everything here goes through the public API (mlp_forward, mlp_backward,
 * mlp_workspace_param_grad, mlp_diagnose), so training exercises exactly the
 * code that serves requests. The optimisers follow PyTorch's update rules, so
 * a user can reproduce a run in torch and compare numbers:
 *
 *   SGD (torch.optim.SGD, dampening 0, no Nesterov):
 *       g += wd * p;   v = mu * v + g;   p -= lr * v
 *   (torch initialises v to g on the first step, which is mu * 0 + g.)
 *
 *   Adam (torch.optim.Adam, weight decay added to the gradient, not AdamW):
 *       g += wd * p
 *       m = b1 * m + (1 - b1) * g
 *       v = b2 * v + (1 - b2) * g^2
 *       p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   The bias corrections undo the pull of the zero-initialised moments
 *   towards 0 during the first steps (E[m_t] = (1 - b1^t) E[g]).
 *
 *   Clipping (torch.nn.utils.clip_grad_norm_), before the optimiser step:
 *       N = ||g||_2 over all parameters;  g *= min(1, c / (N + 1e-6)).
 *   As in PyTorch, weight decay is added after clipping, inside the step.
 *
 * Memory: one workspace, the optimiser moments, one gradient buffer and the
 * mini-batch gather buffers are allocated once per mlp_train call; the epoch
 * loop allocates nothing.
 *
 * Order: rows are shuffled in place at the start of every epoch by Fisher-Yates
 * from one mlp_rng seeded with params.seed (the permutation carries over from
 * epoch to epoch), and the last mini-batch may be short (PyTorch's DataLoader
 * with drop_last=False). Same model, data and params: same bits.
 *
 * Failure: argument errors are found before the model is touched. If the loss
 * stops being finite mid-way (learning rate too high), mlp_train returns
 * MLP_ERR_INVALID and m holds the parameters of the failing step; train a
 * clone (mlp_model_clone) when the original must survive that.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"
#include "mlp.h"

/* Rows per forward pass when evaluating a whole data set. */
#define TRAIN_EVAL_CHUNK 256

/* ------------------------------------------------------------ defaults */

mlp_train_params mlp_train_default_params(void)
{
    /* Members not named are zero: no weight decay, no clipping, no callback. */
    return (mlp_train_params){
        .optimizer = MLP_OPT_SGD,
        .learning_rate = 0.01f,
        .momentum = 0.9f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .epsilon = 1e-8f,
        .epochs = 100,
        .batch_size = 32,
        .seed = 1,
    };
}

/* ------------------------------------------------------------ accuracy */

static int argmax_row(const float *row, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/*
 * One forward pass over n rows, in chunks so the workspace never needs more
 * than TRAIN_EVAL_CHUNK rows, that measures what is asked of it: with
 * accuracy, the fraction of rows whose predicted class (argmax of the
 * output; ties go to the lowest index) equals the reference class:
 * labels[i], or the argmax of the target row when labels is NULL (target
 * distributions). A one-output classifier predicts class 1 when its logit z
 * is > 0, which is σ(z) > 1/2 decided on z (σ of a tiny z rounds to exactly
 * 0.5 in float); its reference class for a target t (the probability of
 * class 1) is t > 1/2, the argmax of (1-t, t). With act, every row's
 * activity is added to it.
 */
static mlp_status eval_pass(const mlp_model *m, mlp_workspace *ws, const float *x,
                            const int *labels, const float *targets, int n, float *accuracy,
                            mlp_activity *act, mlp_error *err)
{
    long right = 0;
    const bool binary = mlp_model_classes(m) == 2 && m->n_outputs == 1;
    for (int r0 = 0; r0 < n; r0 += TRAIN_EVAL_CHUNK) {
        int rows = n - r0 < TRAIN_EVAL_CHUNK ? n - r0 : TRAIN_EVAL_CHUNK;
        mlp_status s = mlp_forward(m, ws, x + (size_t)r0 * m->n_inputs, rows, NULL, err);
        if (s == MLP_OK && act) s = mlp_activity_add(act, ws, 0, rows, err);
        if (s != MLP_OK) return s;
        if (!accuracy) continue;
        const float *y = mlp_workspace_output(ws);
        if (binary) {
            const float *z = mlp_workspace_preactivation(ws, m->n_layers - 1);
            for (int i = 0; i < rows; i++) {
                int want = labels ? labels[r0 + i] : targets[r0 + i] > 0.5f;
                right += (z[i] > 0.0f) == (want == 1);
            }
            continue;
        }
        for (int i = 0; i < rows; i++) {
            int want = labels ? labels[r0 + i]
                              : argmax_row(targets + (size_t)(r0 + i) * m->n_outputs, m->n_outputs);
            if (argmax_row(y + (size_t)i * m->n_outputs, m->n_outputs) == want) right++;
        }
    }
    if (accuracy) *accuracy = (float)((double)right / (double)n);
    return MLP_OK;
}

mlp_status mlp_accuracy(const mlp_model *m, mlp_workspace *ws, const float *x, const int *labels,
                        int n, float *accuracy, mlp_error *err)
{
    if (!m || !ws || !x || !labels || !accuracy)
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "model, workspace, x, labels or accuracy pointer is NULL");
    if (n < 1) return mlp_set_error(err, MLP_ERR_INVALID, "rows must be >= 1, got %d", n);
    return eval_pass(m, ws, x, labels, NULL, n, accuracy, NULL, err);
}

/* ---------------------------------------------------------- optimisers */

/* Per-call optimiser state: moments parallel to m->params. */
typedef struct {
    float *m1; /* SGD velocity, or Adam first moment */
    float *m2; /* Adam second moment; NULL for SGD */
    long step; /* optimiser steps taken (Adam's t) */
} train_state;

/* The optimisers read the gradient where backward left it and apply the
 * clipping factor c (1 when not clipping) on the way: no copy, no extra pass. */
static void step_sgd(float *p, const float *grad, float c, train_state *st, size_t n,
                     const mlp_train_params *tp)
{
    const float lr = tp->learning_rate, mu = tp->momentum, wd = tp->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * c + wd * p[i];
        float v = mu * st->m1[i] + g;
        st->m1[i] = v;
        p[i] -= lr * v;
    }
}

static void step_adam(float *p, const float *grad, float c, train_state *st, size_t n,
                      const mlp_train_params *tp)
{
    const float b1 = tp->beta1, b2 = tp->beta2, eps = tp->epsilon, wd = tp->weight_decay;
    st->step++;
    /* Bias corrections in double, as torch computes them in Python floats. */
    double bc1 = 1.0 - pow((double)b1, (double)st->step);
    double bc2 = 1.0 - pow((double)b2, (double)st->step);
    const float step_size = (float)((double)tp->learning_rate / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * c + wd * p[i];
        float m1 = b1 * st->m1[i] + (1.0f - b1) * g;
        float m2 = b2 * st->m2[i] + (1.0f - b2) * g * g;
        st->m1[i] = m1;
        st->m2[i] = m2;
        float denom = sqrtf(m2) / bc2_sqrt + eps;
        p[i] -= step_size * (m1 / denom);
    }
}

/* --------------------------------------------------------- validation */

static mlp_status check_params(const mlp_train_params *p, mlp_error *err)
{
    if (!(p->learning_rate > 0.0f) || !isfinite(p->learning_rate))
        return mlp_set_error(err, MLP_ERR_INVALID, "learning_rate must be a finite number > 0");
    if (!(p->weight_decay >= 0.0f) || !isfinite(p->weight_decay))
        return mlp_set_error(err, MLP_ERR_INVALID, "weight_decay must be a finite number >= 0");
    if (!(p->clip_norm >= 0.0f) || !isfinite(p->clip_norm))
        return mlp_set_error(err, MLP_ERR_INVALID, "clip_norm must be >= 0 (0 turns clipping off)");
    if (p->epochs < 1) return mlp_set_error(err, MLP_ERR_INVALID, "epochs must be >= 1");
    if (p->batch_size < 1) return mlp_set_error(err, MLP_ERR_INVALID, "batch_size must be >= 1");
    if (p->optimizer == MLP_OPT_SGD) {
        if (!(p->momentum >= 0.0f && p->momentum < 1.0f))
            return mlp_set_error(err, MLP_ERR_INVALID, "momentum must be in [0, 1)");
    } else if (p->optimizer == MLP_OPT_ADAM) {
        if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f))
            return mlp_set_error(err, MLP_ERR_INVALID, "Adam betas must be in [0, 1)");
        if (!(p->epsilon > 0.0f) || !isfinite(p->epsilon))
            return mlp_set_error(err, MLP_ERR_INVALID, "Adam epsilon must be a finite number > 0");
    } else {
        return mlp_set_error(err, MLP_ERR_INVALID, "unknown optimizer %d", (int)p->optimizer);
    }
    return MLP_OK;
}

static mlp_status check_data(const mlp_model *m, const float *x, const int *labels,
                             const float *targets, int n, mlp_error *err)
{
    if (!x) return mlp_set_error(err, MLP_ERR_INVALID, "x is NULL");
    if (n <= 0) return mlp_set_error(err, MLP_ERR_INVALID, "n must be > 0 rows, got %d", n);
    if ((labels == NULL) == (targets == NULL))
        return mlp_set_error(err, MLP_ERR_INVALID, "pass exactly one of labels and targets");
    mlp_target_kind kind;
    mlp_status s = mlp_target_select(m, labels != NULL, &kind, err);
    if (s != MLP_OK) return s;
    size_t nx = (size_t)n * (size_t)m->n_inputs;
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]))
            return mlp_set_error(err, MLP_ERR_INVALID, "x[%zu] (row %zu) is not a finite number", i,
                                 i / (size_t)m->n_inputs);
    if (targets) {
        size_t nt = (size_t)n * (size_t)m->n_outputs;
        for (size_t i = 0; i < nt; i++)
            if (!isfinite(targets[i]))
                return mlp_set_error(err, MLP_ERR_INVALID,
                                     "targets[%zu] (row %zu) is not a finite number", i,
                                     i / (size_t)m->n_outputs);
    }
    mlp_target t = {.kind = kind, .labels = labels, .targets = targets};
    return mlp_target_check(m, &t, n, err);
}

/* ------------------------------------------------------------ training */

/* Buffers owned by one mlp_train call. */
typedef struct {
    mlp_workspace *ws;
    train_state st;
    int *order; /* row permutation, reshuffled every epoch */
    float *xb;  /* gathered mini-batch inputs */
    int *lb;    /* gathered labels, or NULL */
    float *tb;  /* gathered targets, or NULL */
} train_buffers;

static void buffers_free(train_buffers *b)
{
    mlp_workspace_free(b->ws);
    free(b->st.m1);
    free(b->st.m2);
    free(b->order);
    free(b->xb);
    free(b->lb);
    free(b->tb);
}

static mlp_status buffers_alloc(train_buffers *b, const mlp_model *m, int n, int bs, bool labels,
                                const mlp_train_params *p, mlp_error *err)
{
    memset(b, 0, sizeof *b);
    mlp_status s = mlp_workspace_create(&b->ws, err);
    if (s != MLP_OK) return s;
    /* Own kernels only (the default, made explicit because training relies
     * on it): their fixed summation order gives the same bits on every
     * machine, whatever BLAS build and CPU kernel it would pick. */
    s = mlp_workspace_set_kernel(b->ws, MLP_KERNEL_PORTABLE, err);
    if (s != MLP_OK) return s;
    b->st.m1 = calloc(m->n_params, sizeof(float));
    if (p->optimizer == MLP_OPT_ADAM) b->st.m2 = calloc(m->n_params, sizeof(float));
    b->order = malloc((size_t)n * sizeof(int));
    b->xb = malloc((size_t)bs * (size_t)m->n_inputs * sizeof(float));
    if (labels)
        b->lb = malloc((size_t)bs * sizeof(int));
    else
        b->tb = malloc((size_t)bs * (size_t)m->n_outputs * sizeof(float));
    if (!b->st.m1 || (p->optimizer == MLP_OPT_ADAM && !b->st.m2) || !b->order || !b->xb ||
        (labels ? !b->lb : !b->tb))
        return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory for training buffers");
    /* Room for a mini-batch and for the evaluation chunks, so the epoch loop
     * never grows the workspace. */
    int eval_rows = n < TRAIN_EVAL_CHUNK ? n : TRAIN_EVAL_CHUNK;
    int rows = bs > eval_rows ? bs : eval_rows;
    s = mlp_workspace_reserve(b->ws, m, rows, err);
    if (s != MLP_OK) return s;
    for (int i = 0; i < n; i++)
        b->order[i] = i;
    return MLP_OK;
}

/* Copies the rows order[r0 .. r0+rows) into the contiguous batch buffers. */
static void batch_gather(train_buffers *b, const mlp_model *m, const float *x, const int *labels,
                         const float *targets, int r0, int rows)
{
    const size_t in = (size_t)m->n_inputs, out = (size_t)m->n_outputs;
    for (int i = 0; i < rows; i++) {
        int r = b->order[r0 + i];
        memcpy(b->xb + (size_t)i * in, x + (size_t)r * in, in * sizeof(float));
        if (labels)
            b->lb[i] = labels[r];
        else
            memcpy(b->tb + (size_t)i * out, targets + (size_t)r * out, out * sizeof(float));
    }
}

/*
 * One optimiser step from the gradient backward left in ws, clipped on the
 * fly. Returns the global norm before clipping (what clip_grad_norm_
 * returns), which the epoch statistics report.
 */
static float step_take(mlp_model *m, train_buffers *b, const mlp_train_params *p)
{
    const float *grad = mlp_workspace_param_grad(b->ws);
    double norm = sqrt(mlp_sum_squares(grad, m->n_params)); /* in double: ~1e6 squares */
    float c = 1.0f;
    if (p->clip_norm > 0.0f) {
        double coef = (double)p->clip_norm / (norm + 1e-6);
        if (coef < 1.0) c = (float)coef;
    }
    if (p->optimizer == MLP_OPT_ADAM)
        step_adam(m->params, grad, c, &b->st, m->n_params, p);
    else
        step_sgd(m->params, grad, c, &b->st, m->n_params, p);
    mlp_native_drop(m); /* a native forward since the last step (on_epoch) packed the old W */
    return (float)norm;
}

mlp_status mlp_train(mlp_model *m, const float *x, const int *labels, const float *targets, int n,
                     const mlp_train_params *params, mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    mlp_train_params p = params ? *params : mlp_train_default_params();
    mlp_status s = check_params(&p, err);
    if (s != MLP_OK) return s;
    s = check_data(m, x, labels, targets, n, err);
    if (s != MLP_OK) return s;
    s = mlp_model_validate(m, err);
    if (s != MLP_OK) return s;

    const int bs = p.batch_size < n ? p.batch_size : n;
    mlp_target tgt = {.kind = MLP_TARGET_MAX_LOGIT};
    mlp_target_select(m, labels != NULL, &tgt.kind, NULL); /* check_data ran it */
    const bool classify = m->task == MLP_TASK_CLASSIFICATION;

    train_buffers b;
    s = buffers_alloc(&b, m, n, bs, labels != NULL, &p, err);
    if (s != MLP_OK) {
        buffers_free(&b);
        return s;
    }
    tgt.labels = b.lb;
    tgt.targets = b.tb;

    mlp_rng rng;
    mlp_rng_seed(&rng, p.seed);
    for (int epoch = 1; epoch <= p.epochs; epoch++) {
        mlp_rng_shuffle(&rng, b.order, n);
        double loss_sum = 0.0;
        mlp_epoch_stats es = {.epoch = epoch, .accuracy = NAN, .dead_fraction = 0.0f};
        for (int r0 = 0; r0 < n; r0 += bs) {
            int rows = n - r0 < bs ? n - r0 : bs;
            batch_gather(&b, m, x, labels, targets, r0, rows);
            float loss = NAN;
            mlp_error e;
            s = mlp_forward(m, b.ws, b.xb, rows, NULL, &e);
            if (s == MLP_OK) s = mlp_backward(m, b.ws, 0, rows, &tgt, &loss, &e);
            if (s != MLP_OK) {
                mlp_set_error(err, s, "epoch %d: %s", epoch, e.msg);
                goto done;
            }
            if (!isfinite(loss)) {
                s = mlp_set_error(err, MLP_ERR_INVALID,
                                  "training diverged at epoch %d (loss is not finite); "
                                  "lower the learning rate or set clip_norm",
                                  epoch);
                goto done;
            }
            /* The batch loss is a mean over its rows, so weight it by rows to
             * make the epoch loss a mean over the epoch's rows. */
            loss_sum += (double)loss * rows;
            if (r0 + rows >= n && p.on_epoch) {
                mlp_diagnostics d;
                s = mlp_diagnose(m, b.ws, NULL, &d, err);
                if (s != MLP_OK) goto done;
                es.dead_fraction = d.dead_fraction;
            }
            es.grad_norm = step_take(m, &b, &p);
        }
        if (!p.on_epoch) continue;
        es.loss = (float)(loss_sum / n);
        if (p.activity) mlp_activity_reset(p.activity);
        if (classify || p.activity) {
            s = eval_pass(m, b.ws, x, labels, targets, n, classify ? &es.accuracy : NULL,
                          p.activity, err);
            if (s != MLP_OK) goto done;
        }
        if (!p.on_epoch(&es, p.user)) break;
    }
    s = MLP_OK;
done:
    buffers_free(&b);
    return s;
}
