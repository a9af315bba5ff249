/*
 * test_train.c — mlp_train, the optimisers, clipping and mlp_accuracy.
 *
 * The optimiser references were computed with PyTorch 1.13 (/usr/bin/python3):
 * torch.nn.Linear(1, 1) with weight 0.5, bias 0.1, x = 2, target 3, MSE loss,
 * lr 0.1, weight_decay 0.01; SGD momentum 0.9; Adam betas (0.9, 0.999), eps
 * 1e-8; optionally torch.nn.utils.clip_grad_norm_(params, 1.0) before step().
 * By hand for the first SGD step: dL/dw = 2(wx + b - t)x = -7.6, plus
 * wd * w = 0.005 gives -7.595, so w = 0.5 + 0.1 * 7.595 = 1.2595.
 *
 * Runs from the repository root (data/iris.csv is read by relative path).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mlp.h"
#include "../test_models.h"
#include "../test_params.h"

/* ------------------------------------------------------------ helpers */

/* mlp_accuracy, which must succeed. */
static float accuracy_of(const mlp_model *m, mlp_workspace *ws, const float *x, const int *labels,
                         int n)
{
    float acc = NAN;
    mlp_error e;
    if (mlp_accuracy(m, ws, x, labels, n, &acc, &e) != MLP_OK) fail_msg("mlp_accuracy: %s", e.msg);
    return acc;
}

static mlp_model *model_linear_1x1(float w, float b)
{
    mlp_model *m = TEST_MODEL(1, {1, MLP_ACT_IDENTITY, 0});
    weight_set(m, 0, 0, w);
    bias_set(m, 0, 0, b);
    return m;
}

typedef struct {
    int calls;
    int stop_after; /* 0: never stop */
    mlp_epoch_stats first, last;
} epoch_log;

static bool log_epoch(const mlp_epoch_stats *s, void *user)
{
    epoch_log *log = user;
    if (log->calls == 0) log->first = *s;
    log->last = *s;
    log->calls++;
    return log->stop_after == 0 || log->calls < log->stop_after;
}

/* The defaults but for the optimiser, the learning rate, the epochs and the
 * rows per batch; every epoch is recorded in log (NULL: none). */
static mlp_train_params params(mlp_optimizer opt, float lr, int epochs, int batch, epoch_log *log)
{
    mlp_train_params p = mlp_train_default_params();
    p.optimizer = opt;
    p.learning_rate = lr;
    p.epochs = epochs;
    p.batch_size = batch;
    p.on_epoch = log ? log_epoch : NULL;
    p.user = log;
    return p;
}

/* One-row regression run of the 1x1 model; returns (w, b) after `steps`. */
static void run_linear(mlp_optimizer opt, int steps, float clip, float *w, float *b)
{
    mlp_model *m = model_linear_1x1(0.5f, 0.1f);
    float x = 2.0f, t = 3.0f;
    mlp_train_params p = params(opt, 0.1f, steps, 1, NULL);
    p.momentum = 0.9f;
    p.weight_decay = 0.01f;
    p.clip_norm = clip;
    mlp_error err;
    assert_int_equal(mlp_train(m, &x, NULL, &t, 1, &p, &err), MLP_OK);
    *w = mlp_layer_weight(m, 0)[0];
    *b = mlp_layer_bias(m, 0)[0];
    mlp_model_free(m);
}

static void assert_close(float got, float want, float tol)
{
    if (!(fabsf(got - want) <= tol * fmaxf(1.0f, fabsf(want))))
        fail_msg("got %.9g, want %.9g (tolerance %g)", (double)got, (double)want, (double)tol);
}

/* run_linear's (w, b) equal PyTorch's to 1e-6. */
static void expect_linear(mlp_optimizer opt, int steps, float clip, float want_w, float want_b)
{
    float w, b;
    run_linear(opt, steps, clip, &w, &b);
    assert_close(w, want_w, 1e-6f);
    assert_close(b, want_b, 1e-6f);
}

/* Iris from data/iris.csv: 150 rows, 4 features, species -> 0, 1, 2 in order
 * of first appearance. Returns the row count. */
