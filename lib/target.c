/*
 * target — which loss a `labels` or `targets` tensor means for a model, and
 * whether its values are ones that loss is defined for.
 *
 * The losses are PyTorch's defaults (DESIGN.md "Diagnostics contract"):
 *   classifier, K >= 2 outputs: labels -> CrossEntropyLoss on the logits Z_L,
 *                               targets -> cross-entropy against distributions;
 *   classifier, one output:     labels 0/1 or targets in [0, 1] ->
 *                               BCEWithLogitsLoss on the one logit;
 *   regression:                 targets -> MSELoss on A_L.
 * Everything else has no loss whose gradient means anything, and is refused
 * with a message naming the combination rather than answered with zeros: a
 * softmax over one logit is 1 whatever the logit, so cross-entropy on a
 * one-output model is 0 with a zero gradient everywhere.
 */
#include <math.h>
#include <stdio.h>

#include "internal.h"

/* A one-output classifier whose output is not a softmax (which would be
 * constant): its logit is the log-odds of class 1. */
static bool is_binary(const mlp_model *m)
{
    return m->task == MLP_TASK_CLASSIFICATION && m->n_outputs == 1 &&
           m->layers[m->n_layers - 1].activation != MLP_ACT_SOFTMAX;
}

int mlp_model_classes(const mlp_model *m)
{
    if (!m || m->task != MLP_TASK_CLASSIFICATION) return 0;
    if (m->n_outputs >= 2) return m->n_outputs;
    return is_binary(m) ? 2 : 0;
}

mlp_status mlp_target_select(const mlp_model *m, bool labels, mlp_target_kind *kind, mlp_error *err)
{
    if (!m || !kind) return mlp_set_error(err, MLP_ERR_INVALID, "model or kind is NULL");
    if (m->task == MLP_TASK_REGRESSION) {
        if (labels)
            return mlp_set_error(
                err, MLP_ERR_INVALID,
                "model '%s' is a regression model; send 'targets' instead of class labels",
                m->name);
        *kind = MLP_TARGET_MSE;
        return MLP_OK;
    }
    if (m->n_outputs >= 2) {
        *kind = labels ? MLP_TARGET_LABELS : MLP_TARGET_DISTRIBUTION;
        return MLP_OK;
    }
    if (!is_binary(m))
        return mlp_set_error(err, MLP_ERR_INVALID,
                             "model '%s' is a classifier with one softmax output, which is 1 "
                             "whatever the input: no %s loss has a gradient there (a binary "
                             "classifier needs a sigmoid or identity output)",
                             m->name, labels ? "label" : "target");
    *kind = MLP_TARGET_BINARY;
    return MLP_OK;
}

mlp_status mlp_target_check(const mlp_model *m, const mlp_target *t, int n, mlp_error *err)
{
    if (!m || !t || n < 0) return mlp_set_error(err, MLP_ERR_INVALID, "model or target is NULL");
    const int K = m->n_outputs;
    switch (t->kind) {
    case MLP_TARGET_MAX_LOGIT:
        return MLP_OK;
    case MLP_TARGET_LABELS:
    case MLP_TARGET_DISTRIBUTION:
        if (K < 2)
            return mlp_set_error(err, MLP_ERR_INVALID,
                                 "cross-entropy over one output is 0 whatever the input; a "
                                 "one-output classifier takes binary cross-entropy");
        break;
    case MLP_TARGET_BINARY:
        if (t->labels && K != 1)
            return mlp_set_error(err, MLP_ERR_INVALID,
                                 "binary cross-entropy on labels needs a one-output model, not "
                                 "%d outputs (send targets in [0, 1] per output instead)",
                                 K);
        break;
    case MLP_TARGET_MSE:
        break;
    default:
        return mlp_set_error(err, MLP_ERR_INVALID, "unknown target kind %d", (int)t->kind);
    }
    bool use_labels = t->kind == MLP_TARGET_LABELS || (t->kind == MLP_TARGET_BINARY && t->labels);
    if (use_labels) {
        if (!t->labels) return mlp_set_error(err, MLP_ERR_INVALID, "labels are NULL");
        int classes = t->kind == MLP_TARGET_BINARY ? 2 : K;
        for (int i = 0; i < n; i++)
            if (t->labels[i] < 0 || t->labels[i] >= classes)
                return mlp_set_error(
                    err, MLP_ERR_INVALID, "labels[%d] = %d is out of range [0, %d)%s", i,
                    t->labels[i], classes,
                    t->kind == MLP_TARGET_BINARY ? " (a one-output classifier takes labels 0 and 1)"
                                                 : "");
        return MLP_OK;
    }
    if (!t->targets) return mlp_set_error(err, MLP_ERR_INVALID, "targets are NULL");
    if (t->kind == MLP_TARGET_BINARY) {
        size_t count = (size_t)n * (size_t)K;
        for (size_t i = 0; i < count; i++)
            if (!(t->targets[i] >= 0.0f && t->targets[i] <= 1.0f))
                return mlp_set_error(err, MLP_ERR_INVALID,
                                     "targets[%zu] (row %zu) = %.9g is not in [0, 1] (binary "
                                     "cross-entropy takes the probability of class 1)",
                                     i, i / (size_t)K, (double)t->targets[i]);
    }
    return MLP_OK;
}

mlp_target_kind mlp_target_kind_for_targets(const mlp_model *m)
{
    mlp_target_kind k = MLP_TARGET_MSE;
    if (mlp_target_select(m, false, &k, NULL) != MLP_OK) k = MLP_TARGET_DISTRIBUTION;
    return k;
}
