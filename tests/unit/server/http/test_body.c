/* body: bodies charged as they grow (capped doubling steps, never past their
 * limit), the total and per-client budgets, clients keyed by IPv4 address or
 * IPv6 /64, and every charge given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http/body.h"

/* A client at ip (IPv6 when it holds a ':'), port 40000. */
static struct sockaddr_storage peer(const char *ip)
{
    struct sockaddr_storage a;
    memset(&a, 0, sizeof a);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *p = (struct sockaddr_in6 *)(void *)&a;
        p->sin6_family = AF_INET6;
        p->sin6_port = htons(40000);
        assert_int_equal(inet_pton(AF_INET6, ip, &p->sin6_addr), 1);
    } else {
        struct sockaddr_in *p = (struct sockaddr_in *)(void *)&a;
        p->sin_family = AF_INET;
        p->sin_port = htons(40000);
        assert_int_equal(inet_pton(AF_INET, ip, &p->sin_addr), 1);
    }
    return a;
}

#define SA(x) ((const struct sockaddr *)(const void *)&(x))

static char g_data[1 << 18];

static void test_charged_as_it_grows_in_capped_steps(void **state)
{
    (void)state;
    rs_body_budget *b = rs_body_budget_create(1 << 20, 1 << 20);
    struct sockaddr_storage a = peer("10.0.0.1");
    rs_body body;
    rs_body_init(&body);
    /* declared 256 KiB, one byte sent: one first step held, not the declared size */
    assert_int_equal(rs_body_append(b, &body, SA(a), g_data, 1, 1 << 18), RS_BODY_OK);
    assert_int_equal(body.cap, RS_BODY_FIRST_STEP);
    assert_int_equal(rs_body_budget_held(b), RS_BODY_FIRST_STEP);
    /* grows by doubling, the charge following the buffer */
    assert_int_equal(rs_body_append(b, &body, SA(a), g_data, 5000, 1 << 18), RS_BODY_OK);
    assert_int_equal(body.cap, 2 * RS_BODY_FIRST_STEP);
    assert_int_equal(rs_body_budget_held(b), 2 * RS_BODY_FIRST_STEP);
    /* never past the limit, however the doubling falls */
    assert_int_equal(rs_body_append(b, &body, SA(a), g_data, (1 << 18) - 5001, 1 << 18),
                     RS_BODY_OK);
    assert_int_equal(body.len, 1 << 18);
    assert_int_equal(body.cap, 1 << 18);
    assert_int_equal(body.data[body.len], '\0');
    assert_int_equal(rs_body_budget_held(b), 1 << 18);
    /* the charge never exceeds twice the bytes received plus the first step */
    rs_body_release(b, &body);
    assert_int_equal(rs_body_budget_held(b), 0);
    for (size_t sent = 0; sent < 100000; sent += 777) {
        assert_int_equal(rs_body_append(b, &body, SA(a), g_data, 777, 1 << 18), RS_BODY_OK);
        assert_true(rs_body_budget_held(b) <= 2 * (int64_t)body.len + RS_BODY_FIRST_STEP);
    }
    rs_body_release(b, &body);
    assert_int_equal(rs_body_budget_held(b), 0);
    rs_body_budget_free(b);
}

static void test_total_budget_refuses_and_releases(void **state)
{
    (void)state;
    rs_body_budget *b = rs_body_budget_create(100000, 100000);
    struct sockaddr_storage a = peer("10.0.0.1"), c = peer("10.0.0.2");
    rs_body x, y;
    rs_body_init(&x);
    rs_body_init(&y);
    assert_int_equal(rs_body_append(b, &x, SA(a), g_data, 60000, 90000), RS_BODY_OK);
    int64_t held = rs_body_budget_held(b);
    assert_int_equal(rs_body_append(b, &y, SA(c), g_data, 50000, 90000), RS_BODY_OVER_TOTAL);
    assert_null(y.data); /* dropped: nothing kept, nothing charged */
    assert_int_equal(y.charged, 0);
    assert_int_equal(rs_body_budget_held(b), held);
    /* decoded data counts against the total too */
    rs_body_complete(b, &x);
    assert_false(rs_body_charge(b, &x, 100000));
    assert_true(rs_body_charge(b, &x, 1000));
    rs_body_release(b, &x);
    assert_int_equal(rs_body_budget_held(b), 0);
    assert_int_equal(rs_body_append(b, &y, SA(c), g_data, 50000, 90000), RS_BODY_OK);
    rs_body_release(b, &y);
    rs_body_budget_free(b);
}

