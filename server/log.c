/*
 * log — access and event lines on stderr, text or JSON (see log.h). Formatting happens in a stack
 * buffer; the finished line goes to log_writer whole, so concurrent lines never interleave.
 */
#include "log.h"

#include "log_writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static rs_log_format g_format = RS_LOG_TEXT;
static rs_log_level g_level = RS_LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void rs_log_init(rs_log_format format, rs_log_level level)
{
    g_format = format;
    g_level = level;
}

/* A bounded appender over a fixed buffer. Every string that comes from
 * outside (a URL, a model name, a message quoting either) goes through
 * lb_escaped with a cap on its escaped size, so a line is cut only inside a
 * string, at a whole character, and stays one valid JSON object or one
 * text line with the same fields. */
typedef struct {
    char *p;
    size_t len, cap;
} line_buf;

/* Appended where a string was cut. */
static const char CUT[] = "...";
#define CUT_LEN (sizeof CUT - 1)

/* Bytes that can still be appended, keeping one for the final newline. */
static size_t lb_room(const line_buf *b)
{
    return b->len + 1 < b->cap ? b->cap - 1 - b->len : 0;
}

static void lb_put(line_buf *b, const char *s, size_t n)
{
    if (n > lb_room(b)) n = lb_room(b);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void lb_vprintf(line_buf *b, const char *fmt, va_list ap)
{
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n > 0) lb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A string literal: its length is known, no printf needed. */
#define LB_LIT(b, lit) lb_put((b), (lit), sizeof(lit) - 1)

/* The decimal digits of v. */
static void lb_uint(line_buf *b, unsigned long long v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    lb_put(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void lb_int(line_buf *b, long long v)
{
    if (v < 0) LB_LIT(b, "-");
    lb_uint(b, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
}

static void lb_printf(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_printf(line_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lb_vprintf(b, fmt, ap);
    va_end(ap);
}

/* The length (2 to 4) of the well-formed UTF-8 sequence at s, or 0 (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF); *cp its code point. */
static size_t utf8_seq(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        *cp = c & 0x0f;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        *cp = c & 0x07;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned t = s[i];
        if (t < (i == 1 ? lo : 0x80) || t > (i == 1 ? hi : 0xbf)) return 0;
        *cp = *cp << 6 | (t & 0x3f);
    }
    return n;
}

/* How a string is written into a line. */
typedef enum {
    ESC_JSON,  /* the inside of a JSON string */
    ESC_TEXT,  /* a free-form text message: spaces stay */
    ESC_FIELD, /* one field of a text line: nothing that would split or end it */
} esc_mode;

/* The escaped form of the character at s into out (at most 6 bytes); returns
 * the bytes of s it stands for.
 *   JSON:  '"' and '\' escaped; control bytes, DEL and C1 controls as \u00XX;
 *          well-formed UTF-8 as is; a byte that is not part of well-formed
 *          UTF-8 as \u00XX (its Latin-1 reading), so the line is valid JSON
 *          whatever the client sent.
 *   TEXT:  control bytes, DEL, '\', C1 controls and ill-formed bytes as \xHH
 *          (a decoded %0A in a URL cannot end the line and forge another).
 *   FIELD: everything outside printable ASCII, plus space, '"' and '\', as
 *          \xHH (a decoded %20 cannot add a field). */
static size_t escape_char(esc_mode mode, const unsigned char *s, char *out, size_t *out_len)
{
    unsigned c = s[0], cp = 0;
    size_t seq = c >= 0x80 ? utf8_seq(s, &cp) : 0;
    bool plain;
    if (mode == ESC_FIELD)
        plain = c > 0x20 && c < 0x7f && c != '"' && c != '\\';
    else
        plain = (c >= 0x20 && c < 0x7f && c != '\\' && (mode == ESC_TEXT || c != '"')) ||
                (seq && cp >= 0xa0);
    if (plain) {
        size_t n = seq ? seq : 1;
        memcpy(out, s, n);
        *out_len = n;
        return n;
    }
    if (mode == ESC_JSON) {
        if (c == '"' || c == '\\') {
            out[0] = '\\';
            out[1] = (char)c;
            *out_len = 2;
            return 1;
        }
        /* A C1 control arrives as a 2-byte sequence; write its code point. */
        snprintf(out, 7, "\\u%04x", seq ? cp : c);
        *out_len = 6;
        return seq ? seq : 1;
    }
    snprintf(out, 5, "\\x%02x", c);
    *out_len = 4;
    return 1;
}

/* Appends s escaped for mode, using at most limit bytes (and never past the
 * buffer): when s does not fit, it is cut after a whole character and ends
 * with CUT. Returns true when s was cut. */
static bool lb_escaped(line_buf *b, const char *s, esc_mode mode, size_t limit)
{
    if (limit > lb_room(b)) limit = lb_room(b);
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    /* The usual string (a path, a model name, a request id) is printable
     * ASCII that escape_char writes as it is and that fits with room for CUT
     * to spare, so the loop below would copy it whole: copy it at once. */
    size_t k = 0;
    while (u[k] > 0x20 && u[k] < 0x7f && u[k] != '"' && u[k] != '\\')
        k++;
    if (u[k] == 0 && k + CUT_LEN <= limit) {
        lb_put(b, (const char *)u, k);
        return false;
    }
    size_t used = 0;
    while (*u) {
        char e[8];
        size_t elen, in = escape_char(mode, u, e, &elen);
        /* Room for CUT stays free unless this is the last character. */
        if (used + elen + (u[in] ? CUT_LEN : 0) > limit) {
            if (used + CUT_LEN <= limit) lb_put(b, CUT, CUT_LEN);
            return true;
        }
        lb_put(b, e, elen);
        used += elen;
        u += in;
    }
    return false;
}

/* A JSON string value: "s", at most limit bytes between the quotes. */
static void lb_json_string(line_buf *b, const char *s, size_t limit)
{
    lb_put(b, "\"", 1);
    lb_escaped(b, s, ESC_JSON, limit);
    lb_put(b, "\"", 1);
}

size_t rs_log_time_text(const struct timespec *ts, char out[RS_LOG_TIME_TEXT])
{
    /* Every line of a second shares "YYYY-MM-DDTHH:MM:SS": each thread keeps
     * the one of the last second it logged in (a fixed 40 bytes, however many
     * lines it writes) and formats it again only when the second changes. */
    static _Thread_local time_t sec = (time_t)-1;
    static _Thread_local char date[40];
    static _Thread_local size_t date_len;
    if (ts->tv_sec != sec) {
        struct tm tm;
        if (!gmtime_r(&ts->tv_sec, &tm)) memset(&tm, 0, sizeof tm); /* a year past int */
        int n = snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        date_len = n > 0 ? ((size_t)n < sizeof date ? (size_t)n : sizeof date - 1) : 0;
        sec = ts->tv_sec;
    }
    memcpy(out, date, date_len);
    long ms = ts->tv_nsec / 1000000;
    char *o = out + date_len;
    o[0] = '.';
    o[1] = (char)('0' + ms / 100);
    o[2] = (char)('0' + ms / 10 % 10);
    o[3] = (char)('0' + ms % 10);
    o[4] = 'Z';
    o[5] = '\0';
    return date_len + 5;
}

static void lb_time(line_buf *b)
{
    struct timespec ts;
    char text[RS_LOG_TIME_TEXT];
    clock_gettime(CLOCK_REALTIME, &ts);
    lb_put(b, text, rs_log_time_text(&ts, text));
}

static void lb_flush(line_buf *b)
{
    b->p[b->len++] = '\n'; /* lb_room kept a byte for it */
    rs_log_writer_put(b->p, b->len);
}

/* Caps on the escaped size of each client-supplied string of a line. With
 * the fixed parts (under 256 bytes) they fit LINE_MAX, so no line is ever
 * cut outside a string: a JSON line stays one valid object. */
enum {
    LOG_LINE = 4096,
    MSG_CAP = 3072,
    METHOD_CAP = 64,
    PATH_CAP = 2048,
    NAME_CAP = 512, /* model, version: each */
    ID_CAP = 256,
};
_Static_assert(256 + METHOD_CAP + PATH_CAP + 2 * NAME_CAP + ID_CAP <= LOG_LINE,
               "an access line's fields must fit its buffer");
_Static_assert(256 + MSG_CAP <= LOG_LINE, "a message must fit its line");

void rs_log(rs_log_level level, const char *fmt, ...)
{
    if (level < g_level) return;
    char buf[LOG_LINE], msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool cut = n >= (int)sizeof msg; /* vsnprintf kept a prefix; lb_escaped marks it */
    line_buf b = {buf, 0, sizeof buf};
    if (g_format == RS_LOG_JSON) {
        lb_printf(&b, "{\"ts\":\"");
        lb_time(&b);
        lb_printf(&b, "\",\"level\":\"%s\",\"msg\":\"", LEVEL_NAMES[level]);
        if (!lb_escaped(&b, msg, ESC_JSON, MSG_CAP - CUT_LEN) && cut) lb_put(&b, CUT, CUT_LEN);
        lb_printf(&b, "\"}");
    } else {
        lb_time(&b);
        lb_printf(&b, " %-5s ", LEVEL_NAMES[level]);
        if (!lb_escaped(&b, msg, ESC_TEXT, MSG_CAP - CUT_LEN) && cut) lb_put(&b, CUT, CUT_LEN);
    }
    lb_flush(&b);
}

/* A text field: s escaped (or "-" when NULL). */
static void lb_field(line_buf *b, const char *s, size_t limit)
{
    lb_escaped(b, s ? s : "-", ESC_FIELD, limit);
}

void rs_log_access(const rs_access *a)
{
    if (RS_LOG_INFO < g_level) return;
    char buf[LOG_LINE];
    line_buf b = {buf, 0, sizeof buf};
    /* One per request, so written piece by piece without printf. */
    if (g_format == RS_LOG_JSON) {
        LB_LIT(&b, "{\"ts\":\"");
        lb_time(&b);
        LB_LIT(&b, "\",\"level\":\"info\",\"msg\":\"access\",\"method\":");
        lb_json_string(&b, a->method, METHOD_CAP);
        LB_LIT(&b, ",\"path\":");
        lb_json_string(&b, a->path, PATH_CAP);
        LB_LIT(&b, ",\"status\":");
        lb_int(&b, a->status);
        if (a->model) {
            LB_LIT(&b, ",\"model\":");
            lb_json_string(&b, a->model, NAME_CAP);
        }
        if (a->version) {
            LB_LIT(&b, ",\"version\":");
            lb_json_string(&b, a->version, NAME_CAP);
        }
        if (a->rows >= 0) {
            LB_LIT(&b, ",\"rows\":");
            lb_int(&b, a->rows);
        }
        LB_LIT(&b, ",\"us\":");
        lb_uint(&b, (unsigned long long)a->micros);
        LB_LIT(&b, ",\"request_id\":");
        lb_json_string(&b, a->request_id, ID_CAP);
        LB_LIT(&b, "}");
    } else {
        lb_time(&b);
        LB_LIT(&b, " info  ");
        lb_field(&b, a->method, METHOD_CAP);
        LB_LIT(&b, " ");
        lb_field(&b, a->path, PATH_CAP);
        LB_LIT(&b, " ");
        lb_int(&b, a->status);
        LB_LIT(&b, " model=");
        lb_field(&b, a->model, NAME_CAP);
        if (a->version) {
            LB_LIT(&b, "/");
            lb_field(&b, a->version, NAME_CAP);
        }
        if (a->rows >= 0) {
            LB_LIT(&b, " rows=");
            lb_int(&b, a->rows);
        } else {
            LB_LIT(&b, " rows=-");
        }
        LB_LIT(&b, " us=");
        lb_uint(&b, (unsigned long long)a->micros);
        LB_LIT(&b, " id=");
        lb_field(&b, a->request_id, ID_CAP);
    }
    lb_flush(&b);
}
