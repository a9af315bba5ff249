/*
 * libmlp — a small, exact, thread-safe library for ReLU multilayer perceptrons.
 *
 * A quick tour (tests/unit/lib/test_tutorial.c compiles and runs it as written):
 *
 *     int tour(void)
 *     {
 *         mlp_layer_spec spec[] = {{16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0},
 *                                  {3, MLP_ACT_SOFTMAX, 0}};
 *         float x[4] = {5.1f, 3.5f, 1.4f, 0.2f}, y[3];
 *         int label = 0;
 *         mlp_target t = {.kind = MLP_TARGET_LABELS, .labels = &label};
 *         mlp_diagnostics d;
 *         mlp_model *m = NULL;
 *         mlp_workspace *ws = NULL;
 *         mlp_error err;
 *
 *         mlp_status s = mlp_model_create(4, spec, 3, &m, &err); // or mlp_model_load()
 *         if (s == MLP_OK) s = mlp_model_init(m, MLP_INIT_HE_NORMAL, 42, &err);
 *         if (s == MLP_OK) s = mlp_workspace_create(&ws, &err);  // one per thread
 *         if (s == MLP_OK) s = mlp_forward(m, ws, x, 1, y, &err); // outputs of one row
 *         if (s == MLP_OK) s = mlp_backward(m, ws, 0, 1, &t, NULL, &err); // dg/dW, dg/dX
 *         if (s == MLP_OK) s = mlp_diagnose(m, ws, NULL, &d, &err); // dead units, norms
 *         if (s != MLP_OK) fprintf(stderr, "%s: %s\n", mlp_status_str(s), err.msg);
 *         mlp_workspace_free(ws);
 *         mlp_model_free(m);
 *         return s == MLP_OK ? 0 : 1;
 *     }
 *
 * One convention for every call:
 * - A call that can fail returns mlp_status (MLP_OK is 0) and takes an
 *   mlp_error *err last, which may be NULL; on failure err holds a message
 *   naming what was wrong. No call signals failure with NaN, NULL or a count,
 *   and none fails silently. Calls without a status cannot fail: getters
 *   (NULL or 0 for what is not there: a layer index out of range, results
 *   before the first forward), pure functions, mlp_activity_reset and the
 *   *_free functions (which accept NULL).
 * - Arguments run: the object the call is about (the model, then the
 *   workspace it computes in; for mlp_workspace_*, mlp_activity_* and
 *   mlp_rng_* calls, that object), then the inputs, then the outputs (what
 *   the call produces), then err. When a call fails its outputs are
 *   unspecified, except that what it was creating is left NULL (mlp_model **,
 *   mlp_workspace **, char **) or empty (mlp_activity_init), so freeing it is
 *   harmless.
 *
 * Ownership and threads: a model is read-only once created or loaded (only
 * its setters, mlp_model_init and mlp_train change it, and nothing may while
 * another thread reads it) and may be shared by any number of threads. The
 * one thing a reader adds is the MLP_KERNEL_NATIVE forward's copy of the
 * weights (mlp_model_prepare), published once with a compare-and-swap (two
 * first forwards may both build one; the loser frees its own), so concurrent
 * readers need no lock for it. All scratch memory
 * lives in an mlp_workspace, which belongs to one thread at a time. The
 * library keeps no global state, starts no threads and never exits.
 */
#ifndef MLP_H
#define MLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLP_VERSION "1.0.0"

/* Hard limits that keep a hostile model file from asking for absurd memory. */
#define MLP_MAX_LAYERS 64
#define MLP_MAX_UNITS  (1 << 16)         /* units per layer, and input width */
#define MLP_MAX_PARAMS ((size_t)1 << 28) /* 1 GiB of float32 parameters */

/* ---------------------------------------------------------------- status */

typedef enum {
    MLP_OK = 0,
    MLP_ERR_NOMEM,       /* an allocation failed */
    MLP_ERR_INVALID,     /* a caller passed an impossible argument */
    MLP_ERR_IO,          /* a file could not be opened, read or written */
    MLP_ERR_FORMAT,      /* a model file is malformed, truncated or inconsistent */
    MLP_ERR_UNSUPPORTED, /* well-formed but uses something libmlp does not do */
    MLP_ERR_LIMIT,       /* a size exceeds one of the MLP_MAX_* limits */
} mlp_status;

/* Static string naming a status ("ok", "out of memory", ...). */
const char *mlp_status_str(mlp_status s);

/* Detailed message for the last failure of a call that took it; may be NULL
 * everywhere it is accepted. On MLP_OK its contents are unspecified. */
typedef struct {
    char msg[512];
} mlp_error;

/* ------------------------------------------------------------ the model */