static int iris_load(float *x, int *y, int cap)
{
    FILE *f = fopen("data/iris.csv", "r");
    if (!f) fail_msg("cannot open data/iris.csv (run the test from the repository root)");
    char line[256], names[3][32];
    int n_names = 0, n = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (n < cap && fgets(line, sizeof line, f)) {
        char species[32];
        float *r = x + (size_t)n * 4;
        if (sscanf(line, "%f,%f,%f,%f,%31s", &r[0], &r[1], &r[2], &r[3], species) != 5) continue;
        int k = 0;
        while (k < n_names && strcmp(names[k], species) != 0)
            k++;
        if (k == n_names) {
            assert_true(n_names < 3);
            strcpy(names[n_names++], species);
        }
        y[n++] = k;
    }
    fclose(f);
    return n;
}

/* ------------------------------------------------------------ defaults */

static void test_default_params(void **state)
{
    (void)state;
    mlp_train_params p = mlp_train_default_params();
    assert_int_equal(p.optimizer, MLP_OPT_SGD);
    assert_true(p.learning_rate == 0.01f);
    assert_true(p.momentum == 0.9f);
    assert_true(p.weight_decay == 0.0f);
    assert_true(p.beta1 == 0.9f && p.beta2 == 0.999f && p.epsilon == 1e-8f);
    assert_true(p.clip_norm == 0.0f);
    assert_int_equal(p.epochs, 100);
    assert_int_equal(p.batch_size, 32);
    assert_null(p.on_epoch);
    assert_null(p.activity);
}

/* ----------------------------------------------- activity after epochs */

typedef struct {
    const mlp_model *m;
    const float *x;
    int n;
    mlp_activity *counted; /* what mlp_train counted (params.activity) */
    int epochs;
    int some_dead; /* epochs with a never-active unit: the test saw one */
} activity_check;

/* Counts the activity of every row again, with a workspace of its own and
 * one row at a time (libmlp's portable kernel gives the same Z at any batch
 * size), and requires mlp_train's counts to be exactly these. */
static bool check_activity(const mlp_epoch_stats *s, void *user)
{
    (void)s;
    activity_check *c = user;
    mlp_error e;
    mlp_workspace *ws;
    mlp_activity mine;
    assert_int_equal(mlp_workspace_create(&ws, &e), MLP_OK);
    assert_int_equal(mlp_workspace_set_kernel(ws, MLP_KERNEL_PORTABLE, &e), MLP_OK);
    assert_int_equal(mlp_activity_init(c->m, &mine, &e), MLP_OK);
    for (int i = 0; i < c->n; i++) {
        const float *row = c->x + (size_t)i * (size_t)mlp_model_n_inputs(c->m);
        assert_int_equal(mlp_forward(c->m, ws, row, 1, NULL, &e), MLP_OK);
        assert_int_equal(mlp_activity_add(&mine, ws, 0, 1, &e), MLP_OK);
    }
    assert_int_equal(c->counted->rows, (uint64_t)c->n);
    assert_int_equal(mine.rows, c->counted->rows);
    bool dead = false;
    assert_int_equal(mine.n_layers, c->counted->n_layers);
    for (int l = 0; l < mine.n_layers; l++) { /* the hidden layers */
        size_t units = (size_t)mine.units[l];
        assert_memory_equal(mine.active[l], c->counted->active[l], units * sizeof(uint64_t));
        assert_memory_equal(mine.nonfinite[l], c->counted->nonfinite[l], units * sizeof(uint64_t));
        dead |= mlp_activity_never_active_fraction(c->counted, l) > 0.0f;
    }
    c->some_dead += dead;
    c->epochs++;
    mlp_activity_free(&mine);
    mlp_workspace_free(ws);
    return true;
}

/* params.activity holds, at every epoch's callback, the activity of every
 * training row under the epoch's final weights, counted once, for a
 * classifier (in its accuracy pass) and a regressor (a pass of its own);
 * without it the training is the same bits. A high learning rate kills some
 * units, so never-active counts are really compared. */
