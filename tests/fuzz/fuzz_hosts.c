/*
 * fuzz_hosts — the Host header allow-list (server/http/hosts.c): the list an
 * operator gives (--allowed-hosts, rs_hosts_parse) and the Host header every
 * client sends (rs_hosts_allow).
 *
 * Input: the list, a NUL byte, the Host (up to the next NUL: a header value
 * holds none). Without a NUL the whole input is the Host, against the
 * loopback default (no names).
 *
 * Invariants, besides no crash, leak or sanitizer report:
 * - a list is accepted or refused the same with and without a rs_hosts to
 *   fill; a refusal comes with a message; "any" only with a "*" entry;
 * - every name kept is lowercase, without a trailing dot, a valid list entry
 *   itself, and allowed as a Host: alone, with a port, in capitals and with a
 *   trailing dot;
 * - the Host's verdict does not depend on its case, nor on a port added to a
 *   Host that has none; a ":" with no digits after it is never allowed;
 * - a list only adds: a Host the default allows, every list allows; "*"
 *   allows every Host; without "*", a Host over 300 bytes is refused.
 */
#include <ctype.h>

#include "fuzz_check.h"
#include "http/hosts.h"

static char *upper(const char *s)
{
    char *u = strdup(s);
    FUZZ_CHECK(u != NULL, "out of memory");
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static char *with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    char *w = malloc(n + t + 1);
    FUZZ_CHECK(w != NULL, "out of memory");
    memcpy(w, s, n);
    memcpy(w + n, tail, t + 1);
    return w;
}

/* The same verdict for host in capitals. */
static void check_case(const rs_hosts *h, const char *host, bool verdict)
{
    char *u = upper(host);
    FUZZ_CHECK(rs_hosts_allow(h, u) == verdict, "Host '%.80s' and '%.80s' differ", host, u);
    free(u);
}

/* A Host with no port: the same verdict with one; never with a bad one. */
static void check_ports(const rs_hosts *h, const char *host, bool verdict)
{
    bool bracketed = host[0] == '[' && strchr(host, ']') && !strchr(strchr(host, ']'), ':');
    if (strchr(host, ':') && !bracketed) return; /* has a port, or is no host[:port] */
    char *p = with(host, ":8080");
    FUZZ_CHECK(rs_hosts_allow(h, p) == verdict, "Host '%.80s' and '%.80s' differ", host, p);
    free(p);
    static const char *const bad[] = {":", ":x", ":65536", ":123456", ": 80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = with(host, bad[i]);
        FUZZ_CHECK(h->any || !rs_hosts_allow(h, p), "Host '%.80s' allowed", p);
        free(p);
    }
}

static void check_host(const rs_hosts *h, const char *host)
{
    static const rs_hosts none = {0};
    bool verdict = rs_hosts_allow(h, host);
    check_case(h, host, verdict);
    check_ports(h, host, verdict);
    if (rs_hosts_allow(&none, host))
        FUZZ_CHECK(verdict, "a list refuses the default's '%.80s'", host);
    if (h->any) FUZZ_CHECK(verdict, "'*' refuses '%.80s'", host);
    if (!h->any && strlen(host) > 300) FUZZ_CHECK(!verdict, "%zu-byte Host allowed", strlen(host));
}

static void check_list(const rs_hosts *h, const char *list)
{
    bool star = false;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ","), a = strspn(p, " \t");
        if (a < n) {
            size_t e = n;
            while (e > a && (p[e - 1] == ' ' || p[e - 1] == '\t'))
                e--;
            star = star || (e - a == 1 && p[a] == '*');
        }
        p += p[n] ? n + 1 : n;
    }
    FUZZ_CHECK(h->any == star, "any is %d for the list '%.80s'", h->any, list);
    for (int i = 0; i < h->n_names; i++) {
        const char *name = h->names[i];
        size_t n = strlen(name);
        FUZZ_CHECK(n > 0 && name[n - 1] != '.', "kept '%s'", name);
        for (const char *c = name; *c; c++)
            FUZZ_CHECK(!isupper((unsigned char)*c), "kept '%s' with capitals", name);
        char err[256];
        FUZZ_CHECK(rs_hosts_parse(NULL, name, err, sizeof err) == 0, "kept '%s': %s", name, err);
        char *u = upper(name), *dot = with(u, "."), *port = with(dot, ":443");
        const char *forms[] = {name, u, dot, port};
        for (size_t k = 0; k < 4; k++)
            FUZZ_CHECK(rs_hosts_allow(h, forms[k]), "kept '%s' but refuses '%s'", name, forms[k]);
        free(u);
        free(dot);
        free(port);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input and a terminating NUL in an allocation of exactly that size. */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory copying %zu input bytes", size);
    memcpy(text, data, size);
    text[size] = '\0';
    const char *nul = memchr(text, '\0', size);
    rs_hosts h = {0};
    const char *host = text;
    if (nul) {
        const char *list = text;
        host = nul + 1;
        char err[256] = "", err2[256] = "";
        int rc = rs_hosts_parse(&h, list, err, sizeof err);
        FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
        FUZZ_CHECK(rs_hosts_parse(NULL, list, err2, sizeof err2) == rc, "checking differs");
        if (rc) {
            FUZZ_CHECK(err[0] && !strcmp(err, err2), "refused with \"%s\" and \"%s\"", err, err2);
            memset(&h, 0, sizeof h);
        } else {
            check_list(&h, list);
        }
    }
    check_host(&h, host);
    rs_hosts_free(&h);
    free(text);
    return 0;
}