typedef enum {
    MLP_ACT_RELU = 0,
    MLP_ACT_LEAKY_RELU, /* max(x, alpha*x) */
    MLP_ACT_SIGMOID,
    MLP_ACT_TANH,
    MLP_ACT_IDENTITY,
    MLP_ACT_SOFTMAX, /* last layer only */
} mlp_activation;

/* The leaky_relu slope wherever none is given (model files, the trainer):
 * PyTorch's and ONNX's default. */
#define MLP_LEAKY_RELU_ALPHA 0.01f

/* "relu", "leaky_relu", ... and back; parse refuses an unknown name with
 * MLP_ERR_INVALID. */
const char *mlp_activation_name(mlp_activation a);
mlp_status mlp_activation_parse(const char *name, mlp_activation *out, mlp_error *err);
/* ReLU and leaky ReLU: the layers dead-unit and sparsity statistics apply to. */
bool mlp_activation_is_relu_family(mlp_activation a);

typedef enum { MLP_TASK_CLASSIFICATION = 0, MLP_TASK_REGRESSION } mlp_task;

typedef struct {
    int units;
    mlp_activation activation;
    float alpha; /* leaky_relu slope for x < 0; ignored otherwise */
} mlp_layer_spec;

/* One layer as the model holds it (read through mlp_model_layer). */
typedef struct {
    int in, out; /* weight is out x in, row-major, like torch.nn.Linear */
    mlp_activation activation;
    float alpha;
    size_t weight_offset; /* index of W[0][0] in mlp_model_params() */
    size_t bias_offset;   /* index of b[0] in mlp_model_params() */
} mlp_layer;

/*
 * A model: its layers, one allocation holding the parameters of every layer
 * (W then b per layer, so optimisers and norms are a single loop over
 * params[0 .. n_params)), and its metadata. Opaque, so that nothing outside
 * libmlp can put the layers, their offsets, max_units and params out of
 * step: read it through the accessors below, change it through the setters
 * (each keeps it whole) or the loaders and mlp_train.
 */
typedef struct mlp_model mlp_model;

/* Allocates a model with zeroed parameters, name "model", task classification
 * when the last activation is softmax and regression otherwise. Refuses softmax
 * anywhere but the last layer, zero or over-limit sizes, and alpha outside
 * [0, 1) for leaky_relu. */
mlp_status mlp_model_create(int n_inputs, const mlp_layer_spec *layers, int n_layers,
                            mlp_model **out, mlp_error *err);
void mlp_model_free(mlp_model *m);

/* Deep copy (used by training on a copy while a server keeps serving). */
mlp_status mlp_model_clone(const mlp_model *m, mlp_model **out, mlp_error *err);

/* Read-only accessors. Pointers are owned by the model and stay valid until
 * it is freed or the matching setter replaces what they point at. */
int mlp_model_n_inputs(const mlp_model *m);
int mlp_model_n_outputs(const mlp_model *m);
int mlp_model_n_layers(const mlp_model *m);
int mlp_model_max_units(const mlp_model *m); /* widest layer, inputs included */
size_t mlp_model_n_params(const mlp_model *m);
/* Layer l, or NULL when l is not in [0, n_layers). */
const mlp_layer *mlp_model_layer(const mlp_model *m, int l);
/* All n_params parameters: W_0 b_0 W_1 b_1 ... */
const float *mlp_model_params(const mlp_model *m);
/* W_l (out x in) and b_l (out) of layer l within them; NULL for a bad l. */
const float *mlp_layer_weight(const mlp_model *m, int l);
const float *mlp_layer_bias(const mlp_model *m, int l);
mlp_task mlp_model_task(const mlp_model *m);
const char *mlp_model_name(const mlp_model *m);        /* never NULL */
const char *mlp_model_input_name(const mlp_model *m);  /* never NULL; default "input" */
const char *mlp_model_output_name(const mlp_model *m); /* never NULL; default "output" */
/* NULL, or n_outputs class names (classification). */
const char *const *mlp_model_labels(const mlp_model *m);
/* NULL, or n_inputs values subtracted from each input row. */
const float *mlp_model_input_mean(const mlp_model *m);
/* NULL, or n_inputs values (> 0) each input is then divided by. */
const float *mlp_model_input_std(const mlp_model *m);

/* Copies n_params values (exactly the model's count) over every parameter,
 * in mlp_model_params order. The values are not checked: mlp_model_validate
 * reports non-finite ones, and the loaders refuse them. */
mlp_status mlp_model_set_params(mlp_model *m, const float *params, size_t n_params, mlp_error *err);
/* Metadata setters; each copies its argument and leaves the model as it was
 * when it fails. labels: n_outputs strings or NULL to clear. mean/std:
 * n_inputs values or NULL to clear; mean values finite, std values finite
 * and > 0. */
