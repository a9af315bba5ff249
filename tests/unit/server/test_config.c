/* config: flags over environment over defaults, and clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cpus.h"

/* A fake environment: NULL-terminated pairs. */
static const char *const *g_env;

static const char *fake_env(const char *name)
{
    for (const char *const *p = g_env; p && *p; p += 2)
        if (!strcmp(p[0], name)) return p[1];
    return NULL;
}

static int parse(rs_config *c, const char *const *env, int argc, const char *const *argv, char *err)
{
    g_env = env;
    return rs_config_parse(c, argc, (char **)argv, fake_env, err, 256);
}

static int count(const char *const *argv)
{
    int n = 0;
    while (argv && argv[n])
        n++;
    return n;
}

/* The configuration the flags argv and the environment env (both
 * NULL-terminated, or NULL) give; they must be accepted. */
static rs_config parsed(const char *const *env, const char *const *argv)
{
    rs_config c;
    char err[256];
    if (parse(&c, env, count(argv), argv, err) != 0) fail_msg("%s", err);
    return c;
}

/* argv and env are refused, with needle in the message. */
static void refused(const char *const *env, const char *const *argv, const char *needle)
{
    rs_config c;
    char err[256];
    assert_int_equal(parse(&c, env, count(argv), argv, err), -1);
    if (!strstr(err, needle)) fail_msg("\"%s\" is not in \"%s\"", needle, err);
    rs_config_free(&c);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, NULL);
    assert_string_equal(c.models_dir, "models");
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_int_equal(c.max_batch, 64);
    assert_int_equal(c.batch_delay_us, 0);
    assert_int_equal(c.max_queue, 1024);
    assert_int_equal(c.max_body, 64 << 20);
    assert_null(c.api_key);
    assert_false(c.enable_model_control);
    assert_int_equal(c.log_format, RS_LOG_TEXT);
    /* every other default --help states */
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.http_threads, 0);
    assert_true(c.max_body_total == (int64_t)1 << 30);
    assert_true(c.max_body_per_client == (int64_t)1 << 28); /* a quarter of the total */
    assert_true(c.upload_timeout_ms == 60000);
    assert_int_equal(c.max_rows, 65536);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.connection_timeout_s, 60);
    assert_true(c.request_timeout_ms == 30000);
    assert_true(c.shutdown_grace_ms == 30000);
    assert_null(c.cors_origin);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_int_equal(c.log_level, RS_LOG_INFO);
    assert_int_equal(c.repository_poll_s, 0);
    assert_true(c.vanishing_threshold == 1e-3);
    assert_true(c.exploding_threshold == 1e3);
    assert_int_equal(c.monitor_window_s, 60);
    assert_true(c.lean_max_flops == 32768); /* the lean path on (bench/README.md) */
    assert_int_equal(c.kernel, MLP_KERNEL_NATIVE);
    rs_config_free(&c);
}

static void test_flags_both_forms(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, ARGS("--port", "9000", "--max-batch=8", "--models", "/m",
                                    "--enable-model-control", "--log-format=json", "--max-body",
                                    "2M", "--cors-origin", "*"));
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.max_batch, 8);
    assert_string_equal(c.models_dir, "/m");
    assert_true(c.enable_model_control);
    assert_int_equal(c.log_format, RS_LOG_JSON);
    assert_int_equal(c.max_body, 2 << 20);
    assert_string_equal(c.cors_origin, "*");
    rs_config_free(&c);
}

static void test_env_used_and_flag_wins(void **state)
{
    (void)state;
    rs_config c = parsed(ARGS("RELUSERVE_PORT", "7000", "RELUSERVE_MAX_QUEUE", "5",
                              "RELUSERVE_API_KEY", "s3cret", "RELUSERVE_ENABLE_MODEL_CONTROL",
                              "yes", "RELUSERVE_LEAN_MAX_FLOPS", "0"),
                         ARGS("--port", "7001"));
    assert_int_equal(c.port, 7001);   /* flag over environment */
    assert_int_equal(c.max_queue, 5); /* environment over default */
    assert_string_equal(c.api_key, "s3cret");
    assert_true(c.enable_model_control);
    assert_true(c.lean_max_flops == 0); /* 0 turns the lean path off */
    rs_config_free(&c);
}

static void test_bad_values_name_the_flag(void **state)
{
    (void)state;
    refused(NULL, ARGS("--port", "http"), "--port expects an integer from 0 to 65535, got 'http'");
    refused(NULL, ARGS("--max-batch", "0"), "--max-batch");
    refused(NULL, ARGS("--no-such-flag"), "--no-such-flag");
    refused(NULL, ARGS("--port"), "expects a value");
    refused(NULL, ARGS("--log-level", "loud"), "debug, info, warn or error");
    refused(NULL, ARGS("--max-body", "12Q"), "--max-body");
    refused(NULL, ARGS("--vanishing-threshold", "10", "--exploding-threshold", "5"),
            "--vanishing-threshold");
}

