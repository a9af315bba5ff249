/*
 * io_onnx — MLPs exported by torch.onnx.export, read without the ONNX
 * library: io_onnx_graph.c decodes the graph, this file matches its nodes
 * against the layers libmlp has and builds the model.
 *
 * The graph must be one chain from the single graph input to the single graph
 * output, each node taking the previous node's output:
 *
 *   [Flatten(axis=1)] ( Gemm | MatMul [Add] ) [activation] ( ... )*
 *
 * Gemm computes alpha·A·B' + beta·C with A the running tensor (transA = 0),
 * B the weight initializer ([out, in] with transB = 1, as torch writes
 * nn.Linear; [in, out] with transB = 0) and C the optional bias. alpha and
 * beta are folded into the weight and the bias. MatMul takes a weight
 * [in, out] (x @ W), which is transposed into our out × in layout; an Add
 * right after it with an initializer of out values is its bias. Activations:
 * Relu, LeakyRelu (alpha, default 0.01), Sigmoid, Tanh, Softmax (axis 1 or
 * -1, which are the same on [batch, features]; last layer only) and Identity
 * (anywhere, a no-op). Weights are FLOAT, DOUBLE, FLOAT16 or BFLOAT16, in
 * raw_data or the typed fields. Anything else is refused, naming the node.
 *
 * What the graph does not say (task, labels, standardisation, nicer tensor
 * names) may come from a config.json with the same keys as the safetensors
 * one (io_safetensors.c); the graph supplies input.name, output.name and the
 * task (classification when the last layer is softmax) when it leaves them
 * out. "activations"/"alpha" in such a config must agree with the graph.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_onnx_graph.h"

static const char SUPPORTED[] =
    "Gemm, MatMul+Add, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Flatten, Identity";

/* ------------------------------------------------------------ the chain */

typedef struct {
    int node;                 /* the Gemm or MatMul, for messages */
    const onnx_tensor *w, *b; /* b NULL: zero bias */
    bool in_out;              /* w stored [in, out] */
    float alpha, beta;
    int in, out;
    bool has_act;
    mlp_activation act;
    float leak;
    int act_node;
} plan_layer;

typedef struct {
    plan_layer l[MLP_MAX_LAYERS];
    int n;
    bool flatten;            /* a Flatten precedes the first layer */
    const onnx_value *input; /* the graph input */
    const onnx_value *output;
} plan;

static const onnx_attr *find_attr(const onnx_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (mlp_onnx_span_is(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

/* Attribute `name` of node n (index) in *out, or NULL when absent; refused
 * when its declared type is not `type` (type_name in messages). */
static mlp_status attr_typed(const onnx_node *n, int index, const char *name, int type,
                             const char *type_name, const char *origin, const onnx_attr **out,
                             mlp_error *err)
{
    *out = find_attr(n, name);
    if (*out && (*out)->type != 0 && (*out)->type != type)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "node %d: attribute %s has type %d, expected %s", index, name,
                           (*out)->type, type_name);
    return MLP_OK;
}

static mlp_status attr_int(const onnx_node *n, int index, const char *name, int64_t def,
                           const char *origin, int64_t *out, mlp_error *err)
{
    const onnx_attr *a;
    mlp_status s = attr_typed(n, index, name, ONNX_ATTR_INT, "INT", origin, &a, err);
    *out = a && s == MLP_OK ? a->i : def;
    return s;
}

static mlp_status attr_float(const onnx_node *n, int index, const char *name, float def,
                             const char *origin, float *out, mlp_error *err)
{
    const onnx_attr *a;
    mlp_status s = attr_typed(n, index, name, ONNX_ATTR_FLOAT, "FLOAT", origin, &a, err);
    *out = a && s == MLP_OK ? a->f : def;
    if (s == MLP_OK && !isfinite(*out))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "node %d: attribute %s is not finite",
                           index, name);
    return s;
}

/* A weight initializer: rank 2, dims in [1, MLP_MAX_UNITS]. */
static mlp_status weight_get(const onnx_graph *g, const onnx_node *n, int index, onnx_span name,
                             const char *origin, const onnx_tensor **out, mlp_error *err)
{
    char nb[72], ob[72];
    const onnx_tensor *t = mlp_onnx_find_init(g, name);
    if (!t)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s): weight \"%s\" is not an initializer (only constant "
                           "weights stored in the graph are supported)",
                           index, mlp_onnx_span_show(n->op, ob), mlp_onnx_span_show(name, nb));
    if (t->ndim != 2)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "node %d (%s): weight \"%s\" has %d dimensions, expected 2", index,
                           mlp_onnx_span_show(n->op, ob), mlp_onnx_span_show(name, nb), t->ndim);
    for (int i = 0; i < 2; i++) {
        if (t->dims[i] < 1)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                               "initializer \"%s\": dims[%d] = %lld, expected >= 1",
                               mlp_onnx_span_show(name, nb), i, (long long)t->dims[i]);
        if (t->dims[i] > MLP_MAX_UNITS)
            return mlp_io_fail(err, origin, MLP_ERR_LIMIT,
                               "initializer \"%s\": dims[%d] = %lld exceeds the limit of %d",
                               mlp_onnx_span_show(name, nb), i, (long long)t->dims[i],
                               MLP_MAX_UNITS);
    }
    *out = t;
    return MLP_OK;
}