mlp_status mlp_model_set_task(mlp_model *m, mlp_task task, mlp_error *err);
mlp_status mlp_model_set_name(mlp_model *m, const char *name, mlp_error *err);
mlp_status mlp_model_set_io_names(mlp_model *m, const char *input, const char *output,
                                  mlp_error *err);
mlp_status mlp_model_set_labels(mlp_model *m, const char *const *labels, mlp_error *err);
mlp_status mlp_model_set_standardization(mlp_model *m, const float *mean, const float *std,
                                         mlp_error *err);

/* Multiply-adds for a forward pass over n rows (for GFLOP/s reports). */
double mlp_model_flops(const mlp_model *m, int n_rows);

/* Checks every parameter is finite (the one thing the setters do not
 * promise) and that the layers, offsets and sizes agree. */
mlp_status mlp_model_validate(const mlp_model *m, mlp_error *err);

/* ----------------------------------------------------- random numbers */

/* xoshiro256** seeded by splitmix64: identical streams on every machine. */
typedef struct {
    uint64_t s[4];
} mlp_rng;

void mlp_rng_seed(mlp_rng *r, uint64_t seed);
uint64_t mlp_rng_next(mlp_rng *r);
double mlp_rng_uniform(mlp_rng *r); /* [0, 1), 53 random bits */
/* Standard normal. Uses only +, -, *, / and sqrt (all correctly rounded in
 * IEEE 754), plus a log built from those, so it is bit-identical everywhere. */
double mlp_rng_normal(mlp_rng *r);
uint64_t mlp_rng_below(mlp_rng *r, uint64_t n); /* uniform in [0, n), unbiased */
void mlp_rng_shuffle(mlp_rng *r, int *idx, int n);

/* -------------------------------------------------------- initialisation */

typedef enum {
    MLP_INIT_AUTO = 0,       /* He normal for ReLU family, Xavier uniform otherwise */
    MLP_INIT_HE_NORMAL,      /* N(0, 2/fan_in): keeps E[a^2] constant through ReLUs */
    MLP_INIT_HE_UNIFORM,     /* U(-sqrt(6/fan_in), +sqrt(6/fan_in)) */
    MLP_INIT_XAVIER_NORMAL,  /* N(0, 2/(fan_in+fan_out)) */
    MLP_INIT_XAVIER_UNIFORM, /* U(+-sqrt(6/(fan_in+fan_out))) */
} mlp_init;

/* Draws every weight, zeroes every bias. Same seed, same bits. Refuses an
 * unknown scheme. */
mlp_status mlp_model_init(mlp_model *m, mlp_init scheme, uint64_t seed, mlp_error *err);

/* -------------------------------------------------------------- workspace */

/*
 * Scratch memory for forward/backward/diagnostics: pre-activations Z_l and
 * activations A_l of every layer for the last forward batch, gradients, and
 * the diagnostics arrays. It grows to the largest (model, rows) it has served
 * and is then reused without allocation, until mlp_workspace_shrink gives the
 * memory of an unusually large batch back. One thread at a time.
 */
typedef struct mlp_workspace mlp_workspace;

/* An empty workspace (it allocates on first use, or at reserve). */
mlp_status mlp_workspace_create(mlp_workspace **out, mlp_error *err);
void mlp_workspace_free(mlp_workspace *ws);
/* Makes room for n_rows of model m now, so later calls do not allocate.
 * Growth keeps the last results but may move them: pointers obtained from
 * ws before (outputs, gradients, diagnostics) must be fetched again. */
mlp_status mlp_workspace_reserve(mlp_workspace *ws, const mlp_model *m, int n_rows, mlp_error *err);
/* Bytes currently held. */
size_t mlp_workspace_bytes(const mlp_workspace *ws);
/*
 * Gives memory back after a big batch: every buffer whose size follows the
 * row count (the input copy, Z and A of every layer, dg/dX, the backward
 * scratch, the Gram row, the per-range results of mlp_backward_ranges) that
 * holds more than n_rows rows of m need is freed and re-made at that size, so
 * a thread that once served a huge request keeps the memory of an ordinary
 * batch, not of that request. Buffers sized by the model (gradients,
 * per-layer arrays) stay. When something shrinks, the
 * results of the last forward/backward are dropped (pointers into them become
 * invalid, mlp_workspace_rows is 0); when nothing is larger, nothing changes.
 * freed (may be NULL) receives the bytes given back. If re-making a buffer
 * fails it stays empty and the next forward allocates it.
 */
mlp_status mlp_workspace_shrink(mlp_workspace *ws, const mlp_model *m, int n_rows, size_t *freed,
                                mlp_error *err);