static void test_activity_is_counted_after_each_epoch(void **state)
{
    (void)state;
    float x[150 * 4];
    int y[150];
    int n = iris_load(x, y, 150);
    for (int regress = 0; regress <= 1; regress++) {
        mlp_model *m = regress ? TEST_MODEL(4, {16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0},
                                            {1, MLP_ACT_IDENTITY, 0})
                               : TEST_MODEL(4, {16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0},
                                            {3, MLP_ACT_SOFTMAX, 0});
        mlp_error e;
        assert_int_equal(mlp_model_init(m, MLP_INIT_HE_NORMAL, 5, &e), MLP_OK);
        mlp_model *twin;
        assert_int_equal(mlp_model_clone(m, &twin, &e), MLP_OK);
        float *t = malloc((size_t)n * sizeof(float));
        assert_non_null(t);
        for (int i = 0; i < n; i++)
            t[i] = x[i * 4 + 2]; /* regress petal length on the others */
        mlp_activity act;
        assert_int_equal(mlp_activity_init(m, &act, &e), MLP_OK);
        activity_check c = {m, x, n, &act, 0, 0};
        mlp_train_params p = params(MLP_OPT_SGD, regress ? 0.05f : 0.5f, 12, 16, NULL);
        p.on_epoch = check_activity;
        p.user = &c;
        p.activity = &act;
        assert_int_equal(mlp_train(m, x, regress ? NULL : y, regress ? t : NULL, n, &p, &e),
                         MLP_OK);
        assert_int_equal(c.epochs, 12);
        assert_true(c.some_dead > 0);
        /* The same run without the activity: the same weights. */
        mlp_train_params q = params(MLP_OPT_SGD, regress ? 0.05f : 0.5f, 12, 16, NULL);
        assert_int_equal(mlp_train(twin, x, regress ? NULL : y, regress ? t : NULL, n, &q, &e),
                         MLP_OK);
        assert_memory_equal(mlp_model_params(m), mlp_model_params(twin),
                            mlp_model_n_params(m) * sizeof(float));
        mlp_activity_free(&act);
        free(t);
        mlp_model_free(twin);
        mlp_model_free(m);
    }
}

/* ------------------------------------------------- optimiser semantics */

static void test_sgd_momentum_matches_torch(void **state)
{
    (void)state;
    expect_linear(MLP_OPT_SGD, 1, 0.0f, 1.2595000267028809f, 0.4799000024795532f);
    /* The second step uses the velocity: v = 0.9 v + g. */
    expect_linear(MLP_OPT_SGD, 2, 0.0f, 1.942230463027954f, 0.8215501308441162f);
}

static void test_adam_matches_torch(void **state)
{
    (void)state;
    /* Step 1 of bias-corrected Adam moves each parameter by ~lr * sign(g). */
    expect_linear(MLP_OPT_ADAM, 1, 0.0f, 0.5999999642372131f, 0.19999998807907104f);
    expect_linear(MLP_OPT_ADAM, 2, 0.0f, 0.6991874575614929f, 0.29918694496154785f);
}

static void test_clipping_matches_torch(void **state)
{
    (void)state;
    expect_linear(MLP_OPT_SGD, 1, 1.0f, 0.5889427065849304f, 0.1446213573217392f);
    expect_linear(MLP_OPT_SGD, 2, 1.0f, 0.7578449249267578f, 0.2293573021888733f);
    expect_linear(MLP_OPT_ADAM, 2, 1.0f, 0.699997067451477f, 0.2999941110610962f);
}

/* With plain SGD (lr 1, no momentum, no decay) one step moves the parameters
 * by exactly the clipped gradient, so ||delta|| must equal the cap while the
 * reported (pre-clip) norm is larger. */
