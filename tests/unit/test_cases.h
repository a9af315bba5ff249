/*
 * Table-driven tests that stay one cmocka test per case: a table of rows
 * whose first member is the case's test name (a const char *), and one
 * function that runs a row, given as its state. main() collects a group in a
 * test_list: TESTS_ADD for an array of cmocka tests, TESTS_ADD_CASES for a
 * table (one test per row), then tests_run. Include after cmocka.h.
 */
#ifndef TEST_CASES_H
#define TEST_CASES_H

#include <stdio.h>
#include <string.h>

#define TEST_CASES_MAX 512

/* The commonest row: a text made from a file's base text by replacing
 * `from` with `to`, and the status and a piece of the message its refusal
 * must carry. */
typedef struct {
    const char *name; /* the test's name */
    const char *from, *to;
    int status;
    const char *needle;
} edit_case;

typedef struct {
    struct CMUnitTest t[TEST_CASES_MAX];
    size_t n;
    bool full;
} test_list;

static inline void tests_add(test_list *l, const struct CMUnitTest *t, size_t n)
{
    if (l->n + n > TEST_CASES_MAX) {
        l->full = true;
        return;
    }
    memcpy(l->t + l->n, t, n * sizeof *t);
    l->n += n;
}

static inline void tests_add_cases(test_list *l, const void *rows, size_t n_rows, size_t row_size,
                                   CMUnitTestFunction run)
{
    for (size_t i = 0; i < n_rows; i++) {
        const char *const *row = (const void *)((const char *)rows + i * row_size);
        struct CMUnitTest t = {*row, run, NULL, NULL, (void *)row};
        tests_add(l, &t, 1);
    }
}

#define TESTS_ADD(l, array) tests_add(l, array, sizeof(array) / sizeof((array)[0]))
#define TESTS_ADD_CASES(l, rows, run)                                                              \
    tests_add_cases(l, rows, sizeof(rows) / sizeof((rows)[0]), sizeof((rows)[0]), run)

static inline int tests_run(const char *group, const test_list *l, CMFixtureFunction setup,
                            CMFixtureFunction teardown)
{
    if (l->full) {
        fprintf(stderr, "%s: more than %d tests; raise TEST_CASES_MAX\n", group, TEST_CASES_MAX);
        return 1;
    }
    return _cmocka_run_group_tests(group, l->t, l->n, setup, teardown);
}

#endif /* TEST_CASES_H */
