/* hosts: the Host header allow-list against DNS rebinding — what a Host
 * matches (ports, case, brackets, a trailing dot) and what never does (empty,
 * garbage, overlong); the list's own syntax; which listen addresses are
 * loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "http/hosts.h"

/* The allow-list list, which must parse. */
static rs_hosts hosts(const char *list)
{
    rs_hosts h;
    char err[256];
    if (rs_hosts_parse(&h, list, err, sizeof err)) fail_msg("'%s' refused: %s", list, err);
    return h;
}

static void expect(const rs_hosts *h, const char *host, bool want)
{
    if (rs_hosts_allow(h, host) != want)
        fail_msg("Host '%.80s' (%zu bytes): expected %s", host, strlen(host),
                 want ? "allowed" : "refused");
}

static void allowed(const rs_hosts *h, const char *const *list)
{
    for (; *list; list++)
        expect(h, *list, true);
}

static void refused(const rs_hosts *h, const char *const *list)
{
    for (; *list; list++)
        expect(h, *list, false);
}

#define HOSTS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Loopback default: no names listed, localhost and IP addresses only. */
static const rs_hosts NONE = {0};

static void test_ports_are_ignored_but_must_be_ports(void **state)
{
    (void)state;
    allowed(&NONE, HOSTS("localhost", "localhost:8080", "localhost:0", "localhost:65535",
                         "127.0.0.1:1", "[::1]:8080", "[::1]:65535"));
    refused(&NONE, HOSTS("localhost:", "localhost:65536", "localhost:123456", "localhost:80a",
                         "localhost:-1", "localhost: 80", "localhost::80", "localhost:80:80",
                         "[::1]:", "[::1]8080", "[::1]:http", "127.0.0.1:99999"));
}

static void test_names_compare_without_case(void **state)
{
    (void)state;
    rs_hosts h = hosts("Reluserve.EXAMPLE,models.internal");
    allowed(&h, HOSTS("reluserve.example", "RELUSERVE.example:443", "Models.Internal", "LOCALHOST",
                      "LocalHost:8080"));
    refused(&h, HOSTS("reluserve.exampl", "reluserve.example2", "sub.reluserve.example",
                      "reluserve.example.evil", "xreluserve.example", "models", "internal"));
    rs_hosts_free(&h);
}

/* IPv6 addresses come in brackets, and compare as addresses. */
static void test_ipv6_brackets(void **state)
{
    (void)state;
    allowed(&NONE, HOSTS("[::1]", "[0:0:0:0:0:0:0:1]", "[::FFFF:127.0.0.1]", "[2001:db8::7]:80",
                         "[fe80::1]"));
    refused(&NONE,
            HOSTS("::1", "::1:8080", "[::1", "::1]", "[]", "[]:80", "[127.0.0.1]", "[evil.example]",
                  "[fe80::1%25eth0]", "[::1]]", "[[::1]]", "[::g]", "[::1] ", " [::1]"));
}

/* One trailing dot names the same host (fully qualified); more is not a name. */
static void test_a_trailing_dot(void **state)
{
    (void)state;
    rs_hosts h = hosts("reluserve.example.,models.internal");
    allowed(&h, HOSTS("localhost.", "localhost.:8080", "127.0.0.1.", "reluserve.example",
                      "reluserve.example.", "reluserve.example.:80", "models.internal."));
    refused(&h, HOSTS(".", "..", "localhost..", ".localhost", "reluserve.example..", ".:80",
                      "models.internal.."));
    rs_hosts_free(&h);
}

static void test_empty_and_garbage_match_nothing(void **state)
{
    (void)state;
    rs_hosts h = hosts("reluserve.example");
    refused(&h,
            HOSTS("", ":", ":80", " ", "evil.example", "evil.example:80", "localhost.evil.example",
                  "evil.localhost", "127.0.0.1.nip.io", "0x7f000001", "2130706433", "127.1",
                  "0177.0.0.1", "1.2.3.4.5", "256.0.0.1", "localhost evil", "localhost\t",
                  " localhost", "localhost,evil", "reluserve.example,evil.example",
                  "reluserve.example evil.example", "reluserve.example\r\n", "user@localhost",
                  "localhost/", "*", "%6cocalhost", "\xef\xbd\x8cocalhost"));
    rs_hosts_free(&h);
}

/* Any IP address: a Host that was never looked up cannot have been rebound. */
static void test_ip_addresses_are_always_allowed(void **state)
{
    (void)state;
    rs_hosts h = hosts("reluserve.example");
    allowed(&h, HOSTS("127.0.0.1", "127.0.0.2:8080", "10.244.1.7:8080", "192.0.2.1", "0.0.0.0",
                      "[2001:db8::1]:8080"));
    rs_hosts_free(&h);
}