static void test_clipping_caps_norm(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(4, {8, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 3, NULL);
    float x[4 * 4] = {5, -3, 2, 8, -7, 1, 4, -2, 3, 3, -6, 1, 9, -8, 2, 2};
    int y[4] = {0, 1, 2, 1};
    float *before = malloc(mlp_model_n_params(m) * sizeof(float));
    assert_non_null(before);
    memcpy(before, mlp_model_params(m), mlp_model_n_params(m) * sizeof(float));

    epoch_log log = {0};
    mlp_train_params p = params(MLP_OPT_SGD, 1.0f, 1, 4, &log);
    p.momentum = 0.0f;
    p.clip_norm = 0.05f;
    assert_int_equal(mlp_train(m, x, y, NULL, 4, &p, NULL), MLP_OK);
    double d2 = 0.0;
    for (size_t i = 0; i < mlp_model_n_params(m); i++) {
        double d = (double)mlp_model_params(m)[i] - (double)before[i];
        d2 += d * d;
    }
    assert_int_equal(log.calls, 1);
    assert_true(log.last.grad_norm > 0.05f); /* it did need clipping */
    assert_close((float)sqrt(d2), 0.05f, 1e-4f);
    free(before);
    mlp_model_free(m);
}

/* ---------------------------------------------------------- convergence */

/* XOR's four rows as one batch: Adam at 0.05 for 300 epochs, logged. */
static mlp_train_params xor_params(epoch_log *log)
{
    mlp_train_params p = params(MLP_OPT_ADAM, 0.05f, 300, 4, log);
    p.seed = 5;
    return p;
}

static void test_xor_converges(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(2, {8, MLP_ACT_RELU, 0}, {2, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 11, NULL);
    float x[] = {0, 0, 0, 1, 1, 0, 1, 1};
    int y[] = {0, 1, 1, 0};
    epoch_log log = {0};
    mlp_train_params p = xor_params(&log);
    mlp_error err;
    if (mlp_train(m, x, y, NULL, 4, &p, &err) != MLP_OK) fail_msg("%s", err.msg);
    assert_int_equal(log.calls, 300);
    assert_int_equal(log.first.epoch, 1);
    assert_int_equal(log.last.epoch, 300);
    assert_true(log.last.loss < log.first.loss);
    assert_true(log.last.loss < 0.05f);
    assert_true(log.last.accuracy == 1.0f);
    assert_true(log.last.dead_fraction >= 0.0f && log.last.dead_fraction <= 1.0f);

    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_non_null(ws);
    assert_true(accuracy_of(m, ws, x, y, 4) == 1.0f);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

/* XOR with one sigmoid output: binary cross-entropy on the logit trains it
 * (cross-entropy over one softmax output would be 0 with zero gradients, and
 * the model would never move). Soft targets in [0, 1] train it too. */
static void test_one_output_classifier_learns_xor(void **state)
{
    (void)state;
    mlp_layer_spec spec[] = {{8, MLP_ACT_RELU, 0}, {1, MLP_ACT_SIGMOID, 0}};
    float x[] = {0, 0, 0, 1, 1, 0, 1, 1};
    int y[] = {0, 1, 1, 0};
    float soft[] = {0.0625f, 0.9375f, 1.0f, 0.0f};
    for (int variant = 0; variant < 2; variant++) {
        mlp_model *m = NULL;
        assert_int_equal(mlp_model_create(2, spec, 2, &m, NULL), MLP_OK);
        assert_int_equal(mlp_model_set_task(m, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
        mlp_model_init(m, MLP_INIT_HE_NORMAL, 11, NULL);
        epoch_log log = {0};
        mlp_train_params p = xor_params(&log);
        mlp_error err;
        mlp_status st = variant == 0 ? mlp_train(m, x, y, NULL, 4, &p, &err)
                                     : mlp_train(m, x, NULL, soft, 4, &p, &err);
        if (st != MLP_OK) fail_msg("%s", err.msg);
        assert_true(log.first.loss > 0.3f); /* about log 2 at the start, not 0 */
        assert_true(log.last.loss < log.first.loss / 2);
        assert_true(log.last.accuracy == 1.0f);
        mlp_workspace *ws = NULL;
        assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
        assert_true(accuracy_of(m, ws, x, y, 4) == 1.0f);
        /* the prediction is sigmoid > 1/2, i.e. logit > 0 */
        float out[4];
        assert_int_equal(mlp_forward(m, ws, x, 4, out, NULL), MLP_OK);
        for (int i = 0; i < 4; i++)
            assert_int_equal(out[i] > 0.5f, y[i]);
        mlp_workspace_free(ws);
        mlp_model_free(m);
    }
}

/* Labels other than 0/1, targets outside [0, 1] and a one-softmax-output
 * classifier are refused before the model is touched, with a message. */
static void test_one_output_classifier_refusals(void **state)
{
    (void)state;
    mlp_layer_spec sig[] = {{1, MLP_ACT_SIGMOID, 0}}, soft[] = {{1, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m = NULL, *s1 = NULL;
    assert_int_equal(mlp_model_create(1, sig, 1, &m, NULL), MLP_OK);
    assert_int_equal(mlp_model_create(1, soft, 1, &s1, NULL), MLP_OK);
    assert_int_equal(mlp_model_set_task(m, MLP_TASK_CLASSIFICATION, NULL), MLP_OK);
    mlp_model_init(m, MLP_INIT_XAVIER_NORMAL, 3, NULL);
    float before[2];
    memcpy(before, mlp_model_params(m), sizeof before);
    float x[] = {1, 2};
    int two[] = {0, 2};
    float wide[] = {0.5f, 1.5f};
    mlp_error err;
    mlp_train_params p = mlp_train_default_params();
    p.epochs = 1;
    assert_int_equal(mlp_train(m, x, two, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "labels[1] = 2"));
    assert_int_equal(mlp_train(m, x, NULL, wide, 2, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "targets[1] (row 1) = 1.5 is not in [0, 1]"));
    assert_memory_equal(mlp_model_params(m), before, sizeof before);
    int zero[] = {0, 0};
    assert_int_equal(mlp_train(s1, x, zero, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "one softmax output"));
    mlp_model_free(m);
    mlp_model_free(s1);
}

static mlp_model *iris_train(const float *x, const int *y, int n, uint64_t init_seed, uint64_t seed,
                             epoch_log *log)
{
    /* Standardise with the training set's mean and (population) std; the
     * model applies it inside forward, so x stays raw. */
    float mean[4] = {0}, sd[4] = {0};
    for (int j = 0; j < 4; j++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++)
            s += x[i * 4 + j];
        s /= n;
        for (int i = 0; i < n; i++)
            s2 += (x[i * 4 + j] - s) * (x[i * 4 + j] - s);
        mean[j] = (float)s;
        sd[j] = (float)sqrt(s2 / n);
    }
    mlp_model *m =
        TEST_MODEL(4, {16, MLP_ACT_RELU, 0}, {16, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    assert_int_equal(mlp_model_set_standardization(m, mean, sd, NULL), MLP_OK);
    mlp_model_init(m, MLP_INIT_AUTO, init_seed, NULL);
    mlp_train_params p = params(MLP_OPT_ADAM, 0.01f, 100, 16, log);
    p.seed = seed;
    mlp_error err;
    if (mlp_train(m, x, y, NULL, n, &p, &err) != MLP_OK) fail_msg("%s", err.msg);
    return m;
}

static void test_iris_reaches_95_percent(void **state)
{
    (void)state;
    float x[150 * 4];
    int y[150];
    assert_int_equal(iris_load(x, y, 150), 150);
    epoch_log log = {0};
    mlp_model *m = iris_train(x, y, 150, 7, 7, &log);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    float acc = accuracy_of(m, ws, x, y, 150);
    assert_true(acc >= 0.95f);
    assert_true(log.last.accuracy == acc); /* the callback saw the same model */
    assert_true(log.last.loss < 0.2f);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

static void test_same_seed_same_bits(void **state)
{
    (void)state;
    float x[150 * 4];
    int y[150];
    assert_int_equal(iris_load(x, y, 150), 150);
    mlp_model *a = iris_train(x, y, 150, 99, 99, NULL);
    mlp_model *b = iris_train(x, y, 150, 99, 99, NULL);
    /* Same initial weights, another shuffling seed: other mini-batches. */
    mlp_model *c = iris_train(x, y, 150, 99, 100, NULL);
    assert_int_equal(mlp_model_n_params(a), mlp_model_n_params(b));
    assert_memory_equal(mlp_model_params(a), mlp_model_params(b),
                        mlp_model_n_params(a) * sizeof(float));
    assert_memory_not_equal(mlp_model_params(a), mlp_model_params(c),
                            mlp_model_n_params(a) * sizeof(float));
    mlp_model_free(a);
    mlp_model_free(b);
    mlp_model_free(c);
}

/* Regression with MSE: the loss falls and accuracy is NAN. */
static void test_regression_trains(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(1, {16, MLP_ACT_RELU, 0}, {1, MLP_ACT_IDENTITY, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 1, NULL);
    float x[64], t[64];
    for (int i = 0; i < 64; i++) {
        x[i] = -1.0f + 2.0f * (float)i / 63.0f;
        t[i] = x[i] * x[i];
    }
    epoch_log log = {0};
    mlp_train_params p = params(MLP_OPT_ADAM, 0.01f, 200, 16, &log);
    assert_int_equal(mlp_train(m, x, NULL, t, 64, &p, NULL), MLP_OK);
    assert_true(isnan(log.last.accuracy));
    assert_true(log.last.loss < 0.01f);
    assert_true(log.last.loss < log.first.loss / 5.0f);
    mlp_model_free(m);
}

static void test_callback_stops_early(void **state)
{
    (void)state;
    mlp_model *m = model_linear_1x1(0.5f, 0.1f);
    float x = 2.0f, t = 3.0f;
    epoch_log log = {.stop_after = 3};
    mlp_train_params p = mlp_train_default_params();
    p.epochs = 50;
    p.on_epoch = log_epoch;
    p.user = &log;
    assert_int_equal(mlp_train(m, &x, NULL, &t, 1, &p, NULL), MLP_OK);
    assert_int_equal(log.calls, 3);
    assert_int_equal(log.last.epoch, 3);
    mlp_model_free(m);
}

/* The epoch loss is the mean over rows, not over mini-batches: with rows of
 * squared error 0, 1 and 4 in batches of 2 and 1, a mean of batch means would
 * give 2.25, 1.5 or 1.25 depending on the shuffle, never 5/3. The learning
 * rate is so small that the parameters do not move within the epoch. */
static void test_epoch_loss_is_row_mean(void **state)
{
    (void)state;
    mlp_model *m = model_linear_1x1(1.0f, 0.0f);
    float x[3] = {0, 1, 2}, t[3] = {0, 0, 0};
    epoch_log log = {0};
    mlp_train_params p = params(MLP_OPT_SGD, 1e-20f, 1, 2, &log);
    p.momentum = 0.0f;
    assert_int_equal(mlp_train(m, x, NULL, t, 3, &p, NULL), MLP_OK);
    assert_int_equal(log.calls, 1);
    assert_close(log.last.loss, 5.0f / 3.0f, 1e-6f);
    assert_true(isnan(log.last.accuracy));
    mlp_model_free(m);
}

static void test_divergence_is_an_error(void **state)
{
    (void)state;
    mlp_model *m = model_linear_1x1(0.5f, 0.1f);
    float x = 1e3f, t = 3.0f;
    mlp_train_params p = mlp_train_default_params();
    p.learning_rate = 10.0f;
    p.epochs = 100;
    mlp_error err;
    assert_int_equal(mlp_train(m, &x, NULL, &t, 1, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "diverged"));
    mlp_model_free(m);
}

/* ------------------------------------------------------- invalid input */

static void test_invalid_arguments(void **state)
{
    (void)state;
    mlp_model *m = TEST_MODEL(2, {4, MLP_ACT_RELU, 0}, {3, MLP_ACT_SOFTMAX, 0});
    mlp_model_init(m, MLP_INIT_AUTO, 1, NULL);
    float x[4] = {1, 2, 3, 4}, t[6] = {1, 0, 0, 0, 1, 0};
    int y[2] = {0, 2}, bad_hi[2] = {0, 3}, bad_lo[2] = {-1, 0};
    mlp_train_params p = mlp_train_default_params();
    p.epochs = 1;
    mlp_error err;
    float *before = malloc(mlp_model_n_params(m) * sizeof(float));
    assert_non_null(before);
    memcpy(before, mlp_model_params(m), mlp_model_n_params(m) * sizeof(float));

    assert_int_equal(mlp_train(m, x, y, t, 2, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "exactly one"));
    assert_int_equal(mlp_train(m, x, NULL, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_train(m, x, y, NULL, 0, &p, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_train(m, x, y, NULL, -5, &p, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_train(m, x, bad_hi, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_non_null(strstr(err.msg, "labels[1] = 3"));
    assert_int_equal(mlp_train(m, x, bad_lo, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_train(NULL, x, y, NULL, 2, &p, &err), MLP_ERR_INVALID);
    assert_int_equal(mlp_train(m, NULL, y, NULL, 2, &p, &err), MLP_ERR_INVALID);

    float xnan[4] = {1, NAN, 3, 4};
    assert_int_equal(mlp_train(m, xnan, y, NULL, 2, &p, &err), MLP_ERR_INVALID);

    /* One parameter out of its range each. */
    mlp_train_params q[6] = {p, p, p, p, p, p};
    q[0].batch_size = 0;
    q[1].learning_rate = 0.0f;
    q[2].epochs = 0;
    q[3].momentum = 1.0f;
    q[4].optimizer = MLP_OPT_ADAM;
    q[4].beta2 = 1.0f;
    q[5].clip_norm = -1.0f;
    for (int i = 0; i < 6; i++)
        if (mlp_train(m, x, y, NULL, 2, &q[i], &err) != MLP_ERR_INVALID)
            fail_msg("parameters %d out of range were not refused", i);

    /* None of the refused calls touched the model. */
    assert_memory_equal(mlp_model_params(m), before, mlp_model_n_params(m) * sizeof(float));

    /* Target distributions train a classifier too. */
    assert_int_equal(mlp_train(m, x, NULL, t, 2, &p, &err), MLP_OK);
    free(before);
    mlp_model_free(m);

    /* Labels make no sense for a regression model. */
    mlp_model *r = model_linear_1x1(1.0f, 0.0f);
    int zero = 0;
    assert_int_equal(mlp_train(r, x, &zero, NULL, 1, &p, &err), MLP_ERR_INVALID);
    mlp_model_free(r);
}

static void test_accuracy_counts_argmax(void **state)
{
    (void)state;
    /* Identity 2x2 layer: output = input, so the argmax is the larger input. */
    mlp_model *m = TEST_MODEL(2, {2, MLP_ACT_IDENTITY, 0});
    weight_set(m, 0, 0, 1);
    weight_set(m, 0, 3, 1);
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    float x[] = {1, 0, 0, 1, 2, 1, 0, 5};
    int y[] = {0, 1, 1, 1}; /* third row is wrong */
    assert_true(accuracy_of(m, ws, x, y, 4) == 0.75f);
    float acc = 0.5f;
    mlp_error e;
    assert_int_equal(mlp_accuracy(m, ws, x, y, 0, &acc, &e), MLP_ERR_INVALID);
    assert_non_null(strstr(e.msg, "rows"));
    assert_int_equal(mlp_accuracy(m, ws, NULL, y, 4, &acc, NULL), MLP_ERR_INVALID);
    assert_int_equal(mlp_accuracy(m, ws, x, y, 4, NULL, NULL), MLP_ERR_INVALID);

    /* More rows than one evaluation chunk. */
    enum { N = 1000 };
    float *xs = malloc(N * 2 * sizeof(float));
    int *ys = malloc(N * sizeof(int));
    assert_non_null(xs);
    assert_non_null(ys);
    for (int i = 0; i < N; i++) {
        xs[2 * i] = (float)(i % 2);
        xs[2 * i + 1] = (float)(1 - i % 2);
        ys[i] = i < 100 ? i % 2 : 1 - i % 2; /* first 100 wrong */
    }
    assert_true(accuracy_of(m, ws, xs, ys, N) == 0.9f);
    free(xs);
    free(ys);
    mlp_workspace_free(ws);
    mlp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_params),
        cmocka_unit_test(test_activity_is_counted_after_each_epoch),
        cmocka_unit_test(test_sgd_momentum_matches_torch),
        cmocka_unit_test(test_adam_matches_torch),
        cmocka_unit_test(test_clipping_matches_torch),
        cmocka_unit_test(test_clipping_caps_norm),
        cmocka_unit_test(test_xor_converges),
        cmocka_unit_test(test_one_output_classifier_learns_xor),
        cmocka_unit_test(test_one_output_classifier_refusals),
        cmocka_unit_test(test_iris_reaches_95_percent),
        cmocka_unit_test(test_same_seed_same_bits),
        cmocka_unit_test(test_regression_trains),
        cmocka_unit_test(test_callback_stops_early),
        cmocka_unit_test(test_epoch_loss_is_row_mean),
        cmocka_unit_test(test_divergence_is_an_error),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_accuracy_counts_argmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