/* A bias initializer for `out` units: [out], [1, out], or one value broadcast. */
static mlp_status bias_get(const onnx_graph *g, int index, const char *op, onnx_span name,
                           int out_units, const char *origin, const onnx_tensor **out,
                           mlp_error *err)
{
    char nb[72];
    const onnx_tensor *t = mlp_onnx_find_init(g, name);
    if (!t)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s): bias \"%s\" is not an initializer (only constant "
                           "biases stored in the graph are supported)",
                           index, op, mlp_onnx_span_show(name, nb));
    uint64_t count;
    bool ok = mlp_onnx_tensor_numel(t, &count) && t->ndim <= 2 &&
              (count == 1 || (count == (uint64_t)out_units &&
                              (t->ndim == 1 || (t->ndim == 2 && t->dims[0] == 1))));
    if (!ok)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "node %d (%s): bias \"%s\" must have shape [%d] or [1, %d]", index, op,
                           mlp_onnx_span_show(name, nb), out_units, out_units);
    *out = t;
    return MLP_OK;
}

static bool is_activation(onnx_span op, mlp_activation *a)
{
    static const struct {
        const char *op;
        mlp_activation act;
    } ops[] = {{"Relu", MLP_ACT_RELU},
               {"LeakyRelu", MLP_ACT_LEAKY_RELU},
               {"Sigmoid", MLP_ACT_SIGMOID},
               {"Tanh", MLP_ACT_TANH},
               {"Softmax", MLP_ACT_SOFTMAX}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (mlp_onnx_span_is(op, ops[i].op)) {
            *a = ops[i].act;
            return true;
        }
    return false;
}

static mlp_status plan_linear(const onnx_graph *g, const onnx_node *n, int index, bool gemm,
                              const char *origin, plan *p, mlp_error *err)
{
    const char *op = gemm ? "Gemm" : "MatMul";
    if (p->n == MLP_MAX_LAYERS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "more than %d layers", MLP_MAX_LAYERS);
    plan_layer *l = &p->l[p->n];
    memset(l, 0, sizeof *l);
    l->node = index;
    l->alpha = l->beta = 1.0f;
    int max_in = gemm ? 3 : 2;
    if (n->n_in < 2 || n->n_in > max_in)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "node %d (%s) has %d inputs, expected %s",
                           index, op, n->n_in, gemm ? "2 or 3" : "2");
    mlp_status s = weight_get(g, n, index, n->in[1], origin, &l->w, err);
    if (s != MLP_OK) return s;
    l->in_out = true;
    if (gemm) {
        int64_t ta, tb;
        if ((s = attr_int(n, index, "transA", 0, origin, &ta, err)) != MLP_OK ||
            (s = attr_int(n, index, "transB", 0, origin, &tb, err)) != MLP_OK ||
            (s = attr_float(n, index, "alpha", 1.0f, origin, &l->alpha, err)) != MLP_OK ||
            (s = attr_float(n, index, "beta", 1.0f, origin, &l->beta, err)) != MLP_OK)
            return s;
        if (ta != 0)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (Gemm) has transA = %lld; only 0 is supported (the "
                               "input must be [batch, features])",
                               index, (long long)ta);
        if (tb != 0 && tb != 1)
            return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "node %d (Gemm) has transB = %lld",
                               index, (long long)tb);
        l->in_out = tb == 0;
    }
    l->in = (int)l->w->dims[l->in_out ? 0 : 1];
    l->out = (int)l->w->dims[l->in_out ? 1 : 0];
    if (p->n > 0 && l->in != p->l[p->n - 1].out) {
        char nb[72];
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "node %d (%s): weight \"%s\" takes %d inputs, but the layer before "
                           "has %d outputs",
                           index, op, mlp_onnx_span_show(l->w->name, nb), l->in,
                           p->l[p->n - 1].out);
    }
    if (gemm && n->n_in == 3 && n->in[2].len > 0) { /* "" marks an omitted input */
        s = bias_get(g, index, op, n->in[2], l->out, origin, &l->b, err);
        if (s != MLP_OK) return s;
    }
    p->n++;
    return MLP_OK;
}

