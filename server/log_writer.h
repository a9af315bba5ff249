/*
 * log_writer — while `reluserve serve` runs, its log lines leave through one
 * thread, in batches, instead of one write(2) per line on the thread that
 * made the line (the HTTP thread, for access lines, before the answer went
 * out).
 *
 * A line is copied into a bounded buffer under a mutex; the writer thread
 * takes the whole buffer and writes it to stderr with one write(2), then lets
 * lines gather for RS_LOG_WRITER_FLUSH_MS before the next take (sooner when
 * the buffer is half full or the server stops). Lines keep their order and
 * stay whole. Memory is two buffers of RS_LOG_WRITER_BUFFER bytes; a line
 * that does not fit waits for the writer, as a write(2) to a full pipe would.
 *
 * A line is on stderr at most RS_LOG_WRITER_FLUSH_MS (plus one write) after
 * it was made, and every line made before rs_log_writer_stop() returns (or
 * the process exits through exit()) is written. A process killed by a signal
 * loses what it had not written yet: at most the last few milliseconds.
 *
 * Without a running writer (other commands, tests, before start and after
 * stop) rs_log_writer_put writes the line itself, with one write(2).
 */
#ifndef RS_LOG_WRITER_H
#define RS_LOG_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#define RS_LOG_WRITER_BUFFER   (256 * 1024)
#define RS_LOG_WRITER_FLUSH_MS 5

/* Starts the writer thread (once; a second call is a no-op returning true).
 * False when the thread or its buffers cannot be had: lines are then written
 * directly, as before. */
bool rs_log_writer_start(void);

/* Writes everything queued, then stops the thread; later lines are written
 * directly. Safe to call when not started, and more than once. */
void rs_log_writer_stop(void);

/* One whole line (with its newline), queued or written at once. */
void rs_log_writer_put(const char *line, size_t n);

#endif /* RS_LOG_WRITER_H */
