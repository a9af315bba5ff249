/*
 * hosts — the Host header allow-list (see hosts.h).
 */
#include "hosts.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A DNS name is at most 253 bytes; with a trailing dot and ":65535", or a
 * bracketed IPv6 address, a Host we can allow is shorter than this. */
#define HOST_MAX 300

/* s[0..n) is a port: 1 to 5 digits, at most 65535. */
static bool port_ok(const char *s, size_t n)
{
    if (n == 0 || n > 5) return false;
    unsigned p = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        p = p * 10 + (unsigned)(s[i] - '0');
    }
    return p <= 65535;
}

/* s[0..n) is an address of family af as inet_pton reads it (IPv4: four
 * decimal numbers, the only form a browser sends). */
static bool ip_literal(int af, const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(af, buf, addr) == 1;
}

static bool is_localhost(const char *s, size_t n)
{
    return n == 9 && !strncasecmp(s, "localhost", 9);
}

/* s[0..n) is a DNS name as a list may hold it: labels of 1 to 63 letters,
 * digits, '-' or '_' (Docker and Compose service names use it), separated by
 * dots, 253 bytes at most. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253) return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

/* An entry as an error message quotes it: at most 64 bytes, then "...". */
#define QUOTE_MAX   64
#define QUOTE_FMT   "'%.*s%s'"
#define QUOTE(e, n) (int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)), (e), (n) > QUOTE_MAX ? "..." : ""

/* One entry of the list (trimmed, not empty): checked and, when it is a name
 * that is not always allowed, added to h (h NULL: checked only). */
static int entry_add(rs_hosts *h, const char *e, size_t n, char *err, size_t errlen)
{
    if (n == 1 && e[0] == '*') {
        if (h) h->any = true;
        return 0;
    }
    if (e[0] == '[') {
        if (e[n - 1] == ']' && ip_literal(AF_INET6, e + 1, n - 2)) return 0; /* always allowed */
        snprintf(err, errlen, QUOTE_FMT " is not an IPv6 address in brackets such as [::1]",
                 QUOTE(e, n));
        return -1;
    }
    if (memchr(e, '*', n)) {
        snprintf(err, errlen, QUOTE_FMT ": names are matched exactly; '*' alone allows every host",
                 QUOTE(e, n));
        return -1;
    }
    if (ip_literal(AF_INET6, e, n)) {
        snprintf(err, errlen, QUOTE_FMT ": write an IPv6 address in brackets, as [%.*s]",
                 QUOTE(e, n), (int)n, e); /* an address is short */
        return -1;
    }
    if (memchr(e, ':', n)) {
        snprintf(err, errlen, QUOTE_FMT ": list host names without a port (every port is allowed)",
                 QUOTE(e, n));
        return -1;
    }
    size_t len = n > 1 && e[n - 1] == '.' ? n - 1 : n;
    if (!name_ok(e, len)) {
        snprintf(err, errlen,
                 QUOTE_FMT " is not a host name (labels of letters, digits, '-' and '_' separated "
                           "by dots, at most 253 bytes) or an IP address",
                 QUOTE(e, n));
        return -1;
    }
    if (!h || is_localhost(e, len) || ip_literal(AF_INET, e, len)) return 0; /* always allowed */
    char *name = malloc(len + 1);
    char **names = realloc(h->names, (size_t)(h->n_names + 1) * sizeof *names);
    if (names) h->names = names;
    if (!name || !names) {
        free(name);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        name[i] = (e[i] >= 'A' && e[i] <= 'Z') ? (char)(e[i] - 'A' + 'a') : e[i];
    name[len] = '\0';
    h->names[h->n_names++] = name;
    return 0;
}

int rs_hosts_parse(rs_hosts *h, const char *list, char *err, size_t errlen)
{
    if (h) memset(h, 0, sizeof *h);
    int entries = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *e = p, *next = p[n] ? p + n + 1 : p + n;
        while (n && (*e == ' ' || *e == '\t'))
            e++, n--;
        while (n && (e[n - 1] == ' ' || e[n - 1] == '\t'))
            n--;
        if (n) {
            if (entry_add(h, e, n, err, errlen)) {
                if (h) rs_hosts_free(h);
                return -1;
            }
            entries++;
        }
        p = next;
    }
    if (entries == 0) {
        snprintf(err, errlen, "expected host names separated by commas, or *; got '%.64s'",
                 list ? list : "");
        return -1;
    }
    return 0;
}

void rs_hosts_free(rs_hosts *h)
{
    for (int i = 0; i < h->n_names; i++)
        free(h->names[i]);
    free(h->names);
    memset(h, 0, sizeof *h);
}

bool rs_hosts_allow(const rs_hosts *h, const char *host)
{
    if (h->any) return true;
    size_t n = strnlen(host, HOST_MAX + 1);
    if (n == 0 || n > HOST_MAX) return false;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', n);
        if (!close) return false;
        size_t after = n - (size_t)(close + 1 - host);
        if (after && (close[1] != ':' || !port_ok(close + 2, after - 1))) return false;
        return ip_literal(AF_INET6, host + 1, (size_t)(close - host) - 1);
    }
    const char *colon = memchr(host, ':', n);
    size_t len = colon ? (size_t)(colon - host) : n;
    if (colon && !port_ok(colon + 1, n - len - 1)) return false;
    if (len > 1 && host[len - 1] == '.') len--; /* the same name, written fully qualified */
    if (is_localhost(host, len) || ip_literal(AF_INET, host, len)) return true;
    for (int i = 0; i < h->n_names; i++)
        if (!strncasecmp(h->names[i], host, len) && h->names[i][len] == '\0') return true;
    return false;
}

bool rs_hosts_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}
