/*
 * test_cli.c — the CSV reader, option parsing, and `reluserve train` /
 * `reluserve inspect` end to end on small files in a temporary folder.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "mlp.h"

#include "../test_tmpdir.h"

/* tmpdir/name into out (256 bytes). */
static void tmp_path(char *out, const char *name)
{
    snprintf(out, 256, "%s/%s", tmpdir, name);
}

/* The model at path, which must load (the caller frees it). */
static mlp_model *model_at(const char *path)
{
    mlp_model *m = NULL;
    mlp_error err;
    if (mlp_model_load(path, &m, &err) != MLP_OK) fail_msg("%s", err.msg);
    return m;
}

/* Writes text to tmpdir/name; returns the path (static buffer rotation). */
static const char *file_write(const char *name, const char *text)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    tmp_path(p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int run(int (*cmd)(int, char **), const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return cmd(argc, argv);
}

/* ------------------------------------------------------------- CSV */

/* Reads the CSV at path into c, the column named target moved last (NULL:
 * as it is); returns whether it was read, with the message in msg (256). */
static bool csv_read(const char *path, const char *target, rs_csv *c, char *msg)
{
    return target ? rs_csv_read_with(path, target, c, msg, 256) : rs_csv_read(path, c, msg, 256);
}

/* The CSV at path is read into c, which the caller frees. */
static void csv_read_ok(const char *path, const char *target, rs_csv *c)
{
    char msg[256];
    if (!csv_read(path, target, c, msg)) fail_msg("%s", msg);
}

/* The CSV at path is refused with a message holding needle. */
static void csv_refused(const char *path, const char *target, const char *needle)
{
    rs_csv c;
    char msg[256];
    assert_false(csv_read(path, target, &c, msg));
    if (!strstr(msg, needle)) fail_msg("\"%s\" is not in \"%s\"", needle, msg);
    rs_csv_free(&c);
}

static void test_csv_reads_numbers_and_last_text(void **state)
{
    (void)state;
    const char *p = file_write("a.csv", "a, b ,\"c\"\r\n"
                                        "1,2.5,cat\r\n"
                                        "\n"
                                        " -3 ,\"4e2\", dog \r\n");
    rs_csv c;
    csv_read_ok(p, NULL, &c);
    assert_int_equal(c.rows, 2);
    assert_int_equal(c.cols, 3);
    assert_string_equal(c.header[0], "a");
    assert_string_equal(c.header[1], "b");
    assert_string_equal(c.header[2], "c");
    assert_true(c.num[0] == 1.0f && c.num[1] == 2.5f && isnan(c.num[2]));
    assert_true(c.num[3] == -3.0f && c.num[4] == 400.0f && isnan(c.num[5]));
    assert_string_equal(c.last[0], "cat");
    assert_string_equal(c.last[1], "dog");
    assert_int_equal(c.line[0], 2);
    assert_int_equal(c.line[1], 4);
    rs_csv_free(&c);
}

static void test_csv_errors_name_file_and_line(void **state)
{
    (void)state;
    csv_refused(file_write("ragged.csv", "a,b\n1,2\n3\n"), NULL, "ragged.csv:3");
    csv_refused(file_write("empty.csv", ""), NULL, "empty");
    csv_refused(file_write("header.csv", "a,b\n\n"), NULL, "no data rows");
    csv_refused("/nonexistent/x.csv", NULL, "cannot open");
}

/* train --target: the named column moves to the end with its text, the
 * others keep their order; an unknown or doubled name is refused naming the
 * header's columns. */
static void test_csv_read_with_moves_the_named_column_last(void **state)
{
    (void)state;
    const char *p = file_write("target.csv", "kind,a,b\nup,1,2\ndown,3,4\n");
    rs_csv c;
    csv_read_ok(p, "kind", &c);
    assert_int_equal(c.cols, 3);
    assert_string_equal(c.header[0], "a");
    assert_string_equal(c.header[1], "b");
    assert_string_equal(c.header[2], "kind");
    assert_true(c.num[0] == 1.0f && c.num[1] == 2.0f && isnan(c.num[2]));
    assert_true(c.num[3] == 3.0f && c.num[4] == 4.0f);
    assert_string_equal(c.last[0], "up");
    assert_string_equal(c.last[1], "down");
    rs_csv_free(&c);
    csv_read_ok(p, "a", &c);
    assert_string_equal(c.header[0], "kind");
    assert_string_equal(c.header[2], "a");
    assert_true(c.num[1] == 2.0f && c.num[2] == 1.0f);
    assert_string_equal(c.last[1], "3");
    rs_csv_free(&c);
    csv_refused(p, "nope", "no column named 'nope' (the header has: kind, a, b)");
    csv_refused(file_write("twice.csv", "a,a,b\n1,2,3\n"), "a", "more than one column named 'a'");
}

/* Writes n bytes (NULs included) to tmpdir/name; returns the path. */
static const char *bytes_write(const char *name, const char *bytes, size_t n)
{
    static char p[256];
    tmp_path(p, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return p;
}

/* Found by fuzz_csv: the reader cut lines at the first NUL, so "1,2\0,3"
 * was a two-field row and the rest of the line vanished silently. */
static void test_csv_refuses_nul_bytes(void **state)
{
    (void)state;
    static const char mid[] = "a,b\n1,2\0,3\n4,5\n";
    csv_refused(bytes_write("nul.csv", mid, sizeof mid - 1), NULL, "nul.csv:2: holds a NUL byte");
    /* UTF-16LE "a,b\n1,2\n": a NUL after every character. */
    static const char utf16[] = "a\0,\0b\0\n\0001\0,\0002\0\n\0";
    csv_refused(bytes_write("utf16.csv", utf16, sizeof utf16 - 1), NULL, "UTF-16");
}

/* Found by fuzz_csv: a "\r" inside a line ended it, so "1,2\r3,4" read as
 * the row 1,2 and dropped 3,4. Only "\n" and "\r\n" end a line now. */
static void test_csv_lone_cr_does_not_end_a_line(void **state)
{
    (void)state;
    csv_refused(file_write("cr.csv", "a,b\n1,2\r3,4\n"), NULL,
                "cr.csv:2: 3 fields, but the header has 2");
    /* last line: "\r", no "\n" */
    rs_csv c;
    csv_read_ok(file_write("cr_end.csv", "a,b\r\n1,2\r\n3,4\r"), NULL, &c);
    assert_int_equal(c.rows, 2);
    assert_true(c.num[2] == 3.0f && c.num[3] == 4.0f);
    assert_string_equal(c.last[1], "4");
    rs_csv_free(&c);
}

static void test_csv_grows_past_first_block(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, "big.csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x,y\n", f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%d,%d\n", i, 2 * i);
    fclose(f);
    rs_csv c;
    csv_read_ok(path, NULL, &c);
    assert_int_equal(c.rows, 1000);
    assert_true(c.num[999 * 2] == 999.0f && c.num[999 * 2 + 1] == 1998.0f);
    rs_csv_free(&c);
}

/* ------------------------------------------------------------ options */

static void test_arg_match_forms(void **state)
{
    (void)state;
    char *argv[] = {"train", "--lr=0.5", "--epochs", "7", "--lrx", "1", "--seed", NULL};
    int argc = 7, i = 1;
    const char *v;
    assert_true(rs_arg_match(argc, argv, &i, "lr", &v));
    assert_string_equal(v, "0.5");
    assert_int_equal(i, 1);
    i = 2;
    assert_true(rs_arg_match(argc, argv, &i, "epochs", &v));
    assert_string_equal(v, "7");
    assert_int_equal(i, 3);
    i = 4;
    assert_false(rs_arg_match(argc, argv, &i, "lr", &v));
    i = 6;
    assert_true(rs_arg_match(argc, argv, &i, "seed", &v));
    assert_null(v);
}

static void test_arg_numbers_are_strict(void **state)
{
    (void)state;
    long n;
    float f;
    assert_true(rs_arg_int("42", 1, 100, &n) && n == 42);
    assert_false(rs_arg_int("42x", 1, 100, &n));
    assert_false(rs_arg_int("", 1, 100, &n));
    assert_false(rs_arg_int("0", 1, 100, &n));
    assert_false(rs_arg_int("101", 1, 100, &n));
    assert_true(rs_arg_float("1e-3", &f) && f == 1e-3f);
    assert_false(rs_arg_float("nan", &f));
    assert_false(rs_arg_float("inf", &f));
    assert_false(rs_arg_float("1e39", &f));
    assert_false(rs_arg_float("0.1.2", &f));
    assert_false(rs_arg_float(NULL, &f));
    bool b = true;
    assert_true(rs_arg_choice("adam", "adam", "sgd", &b) && !b);
    assert_true(rs_arg_choice("sgd", "adam", "sgd", &b) && b);
    assert_false(rs_arg_choice("Adam", "adam", "sgd", &b));
    assert_false(rs_arg_choice("", "adam", "sgd", &b));
    assert_false(rs_arg_choice(NULL, "adam", "sgd", &b));
    assert_true(b); /* a refused word leaves the value alone */
}

/* ------------------------------------------------------------ commands */

/* Two well separated blobs; "right" appears first, so it is class 0. */
static const char *blobs_csv(void)
{
    char text[8192] = "u,v,side\n";
    size_t len = strlen(text);
    for (int i = 0; i < 40; i++) {
        float jitter = (float)(i % 7) * 0.1f;
        len += (size_t)snprintf(text + len, sizeof text - len, "%g,%g,%s\n",
                                i % 2 ? -2.0 - jitter : 2.0 + jitter, 10.0 + jitter,
                                i % 2 ? "left" : "right");
    }
    return file_write("blobs.csv", text);
}

/* Trains a classifier of the blobs at data (8 hidden units, 30 epochs of
 * batches of 8, seed 3) into out, with --output-activation `output` unless
 * it is NULL (the default), and returns the model written. */
static mlp_model *train_blobs(const char *data, const char *out, const char *output)
{
    /* run()'s arguments end at the first NULL: without output, at "--out" out */
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "8", "--epochs", "30", "--batch-size", "8", "--seed", "3",
                         "--out", out, output ? "--output-activation" : NULL, output, NULL),
                     RS_EXIT_OK);
    return model_at(out);
}