/* Results of the last forward pass; valid until the next forward on ws. */
const float *mlp_workspace_output(const mlp_workspace *ws);               /* n x out */
const float *mlp_workspace_preactivation(const mlp_workspace *ws, int l); /* Z_l */
const float *mlp_workspace_activation(const mlp_workspace *ws, int l);    /* A_l */
int mlp_workspace_rows(const mlp_workspace *ws);

/* Results of the last backward pass (over its row range); valid until the
 * next forward or backward on ws. Gradients are parallel to mlp_model_params.
 * NULL when that backward ran in norms-only mode (set_param_grads false) or
 * over several ranges (mlp_backward_ranges). */
const float *mlp_workspace_param_grad(const mlp_workspace *ws);
/* dg/dX for the backward rows, w.r.t. the raw (unstandardised) input (after
 * mlp_backward_ranges: the rows of the ranges that asked for it, stacked;
 * NULL when none did). */
const float *mlp_workspace_input_grad(const mlp_workspace *ws);

/* ---------------------------------------------------------------- forward */

/*
 * Runs rows x[0 .. n*n_inputs) (row-major) through the model. Keeps Z_l and
 * A_l in ws for backward and diagnostics. y (n x n_outputs) may be NULL; the
 * output is then read with mlp_workspace_output. May allocate only when ws is
 * smaller than (m, n). Rows are independent: with MLP_KERNEL_PORTABLE (the
 * default) or MLP_KERNEL_NATIVE a row's outputs are the same bits in any batch.
 */
mlp_status mlp_forward(const mlp_model *m, mlp_workspace *ws, const float *x, int n, float *y,
                       mlp_error *err);

/*
 * Which code computes the products of forward (Z = X·Wᵀ + b) and backward
 * (dW = dZᵀ·A, dA = dZ·W), per workspace:
 * - PORTABLE (the default): libmlp's portable kernels, never BLAS. Every
 *   result is summed in one fixed order without fused multiply-adds, so a
 *   row's outputs, and the gradients of a row range, have the same bits
 *   whatever batch they came in AND on every machine (any x86-64 CPU, any
 *   BLAS build or none). mlp_train uses it always (the same model from the
 *   same data everywhere); reluserve's train, inspect and prune set it.
 * - NATIVE: libmlp's native kernels, never BLAS: every result is one chain
 *   of fused multiply-adds in index order, on the widest vectors this CPU
 *   runs (AVX-512F, else AVX2; mlp_kernel_native_isa says which). A row's
 *   outputs, and the gradients of a row range, have the same bits whatever
 *   batch they came in and wherever in it, on this machine; they differ from
 *   PORTABLE's in the last places (each within float32 rounding of the exact
 *   sum). On a CPU without FMA, or not x86-64, NATIVE is PORTABLE. reluserve's
 *   server uses it by default.
 *   mlp_forward's rows-are-independent and mlp_backward's as-if-alone
 *   promises hold bit for bit with PORTABLE and NATIVE only.
 * - AUTO: the faster of PORTABLE and cblas_sgemm at each product, switching
 *   to cblas_sgemm at the measured crossovers (mlp_kernel_crossover_rows; the
 *   backward products from about 8 rows of a non-tiny layer); a row's bits
 *   then depend on how many rows its batch had, on the BLAS build and on the
 *   CPU kernel BLAS picks (within float32 rounding, never more).
 * - BLAS: cblas_sgemm for every product (bits as for AUTO).
 * AUTO and BLAS call cblas_sgemm on the calling thread. Its caller owns the
 * threads (a workspace per thread), so OpenBLAS must run single-threaded
 * inside them (openblas_set_num_threads(1), which reluserve does at start-up):
 * its own threads on top would oversubscribe the cores. libmlp needs only
 * CBLAS and changes no global setting, so it cannot do this for its caller.
 * A libmlp built without BLAS (make BLAS=0) has only its own kernels: AUTO
 * and BLAS then compute exactly as PORTABLE.
 */
typedef enum {
    MLP_KERNEL_PORTABLE = 0,
    MLP_KERNEL_AUTO,
    MLP_KERNEL_BLAS,
    MLP_KERNEL_NATIVE,
} mlp_kernel;
mlp_status mlp_workspace_set_kernel(mlp_workspace *ws, mlp_kernel k, mlp_error *err);
/* keep = true (the default): mlp_backward forms dg/dW and dg/db for
 * mlp_workspace_param_grad (training needs them). keep = false, norms-only
 * mode for serving: backward computes only ||dg/dW_l||_F and ||dg/db_l|| per
 * layer (from the n x n Gram matrices of dZ_l and A_{l-1} when that is
 * cheaper than the out x in product), plus ||dg/dA_l|| and dg/dX as always;
 * mlp_diagnose reports the same norms (to float32 rounding) in both modes, and
 * mlp_workspace_param_grad returns NULL. Takes effect at the next backward. */
