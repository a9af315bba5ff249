/*
 * hosts — the Host header allow-list (--allowed-hosts), the defence against
 * DNS rebinding.
 *
 * A page on a site whose DNS name later resolves to 127.0.0.1 makes the
 * visitor's browser send requests to a server on the visitor's machine, and
 * the browser takes them as same-origin (Origin equals Host), so no CORS or
 * Origin check can tell. What gives the attack away is the Host header: it is
 * the attacker's name. Rebinding needs a name the attacker's DNS answers for,
 * so a Host that is an IP address, or localhost (which browsers and resolvers
 * never send to DNS), was not rebound: those are always allowed. Other names
 * must be on the list, unless the list allows any host ("*").
 *
 * Matching: the port is ignored, names compare case-insensitively and
 * without one trailing dot ("Example.COM.:8080" is example.com), an IPv6
 * address is written in brackets ("[::1]"). A Host that is empty or not of
 * the form host[:port] matches nothing.
 *
 * Threads: rs_hosts_allow only reads the list, from any thread.
 */
#ifndef RS_HOSTS_H
#define RS_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct {
    bool any;     /* "*": every Host is allowed */
    char **names; /* lowercase, no trailing dot; the always-allowed ones are not listed */
    int n_names;
} rs_hosts;

/* Parses list (comma-separated names, IP addresses, or "*"; spaces around
 * entries and empty entries are skipped) into h, which needs rs_hosts_free
 * after a success. Returns 0, or -1 with one sentence in err saying what was
 * expected (the caller names the flag); list NULL or without an entry is an
 * error. h is NULL to only check the list. */
int rs_hosts_parse(rs_hosts *h, const char *list, char *err, size_t errlen);
void rs_hosts_free(rs_hosts *h);

/* Whether a request whose Host header is host (not NULL) may be served. */
bool rs_hosts_allow(const rs_hosts *h, const char *host);

/* Whether a listening socket bound to sa is reachable only from this
 * machine: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. The wildcard addresses
 * (0.0.0.0, ::) and any other address are reachable from elsewhere. */
bool rs_hosts_loopback(const struct sockaddr *sa);

#endif /* RS_HOSTS_H */