static void test_train_classifier_and_inspect(void **state)
{
    (void)state;
    const char *data = blobs_csv();
    char out[256];
    tmp_path(out, "models/blobs/1/model.json");
    mlp_model *m = train_blobs(data, out, NULL);
    assert_string_equal(mlp_model_name(m), "blobs");
    assert_int_equal(mlp_model_n_inputs(m), 2);
    assert_int_equal(mlp_model_n_outputs(m), 2);
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_non_null(mlp_model_labels(m));
    assert_string_equal(mlp_model_labels(m)[0], "right");
    assert_string_equal(mlp_model_labels(m)[1], "left");
    assert_non_null(mlp_model_input_mean(m));
    assert_non_null(mlp_model_input_std(m));
    assert_true(fabsf(mlp_model_input_mean(m)[1] - 10.3f) < 0.05f); /* jitter averages ~0.3 */
    assert_true(mlp_model_input_std(m)[0] > 1.5f);
    mlp_model_free(m);

    assert_int_equal(run(rs_cmd_inspect, "inspect", out, NULL), RS_EXIT_OK);
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--data", data, NULL), RS_EXIT_OK);
    const char *bad = file_write("badlabel.csv", "u,v,side\n1,2,up\n");
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--data", bad, NULL), RS_EXIT_FAIL);
    assert_int_equal(run(rs_cmd_inspect, "inspect", NULL), RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--nope", NULL), RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_inspect, "inspect", "/nonexistent.json", NULL), RS_EXIT_FAIL);
}

/* --output-activation sigmoid: two classes in one sigmoid unit trained with
 * binary cross-entropy (the blobs are separable, so it reaches accuracy 1;
 * a one-output softmax would have trained nothing); inspect reads it back
 * with the class names of the same CSV. */
static void test_train_binary_sigmoid_classifier(void **state)
{
    (void)state;
    const char *data = blobs_csv();
    char out[256];
    tmp_path(out, "models/bin/1/model.json");
    mlp_model *m = train_blobs(data, out, "sigmoid");
    assert_int_equal(mlp_model_task(m), MLP_TASK_CLASSIFICATION);
    assert_int_equal(mlp_model_n_outputs(m), 1);
    assert_int_equal(mlp_model_layer(m, mlp_model_n_layers(m) - 1)->activation, MLP_ACT_SIGMOID);
    assert_non_null(mlp_model_labels(m));
    assert_string_equal(mlp_model_labels(m)[0], "left"); /* class 1: the second name seen */
    /* "right" rows (u > 0) are class 0: P(left) < 1/2 there */
    float x[4] = {2.0f, 10.0f, -2.0f, 10.0f}, y[2];
    int want[2] = {0, 1};
    mlp_workspace *ws = NULL;
    assert_int_equal(mlp_workspace_create(&ws, NULL), MLP_OK);
    assert_int_equal(mlp_forward(m, ws, x, 2, y, NULL), MLP_OK);
    assert_true(y[0] < 0.5f && y[1] > 0.5f);
    float acc = 0.0f;
    assert_int_equal(mlp_accuracy(m, ws, x, want, 2, &acc, NULL), MLP_OK);
    assert_true(acc == 1.0f);
    mlp_workspace_free(ws);
    mlp_model_free(m);
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--data", data, NULL), RS_EXIT_OK);
    const char *third = file_write("third.csv", "u,v,side\n1,2,left\n1,2,right\n1,2,up\n");
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--data", third, NULL), RS_EXIT_FAIL);

    /* Three classes do not fit one sigmoid; regression has no such option. */
    const char *three = file_write("three.csv", "a,k\n1,x\n2,y\n3,z\n");
    char out2[256];
    tmp_path(out2, "three.json");
    assert_int_equal(run(rs_cmd_train, "train", "--data", three, "--task", "classification",
                         "--output-activation", "sigmoid", "--layers", "4", "--out", out2, NULL),
                     RS_EXIT_FAIL);
    assert_int_equal(access(out2, F_OK), -1);
    assert_int_equal(run(rs_cmd_train, "train", "--data", three, "--task", "regression",
                         "--output-activation", "sigmoid", "--layers", "4", "--out", out2, NULL),
                     RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", three, "--task", "classification",
                         "--output-activation", "tanh", "--layers", "4", "--out", out2, NULL),
                     RS_EXIT_USAGE);
}

