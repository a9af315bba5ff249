/*
 * io_text — the text side of the writers: a growable buffer and float32
 * numbers printed with the fewest digits that read back bit-identically.
 *
 * Why not jansson's dumper: it prints doubles with 17 significant digits,
 * which for a float32 weight is both long ("0.10000000149011612") and not the
 * number anyone wrote. A float32 needs at most 9 significant digits to round
 * trip (FLT_DECIMAL_DIG), usually fewer: mlp_format_float (float_text.c)
 * finds the fewest, checked here against the reader's own path.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

static bool strbuf_reserve(mlp_strbuf *b, size_t extra)
{
    if (b->failed) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void mlp_strbuf_append(mlp_strbuf *b, const char *s, size_t n)
{
    if (!strbuf_reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void mlp_strbuf_puts(mlp_strbuf *b, const char *s)
{
    mlp_strbuf_append(b, s, strlen(s));
}

void mlp_strbuf_printf(mlp_strbuf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        mlp_strbuf_append(b, small, (size_t)n);
        return;
    }
    if (!strbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mlp_io_format_float(char buf[32], float v)
{
    if (v == 0.0f) {
        /* "-0" would read back as the integer 0 and lose the sign. */
        strcpy(buf, signbit(v) ? "-0.0" : "0");
        return;
    }
    /* The shortest text strtof reads back as v. Our reader (jansson) goes
     * through strtod and then rounds to float; check that path agrees, and
     * fall back to 9 digits, which round-trip through it always
     * (FLT_DECIMAL_DIG; the decimal is far closer to v than any tie). */
    mlp_format_float(v, buf);
    if ((float)strtod(buf, NULL) == v) return;
    snprintf(buf, 32, "%.9g", (double)v);
    /* snprintf follows LC_NUMERIC; JSON wants '.' whatever the host program
     * set (which is also what makes the check above fail there). */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1])
        for (char *p = buf; *p; p++)
            if (*p == dp[0]) *p = '.';
}

void mlp_strbuf_float(mlp_strbuf *b, float v)
{
    char buf[32];
    mlp_io_format_float(buf, v);
    mlp_strbuf_puts(b, buf);
}

void mlp_strbuf_float_array(mlp_strbuf *b, const float *v, size_t n)
{
    mlp_strbuf_append(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) mlp_strbuf_append(b, ", ", 2);
        mlp_strbuf_float(b, v[i]);
    }
    mlp_strbuf_append(b, "]", 1);
}

bool mlp_strbuf_json_string(mlp_strbuf *b, const char *s)
{
    /* jansson validates UTF-8 and escapes quotes, backslashes and control
     * characters; names are short, so the extra allocation is harmless. */
    json_t *j = json_string(s);
    if (!j) return false;
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (!text) {
        b->failed = true;
        return true;
    }
    mlp_strbuf_puts(b, text);
    free(text);
    return true;
}

void mlp_strbuf_free(mlp_strbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
