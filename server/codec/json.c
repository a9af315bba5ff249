/*
 * json — a cursor over JSON text for the request decoders.
 *
 * It builds no tree: decoders walk objects key by key and pull values
 * straight into their own structures, and tensor data goes from digits to
 * float buffers without an intermediate. The text is not NUL-terminated and
 * every read checks the end pointer. Nesting is bounded (RS_JSON_MAX_DEPTH),
 * so hostile input cannot exhaust the stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rs_json_init(rs_json *j, const char *s, size_t len, char *err, size_t errlen)
{
    j->start = s;
    j->p = s;
    j->end = s + len;
    j->err = err;
    j->errlen = errlen;
    j->failed = false;
    j->nul_seen = false;
}

int rs_json_fail(rs_json *j, const char *fmt, ...)
{
    if (!j->failed && j->err != NULL && j->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err, j->errlen, fmt, ap);
        va_end(ap);
    }
    j->failed = true;
    return -1;
}

int rs_json_syntax(rs_json *j, const char *what)
{
    size_t at = (size_t)(j->p - j->start);
    if (j->p >= j->end)
        return rs_json_fail(j, "invalid JSON: the body ends at byte %zu where %s was expected", at,
                            what);
    unsigned char c = (unsigned char)*j->p;
    if (c >= 0x21 && c < 0x7f)
        return rs_json_fail(j, "invalid JSON at byte %zu: expected %s, got '%c'", at, what, c);
    return rs_json_fail(j, "invalid JSON at byte %zu: expected %s, got byte 0x%02x", at, what, c);
}

const char *rs_json_kind(int c)
{
    switch (c) {
    case '{':
        return "an object";
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    case -1:
        return "nothing";
    default:
        return (c == '-' || (c >= '0' && c <= '9')) ? "a number" : "an invalid value";
    }
}

int rs_json_object_begin(rs_json *j)
{
    if (rs_json_peek(j) != '{') return rs_json_syntax(j, "'{'");
    j->p++;
    return 0;
}

int rs_json_array_begin(rs_json *j)
{
    if (rs_json_peek(j) != '[') return rs_json_syntax(j, "'['");
    j->p++;
    return 0;
}

/* Steps to a container's next element: 0 at its end (close consumed), 1
 * before an element (the ',' before it consumed), -1 on a syntax error. */
static int next_element(rs_json *j, bool first, char close)
{
    if (j->failed) return -1;
    int c = rs_json_peek(j);
    if (c == close) {
        j->p++;
        return 0;
    }
    if (!first) {
        if (c != ',') return rs_json_syntax(j, close == ']' ? "',' or ']'" : "',' or '}'");
        j->p++;
    }
    return 1;
}

int rs_json_array_next(rs_json *j, bool *first)
{
    int r = next_element(j, *first, ']');
    if (r != 1) return r;
    int c = rs_json_peek(j);
    if (!*first && c == ']') return rs_json_syntax(j, "a value after ','");
    if (*first && c == -1) return rs_json_syntax(j, "a value or ']'");
    *first = false;
    return 1;
}

int rs_json_object_next(rs_json *j, bool *first, char *key, size_t keycap, bool *key_truncated)
{
    int r = next_element(j, *first, '}');
    if (r != 1) return r;
    if (rs_json_peek(j) != '"')
        return rs_json_syntax(j, *first ? "a string key or '}'" : "a string key");
    *first = false;
    size_t len;
    r = rs_json_string(j, key, keycap, &len);
    if (r < 0) return -1;
    /* A key with an escaped NUL ("name\u0000x") is no key a decoder knows:
     * reported like one too long for key, so it is skipped as unknown,
     * never read as the C string before its NUL. */
    if (key_truncated != NULL) *key_truncated = r == 1 || rs_json_has_nul(j, key, len);
    if (rs_json_peek(j) != ':') return rs_json_syntax(j, "':'");
    j->p++;
    rs_json_ws(j);
    return 1;
}

/* Matches a literal word (true/false/null) at j->p. */
static int literal_eat(rs_json *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return rs_json_syntax(j, "a value");
    j->p += n;
    return 0;
}

int rs_json_bool(rs_json *j, bool *out)
{
    int c = rs_json_peek(j);
    if (c == 't') {
        *out = true;
        return literal_eat(j, "true");
    }
    if (c == 'f') {
        *out = false;
        return literal_eat(j, "false");
    }
    return rs_json_syntax(j, "true or false");
}