/* The graph's one input (older exports also list the initializers as
 * inputs: those are skipped) and its one output. */
static mlp_status plan_io(const onnx_graph *g, const char *origin, plan *p, mlp_error *err)
{
    char nb[72], ob[72];
    p->input = NULL;
    for (int i = 0; i < g->n_inputs; i++) {
        if (mlp_onnx_find_init(g, g->inputs[i].name)) continue;
        if (p->input)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "the graph has more than one input (\"%s\" and \"%s\"); an MLP "
                               "takes one",
                               mlp_onnx_span_show(p->input->name, nb),
                               mlp_onnx_span_show(g->inputs[i].name, ob));
        p->input = &g->inputs[i];
    }
    if (!p->input) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "the graph has no input");
    if (g->n_outputs != 1)
        return mlp_io_fail(err, origin, g->n_outputs ? MLP_ERR_UNSUPPORTED : MLP_ERR_FORMAT,
                           "the graph has %d outputs, expected 1", g->n_outputs);
    p->output = &g->outputs[0];
    return MLP_OK;
}

/* Node i must be a supported op of the standard domain with one output,
 * taking the running tensor: as its input *data_in (1 only for an Add that
 * takes it second, b + x @ W). *act is the activation it computes, if any. */
static mlp_status node_check(const onnx_node *n, int i, onnx_span running, const char *origin,
                             mlp_activation *act, int *data_in, mlp_error *err)
{
    char nb[72], ob[72];
    const char *op = mlp_onnx_span_show(n->op, ob);
    *act = MLP_ACT_IDENTITY;
    bool known = mlp_onnx_span_is(n->op, "Gemm") || mlp_onnx_span_is(n->op, "MatMul") ||
                 mlp_onnx_span_is(n->op, "Add") || mlp_onnx_span_is(n->op, "Flatten") ||
                 mlp_onnx_span_is(n->op, "Identity") || is_activation(n->op, act);
    if (!known || !(n->domain.len == 0 || mlp_onnx_span_is(n->domain, "ai.onnx")))
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s%s%s) is not supported; supported: %s", i,
                           n->domain.len ? mlp_onnx_span_show(n->domain, nb) : "",
                           n->domain.len ? "::" : "", op, SUPPORTED);
    if (n->n_out != 1)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s) has %d outputs, expected 1", i, op, n->n_out);
    bool is_add = mlp_onnx_span_is(n->op, "Add");
    *data_in = is_add && n->n_in == 2 && mlp_onnx_span_eq(n->in[1], running) ? 1 : 0;
    if (n->n_in < 1 || !mlp_onnx_span_eq(n->in[*data_in], running))
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s) does not take the output of the node before it "
                           "(\"%s\"); only a single chain of layers is supported",
                           i, op, mlp_onnx_span_show(running, nb));
    return MLP_OK;
}