static void test_overlong(void **state)
{
    (void)state;
    char name[400], list[sizeof name + 16];
    /* the longest name a list holds (253 bytes: labels of 63) matches itself */
    memset(name, 'a', 253);
    name[63] = name[127] = name[191] = '.';
    name[253] = '\0';
    rs_hosts h = hosts(name);
    expect(&h, name, true);
    snprintf(list, sizeof list, "%s:65535", name);
    expect(&h, list, true);
    snprintf(list, sizeof list, "%s.:65535", name);
    expect(&h, list, true);
    name[252] = '\0'; /* a prefix of it: no */
    expect(&h, name, false);
    rs_hosts_free(&h);
    /* Hosts of any length beyond are refused without being read whole */
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    expect(&NONE, name, false);
    memcpy(name, "localhost:", 10);
    expect(&NONE, name, false);
    memcpy(name, "[::1]:", 6);
    expect(&NONE, name, false);
    /* "*" allows even these */
    rs_hosts any = hosts("*");
    expect(&any, name, true);
    allowed(&any, HOSTS("", "evil.example", "garbage:garbage", "[::1"));
    rs_hosts_free(&any);
}

static void test_list_syntax(void **state)
{
    (void)state;
    /* spaces around entries and empty entries are skipped; the always-allowed
     * ones (localhost, addresses) are not stored; names lowercase, no dot */
    rs_hosts h = hosts(" A.Example , b.example. ,, localhost,10.0.0.1,[::1],\tc\t");
    assert_false(h.any);
    assert_int_equal(h.n_names, 3);
    assert_string_equal(h.names[0], "a.example");
    assert_string_equal(h.names[1], "b.example");
    assert_string_equal(h.names[2], "c");
    rs_hosts_free(&h);
    h = hosts("a.example,*");
    assert_true(h.any);
    rs_hosts_free(&h);
    h = hosts("compose_service-1");
    assert_int_equal(h.n_names, 1);
    rs_hosts_free(&h);

    static const struct {
        const char *list, *needle;
    } bad[] = {
        {"", "host names separated by commas"},
        {" , ,", "host names separated by commas"},
        {"a.example:8080", "'a.example:8080': list host names without a port"},
        {"::1", "'::1': write an IPv6 address in brackets, as [::1]"},
        {"[x]", "'[x]' is not an IPv6 address in brackets"},
        {"[::1]:80", "is not an IPv6 address in brackets"},
        {"*.example", "'*' alone allows every host"},
        {"a..b", "'a..b' is not a host name"},
        {".a", "is not a host name"},
        {"a b", "'a b' is not a host name"},
        {"a/b", "is not a host name"},
        {"good.example,bad example", "'bad example' is not a host name"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
         "is not a host name"}, /* a label of 64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        rs_hosts tmp;
        assert_int_equal(rs_hosts_parse(&tmp, bad[i].list, err, sizeof err), -1);
        if (!strstr(err, bad[i].needle))
            fail_msg("'%s': \"%s\" not in \"%s\"", bad[i].list, bad[i].needle, err);
        assert_int_equal(rs_hosts_parse(NULL, bad[i].list, err, sizeof err), -1);
    }
    char err[256];
    assert_int_equal(rs_hosts_parse(NULL, NULL, err, sizeof err), -1);
    assert_int_equal(rs_hosts_parse(NULL, "a.example,[::1],*", err, sizeof err), 0);
    /* 254 bytes: too long, quoted cut short */
    char name[255];
    memset(name, 'a', 254);
    name[63] = name[127] = name[191] = '.';
    name[254] = '\0';
    assert_int_equal(rs_hosts_parse(NULL, name, err, sizeof err), -1);
    assert_non_null(strstr(err, "...' is not a host name"));
    name[253] = '\0';
    assert_int_equal(rs_hosts_parse(NULL, name, err, sizeof err), 0);
}

static bool loopback4(const char *addr)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
    return rs_hosts_loopback((struct sockaddr *)&sa);
}

static bool loopback6(const char *addr)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
    return rs_hosts_loopback((struct sockaddr *)&sa);
}

/* The default: localhost and addresses on a loopback socket, any Host on the
 * wildcard (containers) or another address. */
static void test_loopback_listen_addresses(void **state)
{
    (void)state;
    assert_true(loopback4("127.0.0.1"));
    assert_true(loopback4("127.255.3.4"));
    assert_false(loopback4("0.0.0.0"));
    assert_false(loopback4("10.0.0.1"));
    assert_false(loopback4("128.0.0.1"));
    assert_false(loopback4("192.168.1.127"));
    assert_true(loopback6("::1"));
    assert_true(loopback6("::ffff:127.0.0.1"));
    assert_false(loopback6("::"));
    assert_false(loopback6("::ffff:10.0.0.1"));
    assert_false(loopback6("::ffff:0.0.0.0"));
    assert_false(loopback6("fe80::1"));
    assert_false(loopback6("::2"));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_false(rs_hosts_loopback((struct sockaddr *)&un));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports_are_ignored_but_must_be_ports),
        cmocka_unit_test(test_names_compare_without_case),
        cmocka_unit_test(test_ipv6_brackets),
        cmocka_unit_test(test_a_trailing_dot),
        cmocka_unit_test(test_empty_and_garbage_match_nothing),
        cmocka_unit_test(test_ip_addresses_are_always_allowed),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_list_syntax),
        cmocka_unit_test(test_loopback_listen_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