int rs_json_number(rs_json *j, double *out, bool *integral)
{
    rs_json_ws(j);
    /* rs_number_scan tells integral as it reads (no '.', 'e' or 'E'
     * consumed: test_number.c checks it against the text). */
    bool whole;
    size_t n = rs_number_scan(j->p, j->end, out, &whole);
    if (n == 0) return rs_json_syntax(j, "a number");
    if (integral != NULL) *integral = whole;
    j->p += n;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape at p (p + 4 <= end checked). */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Appends byte c to out if there is room; counts it either way. */
static inline void out_put(char *out, size_t cap, size_t *n, char c)
{
    if (*n + 1 < cap) out[*n] = c;
    (*n)++;
}

/* The bytes a string may hold as they are (1): not '"', '\\', a control
 * character or a byte of a UTF-8 sequence (0x80 and up, left 0 here), which
 * take the checks below. A table: one load per byte of the scan. */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

/* Out of line: inlined, its registers would be saved for every string. */
static __attribute__((noinline)) int string_general(rs_json *j, char *out, size_t cap, size_t *len);

int rs_json_string(rs_json *j, char *out, size_t cap, size_t *len)
{
    /* Nearly every string a request holds (keys, names, datatypes) is plain
     * bytes that fit in out: one scan, one copy, and a call with few
     * registers to save. Anything else is read from its start again by the
     * general reader below. */
    if (rs_json_peek(j) != '"') return rs_json_syntax(j, "a string");
    const char *s = j->p + 1, *p = s, *end = j->end;
    while (p < end && plain_byte[(unsigned char)*p])
        p++;
    size_t n = (size_t)(p - s);
    if (p == end || *p != '"' || n + 1 > cap) return string_general(j, out, cap, len);
    memcpy(out, s, n);
    out[n] = '\0';
    if (len != NULL) *len = n;
    j->p = p + 1;
    return 0;
}

/* rs_json_string for any string: escapes, UTF-8, a value longer than out. */
static __attribute__((noinline)) int string_general(rs_json *j, char *out, size_t cap, size_t *len)
{
    if (rs_json_peek(j) != '"') return rs_json_syntax(j, "a string");
    /* The cursor in a local: out may alias *j as far as the compiler knows,
     * so j->p itself would be reloaded and stored for every byte written.
     * It goes back to j->p before each return (an error's byte offset is
     * where it points). */
    const char *p = j->p + 1, *end = j->end;
    size_t n = 0;
#define STRING_FAIL(at, what) (j->p = (at), rs_json_syntax(j, what))
    for (;;) {
        /* A run of plain bytes, copied at once as far as out has room (what
         * out_put would keep of them one by one). */
        const char *run = p;
        while (p < end && plain_byte[(unsigned char)*p])
            p++;
        size_t k = (size_t)(p - run);
        if (k > 0) {
            size_t room = n + 1 < cap ? cap - 1 - n : 0;
            if (room > 0) memcpy(out + n, run, k < room ? k : room);
            n += k;
        }
        if (p >= end) return STRING_FAIL(p, "'\"' closing the string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20) return STRING_FAIL(p, "an escaped control character");
        if (c >= 0x80) {
            /* JSON text is UTF-8 (RFC 8259); refusing anything else here
             * means every string we echo back is valid too. */
            int u = rs_utf8_sequence((const unsigned char *)p, (const unsigned char *)end);
            if (u == 0) return STRING_FAIL(p, "valid UTF-8 in the string");
            for (int i = 0; i < u; i++)
                out_put(out, cap, &n, p[i]);
            p += u;
            continue;
        }
        /* c == '\\' */
        if (end - p < 2) return STRING_FAIL(p, "an escape sequence");
        char e = p[1];
        p += 2;
        static const char simple[] = "\"\\/bfnrt", meaning[] = "\"\\/\b\f\n\r\t";
        const char *s = e != '\0' ? strchr(simple, e) : NULL;
        if (s != NULL) {
            out_put(out, cap, &n, meaning[s - simple]);
            continue;
        }
        if (e != 'u')
            return STRING_FAIL(p - 1, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
        if (end - p < 4) return STRING_FAIL(p, "4 hex digits after \\u");
        long cp = hex4(p);
        if (cp < 0) return STRING_FAIL(p, "4 hex digits after \\u");
        p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            /* A high surrogate must be followed by \u and a low one. */
            long lo = -1;
            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') lo = hex4(p + 2);
            if (lo < 0xdc00 || lo > 0xdfff)
                return STRING_FAIL(p, "a low surrogate \\uDC00-\\uDFFF");
            p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return STRING_FAIL(p, "a high surrogate before a low one");
        }
        if (cp == 0) j->nul_seen = true;
        /* UTF-8 encoding of the code point. */
        if (cp < 0x80) {
            out_put(out, cap, &n, (char)cp);
        } else if (cp < 0x800) {
            out_put(out, cap, &n, (char)(0xc0 | (cp >> 6)));
            out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out_put(out, cap, &n, (char)(0xe0 | (cp >> 12)));
            out_put(out, cap, &n, (char)(0x80 | ((cp >> 6) & 0x3f)));
            out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        } else {
            out_put(out, cap, &n, (char)(0xf0 | (cp >> 18)));
            out_put(out, cap, &n, (char)(0x80 | ((cp >> 12) & 0x3f)));
            out_put(out, cap, &n, (char)(0x80 | ((cp >> 6) & 0x3f)));
            out_put(out, cap, &n, (char)(0x80 | (cp & 0x3f)));
        }
    }
#undef STRING_FAIL
    j->p = p;
    bool truncated = n + 1 > cap;
    if (cap > 0) out[truncated ? cap - 1 : n] = '\0';
    if (len != NULL) *len = truncated ? (cap > 0 ? cap - 1 : 0) : n;
    return truncated ? 1 : 0;
}

int rs_utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    int len;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (end - p < len) return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

int rs_json_string_dup(rs_json *j, size_t maxlen, const char *what, char **out)
{
    *out = NULL;
    /* Measure first (escapes only shrink), then decode into an exact buffer. */
    char probe[1];
    size_t len;
    if (rs_json_peek(j) != '"')
        return rs_json_fail(j, "%s: expected a string, got %s", what,
                            rs_json_kind(rs_json_peek(j)));
    const char *save = j->p;
    int r = rs_json_string(j, probe, 0, &len);
    if (r < 0) return -1;
    size_t raw = (size_t)(j->p - save); /* decoded length <= raw */
    j->p = save;
    char *s = malloc(raw);
    if (s == NULL) return rs_json_fail(j, "%s: out of memory", what);
    r = rs_json_string(j, s, raw, &len);
    if (r != 0) {
        free(s);
        return r < 0 ? -1 : rs_json_fail(j, "%s: string too long", what);
    }
    if (len > maxlen) {
        free(s);
        return rs_json_fail(j, "%s: longer than %zu bytes", what, maxlen);
    }
    if (rs_json_has_nul(j, s, len)) { /* a C string would end there */
        free(s);
        return rs_json_fail(j, "%s: a NUL character (\\u0000) in the string", what);
    }
    *out = s;
    return 0;
}

int rs_json_skip(rs_json *j, int depth)
{
    if (depth >= RS_JSON_MAX_DEPTH)
        return rs_json_fail(j, "invalid JSON at byte %zu: nested deeper than %d levels",
                            (size_t)(j->p - j->start), RS_JSON_MAX_DEPTH);
    int c = rs_json_peek(j);
    switch (c) {
    case '{': {
        j->p++;
        bool first = true;
        char key[1];
        int r;
        while ((r = rs_json_object_next(j, &first, key, sizeof key, NULL)) == 1)
            if (rs_json_skip(j, depth + 1) < 0) return -1;
        return r;
    }
    case '[': {
        j->p++;
        bool first = true;
        int r;
        while ((r = rs_json_array_next(j, &first)) == 1)
            if (rs_json_skip(j, depth + 1) < 0) return -1;
        return r;
    }
    case '"': {
        char tmp[1];
        return rs_json_string(j, tmp, 0, NULL) < 0 ? -1 : 0;
    }
    case 't':
        return literal_eat(j, "true");
    case 'f':
        return literal_eat(j, "false");
    case 'n':
        return literal_eat(j, "null");
    default: {
        double d;
        return rs_json_number(j, &d, NULL);
    }
    }
}

int rs_json_end(rs_json *j)
{
    if (j->failed) return -1;
    if (rs_json_peek(j) != -1) return rs_json_syntax(j, "the end of the JSON text");
    return 0;
}

int rs_json_expect_failed(rs_json *j, int ch, const char *what, const char *path_fmt, ...)
{
    int c = rs_json_peek(j);
    if (c == ch) return 0; /* as rs_json_expect, when called directly */
    char path[RS_KEY_CAP + 64];
    va_list ap;
    va_start(ap, path_fmt);
    vsnprintf(path, sizeof path, path_fmt, ap);
    va_end(ap);
    return rs_json_fail(j, "%s: expected %s, got %s", path, what, rs_json_kind(c));
}

int rs_json_members(rs_json *j, int depth, rs_member_fn member, void *ctx)
{
    if (rs_json_object_begin(j) < 0) return -1;
    bool first = true, truncated;
    char key[RS_KEY_CAP];
    int r;
    while ((r = rs_json_object_next(j, &first, key, sizeof key, &truncated)) == 1) {
        int m = member(j, key, truncated, ctx);
        if (m < 0 || (m == 1 && rs_json_skip(j, depth) < 0)) return -1;
    }
    return r;
}

int rs_json_document(rs_json *j, rs_member_fn member, void *ctx)
{
    if (rs_json_expect(j, '{', "a JSON object", "request body") < 0 ||
        rs_json_members(j, 1, member, ctx) < 0)
        return -1;
    return rs_json_end(j);
}
