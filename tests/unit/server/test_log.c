/* log: whatever bytes a client puts in a URL, a JSON line is one valid JSON
 * object holding every field, and a text line keeps its fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "test_capture.h"

/* The one line an access record makes. */
static char *access_line(rs_log_format fmt, const char *method, const char *path, const char *model)
{
    rs_log_init(fmt, RS_LOG_INFO);
    rs_access a = {method, path, model, model ? "7" : NULL, "rid-1", 404, 3, 1234};
    capture_begin();
    rs_log_access(&a);
    char *line = capture_end();
    size_t n = strlen(line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_ptr_equal(strchr(line, '\n'), line + n - 1); /* exactly one line */
    line[n - 1] = 0;
    return line;
}

/* The JSON access line of path, parsed (strictly: jansson refuses ill-formed
 * UTF-8), with every field checked; returns its "path". */
static json_t *json_access(const char *path)
{
    char *line = access_line(RS_LOG_JSON, "GET", path, "m");
    json_error_t e;
    json_t *doc = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!doc) fail_msg("invalid JSON (%s) in: %.300s", e.text, line);
    free(line);
    assert_string_equal(json_string_value(json_object_get(doc, "method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 404);
    assert_string_equal(json_string_value(json_object_get(doc, "model")), "m");
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "7");
    assert_int_equal(json_integer_value(json_object_get(doc, "rows")), 3);
    assert_int_equal(json_integer_value(json_object_get(doc, "us")), 1234);
    assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "rid-1");
    assert_true(json_is_string(json_object_get(doc, "path")));
    return doc;
}

static const char *path_of(json_t *doc)
{
    return json_string_value(json_object_get(doc, "path"));
}

/* -------------------------------------------------------------- tests */

static void test_json_line_of_a_10_kib_url_is_valid(void **state)
{
    (void)state;
    /* Every byte value, quotes and backslashes many times: the cut falls
     * wherever the escapes put it, never inside one. */
    for (int shift = 0; shift < 7; shift++) {
        char *path = malloc(10241);
        assert_non_null(path);
        for (int i = 0; i < 10240; i++) {
            int c = (i + shift) % 255 + 1;
            path[i] = (char)(i % 3 == 0 ? '"' : i % 5 == 0 ? '\\' : c);
        }
        path[10240] = 0;
        json_t *doc = json_access(path);
        size_t n = strlen(path_of(doc));
        assert_true(n > 100);
        assert_string_equal(path_of(doc) + n - 3, "...");
        json_decref(doc);
        free(path);
    }
}

static void test_json_escapes_bytes_over_0x7f(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char path[4] = {'/', (char)c, 'x', 0};
        json_t *doc = json_access(path);
        const char *got = path_of(doc);
        if (c < 0x80) {
            assert_memory_equal(got, path, 4);
        } else {
            /* A lone byte is not UTF-8: it reads as U+00XX, written in UTF-8. */
            char want[5] = {'/', (char)(0xc0 | c >> 6), (char)(0x80 | (c & 0x3f)), 'x', 0};
            assert_string_equal(got, want);
        }
        json_decref(doc);
    }
}

static void test_json_keeps_well_formed_utf8(void **state)
{
    (void)state;
    const char *ok = "/v2/models/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";
    json_t *doc = json_access(ok);
    assert_string_equal(path_of(doc), ok);
    json_decref(doc);
    /* Ill-formed: overlong '/', a surrogate, past U+10FFFF, a cut sequence. */
    static const char *const bad[] = {"/\xc0\xaf", "/\xed\xa0\x80", "/\xf4\x90\x80\x80",
                                      "/\xe2\x82", "/\xf0\x9f\x98"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        doc = json_access(bad[i]);
        json_decref(doc);
    }
}

static void test_json_message_is_valid_when_cut(void **state)
{
    (void)state;
    char msg[6000];
    for (int i = 0; i < (int)sizeof msg - 1; i++)
        msg[i] = "\"\\\n\x80\xc3\xa9 a"[i % 8];
    msg[sizeof msg - 1] = 0;
    rs_log_init(RS_LOG_JSON, RS_LOG_INFO);
    capture_begin();
    rs_log(RS_LOG_WARN, "%s", msg);
    char *line = capture_end();
    json_error_t e;
    json_t *doc = json_loads(line, 0, &e);
    if (!doc) fail_msg("invalid JSON (%s) in: %.300s", e.text, line);
    assert_string_equal(json_string_value(json_object_get(doc, "level")), "warn");
    const char *m = json_string_value(json_object_get(doc, "msg"));
    assert_string_equal(m + strlen(m) - 3, "...");
    json_decref(doc);
    free(line);
}

/* Splits line on spaces; returns the number of fields. */
static int text_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < max;
         t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    return n;
}