/* Activation node i (act) on the layer just planned, with its attributes:
 * LeakyRelu's alpha in [0, 1), Softmax over the features. */
static mlp_status plan_activation(const onnx_node *n, int i, mlp_activation act, int stage,
                                  const char *origin, plan *p, mlp_error *err)
{
    char ob[72];
    if (stage != 1 && stage != 2)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "node %d (%s) does not follow a Gemm or MatMul(+Add): each "
                           "layer has one activation",
                           i, mlp_onnx_span_show(n->op, ob));
    plan_layer *l = &p->l[p->n - 1];
    l->has_act = true;
    l->act = act;
    l->act_node = i;
    mlp_status s = MLP_OK;
    if (act == MLP_ACT_LEAKY_RELU) {
        s = attr_float(n, i, "alpha", MLP_LEAKY_RELU_ALPHA, origin, &l->leak, err);
        if (s == MLP_OK && !(l->leak >= 0.0f && l->leak < 1.0f))
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (LeakyRelu) has alpha = %g; supported: [0, 1)", i,
                               (double)l->leak);
    } else if (act == MLP_ACT_SOFTMAX) {
        int64_t axis;
        s = attr_int(n, i, "axis", -1, origin, &axis, err);
        if (s == MLP_OK && axis != 1 && axis != -1)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (Softmax) has axis = %lld; supported: 1 or -1 "
                               "(over the features)",
                               i, (long long)axis);
    }
    return s;
}

/*
 * Plans node i (checked by node_check). `stage` tracks where in the current
 * layer we are: 0 before any layer, 1 after Gemm, 2 after MatMul (an Add may
 * follow), 3 after an activation.
 */
static mlp_status plan_node(const onnx_graph *g, const onnx_node *n, int i, mlp_activation act,
                            int data_in, const char *origin, plan *p, int *stage, mlp_error *err)
{
    if (mlp_onnx_span_is(n->op, "Gemm") || mlp_onnx_span_is(n->op, "MatMul")) {
        bool gemm = mlp_onnx_span_is(n->op, "Gemm");
        *stage = gemm ? 1 : 2;
        return plan_linear(g, n, i, gemm, origin, p, err);
    }
    if (mlp_onnx_span_is(n->op, "Add")) {
        if (*stage != 2 || n->n_in != 2)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (Add) is supported only as the bias right after a "
                               "MatMul",
                               i);
        *stage = 1;
        return bias_get(g, i, "Add", n->in[1 - data_in], p->l[p->n - 1].out, origin,
                        &p->l[p->n - 1].b, err);
    }
    if (mlp_onnx_span_is(n->op, "Flatten")) {
        int64_t axis;
        mlp_status s = attr_int(n, i, "axis", 1, origin, &axis, err);
        if (s != MLP_OK) return s;
        if (*stage != 0 || p->flatten || axis != 1)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (Flatten) is supported only once, with axis 1, before "
                               "the first layer",
                               i);
        p->flatten = true;
        return MLP_OK;
    }
    if (mlp_onnx_span_is(n->op, "Identity")) return MLP_OK;
    mlp_status s = plan_activation(n, i, act, *stage, origin, p, err);
    *stage = 3;
    return s;
}

