/*
 * fuzz_csv — the CSV reader behind `reluserve train` and `inspect`
 * (rs_csv_read_stream, which rs_csv_read runs on the opened file).
 *
 * Input: the file's bytes, read through fmemopen as the reader reads a file.
 * No cap: the reader has no size limit of its own, rows grow with the file.
 *
 * Besides "no crash, leak or sanitizer report", the target checks the reader
 * against a model of the format written here from its documentation
 * (cli/cli.h): lines end at '\n' (one '\r' before it is dropped), blank
 * lines are skipped, the first other line is the header, and every later one
 * has exactly as many commas. So the reader must accept exactly when every
 * data line has the header's field count, there is at least one, and no NUL
 * byte (text files hold none; UTF-16 files hold many); when it accepts, its
 * rows, columns and line numbers are the model's, each number is finite or
 * NAN, and the last field's text agrees with its number.
 *
 *   make fuzz && scripts/run-fuzz --smoke 60 fuzz_csv
 */
#include <stdbool.h>

#include "cli.h"
#include "fuzz_check.h"

/* Bytes [p, end) of one line without its '\n' and one '\r' before it. */
typedef struct {
    const char *p;
    size_t n;
} line_span;

static size_t count_byte(line_span s, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++)
        k += s.p[i] == c;
    return k;
}

static bool blank(line_span s)
{
    for (size_t i = 0; i < s.n; i++)
        if (!strchr(" \t\n\v\f\r", s.p[i]) || s.p[i] == '\0') return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    FILE *f = fmemopen(text, size, "r");
    if (!f) { /* fmemopen refuses size 0 on old glibc */
        free(text);
        return 0;
    }
    rs_csv c;
    char msg[512] = "";
    bool ok = rs_csv_read_stream(f, "fuzz.csv", &c, msg, sizeof msg);
    fclose(f);

    /* The model: walk the lines. */
    bool want_ok = memchr(text, 0, size) == NULL;
    long header_commas = -1, rows = 0;
    int lineno = 0;
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - text) : size;
        line_span s = {text + at, end - at};
        if (s.n && s.p[s.n - 1] == '\r') s.n--;
        at = end + 1;
        lineno++;
        if (blank(s)) continue;
        long commas = (long)count_byte(s, ',');
        if (header_commas < 0) {
            header_commas = commas;
            continue;
        }
        if (commas != header_commas) {
            want_ok = false;
            break;
        }
        if (ok && rows < c.rows)
            FUZZ_CHECK(c.line[rows] == lineno, "row %ld comes from line %d, the reader says %d",
                       rows, lineno, c.line[rows]);
        rows++;
    }
    if (rows == 0) want_ok = false;

    FUZZ_CHECK(ok == want_ok, "the reader %s a file the format %s: %s", ok ? "accepts" : "refuses",
               want_ok ? "allows" : "forbids", ok ? "" : msg);
    if (ok) {
        FUZZ_CHECK(c.cols == header_commas + 1, "%d columns, the header has %ld", c.cols,
                   header_commas + 1);
        FUZZ_CHECK(c.rows == rows, "%d rows, the file has %ld", c.rows, rows);
        for (int j = 0; j < c.cols; j++)
            FUZZ_CHECK(c.header[j] && !strchr(c.header[j], ','), "header[%d]", j);
        for (int i = 0; i < c.rows; i++) {
            const float *row = c.num + (size_t)i * (size_t)c.cols;
            for (int j = 0; j < c.cols; j++)
                FUZZ_CHECK(isnan(row[j]) || (isfinite(row[j]) && fabsf(row[j]) <= 3.0e38f),
                           "row %d column %d = %g", i, j, (double)row[j]);
            FUZZ_CHECK(c.last[i] && !strchr(c.last[i], ','), "last[%d]", i);
            char *end;
            double v = strtod(c.last[i], &end);
            bool number = c.last[i][0] && *end == '\0' && isfinite(v) && fabs(v) <= 3.0e38;
            float last = row[c.cols - 1];
            if (!isnan(last))
                FUZZ_CHECK(number && (float)v == last, "last[%d] \"%s\" but its number is %g", i,
                           c.last[i], (double)last);
        }
    } else {
        FUZZ_CHECK(msg[0] != '\0', "refused without a message");
    }
    rs_csv_free(&c);
    free(text);
    return 0;
}