static void test_text_line_fields_cannot_be_forged(void **state)
{
    (void)state;
    char *plain = access_line(RS_LOG_TEXT, "GET", "/x", "m");
    char *f[32];
    int want = text_fields(plain, f, 32);
    assert_int_equal(want, 9); /* ts level method path status model rows us id */
    free(plain);
    /* What a decoded %20, %22, %5C, %0A, %09 or a non-ASCII byte would add. */
    char *line =
        access_line(RS_LOG_TEXT, "GET",
                    "/x 200 model=evil rows=9 \"q\" \\ \n\t\xc2\xa0\xe3\x80\x80 us=1", "m o");
    int n = text_fields(line, f, 32);
    assert_int_equal(n, want);
    assert_string_equal(f[2], "GET");
    assert_string_equal(f[3], "/x\\x20200\\x20model=evil\\x20rows=9\\x20\\x22q\\x22\\x20\\x5c"
                              "\\x20\\x0a\\x09\\xc2\\xa0\\xe3\\x80\\x80\\x20us=1");
    assert_string_equal(f[4], "404");
    assert_string_equal(f[5], "model=m\\x20o/7");
    free(line);
}

static void test_text_line_of_a_long_url_keeps_its_fields(void **state)
{
    (void)state;
    char path[20000];
    memset(path, ' ', sizeof path - 1);
    path[sizeof path - 1] = 0;
    char *line = access_line(RS_LOG_TEXT, "GET", path, NULL);
    char *f[32];
    assert_int_equal(text_fields(line, f, 32), 9);
    assert_string_equal(f[3] + strlen(f[3]) - 3, "...");
    assert_string_equal(f[8], "id=rid-1");
    free(line);
}

static void test_text_message_escapes_control_bytes(void **state)
{
    (void)state;
    rs_log_init(RS_LOG_TEXT, RS_LOG_INFO);
    capture_begin();
    rs_log(RS_LOG_INFO, "a b\nforged \x1b[31m caf\xc3\xa9 \x80 \xc2\x9b");
    char *line = capture_end();
    assert_non_null(strstr(line, " info  a b\\x0aforged \\x1b[31m caf\xc3\xa9 \\x80 \\xc2\\x9b\n"));
    free(line);
}

/* rs_log_access copies a plain string whole when it fits with room for "..."
 * and leaves the rest to the character loop: both must give the bytes the
 * loop alone gave. A path of 2046 printable bytes (its cap, 2048, less 2)
 * stays whole; one more byte and it is cut to 2045 bytes and "...". */
static void test_text_line_plain_strings_at_their_cap(void **state)
{
    (void)state;
    static char path[2048], want[4200];
    for (size_t n = 2044; n <= 2047; n++) {
        memset(path, 'p', n);
        path[n] = 0;
        char *line = access_line(RS_LOG_TEXT, "POST", path, "tiny");
        size_t keep = n <= 2046 ? n : 2045;
        snprintf(want, sizeof want, " info  POST %.*s%s 404 model=tiny/7 rows=3 us=1234 id=rid-1",
                 (int)keep, path, n <= 2046 ? "" : "...");
        assert_true(strlen(line) > 24);
        assert_string_equal(line + 24, want);
        free(line);
        line = access_line(RS_LOG_JSON, "POST", path, "tiny");
        snprintf(want, sizeof want,
                 ",\"level\":\"info\",\"msg\":\"access\",\"method\":\"POST\",\"path\":\"%.*s%s\","
                 "\"status\":404,\"model\":\"tiny\",\"version\":\"7\",\"rows\":3,\"us\":1234,"
                 "\"request_id\":\"rid-1\"}",
                 (int)keep, path, n <= 2046 ? "" : "...");
        assert_true(strlen(line) > 33);
        assert_memory_equal(line, "{\"ts\":\"", 7);
        assert_string_equal(line + 32, want);
        free(line);
    }
}

/* The timestamp is kept per thread for its second: whatever order the
 * seconds come in (a clock stepped back too), each text is gmtime's. */
static void test_time_text_is_gmtimes_in_any_order(void **state)
{
    (void)state;
    const struct timespec ts[] = {
        {1764598197, 504000000},
        {1764598197, 999999999},
        {1764598198, 0},
        {1764598197, 1000000},
        {0, 0},
        {951782399, 123456789},
        {951782400, 7000000},
        {4102444799, 999000000},
        {1764598197, 504000000},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        char got[RS_LOG_TIME_TEXT], want[64];
        struct tm tm;
        assert_non_null(gmtime_r(&ts[i].tv_sec, &tm));
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts[i].tv_nsec / 1000000);
        size_t n = rs_log_time_text(&ts[i], got);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line_of_a_10_kib_url_is_valid),
        cmocka_unit_test(test_json_escapes_bytes_over_0x7f),
        cmocka_unit_test(test_json_keeps_well_formed_utf8),
        cmocka_unit_test(test_json_message_is_valid_when_cut),
        cmocka_unit_test(test_text_line_fields_cannot_be_forged),
        cmocka_unit_test(test_text_line_of_a_long_url_keeps_its_fields),
        cmocka_unit_test(test_text_message_escapes_control_bytes),
        cmocka_unit_test(test_text_line_plain_strings_at_their_cap),
        cmocka_unit_test(test_time_text_is_gmtimes_in_any_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
