/*
 * status — status strings, the error-message helper and activation names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *mlp_status_str(mlp_status s)
{
    switch (s) {
    case MLP_OK:
        return "ok";
    case MLP_ERR_NOMEM:
        return "out of memory";
    case MLP_ERR_INVALID:
        return "invalid argument";
    case MLP_ERR_IO:
        return "input/output error";
    case MLP_ERR_FORMAT:
        return "malformed model";
    case MLP_ERR_UNSUPPORTED:
        return "unsupported";
    case MLP_ERR_LIMIT:
        return "limit exceeded";
    }
    return "unknown status";
}

mlp_status mlp_set_error(mlp_error *err, mlp_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

/* Indexed by mlp_activation. */
static const char *const activation_names[] = {
    "relu", "leaky_relu", "sigmoid", "tanh", "identity", "softmax",
};
#define N_ACTIVATIONS ((int)(sizeof activation_names / sizeof activation_names[0]))

const char *mlp_activation_name(mlp_activation a)
{
    if ((int)a < 0 || (int)a >= N_ACTIVATIONS) return "unknown";
    return activation_names[a];
}

mlp_status mlp_activation_parse(const char *name, mlp_activation *out, mlp_error *err)
{
    if (!name) return mlp_set_error(err, MLP_ERR_INVALID, "activation name is NULL");
    for (int i = 0; i < N_ACTIVATIONS; i++) {
        if (strcmp(name, activation_names[i]) == 0) {
            if (out) *out = (mlp_activation)i;
            return MLP_OK;
        }
    }
    return mlp_set_error(err, MLP_ERR_INVALID,
                         "unknown activation \"%.64s\" (expected relu, leaky_relu, sigmoid, "
                         "tanh, identity or softmax)",
                         name);
}

bool mlp_activation_is_relu_family(mlp_activation a)
{
    return a == MLP_ACT_RELU || a == MLP_ACT_LEAKY_RELU;
}
