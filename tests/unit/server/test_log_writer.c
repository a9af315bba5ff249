/* log_writer: lines from many threads reach stderr whole, once each and in
 * each thread's order; they arrive without a stop; a reader slower than the
 * lines loses none of them (the adders wait); exit() writes what is queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log_writer.h"
#include "test_capture.h"

/* ------------------------------------------------------------ the lines */

enum { THREADS = 4, LINES = 20000 };

/* "t<thread> <seq> <padding to a length that varies>\n" */
static size_t make_line(char *out, int t, int seq)
{
    int n = sprintf(out, "t%d %d ", t, seq);
    int pad = (seq * 37 + t * 11) % 120;
    memset(out + n, 'a' + (char)(t % 26), (size_t)pad);
    out[n + pad] = '\n';
    return (size_t)(n + pad + 1);
}

static void *adder(void *arg)
{
    int t = (int)(intptr_t)arg;
    char line[256];
    for (int i = 0; i < LINES; i++)
        rs_log_writer_put(line, make_line(line, t, i));
    return NULL;
}

/* Every line whole, each thread's lines all there, once, in order. */
static void check_lines(char *text, int threads, int lines)
{
    int next[THREADS] = {0};
    char want[256];
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int t, seq;
        assert_int_equal(sscanf(line, "t%d %d ", &t, &seq), 2);
        assert_true(t >= 0 && t < threads);
        assert_int_equal(seq, next[t]);
        size_t n = make_line(want, t, seq);
        want[n - 1] = 0;
        assert_string_equal(line, want);
        next[t]++;
    }
    for (int t = 0; t < threads; t++)
        assert_int_equal(next[t], lines);
}

static void test_concurrent_lines_whole_once_in_order(void **state)
{
    (void)state;
    capture_begin();
    assert_true(rs_log_writer_start());
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, adder, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    rs_log_writer_stop();
    char *text = capture_end();
    check_lines(text, THREADS, LINES);
    free(text);
}

/* Polls the captured file until it holds exactly want (up to 10 s: far
 * beyond the writer's flush time); returns whether it did. */
static bool captured_becomes(const char *want)
{
    for (int i = 0; i < 10000; i++) {
        char *text = capture_peek();
        bool same = strcmp(text, want) == 0;
        free(text);
        if (same) return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return false;
}

/* A running writer does not hold lines until it stops: not the line that
 * wakes it, nor one that comes while it gathers after a write. */
static void test_lines_arrive_without_a_stop(void **state)
{
    (void)state;
    capture_begin();
    assert_true(rs_log_writer_start());
    rs_log_writer_put("first\n", 6);
    assert_true(captured_becomes("first\n"));
    rs_log_writer_put("second\n", 7);
    assert_true(captured_becomes("first\nsecond\n"));
    rs_log_writer_stop();
    free(capture_end());
}

/* Stopped (or never started), a line is written before put returns. */
static void test_without_writer_lines_are_written_at_once(void **state)
{
    (void)state;
    capture_begin();
    rs_log_writer_put("direct\n", 7);
    char *now = capture_peek();
    assert_string_equal(now, "direct\n");
    free(now);
    assert_true(rs_log_writer_start());
    rs_log_writer_stop();
    rs_log_writer_stop(); /* twice is harmless */
    rs_log_writer_put("after\n", 6);
    char *text = capture_end();
    assert_string_equal(text, "direct\nafter\n");
    free(text);
}

/* stderr is a pipe read slowly: far more than the writer's two buffers and
 * the pipe can hold goes through it, and nothing is lost or reordered. */
typedef struct {
    int fd;
    char *text;
    size_t len;
} slow_reader;

static void *read_slowly(void *arg)
{
    slow_reader *r = arg;
    size_t cap = 1 << 20;
    r->text = malloc(cap);
    nanosleep(&(struct timespec){0, 200 * 1000000}, NULL); /* let the buffers fill */
    for (;;) {
        if (r->len + 4096 + 1 > cap) r->text = realloc(r->text, cap *= 2);
        ssize_t k = read(r->fd, r->text + r->len, 4096);
        if (k <= 0) break;
        r->len += (size_t)k;
    }
    r->text[r->len] = 0;
    return NULL;
}

static void test_a_slow_reader_loses_nothing(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(p[1], STDERR_FILENO) >= 0);
    close(p[1]);
    slow_reader r = {p[0], NULL, 0};
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, read_slowly, &r), 0);
    assert_true(rs_log_writer_start());
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, adder, (void *)(intptr_t)t), 0);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    rs_log_writer_stop();
    assert_true(dup2(saved, STDERR_FILENO) >= 0); /* the last write end: the reader sees EOF */
    close(saved);
    pthread_join(reader, NULL);
    close(p[0]);
    assert_true(r.len > 2 * RS_LOG_WRITER_BUFFER + 65536);
    check_lines(r.text, 2, LINES);
    free(r.text);
}

/* exit() without a stop still writes the queued lines (atexit). */
static void test_exit_writes_what_is_queued(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        if (!rs_log_writer_start()) _exit(3);
        rs_log_writer_put("queued\n", 7);
        exit(0);
    }
    close(p[1]);
    char buf[64] = {0};
    size_t len = 0;
    ssize_t k;
    while (len < sizeof buf - 1 && (k = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)k;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(buf, "queued\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_lines_whole_once_in_order),
        cmocka_unit_test(test_lines_arrive_without_a_stop),
        cmocka_unit_test(test_without_writer_lines_are_written_at_once),
        cmocka_unit_test(test_a_slow_reader_loses_nothing),
        cmocka_unit_test(test_exit_writes_what_is_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
