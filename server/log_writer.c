/*
 * log_writer — the batching writer behind every log line of a running server
 * (see log_writer.h for the contract).
 *
 * State: `fill` collects lines (len bytes); the writer swaps it with `spare`
 * under the mutex and writes the taken buffer without holding it, so a thread
 * adding a line waits at most for a memcpy, never for the write(2).
 */
#include "log_writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CAP = RS_LOG_WRITER_BUFFER, HALF = RS_LOG_WRITER_BUFFER / 2 };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work; /* to the writer: lines are waiting, or stop */
    pthread_cond_t room; /* to adders: the buffer was taken */
    char *fill, *spare;
    size_t len;
    bool running;  /* lines go through the writer */
    bool stopping; /* write what is left, then end */
    bool idle;     /* the writer waits for a first line: wake it */
    pthread_t thread;
} w = {.mu = PTHREAD_MUTEX_INITIALIZER, .room = PTHREAD_COND_INITIALIZER};

/* The writer's timed wait runs on the monotonic clock: a step of the wall
 * clock must not hold lines back. */
static pthread_once_t work_once = PTHREAD_ONCE_INIT;
static void work_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&w.work, &a);
    pthread_condattr_destroy(&a);
}

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(STDERR_FILENO, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return; /* stderr gone or non-blocking and full: nowhere to put it */
        p += k;
        n -= (size_t)k;
    }
}

/* Waits, with the mutex held, until the gathering time after a write is over,
 * the buffer is half full or the server stops. */
static void gather(void)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += RS_LOG_WRITER_FLUSH_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!w.stopping && w.len < HALF)
        if (pthread_cond_timedwait(&w.work, &w.mu, &until) == ETIMEDOUT) return;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "rs-log");
    pthread_mutex_lock(&w.mu);
    for (;;) {
        while (!w.len && !w.stopping) {
            w.idle = true;
            pthread_cond_wait(&w.work, &w.mu);
        }
        w.idle = false;
        if (!w.len) break; /* stopping, and everything is written */
        char *out = w.fill;
        size_t n = w.len;
        w.fill = w.spare;
        w.len = 0;
        pthread_cond_broadcast(&w.room);
        pthread_mutex_unlock(&w.mu);
        write_all(out, n);
        pthread_mutex_lock(&w.mu);
        w.spare = out;
        gather();
    }
    /* From here lines are written by whoever makes them. */
    w.running = false;
    pthread_mutex_unlock(&w.mu);
    return NULL;
}

bool rs_log_writer_start(void)
{
    static bool at_exit;
    pthread_once(&work_once, work_init);
    pthread_mutex_lock(&w.mu);
    bool ok = w.running;
    if (!ok && !w.stopping) {
        w.fill = malloc(CAP);
        w.spare = malloc(CAP);
        w.len = 0;
        w.running = w.fill && w.spare;
        /* The writer runs with every signal blocked: they belong to the server's loop. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (w.running && pthread_create(&w.thread, NULL, writer_main, NULL) != 0) w.running = false;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!w.running) {
            free(w.fill);
            free(w.spare);
            w.fill = w.spare = NULL;
        }
        ok = w.running;
    }
    /* exit() from anywhere still writes the queued lines. */
    if (ok && !at_exit) at_exit = atexit(rs_log_writer_stop) == 0;
    pthread_mutex_unlock(&w.mu);
    return ok;
}

void rs_log_writer_stop(void)
{
    pthread_mutex_lock(&w.mu);
    if (!w.running || w.stopping) {
        pthread_mutex_unlock(&w.mu);
        return;
    }
    w.stopping = true;
    pthread_cond_signal(&w.work);
    pthread_mutex_unlock(&w.mu);
    pthread_join(w.thread, NULL);
    pthread_mutex_lock(&w.mu);
    free(w.fill);
    free(w.spare);
    w.fill = w.spare = NULL;
    w.stopping = false;
    pthread_mutex_unlock(&w.mu);
}

void rs_log_writer_put(const char *line, size_t n)
{
    pthread_mutex_lock(&w.mu);
    while (w.running && n <= CAP && w.len + n > CAP) {
        pthread_cond_signal(&w.work);
        pthread_cond_wait(&w.room, &w.mu);
    }
    if (!w.running || n > CAP) {
        pthread_mutex_unlock(&w.mu);
        write_all(line, n);
        return;
    }
    memcpy(w.fill + w.len, line, n);
    w.len += n;
    /* Wake the writer only when it sleeps for want of lines, or once when the
     * buffer passes half: otherwise it comes back by itself after gathering. */
    if (w.idle || (w.len >= HALF && w.len - n < HALF)) {
        w.idle = false;
        pthread_cond_signal(&w.work);
    }
    pthread_mutex_unlock(&w.mu);
}