/* --kernel native|portable and its twin RELUSERVE_KERNEL; nothing else (AUTO
 * and BLAS would give a row other bits in another batch). */
static void test_kernel(void **state)
{
    (void)state;
    rs_config c;
    char err[256];
    const char *a1[] = {"--kernel", "portable"};
    assert_int_equal(parse(&c, NULL, 2, a1, err), 0);
    assert_int_equal(c.kernel, MLP_KERNEL_PORTABLE);
    rs_config_free(&c);

    const char *env[] = {"RELUSERVE_KERNEL", "portable", NULL};
    assert_int_equal(parse(&c, env, 0, NULL, err), 0);
    assert_int_equal(c.kernel, MLP_KERNEL_PORTABLE);
    rs_config_free(&c);

    const char *a2[] = {"--kernel=native"};
    assert_int_equal(parse(&c, env, 1, a2, err), 0);
    assert_int_equal(c.kernel, MLP_KERNEL_NATIVE); /* flag over environment */
    rs_config_free(&c);

    const char *a3[] = {"--kernel", "blas"};
    assert_int_equal(parse(&c, NULL, 2, a3, err), -1);
    assert_non_null(strstr(err, "--kernel expects native or portable, got 'blas'"));
    rs_config_free(&c);

    const char *bad_env[] = {"RELUSERVE_KERNEL", "auto", NULL};
    assert_int_equal(parse(&c, bad_env, 0, NULL, err), -1);
    assert_non_null(strstr(err, "RELUSERVE_KERNEL"));
    rs_config_free(&c);
}

static void test_repository_poll(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, NULL);
    assert_int_equal(c.repository_poll_s, 0); /* off by default */
    rs_config_free(&c);
    const char *const *env = ARGS("RELUSERVE_REPOSITORY_POLL_S", "5");
    c = parsed(env, NULL);
    assert_int_equal(c.repository_poll_s, 5);
    rs_config_free(&c);
    c = parsed(env, ARGS("--repository-poll-s", "2"));
    assert_int_equal(c.repository_poll_s, 2);
    rs_config_free(&c);
    refused(NULL, ARGS("--repository-poll-s", "-1"), "--repository-poll-s");
    /* As in Triton's POLL mode, the disk is the one source of truth. */
    refused(NULL, ARGS("--repository-poll-s", "1", "--enable-model-control"),
            "--repository-poll-s and --enable-model-control");
}

/* --busy-poll-us and its twin: auto (-1) by default, else microseconds up to
 * 100000 (0.1 s of spinning after activity is already far past any use). */
static void test_busy_poll(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, NULL);
    assert_true(c.busy_poll_us == -1); /* auto: decided at start (http/wakeup.h) */
    rs_config_free(&c);
    c = parsed(ARGS("RELUSERVE_BUSY_POLL_US", "70"), ARGS("--busy-poll-us", "auto"));
    assert_true(c.busy_poll_us == -1);
    rs_config_free(&c);
    c = parsed(ARGS("RELUSERVE_BUSY_POLL_US", "0"), NULL);
    assert_true(c.busy_poll_us == 0); /* off */
    rs_config_free(&c);
    const char *const *env = ARGS("RELUSERVE_BUSY_POLL_US", "50");
    c = parsed(env, NULL);
    assert_true(c.busy_poll_us == 50);
    rs_config_free(&c);
    c = parsed(env, ARGS("--busy-poll-us=100000"));
    assert_true(c.busy_poll_us == 100000); /* flag over environment; the maximum */
    rs_config_free(&c);
    refused(NULL, ARGS("--busy-poll-us", "-1"),
            "--busy-poll-us expects auto or an integer from 0 to 100000, got '-1'");
    refused(NULL, ARGS("--busy-poll-us", "AUTO"), "--busy-poll-us");
    refused(NULL, ARGS("--busy-poll-us", "100001"), "--busy-poll-us");
    refused(NULL, ARGS("--busy-poll-us", "fast"), "--busy-poll-us");
    refused(ARGS("RELUSERVE_BUSY_POLL_US", "1e3"), NULL, "RELUSERVE_BUSY_POLL_US");
}

/* The connection limit libmicrohttpd is given (--max-connections plus its
 * margin, max/8 in 16..256) is split among the HTTP threads' daemons: more
 * threads than that would leave some with a share of 0, never accepting.
 * Refused when asked for, with both flags named; the automatic count stays
 * within it. */