static void test_train_regression_safetensors(void **state)
{
    (void)state;
    char text[4096] = "a,b,s,d\n";
    size_t len = strlen(text);
    for (int i = 0; i < 30; i++) {
        float a = (float)i / 10.0f, b = (float)(i % 5);
        len += (size_t)snprintf(text + len, sizeof text - len, "%g,%g,%g,%g\n", a, b, a + b, a - b);
    }
    const char *data = file_write("reg.csv", text);
    char out[256], config[256];
    tmp_path(out, "reg/1/model.safetensors");
    tmp_path(config, "reg/1/config.json");
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "regression", "--targets",
                         "2", "--layers", "8,8", "--activation", "tanh", "--optimizer", "sgd",
                         "--lr", "0.01", "--epochs", "5", "--standardize", "no", "--name", "sums",
                         "--out", out, NULL),
                     RS_EXIT_OK);
    assert_int_equal(access(config, R_OK), 0);
    mlp_model *m = model_at(out);
    assert_string_equal(mlp_model_name(m), "sums");
    assert_int_equal(mlp_model_task(m), MLP_TASK_REGRESSION);
    assert_int_equal(mlp_model_n_inputs(m), 2);
    assert_int_equal(mlp_model_n_outputs(m), 2);
    assert_int_equal(mlp_model_layer(m, 0)->activation, MLP_ACT_TANH);
    assert_null(mlp_model_input_mean(m));
    mlp_model_free(m);
    assert_int_equal(run(rs_cmd_inspect, "inspect", out, "--data", data, NULL), RS_EXIT_OK);
}

