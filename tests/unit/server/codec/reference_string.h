/*
 * reference_string — REFERENCE ONLY: rs_json_string as it was before its
 * plain-byte fast paths (server/codec/json.c at commit 169e4b4, one byte at
 * a time), renamed ref_json_string, for the differential test in
 * test_codec.c. Do not change it: it defines the results (return value,
 * bytes written, length, cursor, messages) the server's reader must
 * reproduce.
 */
#ifndef RS_TEST_REFERENCE_STRING_H
#define RS_TEST_REFERENCE_STRING_H

#include <stdbool.h>
#include <string.h>

#include "codec/internal.h"

static int ref_hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape at p (p + 4 <= end checked). */
static long ref_hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = ref_hex_value(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Appends byte c to out if there is room; counts it either way. */
static inline void ref_out_put(char *out, size_t cap, size_t *n, char c)
{
    if (*n + 1 < cap) out[*n] = c;
    (*n)++;
}

static int ref_json_string(rs_json *j, char *out, size_t cap, size_t *len)
{
    if (rs_json_peek(j) != '"') return rs_json_syntax(j, "a string");
    j->p++;
    size_t n = 0;
    for (;;) {
        if (j->p >= j->end) return rs_json_syntax(j, "'\"' closing the string");
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) return rs_json_syntax(j, "an escaped control character");
        if (c >= 0x80) {
            /* JSON text is UTF-8 (RFC 8259); refusing anything else here
             * means every string we echo back is valid too. */
            int k = rs_utf8_sequence((const unsigned char *)j->p, (const unsigned char *)j->end);
            if (k == 0) return rs_json_syntax(j, "valid UTF-8 in the string");
            for (int i = 0; i < k; i++)
                ref_out_put(out, cap, &n, j->p[i]);
            j->p += k;
            continue;
        }
        if (c != '\\') {
            ref_out_put(out, cap, &n, (char)c);
            j->p++;
            continue;
        }
        if (j->end - j->p < 2) return rs_json_syntax(j, "an escape sequence");
        char e = j->p[1];
        j->p += 2;
        static const char simple[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
        const char *k = e != '\0' ? strchr(simple, e) : NULL;
        if (k != NULL) {
            ref_out_put(out, cap, &n, meaning[k - simple]);
            continue;
        }
        if (e != 'u') {
            j->p -= 1;
            return rs_json_syntax(j, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
        }
        if (j->end - j->p < 4) return rs_json_syntax(j, "4 hex digits after \\u");
        long cp = ref_hex4(j->p);
        if (cp < 0) return rs_json_syntax(j, "4 hex digits after \\u");
        j->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* A high surrogate must be followed by \u and a low one. */
            long lo = -1;
            if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') lo = ref_hex4(j->p + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return rs_json_syntax(j, "a low surrogate \\uDC00-\\uDFFF");
            j->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return rs_json_syntax(j, "a high surrogate before a low one");
        }
        /* UTF-8 encoding of the code point. */
        if (cp < 0x80) {
            ref_out_put(out, cap, &n, (char)cp);
        } else if (cp < 0x800) {
            ref_out_put(out, cap, &n, (char)(0xc0 | (cp >> 6)));
            ref_out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            ref_out_put(out, cap, &n, (char)(0xe0 | (cp >> 12)));
            ref_out_put(out, cap, &n, (char)(0x80 | ((cp >> 6) & 0x3f)));
            ref_out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        } else {
            ref_out_put(out, cap, &n, (char)(0xf0 | (cp >> 18)));
            ref_out_put(out, cap, &n, (char)(0x80 | ((cp >> 12) & 0x3f)));
            ref_out_put(out, cap, &n, (char)(0x80 | ((cp >> 6) & 0x3f)));
            ref_out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        }
    }
    bool truncated = n + 1 > cap;
    if (cap > 0) out[truncated ? cap - 1 : n] = '\0';
    if (len != NULL) *len = truncated ? (cap > 0 ? cap - 1 : 0) : n;
    return truncated ? 1 : 0;
}

#endif /* RS_TEST_REFERENCE_STRING_H */