mlp_status mlp_workspace_set_param_grads(mlp_workspace *ws, bool keep, mlp_error *err);
/* The instruction set MLP_KERNEL_NATIVE computes with on this CPU, read from
 * the CPU: "avx512f+fma", "avx2+fma", or "portable" (no FMA: NATIVE is
 * PORTABLE). A static string. */
const char *mlp_kernel_native_isa(void);
/* Builds now what a forward with kernel k keeps with the model, instead of at
 * the first such forward: for MLP_KERNEL_NATIVE, the weights re-laid out in
 * the panels its forward reads (as many bytes again as the weights, plus
 * padding of each layer's outputs to 16 or 32); nothing for the others. A
 * server calls it when it loads a model, so the model's memory is all there
 * once it is ready. Changing the parameters (setters, mlp_model_init,
 * mlp_train) drops the copy; the next native forward builds it again.
 * MLP_ERR_NOMEM when memory runs out. A native forward that finds no copy
 * and cannot build one either computes with the kernel packing W per call
 * (the same bits, slower); the model remembers the failure, so later forwards
 * do not try the allocation again until mlp_model_prepare is called again
 * (which does) or the parameters change. */
mlp_status mlp_model_prepare(const mlp_model *m, mlp_kernel k, mlp_error *err);
/* Rows at or above which AUTO picks cblas_sgemm for the forward product. */
int mlp_kernel_crossover_rows(int in, int out);

/* --------------------------------------------------------------- backward */

/*
 * The scalar g whose gradient backward computes (DESIGN.md):
 * - LABELS: mean over rows of cross-entropy of softmax(Z_L) and class indices;
 * - DISTRIBUTION: mean over rows of -sum t*log softmax(Z_L), t a row of targets;
 * - BINARY: mean over all output elements of binary cross-entropy on the
 *   logit Z_L (PyTorch's BCEWithLogitsLoss): labels 0/1 (one-output models
 *   only) or targets in [0, 1], the probability of class 1;
 * - MSE: mean over all output elements of (A_L - t)^2;
 * - MAX_LOGIT: sum over rows of max_j Z_L[i, j] (no loss; the default probe).
 * targets/labels point at the backward rows only (rows x n_outputs, or rows).
 * Cross-entropy over one output is refused: the softmax of one logit is 1, so
 * it would be 0 with every gradient 0.
 */
typedef enum {
    MLP_TARGET_MAX_LOGIT = 0,
    MLP_TARGET_LABELS,
    MLP_TARGET_DISTRIBUTION,
    MLP_TARGET_MSE,
    MLP_TARGET_BINARY,
} mlp_target_kind;

typedef struct {
    mlp_target_kind kind;
    const int *labels;    /* LABELS: class indices in [0, n_outputs); BINARY: 0 or 1 */
    const float *targets; /* DISTRIBUTION, MSE; BINARY when labels is NULL */
} mlp_target;

/* Classes a `labels` tensor may name: n_outputs for a classifier with several
 * outputs, 2 for a one-output classifier (binary cross-entropy), 0 where
 * labels have no loss (regression, or one softmax output). */
int mlp_model_classes(const mlp_model *m);

/* The loss a model's task and output imply for a `labels` (labels true) or
 * `targets` tensor: LABELS or DISTRIBUTION for a classifier with several
 * outputs, BINARY for one with one output, MSE for targets on regression.
 * MLP_ERR_INVALID, with err naming the model and the combination, where
 * no loss is defined (labels on regression, a one-softmax-output model). */
mlp_status mlp_target_select(const mlp_model *m, bool labels, mlp_target_kind *kind,
                             mlp_error *err);

/* Checks a target's values for n rows, as mlp_backward does before it
 * computes: labels in range, BINARY targets in [0, 1], no cross-entropy over
 * one output. MLP_ERR_INVALID with err naming the first bad entry. */
mlp_status mlp_target_check(const mlp_model *m, const mlp_target *t, int n, mlp_error *err);

/* What mlp_target_select picks for a `targets` tensor (DISTRIBUTION where it
 * refuses, which mlp_backward then refuses too). */
mlp_target_kind mlp_target_kind_for_targets(const mlp_model *m);

/*
 * Back-propagates g over rows [row0, row0 + n) of the last forward batch, as if
 * those rows had been forwarded alone (so a dynamic batcher can split a merged
 * batch into per-request gradients exactly; bit for bit with MLP_KERNEL_PORTABLE
 * and MLP_KERNEL_NATIVE, to float32 rounding with AUTO/BLAS). Writes dg/dW and dg/db
 * (unless ws is in norms-only mode), their per-layer norms, dg/dX and ||dg/dA_l|| into ws. loss
 * (may be NULL) receives g's loss; MAX_LOGIT is not a loss and gives NAN there (mlp_loss gives its
 * g). MLP_ERR_INVALID for what mlp_target_check refuses, for rows outside the last forward and for
 * a workspace last forwarded with another model's shape.
 */