/* Matches the node chain from the graph input to the graph output. */
static mlp_status plan_build(const onnx_graph *g, const char *origin, plan *p, mlp_error *err)
{
    char nb[72], ob[72];
    p->n = 0;
    p->flatten = false;
    mlp_status s = plan_io(g, origin, p, err);
    onnx_span running = s == MLP_OK ? p->input->name : (onnx_span){NULL, 0};
    int stage = 0;
    for (int i = 0; s == MLP_OK && i < g->n_nodes; i++) {
        const onnx_node *n = &g->nodes[i];
        mlp_activation act;
        int data_in = 0;
        s = node_check(n, i, running, origin, &act, &data_in, err);
        if (s == MLP_OK) s = plan_node(g, n, i, act, data_in, origin, p, &stage, err);
        running = n->out;
    }
    if (s != MLP_OK) return s;
    if (p->n == 0)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the graph has no Gemm or MatMul node (no layers)");
    if (!mlp_onnx_span_eq(running, p->output->name))
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the graph output \"%s\" is not the output of the last node (\"%s\")",
                           mlp_onnx_span_show(p->output->name, nb),
                           mlp_onnx_span_show(running, ob));
    for (int l = 0; l + 1 < p->n; l++)
        if (p->l[l].has_act && p->l[l].act == MLP_ACT_SOFTMAX)
            return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                               "node %d (Softmax) is not on the last layer; softmax is supported "
                               "on the last layer only",
                               p->l[l].act_node);
    return MLP_OK;
}

/* The graph input's declared shape, when given, must fit the first layer. */
static mlp_status check_input_shape(const plan *p, const char *origin, mlp_error *err)
{
    const onnx_value *v = p->input;
    char nb[72];
    if (v->rank < 0) return MLP_OK;
    if (!p->flatten && v->rank != 2)
        return mlp_io_fail(err, origin, MLP_ERR_UNSUPPORTED,
                           "graph input \"%s\" has rank %d; an MLP takes [batch, features]",
                           mlp_onnx_span_show(v->name, nb), v->rank);
    if (v->rank < 2) return MLP_OK; /* Flatten of a [batch] tensor: nothing to check */
    uint64_t features = 1;
    for (int i = 1; i < v->rank; i++) {
        if (v->dims[i] < 0) return MLP_OK; /* symbolic */
        features *= (uint64_t)v->dims[i];
        if (features > ((uint64_t)1 << 40)) break;
    }
    if (features != (uint64_t)p->l[0].in)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "graph input \"%s\" has %llu features, but the first layer takes %d",
                           mlp_onnx_span_show(v->name, nb), (unsigned long long)features,
                           p->l[0].in);
    return MLP_OK;
}

/* ------------------------------------------------------------ the model */

/* Copies weight and bias of every layer into m (shape already checked). */
static mlp_status fill_params(const plan *p, mlp_model *m, const char *origin, mlp_error *err)
{
    size_t biggest = 0;
    for (int l = 0; l < p->n; l++) {
        size_t c = (size_t)p->l[l].in * (size_t)p->l[l].out;
        if (c > biggest) biggest = c;
    }
    float *tmp = malloc(biggest * sizeof *tmp);
    if (!tmp) return mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory");
    mlp_status s = MLP_OK;
    for (int l = 0; l < p->n && s == MLP_OK; l++) {
        const plan_layer *pl = &p->l[l];
        size_t in = (size_t)pl->in, out = (size_t)pl->out;
        if ((s = mlp_onnx_tensor_values(pl->w, in * out, tmp, origin, err)) != MLP_OK) break;
        float *w = mlp_layer_weight_mut(m, l), *b = mlp_layer_bias_mut(m, l);
        /* ours is out × in; [in, out] storage is its transpose */
        for (size_t o = 0; o < out; o++)
            for (size_t i = 0; i < in; i++)
                w[o * in + i] = pl->alpha * (pl->in_out ? tmp[i * out + o] : tmp[o * in + i]);
        if (!pl->b) continue; /* zero, as mlp_model_create left it */
        uint64_t count = 1;
        mlp_onnx_tensor_numel(pl->b, &count); /* 1 or out (bias_get) */
        if ((s = mlp_onnx_tensor_values(pl->b, (size_t)count, tmp, origin, err)) != MLP_OK) break;
        for (size_t o = 0; o < out; o++)
            b[o] = pl->beta * tmp[count == 1 ? 0 : o];
    }
    free(tmp);
    for (size_t i = 0; s == MLP_OK && i < m->n_params; i++)
        if (!isfinite(m->params[i])) /* alpha or beta pushed a value beyond float32 */
            s = mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                            "a weight scaled by Gemm's alpha or beta overflows float32");
    return s;
}