/* One client's unfinished uploads hold at most its share; other clients get
 * the rest, and a complete body stops counting against its client. */
static void test_per_client_cap(void **state)
{
    (void)state;
    rs_body_budget *b = rs_body_budget_create(1 << 20, 1 << 18);
    struct sockaddr_storage a = peer("10.0.0.1"), other = peer("10.0.0.2");
    rs_body up[4], fair;
    for (int i = 0; i < 4; i++)
        rs_body_init(&up[i]);
    rs_body_init(&fair);
    /* a body of the whole share fits it exactly */
    assert_int_equal(rs_body_append(b, &up[0], SA(a), g_data, 1 << 18, 1 << 18), RS_BODY_OK);
    rs_body_release(b, &up[0]);
    /* four uploads of 250 KiB from one address: the first fits its share... */
    assert_int_equal(rs_body_append(b, &up[0], SA(a), g_data, 250 << 10, 1 << 18), RS_BODY_OK);
    /* ... the others would pass it */
    for (int i = 1; i < 4; i++)
        assert_int_equal(rs_body_append(b, &up[i], SA(a), g_data, 250 << 10, 1 << 18),
                         RS_BODY_OVER_CLIENT);
    /* another client is served */
    assert_int_equal(rs_body_append(b, &fair, SA(other), g_data, 250 << 10, 1 << 18), RS_BODY_OK);
    /* complete, the first upload leaves its client's share (still in the total) */
    int64_t held = rs_body_budget_held(b);
    rs_body_complete(b, &up[0]);
    assert_int_equal(rs_body_budget_held(b), held);
    assert_int_equal(rs_body_append(b, &up[1], SA(a), g_data, 250 << 10, 1 << 18), RS_BODY_OK);
    rs_body_release(b, &up[0]);
    rs_body_release(b, &up[1]);
    rs_body_release(b, &fair);
    assert_int_equal(rs_body_budget_held(b), 0);
    rs_body_budget_free(b);
}

static void test_clients_are_ipv4_addresses_and_ipv6_slash_64s(void **state)
{
    (void)state;
    rs_body_budget *b = rs_body_budget_create(1 << 20, 100000);
    struct sockaddr_storage p1 = peer("2001:db8:1:2::1"), p2 = peer("2001:db8:1:2:ffff::9"),
                            q = peer("2001:db8:1:3::1"), mapped = peer("::ffff:10.0.0.1");
    struct sockaddr_storage a = peer("10.0.0.1");
    rs_body x, y;
    rs_body_init(&x);
    rs_body_init(&y);
    /* two addresses of one /64 share a client's cap */
    assert_int_equal(rs_body_append(b, &x, SA(p1), g_data, 60000, 90000), RS_BODY_OK);
    assert_int_equal(rs_body_append(b, &y, SA(p2), g_data, 60000, 90000), RS_BODY_OVER_CLIENT);
    /* the next /64 is another client */
    assert_int_equal(rs_body_append(b, &y, SA(q), g_data, 60000, 90000), RS_BODY_OK);
    rs_body_release(b, &x);
    rs_body_release(b, &y);
    /* an IPv4 client reaching an IPv6 socket is the same client */
    assert_int_equal(rs_body_append(b, &x, SA(a), g_data, 60000, 90000), RS_BODY_OK);
    assert_int_equal(rs_body_append(b, &y, SA(mapped), g_data, 60000, 90000), RS_BODY_OVER_CLIENT);
    rs_body_release(b, &x);
    assert_int_equal(rs_body_budget_held(b), 0);
    rs_body_budget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charged_as_it_grows_in_capped_steps),
        cmocka_unit_test(test_total_budget_refuses_and_releases),
        cmocka_unit_test(test_per_client_cap),
        cmocka_unit_test(test_clients_are_ipv4_addresses_and_ipv6_slash_64s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