mlp_status mlp_backward(const mlp_model *m, mlp_workspace *ws, int row0, int n, const mlp_target *t,
                        float *loss, mlp_error *err);

/*
 * Several row ranges at once: the requests of a merged batch, each with its
 * own g, in one pass. Every range gets exactly what mlp_backward over it
 * alone would give (bit for bit under MLP_KERNEL_PORTABLE and NATIVE; to float32
 * rounding with AUTO/BLAS, whose products see all the ranges' rows): its
 * loss, per-layer norms, and dg/dX when it asks. What is independent per row,
 * the products dA_{l-1} = dZ_l·W_l, runs once per layer over the rows of
 * every range, which is where the time goes for small ranges (W read once,
 * not once per range); only the reductions (g, db, the norms) run per range
 * over its own rows. Rows of the forward in no range cost nothing.
 *
 * ranges: ascending and disjoint (each row0 at or after the previous range's
 * end), each inside the last forward, each target valid for its rows (as
 * mlp_target_check says). input_grad false skips dg/dX for a range (the
 * layer-0 product, often the widest): its diagnostics then have
 * input_gradient NULL. losses (may be NULL) receives n_ranges values, NAN for
 * MAX_LOGIT. Results go into ws: read range k with mlp_diagnose_range (after
 * several ranges mlp_diagnose refuses), and mlp_workspace_input_grad returns
 * the dg/dX rows of the ranges that asked, stacked in range order (NULL when
 * none did). dg/dW and dg/db are not kept when there are several ranges
 * (one buffer cannot hold several gradients): mlp_workspace_param_grad is
 * NULL; in full-gradient mode each range's dW is still formed, to measure
 * its norm as mlp_backward does. Never allocates. MLP_ERR_INVALID, naming
 * the range, for what mlp_backward refuses, and for ranges out of order or
 * overlapping.
 */
typedef struct {
    int row0, n;       /* rows [row0, row0 + n) of the last forward */
    mlp_target target; /* g for these rows; labels/targets cover them only */
    bool input_grad;   /* also form dg/dX for these rows */
} mlp_backward_range;

mlp_status mlp_backward_ranges(const mlp_model *m, mlp_workspace *ws,
                               const mlp_backward_range *ranges, int n_ranges, float *losses,
                               mlp_error *err);

/* g alone for rows of the last forward (used by training and tests): the loss,
 * or for MAX_LOGIT the sum of the rows' largest logits. Refuses what
 * mlp_backward refuses. */
mlp_status mlp_loss(const mlp_model *m, const mlp_workspace *ws, int row0, int n,
                    const mlp_target *t, float *g, mlp_error *err);

/* ------------------------------------------------------------ diagnostics */

typedef struct {
    int index, units;
    mlp_activation activation;
    /* ReLU-family hidden layers only (relu_stats true): */
    bool relu_stats;
    float dead_fraction; /* units with Z finite and <= 0 on every row */
    int n_dead;
    const int *dead_units; /* n_dead indices, ascending; owned by ws */
    float sparsity;        /* fraction of A entries exactly 0 */
    float mean_activation; /* mean of A over rows and units (every layer) */
    /* every layer: units whose Z is NaN or ±inf on some row. Such a unit is
     * neither dead nor alive (its verdict would be an artefact of how NaN
     * compares), so it is counted here and never in n_dead. */
    int n_nonfinite;
    /* sigmoid/tanh layers only (saturation_stats true): */
    bool saturation_stats;
    float saturated_fraction; /* entries with |f'(z)| < 0.01 */
    /* every layer, when gradients were computed: */
    float weight_grad_norm;     /* ||dg/dW_l||_F */
    float bias_grad_norm;       /* ||dg/db_l||_2 */
    float activation_grad_norm; /* ||dg/dA_l||_F; for the last layer, of the
                                   tensor g reads (Z_L for cross-entropy and
                                   max-logit, A_L for MSE) */
} mlp_layer_diag;

typedef struct {
    int n_layers;
    const mlp_layer_diag *layers; /* owned by ws */
    int rows;                     /* rows the statistics cover */
    float dead_fraction;          /* dead units / units, over ReLU-family hidden layers */
    bool collapsed;               /* some ReLU-family hidden layer is entirely dead */
    bool nonfinite;               /* some layer has a NaN or infinite Z (n_nonfinite > 0) */
    bool has_gradients;
    float gradient_ratio; /* weight_grad_norm first / last layer (INFINITY if last is 0;
                             NAN, and neither flag set, if both are 0 or !has_gradients) */
    bool vanishing, exploding;
    bool has_loss;
    float loss;
    mlp_target_kind target;      /* g's kind (MAX_LOGIT when !has_loss) */
    const float *input_gradient; /* rows x n_inputs, owned by ws */
} mlp_diagnostics;

