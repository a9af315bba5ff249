/*
 * text — bounded appends for the decoders' message paths and shapes.
 *
 * v1 builds a path like "instances[3]" for every row, though only an error
 * message shows it; snprintf cost more than parsing a small row, so these
 * append by hand. (v2 composes its paths only for an error.) The result is
 * what snprintf would write: cut at cap - 1 bytes and always NUL-terminated
 * (cap > 0). The answers' integers are written forwards into room their
 * writer made (rs_text_decimal_at), from the same digits.
 */
#include <string.h>

#include "internal.h"

size_t rs_text_put(char *out, size_t cap, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (len >= cap) return len;
    if (n > cap - 1 - len) n = cap - 1 - len;
    memcpy(out + len, s, n);
    out[len + n] = '\0';
    return len + n;
}

char *rs_text_decimal(char *end, long long v)
{
    char *p = end;
    /* The magnitude as unsigned, so LLONG_MIN does not overflow. */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) *--p = '-';
    return p;
}

char *rs_text_decimal_counted(char *o, long long v)
{
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    size_t n = v < 0 ? 2 : 1;
    for (; u >= 10; u /= 10)
        n++;
    rs_text_decimal(o + n, v);
    return o + n;
}

size_t rs_text_int(char *out, size_t cap, size_t len, long long v)
{
    char tmp[RS_TEXT_DECIMAL_MAX + 1];
    tmp[RS_TEXT_DECIMAL_MAX] = '\0';
    return rs_text_put(out, cap, len, rs_text_decimal(tmp + RS_TEXT_DECIMAL_MAX, v));
}