/* Fills "task", "input.name" and "output.name" that cfg leaves out from the
 * graph, so the shared metadata parser sees a complete block. */
static mlp_status config_defaults(json_t *cfg, const plan *p, const char *origin, mlp_error *err)
{
    bool softmax = p->l[p->n - 1].has_act && p->l[p->n - 1].act == MLP_ACT_SOFTMAX;
    const struct {
        const char *key;
        onnx_span name;
    } io[] = {{"input", p->input->name}, {"output", p->output->name}};
    int bad = 0;
    if (!json_object_get(cfg, "task"))
        bad |= json_object_set_new(cfg, "task",
                                   json_string(softmax ? "classification" : "regression"));
    for (int k = 0; k < 2; k++) {
        json_t *o = json_object_get(cfg, io[k].key);
        if (!o) {
            o = json_object();
            bad |= json_object_set_new(cfg, io[k].key, o);
        }
        if (json_is_object(o) && !json_object_get(o, "name"))
            bad |= json_object_set_new(o, "name",
                                       json_stringn((const char *)io[k].name.p, io[k].name.len));
    }
    return bad ? mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory") : MLP_OK;
}

/* "activations" and "alpha" in the config are optional; given, they are read
 * as for safetensors (the graph's activations standing in for a missing
 * "activations") and must say what the graph says. */
static mlp_status config_check_activations(const json_t *cfg, const mlp_layer_spec *spec, int n,
                                           const char *origin, const char *config_origin,
                                           mlp_error *err)
{
    const json_t *alpha = json_object_get(cfg, "alpha");
    if (!alpha && !json_object_get(cfg, "activations")) return MLP_OK;
    mlp_layer_spec c[MLP_MAX_LAYERS];
    mlp_status s = mlp_io_config_activations(cfg, n, spec, origin, config_origin, c, err);
    for (int l = 0; s == MLP_OK && l < n; l++) {
        if (c[l].activation != spec[l].activation)
            return mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                               "activations[%d] does not match %s, whose layer %d is %s", l,
                               mlp_io_origin(origin), l, mlp_activation_name(spec[l].activation));
        if (alpha && c[l].alpha != spec[l].alpha)
            return mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                               "alpha for layer %d does not match %s, whose LeakyRelu has alpha "
                               "%g",
                               l, mlp_io_origin(origin), (double)spec[l].alpha);
    }
    return s;
}