static void test_http_threads_within_the_connection_limit(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, ARGS("--http-threads", "24", "--max-connections", "8"));
    assert_int_equal(c.http_threads, 24); /* 8 + 16: a share of 1 each */
    assert_int_equal(rs_config_http_threads(&c), 24);
    rs_config_free(&c);
    refused(NULL, ARGS("--http-threads", "25", "--max-connections", "8"), "--http-threads (25)");
    refused(NULL, ARGS("--http-threads", "25", "--max-connections", "8"), "--max-connections (8)");
    refused(ARGS("RELUSERVE_HTTP_THREADS", "200", "RELUSERVE_MAX_CONNECTIONS", "100"), NULL,
            "at most 116");
    c = parsed(NULL, ARGS("--http-threads", "256", "--max-connections", "2048")); /* 2048 + 256 */
    assert_int_equal(rs_config_http_threads(&c), 256);
    rs_config_free(&c);
    c = parsed(NULL, ARGS("--max-connections", "1"));
    c.cpus = 64; /* automatic: 32, cut to the limit 1 + 16 */
    assert_int_equal(rs_config_http_threads(&c), 17);
    rs_config_free(&c);
}

/* The automatic counts size from the usable CPUs (cpus.h: the affinity,
 * capped by the cgroup quota), found at parse time, not from the machine's
 * online cores: a container limited to 2 CPUs on a 64-core node runs 2
 * compute threads and 1 HTTP thread, not 64 and 32. */
static void test_automatic_threads_follow_the_usable_cpus(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, NULL);
    rs_cpus here;
    rs_cpus_inspect(&here);
    assert_int_equal(c.cpus, rs_cpus_usable(&here));
    const int cpus[] = {1, 2, 3, 16, 64}, compute[] = {1, 2, 3, 16, 64}, http[] = {1, 1, 1, 8, 32};
    for (int i = 0; i < 5; i++) {
        c.cpus = cpus[i];
        assert_int_equal(rs_config_threads(&c), compute[i]);
        assert_int_equal(rs_config_http_threads(&c), http[i]);
    }
    rs_config_free(&c);
    c = parsed(NULL, ARGS("--threads", "5", "--http-threads", "3")); /* given: kept */
    c.cpus = 64;
    assert_int_equal(rs_config_threads(&c), 5);
    assert_int_equal(rs_config_http_threads(&c), 3);
    rs_config_free(&c);
}

/* --allowed-hosts and its twin: unset by default (the server picks by its
 * listen address), the list kept as given once its syntax is checked, and
 * an error naming the flag or the variable it came from. */
static void test_allowed_hosts(void **state)
{
    (void)state;
    rs_config c = parsed(NULL, NULL);
    assert_null(c.allowed_hosts);
    rs_config_free(&c);
    const char *const *env = ARGS("RELUSERVE_ALLOWED_HOSTS", "a.example");
    c = parsed(env, NULL);
    assert_string_equal(c.allowed_hosts, "a.example");
    rs_config_free(&c);
    c = parsed(env, ARGS("--allowed-hosts", " B.example, [::1] "));
    assert_string_equal(c.allowed_hosts, " B.example, [::1] "); /* flag over environment */
    rs_config_free(&c);
    c = parsed(NULL, ARGS("--allowed-hosts=*"));
    assert_string_equal(c.allowed_hosts, "*");
    rs_config_free(&c);
    refused(NULL, ARGS("--allowed-hosts", "a.example:8080"),
            "--allowed-hosts: 'a.example:8080': list host names without a port");
    refused(NULL, ARGS("--allowed-hosts", ""), "--allowed-hosts: expected host names");
    refused(ARGS("RELUSERVE_ALLOWED_HOSTS", "*.example"), NULL,
            "environment variable RELUSERVE_ALLOWED_HOSTS: '*.example'");
}

static void test_bad_env_names_the_variable(void **state)
{
    (void)state;
    refused(ARGS("RELUSERVE_THREADS", "many"), NULL, "RELUSERVE_THREADS");
}

static void test_help(void **state)
{
    (void)state;
    rs_config c;
    char err[256];
    assert_int_equal(parse(&c, NULL, 3, ARGS("--port", "1", "--help"), err), 1);
    rs_config_free(&c);
    /* --help lists every flag with its environment twin. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rs_config_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "--batch-delay-us"));
    assert_non_null(strstr(text, "RELUSERVE_BATCH_DELAY_US"));
    assert_non_null(strstr(text, "--monitor-window-s"));
    assert_non_null(strstr(text, "RELUSERVE_API_KEY"));
    assert_non_null(strstr(text, "--allowed-hosts VALUE"));
    assert_non_null(strstr(text, "RELUSERVE_ALLOWED_HOSTS"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags_both_forms),
        cmocka_unit_test(test_env_used_and_flag_wins),
        cmocka_unit_test(test_bad_values_name_the_flag),
        cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_repository_poll),
        cmocka_unit_test(test_busy_poll),
        cmocka_unit_test(test_http_threads_within_the_connection_limit),
        cmocka_unit_test(test_automatic_threads_follow_the_usable_cpus),
        cmocka_unit_test(test_allowed_hosts),
        cmocka_unit_test(test_bad_env_names_the_variable),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