static void test_train_usage_and_failures(void **state)
{
    (void)state;
    const char *data = blobs_csv();
    char out[256];
    tmp_path(out, "x.json");
    assert_int_equal(run(rs_cmd_train, "train", "--help", NULL), RS_EXIT_OK);
    assert_int_equal(run(rs_cmd_train, "train", NULL), RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "4", NULL),
                     RS_EXIT_USAGE); /* no --out */
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "cluster", "--layers",
                         "4", "--out", out, NULL),
                     RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "4,0", "--out", out, NULL),
                     RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "4", "--out", "model.txt", NULL),
                     RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "4", "--lr", "-1", "--out", out, NULL),
                     RS_EXIT_USAGE);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "classification",
                         "--layers", "4", "--epochs", NULL),
                     RS_EXIT_USAGE);
    /* Failures: missing data, class names as regression targets, one class. */
    assert_int_equal(run(rs_cmd_train, "train", "--data", "/nonexistent.csv", "--task",
                         "classification", "--layers", "4", "--out", out, NULL),
                     RS_EXIT_FAIL);
    assert_int_equal(run(rs_cmd_train, "train", "--data", data, "--task", "regression", "--layers",
                         "4", "--out", out, NULL),
                     RS_EXIT_FAIL);
    const char *one = file_write("one.csv", "a,k\n1,x\n2,x\n");
    assert_int_equal(run(rs_cmd_train, "train", "--data", one, "--task", "classification",
                         "--layers", "4", "--out", out, NULL),
                     RS_EXIT_FAIL);
    assert_int_equal(access(out, F_OK), -1); /* nothing was written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_reads_numbers_and_last_text),
        cmocka_unit_test(test_csv_errors_name_file_and_line),
        cmocka_unit_test(test_csv_read_with_moves_the_named_column_last),
        cmocka_unit_test(test_csv_refuses_nul_bytes),
        cmocka_unit_test(test_csv_lone_cr_does_not_end_a_line),
        cmocka_unit_test(test_csv_grows_past_first_block),
        cmocka_unit_test(test_arg_match_forms),
        cmocka_unit_test(test_arg_numbers_are_strict),
        cmocka_unit_test(test_train_classifier_and_inspect),
        cmocka_unit_test(test_train_binary_sigmoid_classifier),
        cmocka_unit_test(test_train_regression_safetensors),
        cmocka_unit_test(test_train_usage_and_failures),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