static mlp_status build(const plan *p, const char *config_json, size_t config_len,
                        const char *origin, const char *config_origin, mlp_model **out,
                        mlp_error *err)
{
    char nb[72];
    mlp_layer_spec spec[MLP_MAX_LAYERS];
    size_t n_params = 0;
    for (int l = 0; l < p->n; l++) {
        spec[l].units = p->l[l].out;
        spec[l].activation = p->l[l].has_act ? p->l[l].act : MLP_ACT_IDENTITY;
        spec[l].alpha = p->l[l].has_act && p->l[l].act == MLP_ACT_LEAKY_RELU ? p->l[l].leak : 0.0f;
        n_params += (size_t)p->l[l].out * ((size_t)p->l[l].in + 1);
    }
    if (n_params > MLP_MAX_PARAMS)
        return mlp_io_fail(err, origin, MLP_ERR_LIMIT, "%zu parameters exceed the limit of %zu",
                           n_params, MLP_MAX_PARAMS);
    mlp_status s = check_input_shape(p, origin, err);
    /* Every value count against its dims before the model is allocated. */
    for (int l = 0; s == MLP_OK && l < p->n; l++) {
        uint64_t bc = 0;
        s = mlp_onnx_tensor_values(p->l[l].w, (size_t)p->l[l].in * (size_t)p->l[l].out, NULL,
                                   origin, err);
        if (s == MLP_OK && p->l[l].b && mlp_onnx_tensor_numel(p->l[l].b, &bc))
            s = mlp_onnx_tensor_values(p->l[l].b, (size_t)bc, NULL, origin, err);
    }
    for (int k = 0; s == MLP_OK && k < 2; k++) {
        onnx_span name = k ? p->output->name : p->input->name;
        if (name.len == 0 || !mlp_onnx_span_utf8(name))
            s = mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                            "the graph %s name \"%s\" is empty or not valid UTF-8",
                            k ? "output" : "input", mlp_onnx_span_show(name, nb));
    }
    if (s != MLP_OK) return s;

    json_t *cfg = NULL;
    mlp_io_meta meta;
    if (config_json) {
        if ((s = mlp_io_json_load(config_json, config_len, config_origin, &cfg, err)) != MLP_OK)
            return s;
        if ((s = config_defaults(cfg, p, config_origin, err)) != MLP_OK ||
            (s = mlp_io_meta_parse(cfg, false, false, config_origin, &meta, err)) != MLP_OK ||
            (s = config_check_activations(cfg, spec, p->n, origin, config_origin, err)) != MLP_OK ||
            (s = mlp_io_meta_check(&meta, p->l[0].in, p->l[p->n - 1].out, config_origin, err)) !=
                MLP_OK)
            goto done;
        if (meta.input_size >= 0 && meta.input_size != p->l[0].in) {
            s = mlp_io_fail(err, config_origin, MLP_ERR_FORMAT,
                            "input.size is %d but the first layer of %s takes %d inputs",
                            meta.input_size, mlp_io_origin(origin), p->l[0].in);
            goto done;
        }
    }

    mlp_model *m;
    mlp_error e;
    if ((s = mlp_model_create(p->l[0].in, spec, p->n, &m, &e)) != MLP_OK) {
        s = mlp_io_fail(err, origin, s, "%s", e.msg);
        goto done;
    }
    if ((s = fill_params(p, m, origin, err)) == MLP_OK) {
        if (cfg) {
            s = mlp_io_meta_apply(&meta, m, config_origin, err);
        } else {
            char *in = mlp_onnx_span_dup(p->input->name),
                 *outn = mlp_onnx_span_dup(p->output->name);
            if (!in || !outn || mlp_model_set_io_names(m, in, outn, NULL) != MLP_OK)
                s = mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory copying names");
            free(in);
            free(outn);
        }
    }
    if (s != MLP_OK)
        mlp_model_free(m);
    else
        *out = m;
done:
    json_decref(cfg);
    return s;
}

static mlp_status parse_all(const uint8_t *data, size_t len, const char *origin,
                            const char *config_json, size_t config_len, const char *config_origin,
                            mlp_model **out, mlp_error *err)
{
    if (!out) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "model output pointer is NULL");
    *out = NULL;
    if (!data && len) return mlp_io_fail(err, origin, MLP_ERR_INVALID, "model data is NULL");
    if (!config_json && config_len)
        return mlp_io_fail(err, origin, MLP_ERR_INVALID, "config text is NULL");
    if (len == 0) return mlp_io_fail(err, origin, MLP_ERR_FORMAT, "the file is empty");
    onnx_graph g = {0};
    plan *p = malloc(sizeof *p);
    mlp_status s = p ? mlp_onnx_graph_parse(data, len, origin, &g, err)
                     : mlp_io_fail(err, origin, MLP_ERR_NOMEM, "out of memory");
    if (s == MLP_OK) s = plan_build(&g, origin, p, err);
    if (s == MLP_OK) s = build(p, config_json, config_len, origin, config_origin, out, err);
    free(p);
    mlp_onnx_graph_free(&g);
    return s;
}

mlp_status mlp_model_parse_onnx(const uint8_t *data, size_t len, const char *config_json,
                                size_t config_len, const char *origin, mlp_model **out,
                                mlp_error *err)
{
    return mlp_io_parse_pair(parse_all, data, len, config_json, config_len, origin, out, err);
}

mlp_status mlp_model_load_onnx(const char *path, const char *config_path, mlp_model **out,
                               mlp_error *err)
{
    return mlp_io_load_pair(parse_all, path, config_path, out, err);
}
