/*
 * buf — the growable byte buffer every encoder writes into.
 *
 * Growth doubles the capacity, so n appends cost O(n) amortised, up to the
 * buffer's limit when its writer set one (the last step then stops at the
 * limit instead of nearly doubling the memory for the final bytes). An append
 * that cannot allocate marks the buffer failed and every later append is a
 * no-op: encoders write a whole response and check `failed` once at the end.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rs_buf_init(rs_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = 0;
    b->failed = false;
}

void rs_buf_free(rs_buf *b)
{
    free(b->data);
    rs_buf_init(b);
}

void rs_buf_reset(rs_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data != NULL) b->data[0] = '\0';
}

bool rs_buf_reserve(rs_buf *b, size_t extra)
{
    if (b->failed) return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->limit >= need && cap > b->limit) cap = b->limit;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void rs_buf_printf(rs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!rs_buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rs_buf_int(rs_buf *b, long long v)
{
    char *o = rs_buf_room(b, RS_TEXT_DECIMAL_MAX);
    if (o != NULL) rs_buf_commit(b, rs_text_decimal_at(o, v));
}

void rs_buf_float(rs_buf *b, float f)
{
    /* the room's byte for the NUL takes mlp_format_float's */
    char *o = rs_buf_room(b, MLP_FLOAT_TEXT_MAX - 1);
    if (o != NULL) rs_buf_commit(b, o + mlp_format_float(f, o));
}

void rs_utf8_scrub(char *s)
{
    const unsigned char *end = (const unsigned char *)s + strlen(s);
    for (unsigned char *p = (unsigned char *)s; p < end; p++) {
        if (*p < 0x80) continue;
        int k = rs_utf8_sequence(p, end);
        if (k > 0)
            p += k - 1;
        else
            *p = '?';
    }
}

/* A byte a JSON string holds as itself: printable ASCII but '"' and '\\'. */
static inline bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void rs_buf_json_string(rs_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    /* The common case, a name of plain bytes: one scan that finds its end
     * (no strlen first), then one copy. */
    size_t plain = 0;
    while (json_plain((unsigned char)s[plain]))
        plain++;
    if (s[plain] == '\0') {
        char *o = rs_buf_room(b, plain + 2);
        if (o == NULL) return;
        *o = '"';
        memcpy(o + 1, s, plain);
        o[plain + 1] = '"';
        rs_buf_commit(b, o + plain + 2);
        return;
    }
    size_t n = plain + strlen(s + plain);
    /* Worst case every byte becomes \u00XX (6 bytes), plus two quotes. */
    if (n > (SIZE_MAX - 2) / 6) { /* more than any buffer holds */
        b->failed = true;
        return;
    }
    char *o = rs_buf_room(b, n * 6 + 2);
    if (o == NULL) return;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (json_plain(c)) {
            *o++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c >= 0x80) {
            /* Valid UTF-8 passes through; any other byte (a message that
             * cut a name in the middle of a character, say) becomes U+FFFD
             * so the body stays valid JSON. */
            int k = rs_utf8_sequence((const unsigned char *)s + i, (const unsigned char *)s + n);
            if (k > 0) {
                memcpy(o, s + i, (size_t)k);
                o += k;
                i += (size_t)k - 1;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
            }
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c == '\r') {
            *o++ = '\\';
            *o++ = 'r';
        } else {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        }
    }
    *o++ = '"';
    rs_buf_commit(b, o);
}

char *rs_buf_steal(rs_buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL) *len = b->len;
    if (p == NULL) {
        /* Callers always get a string they can free and print. */
        p = malloc(1);
        if (p != NULL) p[0] = '\0';
    }
    rs_buf_init(b);
    return p;
}