typedef struct {
    float vanishing_below; /* default 1e-3 */
    float exploding_above; /* default 1e3 */
} mlp_diag_params;

mlp_diag_params mlp_diag_default_params(void);

/*
 * Statistics of the rows of the last backward (or, with no backward since the
 * last forward, of all forward rows and without gradients). p may be NULL for
 * the defaults. Everything out points to is owned by ws and valid until the
 * next forward/backward/diagnose on it. Never allocates after reserve.
 * Refuses (MLP_ERR_INVALID) when the last backward was mlp_backward_ranges
 * over several ranges: which rows would be meant?
 */
mlp_status mlp_diagnose(const mlp_model *m, mlp_workspace *ws, const mlp_diag_params *p,
                        mlp_diagnostics *out, mlp_error *err);

/* The same statistics for range `range` of the last backward (mlp_backward is
 * range 0 of 1): exactly what mlp_diagnose gives after mlp_backward over that
 * range alone. MLP_ERR_INVALID when no backward ran since the last forward or
 * range is not one of its ranges. */
mlp_status mlp_diagnose_range(const mlp_model *m, mlp_workspace *ws, int range,
                              const mlp_diag_params *p, mlp_diagnostics *out, mlp_error *err);

/*
 * Per-unit activity counts across batches: for every hidden unit, on how many
 * rows its pre-activation was finite and > 0 (active), and on how many it was
 * NaN or ±inf (nonfinite). A unit silent over a whole window of live traffic
 * (or a probe data set) is dead in the sense that matters for training; one
 * that went non-finite is broken instead, and counted as such, not as dead.
 */
typedef struct {
    int n_layers;         /* hidden layers counted (model layers - 1) */
    int *units;           /* units per counted layer */
    uint64_t **active;    /* active[l][j]: rows with Z_l[i, j] finite and > 0 */
    uint64_t **nonfinite; /* nonfinite[l][j]: rows with Z_l[i, j] NaN or ±inf */
    uint64_t rows;        /* rows seen */
} mlp_activity;

/* Zeroed counters for the hidden layers of m, in out (which must not hold
 * counters already: free it first). */
mlp_status mlp_activity_init(const mlp_model *m, mlp_activity *out, mlp_error *err);
void mlp_activity_free(mlp_activity *a);
void mlp_activity_reset(mlp_activity *a);
/* Adds forward rows [row0, row0+n) of ws. Refuses rows ws does not hold and a
 * workspace last forwarded through a model of another shape, adding nothing. */
mlp_status mlp_activity_add(mlp_activity *a, const mlp_workspace *ws, int row0, int n,
                            mlp_error *err);
/* a += b. Refuses counters of another model shape, changing nothing. */
mlp_status mlp_activity_merge(mlp_activity *a, const mlp_activity *b, mlp_error *err);
/* Unit j of layer l never active in the counted rows: rows were counted, and
 * its Z was finite and <= 0 on every one of them. */
bool mlp_activity_never_active(const mlp_activity *a, int l, int j);
/* Fraction of layer l's units never active in the counted rows (0 if none seen). */
float mlp_activity_never_active_fraction(const mlp_activity *a, int l);
/* Fraction of layer l's units whose Z was NaN or ±inf on some counted row. */
float mlp_activity_nonfinite_fraction(const mlp_activity *a, int l);

/* ---------------------------------------------------------------- training */

typedef enum { MLP_OPT_SGD = 0, MLP_OPT_ADAM } mlp_optimizer;

typedef struct {
    int epoch;           /* 1-based */
    float loss;          /* mean training loss of the epoch */
    float accuracy;      /* classification: fraction right; regression: NAN */
    float dead_fraction; /* of the last mini-batch */
    float grad_norm;     /* global gradient norm of the last mini-batch */
} mlp_epoch_stats;

/* Return false to stop training early. */
typedef bool (*mlp_epoch_cb)(const mlp_epoch_stats *s, void *user);

