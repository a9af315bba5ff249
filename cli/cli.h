/*
 * cli — the offline subcommands of the reluserve binary.
 *
 *     reluserve train   --data iris.csv --task classification --layers 16,16 \
 *                       --out models/iris/1/model.json
 *     reluserve inspect models/iris/1/model.json --data iris.csv
 *
 * cli/main.c dispatches on the first argument and calls the command with
 * the arguments from the subcommand name on: argv[0] is "train" or "inspect",
 * argv[1..argc) its options. Each command returns the process exit code:
 * 0 success, 1 failure (unreadable data, training diverged, cannot save),
 * 2 usage error (unknown flag, bad value). Messages go to stderr; `--help`
 * prints the usage to stdout and returns 0. Neither command exits or aborts.
 */
#ifndef RS_CLI_H
#define RS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "mlp.h"

int rs_cmd_train(int argc, char **argv);
int rs_cmd_inspect(int argc, char **argv);
int rs_cmd_prune(int argc, char **argv);

/* Pins OpenBLAS to one thread for the whole process, as libmlp requires of
 * its callers (lib/mlp.h, mlp_kernel); main() calls it before any command.
 * Returns the thread count OpenBLAS then reports: 1 (0 in a make BLAS=0
 * build, which has no OpenBLAS). */
int rs_blas_single_thread(void);

/* Exit codes shared by the subcommands. */
enum { RS_EXIT_OK = 0, RS_EXIT_FAIL = 1, RS_EXIT_USAGE = 2 };

/* --------------------------------------------- helpers shared by commands */

/*
 * A CSV file as read by the subcommands: the first line is a header, then one
 * record per line, fields separated by commas, surrounding spaces and one pair
 * of surrounding double quotes stripped (quoted fields cannot contain commas).
 * Lines end at "\n" or "\r\n" (a "\r" elsewhere belongs to its field).
 * Blank lines are skipped. Every record must
 * have as many fields as the header; a NUL byte anywhere is an error (text
 * has none; UTF-16 files are full of them).
 */
typedef struct {
    int rows, cols;
    char **header; /* cols column names */
    float *num;    /* rows x cols, row-major; NAN where a field is not a number */
    char **last;   /* rows copies of the last field's text (class names) */
    int *line;     /* rows source line numbers (1-based), for error messages */
} rs_csv;

/* Reads path into *out (which the caller frees with rs_csv_free, also after a
 * failure). On failure writes one sentence naming the file and line to msg. */
bool rs_csv_read(const char *path, rs_csv *out, char *msg, size_t msg_len);
/* The same with the column named last_col moved to the end (header, numbers
 * and the kept text: `last` then holds that column's text); the other
 * columns keep their order. Fails naming the header's columns when none, or
 * more than one, has that name. last_col NULL reads as rs_csv_read. */
bool rs_csv_read_with(const char *path, const char *last_col, rs_csv *out, char *msg,
                      size_t msg_len);
/* The same from an open stream (which the caller closes); path names it in
 * messages. */
bool rs_csv_read_stream(FILE *f, const char *path, rs_csv *out, char *msg, size_t msg_len);
void rs_csv_free(rs_csv *c);
/* Frees the n strings of s, then s (NULL: nothing). */
void rs_strings_free(char **s, int n);

/*
 * Option parsing for `--name value` and `--name=value`. rs_arg_match returns
 * true when argv[*i] is --name; it then points *value at the value (taking the
 * next argument when there is no '='), advancing *i, or sets *value to NULL if
 * the value is missing.
 */
bool rs_arg_match(int argc, char **argv, int *i, const char *name, const char **value);
/* Strict number parsing: the whole string, in range; false otherwise. */
bool rs_arg_int(const char *s, long lo, long hi, long *out);
bool rs_arg_float(const char *s, float *out);
/* Which of two words s is: false for `no`, true for `yes`; returns false when
 * it is neither (or NULL). */
bool rs_arg_choice(const char *s, const char *no, const char *yes, bool *out);

/* s ends with suffix. */
bool rs_path_ends_with(const char *s, const char *suffix);
/* mkdir -p for the folder part of path; false (errno set) when it cannot. */
bool rs_mkdirs_for(const char *path);
/* Saves m by out's extension: .json (native JSON) or .safetensors (with
 * config.json written beside it). err must not be NULL. */
mlp_status rs_model_save(const mlp_model *m, const char *out, mlp_error *err);

#endif /* RS_CLI_H */
