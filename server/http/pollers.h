/*
 * pollers — the HTTP polling threads (--http-threads) and their shared
 * listen socket.
 *
 * Each thread ("rs-http-<i>") runs one libmicrohttpd daemon in external epoll
 * mode: it waits in epoll_wait on the daemon's epoll fd and its own eventfd,
 * for as long as MHD_get_timeout allows, then calls MHD_run. With
 * --busy-poll-us N > 0 it does not go back to sleep right after activity: it
 * keeps polling without blocking (epoll_wait with timeout 0, and MHD_run when
 * something is there) until N microseconds pass with nothing to do, and only
 * then blocks again. A request arriving within N us of the last activity is
 * then picked up at once instead of waiting for an idle CPU to wake up; the
 * price is a core spinning while traffic keeps coming, and nothing while idle.
 * A thread does not spin while its policy's hold says so (http.c: requests
 * of the server wait for the pool, or many connections are open).
 *
 * The daemons all accept from one listen socket (rs_listen_open); each has a
 * dup of it, which its own thread closes when it quiesces (the socket stops
 * listening once the last one is closed).
 */
#ifndef RS_POLLERS_H
#define RS_POLLERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <microhttpd.h>

typedef struct rs_poller rs_poller;
typedef struct rs_pollers rs_pollers;

/* A non-blocking TCP socket listening on host:port (a numeric or resolvable
 * address; port 0 = any free port) with SO_REUSEADDR, a backlog of 1024 and,
 * for IPv6, IPV6_V6ONLY as libmicrohttpd sets it. *ipv6 tells the family,
 * *bound the port bound. Returns the fd, or -1 with a sentence in err. */
int rs_listen_open(const char *host, int port, int *ipv6, int *bound, char *err, size_t errlen);

/* How the threads poll: after activity they keep polling for `us`
 * microseconds (0 = block at once), but not while hold(ctx) is true (NULL:
 * never). after_run(ctx), if set, runs on a polling thread after each of its
 * MHD_run calls: the place for work that waits to see whether a run finished
 * something (rs_poller_current tells which thread it is). */
typedef struct {
    int64_t us;
    bool (*hold)(void *ctx);
    void (*after_run)(void *ctx);
    void *ctx;
} rs_poll_policy;

/* Starts one thread per daemon (n of them; each daemon started without an
 * internal thread, with MHD_USE_EPOLL and a dup of the listen socket) and
 * takes the daemons over: rs_pollers_stop stops them. Returns 0, or -1 with a
 * sentence in err, having stopped the threads it started and left the
 * daemons to the caller. */
int rs_pollers_start(rs_pollers **out, struct MHD_Daemon *const *daemons, int n,
                     rs_poll_policy policy, char *err, size_t errlen);

/* The poller of the calling thread (NULL off the polling threads): a
 * connection's callbacks run on its daemon's thread, so this is the thread to
 * wake for it. */
rs_poller *rs_poller_current(void);

/* p's place among the threads: 0 .. n-1 in the daemons' order. */
int rs_poller_index(const rs_poller *p);

/* Makes p's thread run its daemon soon: the call to follow
 * MHD_resume_connection from another thread (in external mode libmicrohttpd
 * has no channel of its own to wake the thread). Thread-safe. */
void rs_poller_wake(rs_poller *p);

/* Asks every thread to quiesce its daemon (stop accepting; open connections
 * are still served) and close its dup of the listen socket. Returns at once;
 * each thread does it at its next wake-up, within one round of its loop. */
void rs_pollers_quiesce(rs_pollers *g);

/* Quiesces (if not done yet), joins the threads, then stops the daemons on
 * the calling thread (which closes their connections; nothing may be
 * suspended, see http.c) and frees g. */
void rs_pollers_stop(rs_pollers *g);

#endif /* RS_POLLERS_H */
