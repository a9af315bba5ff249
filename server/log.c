/*
 * log — see log.h. Formatting happens in a stack buffer; the finished line
 * goes out in one write(2) so concurrent lines stay whole.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static rs_log_format g_format = RS_LOG_TEXT;
static rs_log_level g_level = RS_LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void rs_log_init(rs_log_format format, rs_log_level level)
{
    g_format = format;
    g_level = level;
}

bool rs_log_enabled(rs_log_level level)
{
    return level >= g_level;
}

/* A bounded appender over a fixed buffer: overlong lines are cut, not lost. */
typedef struct {
    char *p;
    size_t len, cap;
} line_buf;

static void lb_vprintf(line_buf *b, const char *fmt, va_list ap)
{
    if (b->len >= b->cap) return;
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) return;
    b->len += (size_t)n;
    if (b->len > b->cap - 1) b->len = b->cap - 1;
}

static void lb_printf(line_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_printf(line_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lb_vprintf(b, fmt, ap);
    va_end(ap);
}

/* s as the inside of a JSON string (quotes not included). */
static void lb_json_escaped(line_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            lb_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            lb_printf(b, "\\u%04x", ch);
        else
            lb_printf(b, "%c", ch);
    }
}

/* s for a text line: control bytes (a decoded %0A in a URL, a terminal
 * escape) become \xHH so that no client-supplied string can end the line
 * and forge another one. */
static void lb_text_escaped(line_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f)
            lb_printf(b, "\\x%02x", ch);
        else if (b->len < b->cap - 1)
            b->p[b->len++] = (char)ch; /* the common case, without a printf per byte */
    }
}

static void lb_time(line_buf *b)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    lb_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void lb_flush(line_buf *b)
{
    if (b->len >= b->cap - 1) b->len = b->cap - 2;
    b->p[b->len++] = '\n';
    ssize_t off = 0;
    while ((size_t)off < b->len) {
        ssize_t w = write(STDERR_FILENO, b->p + off, b->len - (size_t)off);
        if (w <= 0) return;
        off += w;
    }
}

void rs_log(rs_log_level level, const char *fmt, ...)
{
    if (level < g_level) return;
    char buf[2048], msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    line_buf b = {buf, 0, sizeof buf};
    if (g_format == RS_LOG_JSON) {
        lb_printf(&b, "{\"ts\":\"");
        lb_time(&b);
        lb_printf(&b, "\",\"level\":\"%s\",\"msg\":\"", LEVEL_NAMES[level]);
        lb_json_escaped(&b, msg);
        lb_printf(&b, "\"}");
    } else {
        lb_time(&b);
        lb_printf(&b, " %-5s ", LEVEL_NAMES[level]);
        lb_text_escaped(&b, msg);
    }
    lb_flush(&b);
}

void rs_log_access(const rs_access *a)
{
    if (RS_LOG_INFO < g_level) return;
    char buf[2048];
    line_buf b = {buf, 0, sizeof buf};
    if (g_format == RS_LOG_JSON) {
        lb_printf(&b, "{\"ts\":\"");
        lb_time(&b);
        lb_printf(&b, "\",\"level\":\"info\",\"msg\":\"access\",\"method\":\"");
        lb_json_escaped(&b, a->method);
        lb_printf(&b, "\",\"path\":\"");
        lb_json_escaped(&b, a->path);
        lb_printf(&b, "\",\"status\":%d", a->status);
        if (a->model) {
            lb_printf(&b, ",\"model\":\"");
            lb_json_escaped(&b, a->model);
            lb_printf(&b, "\"");
        }
        if (a->version) {
            lb_printf(&b, ",\"version\":\"");
            lb_json_escaped(&b, a->version);
            lb_printf(&b, "\"");
        }
        if (a->rows >= 0) lb_printf(&b, ",\"rows\":%d", a->rows);
        lb_printf(&b, ",\"us\":%llu,\"request_id\":\"", (unsigned long long)a->micros);
        lb_json_escaped(&b, a->request_id);
        lb_printf(&b, "\"}");
    } else {
        lb_time(&b);
        lb_printf(&b, " info  ");
        lb_text_escaped(&b, a->method);
        lb_printf(&b, " ");
        lb_text_escaped(&b, a->path);
        lb_printf(&b, " %d model=", a->status);
        lb_text_escaped(&b, a->model ? a->model : "-");
        if (a->version) {
            lb_printf(&b, "/");
            lb_text_escaped(&b, a->version);
        }
        if (a->rows >= 0)
            lb_printf(&b, " rows=%d", a->rows);
        else
            lb_printf(&b, " rows=-");
        lb_printf(&b, " us=%llu id=", (unsigned long long)a->micros);
        lb_text_escaped(&b, a->request_id ? a->request_id : "-");
    }
    lb_flush(&b);
}
