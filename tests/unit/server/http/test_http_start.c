/*
 * test_http_start — when libmicrohttpd refuses to start one of the HTTP
 * threads' daemons, rs_http_start fails and leaves no descriptor open: not
 * the listen socket, not the dup of it that the failed daemon was given
 * (whether libmicrohttpd closed it or not: 0.9.75 does on some of its failure
 * paths and not on others), not the daemons already started. Counted in
 * /proc/self/fd.
 *
 * Linked with -Wl,--wrap=MHD_start_daemon (its own Makefile rule): http.c's
 * calls come here, which starts real daemons up to the one told to fail, and
 * fails that one, closing the listen socket it was given or not.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "../../test_cases.h"

#include "config.h"
#include "http/handlers.h"
#include "http/http.h"
#include "log.h"

struct MHD_Daemon *__real_MHD_start_daemon(unsigned int flags, uint16_t port,
                                           MHD_AcceptPolicyCallback apc, void *apc_cls,
                                           MHD_AccessHandlerCallback dh, void *dh_cls, ...);
struct MHD_Daemon *__wrap_MHD_start_daemon(unsigned int flags, uint16_t port,
                                           MHD_AcceptPolicyCallback apc, void *apc_cls,
                                           MHD_AccessHandlerCallback dh, void *dh_cls, ...);

static int calls;           /* MHD_start_daemon calls since the test began */
static int fail_at;         /* the call that fails (1-based); 0 = none */
static bool fail_closes_fd; /* the failing call closes its listen socket first */

/* http.c passes its options as one MHD_OPTION_ARRAY. */
struct MHD_Daemon *__wrap_MHD_start_daemon(unsigned int flags, uint16_t port,
                                           MHD_AcceptPolicyCallback apc, void *apc_cls,
                                           MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    va_list ap;
    va_start(ap, dh_cls);
    int kind = va_arg(ap, int);
    const struct MHD_OptionItem *opts = va_arg(ap, const struct MHD_OptionItem *);
    va_end(ap);
    assert_int_equal(kind, MHD_OPTION_ARRAY);
    if (++calls != fail_at)
        return __real_MHD_start_daemon(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_ARRAY,
                                       opts, MHD_OPTION_END);
    for (int i = 0; fail_closes_fd && opts[i].option != MHD_OPTION_END; i++)
        if (opts[i].option == MHD_OPTION_LISTEN_SOCKET) close((int)opts[i].value);
    return NULL;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static rs_config cfg;
static rs_app app;

static int start(rs_http **h, int threads, int fail, bool closes)
{
    cfg.http_threads = threads;
    calls = 0;
    fail_at = fail;
    fail_closes_fd = closes;
    char err[256] = "";
    int rc = rs_http_start(h, &app, err, sizeof err);
    if (rc) assert_non_null(strstr(err, "cannot start libmicrohttpd"));
    return rc;
}

static void stop(rs_http *h)
{
    rs_http_quiesce(h);
    rs_http_stop(h);
}

static int setup(void **state)
{
    (void)state;
    rs_log_init(RS_LOG_TEXT, RS_LOG_ERROR);
    rs_config_defaults(&cfg);
    cfg.port = 0;
    app = (rs_app){.cfg = &cfg};
    /* One start and stop first: whatever libmicrohttpd or libc open once for
     * good (and keep) is open before the counting starts. */
    rs_http *h = NULL;
    assert_int_equal(start(&h, 2, 0, false), 0);
    assert_int_equal(calls, 2);
    stop(h);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rs_config_free(&cfg);
    return 0;
}

typedef struct {
    const char *name;
    int threads, fail;
    bool closes;
} fail_case;

static void test_failed_start_leaves_no_descriptor(void **state)
{
    const fail_case *c = *state;
    int before = open_fds();
    rs_http *h = NULL;
    assert_int_equal(start(&h, c->threads, c->fail, c->closes), -1);
    assert_int_equal(calls, c->fail);
    if (open_fds() != before)
        fail_msg("%s: %d descriptors open after the failed start, %d before", c->name, open_fds(),
                 before);
}

/* A start that succeeds leaves nothing open once stopped either. */
static void test_started_and_stopped_leaves_no_descriptor(void **state)
{
    (void)state;
    int before = open_fds();
    rs_http *h = NULL;
    assert_int_equal(start(&h, 3, 0, false), 0);
    assert_int_equal(calls, 3);
    stop(h);
    assert_int_equal(open_fds(), before);
}

static const fail_case cases[] = {
    {"the only daemon fails, its socket left open", 1, 1, false},
    {"the only daemon fails, its socket closed", 1, 1, true},
    {"the second of three fails, its socket left open", 3, 2, false},
    {"the last of three fails, its socket closed", 3, 3, true},
};

int main(void)
{
    static test_list l;
    TESTS_ADD_CASES(&l, cases, test_failed_start_leaves_no_descriptor);
    const struct CMUnitTest more[] = {
        cmocka_unit_test(test_started_and_stopped_leaves_no_descriptor),
    };
    TESTS_ADD(&l, more);
    return tests_run("http_start", &l, setup, teardown);
}
