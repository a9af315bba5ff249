/*
 * log — lines on stderr, as text or one JSON object per line. Each line is
 * handed whole to log_writer (batched by its thread while the server runs,
 * else one write(2)), so lines from different threads never interleave.
 * Configure once before any thread logs.
 *
 * Strings may hold any bytes (a client chooses its URL): a JSON line is
 * always one valid JSON object in UTF-8, a text line never gains a line or
 * (in access lines) a field, and overlong strings are cut inside themselves
 * at a whole character, ending with "...".
 */
#ifndef RS_LOG_H
#define RS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

void rs_log_init(rs_log_format format, rs_log_level level);

/* A free-form message (printf-style). */
void rs_log(rs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The access line of one HTTP request (level info). model may be NULL,
 * rows < 0 when the request carried no tensor. */
typedef struct {
    const char *method, *path, *model, *version, *request_id;
    int status;
    int rows;
    uint64_t micros;
} rs_access;

void rs_log_access(const rs_access *a);

/* The timestamp every line starts with, "2026-12-01T14:09:57.504Z" (UTC,
 * milliseconds), for ts into out; returns its length. */
#define RS_LOG_TIME_TEXT 48
size_t rs_log_time_text(const struct timespec *ts, char out[RS_LOG_TIME_TEXT]);

#endif /* RS_LOG_H */