typedef struct {
    mlp_optimizer optimizer;
    float learning_rate;         /* default 0.01 (SGD) — Adam users usually want 1e-3 */
    float momentum;              /* SGD, default 0.9 */
    float weight_decay;          /* L2 added to the gradient (PyTorch semantics), default 0 */
    float beta1, beta2, epsilon; /* Adam, defaults 0.9, 0.999, 1e-8 */
    float clip_norm;             /* clip the global gradient norm to this; 0 = off */
    int epochs;                  /* default 100 */
    int batch_size;              /* default 32 */
    uint64_t seed;               /* shuffling, default 1 */
    mlp_epoch_cb on_epoch;
    void *user;
    /* With on_epoch: when set (made by mlp_activity_init for this model), it
     * is reset and counts every training row's activity with the epoch's
     * final weights before each call, in the pass that measures a
     * classifier's accuracy (a pass of its own for a regressor), so the
     * callback has the units never active after the epoch without a forward
     * pass of its own. NULL (the default): not counted. */
    mlp_activity *activity;
} mlp_train_params;

mlp_train_params mlp_train_default_params(void);

/*
 * Trains m in place on n rows of x with the loss mlp_target_select picks:
 * labels (classification: cross-entropy, or binary cross-entropy for a
 * one-output classifier) or targets (regression MSE, classification with
 * target distributions or, one output, probabilities of class 1). Exactly
 * one of labels/targets; what mlp_target_select or mlp_target_check refuses
 * is refused before the model is touched.
 * Never calls BLAS: every product goes through libmlp's own fixed-order
 * kernels (MLP_KERNEL_PORTABLE), so the same model, data and params
 * give the same bits whatever BLAS build a machine has and whichever CPU
 * kernel it picks.
 */
mlp_status mlp_train(mlp_model *m, const float *x, const int *labels, const float *targets, int n,
                     const mlp_train_params *p, mlp_error *err);

/* Fraction of rows whose predicted class equals the label: the argmax
 * output, or for a one-output classifier 1 when its logit is > 0 (sigmoid
 * > 0.5) and 0 otherwise. Runs mlp_forward on ws in chunks. */
mlp_status mlp_accuracy(const mlp_model *m, mlp_workspace *ws, const float *x, const int *labels,
                        int n, float *accuracy, mlp_error *err);

/* ------------------------------------------------------------ float text */

/* Bytes mlp_format_float may write, the NUL included: 16 characters at most,
 * reached by negative numbers in [1e-5, 1e-4) with 9 significant digits
 * ("-0.0000123456789"); exponent forms are shorter ("-1.23456789e-38" is 15). */
#define MLP_FLOAT_TEXT_MAX 17

/* Writes the shortest decimal text that strtof() reads back as exactly f into
 * out (room for MLP_FLOAT_TEXT_MAX bytes, NUL-terminated) and returns its
 * length (< MLP_FLOAT_TEXT_MAX). Locale-free; NaN and infinities, which JSON
 * lacks, are written as null. Used by the JSON writers here and by the
 * server's response encoder. */
int mlp_format_float(float f, char *out);

/* -------------------------------------------------------------- model I/O */

/* Native JSON format (DESIGN.md "Models"). */
mlp_status mlp_model_load_json(const char *path, mlp_model **out, mlp_error *err);
mlp_status mlp_model_parse_json(const char *text, size_t len, const char *origin, mlp_model **out,
                                mlp_error *err);
mlp_status mlp_model_save_json(const mlp_model *m, const char *path, mlp_error *err);
/* The same document as a malloc'd string in *out (caller frees). */
mlp_status mlp_model_to_json(const mlp_model *m, char **out, mlp_error *err);

/* safetensors weights (F32, F64, F16, BF16; torch.nn.Sequential names) plus the
 * config.json that says what they mean. */
mlp_status mlp_model_load_safetensors(const char *path, const char *config_path, mlp_model **out,
                                      mlp_error *err);
mlp_status mlp_model_parse_safetensors(const uint8_t *data, size_t len, const char *config_json,
                                       size_t config_len, const char *origin, mlp_model **out,
                                       mlp_error *err);
mlp_status mlp_model_save_safetensors(const mlp_model *m, const char *path, const char *config_path,
                                      mlp_error *err);

/* ONNX subset (torch.onnx.export of an MLP): Gemm, MatMul+Add, Relu, LeakyRelu,
 * Sigmoid, Tanh, Softmax, Flatten, Identity; anything else is refused naming
 * the node. config_path / config_json may be NULL: the optional config.json
 * (safetensors keys) adds task, labels, standardisation and names. */
mlp_status mlp_model_load_onnx(const char *path, const char *config_path, mlp_model **out,
                               mlp_error *err);
mlp_status mlp_model_parse_onnx(const uint8_t *data, size_t len, const char *config_json,
                                size_t config_len, const char *origin, mlp_model **out,
                                mlp_error *err);

/* By extension: .json, .safetensors with config.json in the same folder, or
 * .onnx with config.json in the same folder when there is one. */
mlp_status mlp_model_load(const char *path, mlp_model **out, mlp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MLP_H */
