/*
 * csv — the small CSV reader behind `reluserve train` and `inspect`.
 *
 * Data sets for an MLP are a header plus numeric rows, with class names in
 * the last column at most, so the reader parses every field as a number
 * (NAN when it is not one) and keeps the text of the last field only. Memory:
 * rows x cols floats plus one short string per row. A caller may name the
 * column to treat as the last one (`train --target`): the reader moves it
 * to the end, so the label or target can be any column of the file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void rs_strings_free(char **s, int n)
{
    for (int i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

void rs_csv_free(rs_csv *c)
{
    if (!c) return;
    rs_strings_free(c->header, c->cols);
    rs_strings_free(c->last, c->rows);
    free(c->num);
    free(c->line);
    memset(c, 0, sizeof *c);
}

/* Trims spaces and one pair of double quotes in place; returns the start. */
static char *field_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* Splits line at commas in place into at most cap fields; returns the count
 * (which may exceed cap: the caller reports the mismatch). */
static int line_split(char *line, char **fields, int cap)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (n < cap) fields[n] = field_trim(p);
        n++;
        if (!comma) return n;
        p = comma + 1;
    }
}

static float field_number(const char *s)
{
    if (!*s) return NAN;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v) || fabs(v) > 3.0e38) return NAN;
    return (float)v;
}

/* Cuts the line end ("\n" or "\r\n", none on a last line without one) off
 * the got bytes of buf. False when the line holds a NUL byte: C strings would
 * silently end there and drop the rest of the line (a UTF-16 file is full of
 * them), so the reader refuses such a file instead. */
static bool line_cut(char *buf, ssize_t got)
{
    size_t n = (size_t)got;
    if (memchr(buf, '\0', n)) return false;
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = '\0';
    return true;
}

static bool line_blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Grows the per-row arrays to hold at least need rows. */
static bool csv_grow(rs_csv *c, int *cap, int need)
{
    if (need <= *cap) return true;
    int ncap = *cap == 0 ? 256 : *cap > INT_MAX / 2 ? INT_MAX : *cap * 2;
    if (ncap < need) return false;
    float *num = realloc(c->num, (size_t)ncap * (size_t)c->cols * sizeof(float));
    if (!num) return false;
    c->num = num;
    char **last = realloc(c->last, (size_t)ncap * sizeof(char *));
    if (!last) return false;
    c->last = last;
    int *line = realloc(c->line, (size_t)ncap * sizeof(int));
    if (!line) return false;
    c->line = line;
    *cap = ncap;
    return true;
}

static bool read_stream(FILE *f, const char *path, const char *last_col, rs_csv *out, char *msg,
                        size_t msg_len);

bool rs_csv_read(const char *path, rs_csv *out, char *msg, size_t msg_len)
{
    return rs_csv_read_with(path, NULL, out, msg, msg_len);
}

bool rs_csv_read_with(const char *path, const char *last_col, rs_csv *out, char *msg,
                      size_t msg_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msg_len, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    bool ok = read_stream(f, path, last_col, out, msg, msg_len);
    fclose(f);
    return ok;
}

bool rs_csv_read_stream(FILE *f, const char *path, rs_csv *out, char *msg, size_t msg_len)
{
    return read_stream(f, path, NULL, out, msg, msg_len);
}

/* The header's column named name: its index, -1 when there is none, -2 when
 * two columns have that name (which one the user meant is unknowable). */
static int column_find(const rs_csv *c, const char *name)
{
    int found = -1;
    for (int j = 0; j < c->cols; j++)
        if (strcmp(c->header[j], name) == 0) {
            if (found >= 0) return -2;
            found = j;
        }
    return found;
}

/* The column names, comma-separated, for a message (cut at len). */
static void columns_list(const rs_csv *c, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int j = 0; j < c->cols && used + 1 < len; j++) {
        int w = snprintf(out + used, len - used, "%s%s", j ? ", " : "", c->header[j]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static bool read_stream(FILE *f, const char *path, const char *last_col, rs_csv *out, char *msg,
                        size_t msg_len)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t buf_len = 0;
    char **fields = NULL;
    int *src = NULL;
    int lineno = 0, cap = 0;
    bool ok = false;
    ssize_t got;

    /* Header: the first non-blank line. */
    while ((got = getline(&buf, &buf_len, f)) >= 0) {
        lineno++;
        if (!line_cut(buf, got)) goto nul;
        if (!line_blank(buf)) break;
    }
    if (got < 0) {
        snprintf(msg, msg_len, "%s: empty file (expected a header line)", path);
        goto done;
    }
    int cols = 1;
    for (const char *p = buf; *p; p++)
        cols += *p == ',';
    fields = malloc((size_t)cols * sizeof(char *));
    src = malloc((size_t)cols * sizeof(int));
    out->header = calloc((size_t)cols, sizeof(char *));
    if (!fields || !src || !out->header) goto nomem;
    out->cols = cols;
    line_split(buf, fields, cols);
    for (int j = 0; j < cols; j++)
        if (!(out->header[j] = strdup(fields[j]))) goto nomem;
    /* src[k]: the file's column at position k. With last_col, that column
     * moves to the end and the others keep their order. */
    int moved = cols - 1;
    if (last_col) {
        moved = column_find(out, last_col);
        if (moved < 0) {
            char names[300];
            columns_list(out, names, sizeof names);
            snprintf(msg, msg_len, "%s: %s column named '%s' (the header has: %s)", path,
                     moved == -1 ? "no" : "more than one", last_col, names);
            goto done;
        }
    }
    for (int j = 0, k = 0; j < cols; j++)
        if (j != moved) src[k++] = j;
    src[cols - 1] = moved;
    {
        char *name = out->header[moved];
        memmove(out->header + moved, out->header + moved + 1,
                (size_t)(cols - 1 - moved) * sizeof(char *));
        out->header[cols - 1] = name;
    }

    while ((got = getline(&buf, &buf_len, f)) >= 0) {
        lineno++;
        if (!line_cut(buf, got)) goto nul;
        if (line_blank(buf)) continue;
        int n = line_split(buf, fields, cols);
        if (n != cols) {
            snprintf(msg, msg_len, "%s:%d: %d fields, but the header has %d", path, lineno, n,
                     cols);
            goto done;
        }
        if (out->rows == 0x7fffffff || !csv_grow(out, &cap, out->rows + 1)) goto nomem;
        float *row = out->num + (size_t)out->rows * (size_t)cols;
        for (int j = 0; j < cols; j++)
            row[j] = field_number(fields[src[j]]);
        out->line[out->rows] = lineno;
        if (!(out->last[out->rows] = strdup(fields[moved]))) goto nomem;
        out->rows++;
    }
    if (ferror(f)) {
        snprintf(msg, msg_len, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (out->rows == 0) {
        snprintf(msg, msg_len, "%s: no data rows after the header", path);
        goto done;
    }
    ok = true;
    goto done;
nul:
    snprintf(msg, msg_len,
             "%s:%d: holds a NUL byte, which text does not (is it UTF-16 or binary? save it as "
             "UTF-8 text)",
             path, lineno);
    goto done;
nomem:
    snprintf(msg, msg_len, "%s: out of memory at line %d", path, lineno);
done:
    free(buf);
    free(fields);
    free(src);
    return ok;
}
