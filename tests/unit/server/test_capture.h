/*
 * stderr into a temporary file, for the tests of what the log writes:
 * capture_begin redirects it, capture_peek reads what the file holds so far,
 * capture_end puts stderr back and returns everything written since
 * capture_begin (the caller frees both texts). Include after cmocka.h; one
 * capture at a time.
 */
#ifndef TEST_CAPTURE_H
#define TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int g_saved = -1;
static FILE *g_file;

static void capture_begin(void)
{
    g_file = tmpfile();
    assert_non_null(g_file);
    g_saved = dup(STDERR_FILENO);
    assert_true(g_saved >= 0);
    assert_true(dup2(fileno(g_file), STDERR_FILENO) >= 0);
}

static char *capture_peek(void)
{
    off_t n = lseek(fileno(g_file), 0, SEEK_END);
    assert_true(n >= 0);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(g_file), text, (size_t)n, 0), n);
    text[n] = 0;
    return text;
}

static char *capture_end(void)
{
    assert_true(dup2(g_saved, STDERR_FILENO) >= 0);
    close(g_saved);
    char *text = capture_peek();
    fclose(g_file);
    return text;
}

#endif /* TEST_CAPTURE_H */
