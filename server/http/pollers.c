/*
 * pollers — the HTTP polling threads and their shared listen socket (see
 * pollers.h).
 *
 * Why our own threads: libmicrohttpd's internal threads block in epoll_wait
 * as soon as they run out of work and cannot be told to spin. On a machine
 * whose idle vCPUs halt, every wake-up of a blocked thread costs tens of
 * microseconds (measured here: a bare loopback ping-pong between two
 * processes, 79 us p50 with both ends blocking, 21 us with the server side
 * polling for 200 us after each message), more than a tiny model's whole
 * request. So the daemons run in external epoll mode and these threads poll
 * them: one code path, which with --busy-poll-us 0 blocks exactly as the
 * internal threads did (epoll_wait with MHD_get_timeout's timeout).
 *
 * Wake-ups: the eventfd `wake` of each thread is in its epoll set next to the
 * daemon's epoll fd. It is written by rs_poller_wake (a connection resumed
 * from a pool or control thread: libmicrohttpd drops its inter-thread channel
 * in external mode, MHD_resume_connection only flags the connection, and the
 * flag is looked at in MHD_run) and by quiesce and stop. The counter is
 * drained when seen; a write while the thread is inside MHD_run leaves it
 * readable, so the next epoll_wait returns at once and nothing is lost.
 *
 * Quiesce and stop are requests that each thread carries out itself on its
 * next round: MHD_quiesce_daemon edits the daemon's epoll set and listen
 * state, which MHD_run on the polling thread also edits, so no other thread
 * touches them while the thread runs. The listen socket is shared through
 * dups, one per daemon, so each thread closes its own when it quiesces and no
 * descriptor is closed while another thread may still accept on it.
 */
#include "pollers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* listen(2) backlog: what libmicrohttpd was given before (LISTEN_BACKLOG_SIZE). */
#define LISTEN_BACKLOG 1024

struct rs_poller {
    rs_pollers *g;
    struct MHD_Daemon *d;
    int index;
    int ep;        /* epoll set: the daemon's epoll fd and wake */
    int wake;      /* eventfd: resumes, quiesce, stop */
    bool running;  /* the thread was started (and is joined by rs_pollers_stop) */
    bool quiesced; /* by the thread, or by the stopper once it is joined or never ran */
    pthread_t tid;
};

struct rs_pollers {
    int n;
    uint64_t spin_ns;        /* --busy-poll-us in ns; 0 = block at once */
    bool (*hold)(void *ctx); /* no spinning while true (NULL: never) */
    void (*after_run)(void *ctx);
    void *ctx;
    atomic_bool quiesce, stop;
    rs_poller p[];
};

/* The poller whose thread this is (rs_poller_current). */
static _Thread_local rs_poller *current;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------- listen socket */

int rs_listen_open(const char *host, int port, int *ipv6, int *bound, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    int gai = getaddrinfo(host, num, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "--host '%s' is not an address this machine can listen on: %s", host,
                 gai_strerror(gai));
        return -1;
    }
    /* The first address, as libmicrohttpd was given it (MHD_OPTION_SOCK_ADDR). */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    bool ok = fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    /* An IPv6 address listens for IPv6 only, as libmicrohttpd's own socket did. */
    if (ok && ai->ai_family == AF_INET6)
        ok = !setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    ok = ok && !bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, LISTEN_BACKLOG);
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    ok = ok && !getsockname(fd, (struct sockaddr *)&sa, &len);
    if (!ok) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d: %s (port in use, or not allowed to bind there)", host,
                 port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    *ipv6 = ai->ai_family == AF_INET6;
    *bound = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                            : ((struct sockaddr_in *)&sa)->sin_port);
    freeaddrinfo(ai);
    return fd;
}

/* ---------------------------------------------------------------- threads */

/* On p's thread (or once it is joined): stops accepting and closes the
 * daemon's dup of the listen socket, which MHD_quiesce_daemon hands back. */
static void poller_quiesce(rs_poller *p)
{
    if (p->quiesced) return;
    p->quiesced = true;
    MHD_socket fd = MHD_quiesce_daemon(p->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

/* The timeout of the next blocking wait: until libmicrohttpd's next deadline
 * (an idle or upload timeout), or for ever (-1). */
static int wait_ms(rs_poller *p)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(p->d, &t) != MHD_YES) return -1;
    return t < INT_MAX ? (int)t : INT_MAX;
}

static void poller_run(rs_poller *p)
{
    MHD_run(p->d);
    if (p->g->after_run) p->g->after_run(p->g->ctx);
}

static void *poller_main(void *arg)
{
    rs_poller *p = arg;
    rs_pollers *g = p->g;
    current = p;
    char name[16]; /* what /proc/<pid>/task/<tid>/comm shows (15 characters at most) */
    snprintf(name, sizeof name, "rs-http-%d", p->index);
    pthread_setname_np(pthread_self(), name);
    /* As libmicrohttpd's own threads did (SIGPIPE is also ignored process-wide). */
    sigset_t sigpipe;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe, NULL);

    uint64_t last_event = 0;
    bool spinning = false, due = false, warned = false;
    for (;;) {
        struct epoll_event ev[2];
        int n = epoll_wait(p->ep, ev, 2, spinning ? 0 : wait_ms(p));
        if (n < 0) {
            if (errno == EINTR) continue;
            /* Not expected (the fds are ours until the join); do not spin on it. */
            if (!warned)
                rs_log(RS_LOG_ERROR, "HTTP thread %d: epoll_wait: %s", p->index, strerror(errno));
            warned = true;
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (ev[i].data.ptr == &p->wake) {
                uint64_t v;
                (void)!read(p->wake, &v, sizeof v);
            }
        if (atomic_load(&g->quiesce) || atomic_load(&g->stop)) poller_quiesce(p);
        if (atomic_load(&g->stop)) break;
        /* MHD_run after any event, after a blocking wait that ended without
         * one (libmicrohttpd's deadline came), and while spinning when the
         * last run left work due at once (a request read but not yet handed
         * to the access handler, a resumed connection's answer to send: its
         * timeout is then 0). Other empty spinning rounds cost only the
         * epoll_wait; deadlines in whole seconds are met by the events that
         * keep the spin going, or at the blocking wait once it stops. */
        if (!g->spin_ns) {
            poller_run(p);
            continue;
        }
        bool worked = n > 0 || due;
        if (worked || !spinning) {
            poller_run(p);
            due = wait_ms(p) == 0;
        }
        uint64_t now = now_ns();
        if (worked) {
            last_event = now;
            spinning = true;
        } else if (spinning && (now - last_event >= g->spin_ns || (g->hold && g->hold(g->ctx)))) {
            spinning = false;
        }
    }
    return NULL;
}

rs_poller *rs_poller_current(void)
{
    return current;
}

int rs_poller_index(const rs_poller *p)
{
    return p->index;
}

void rs_poller_wake(rs_poller *p)
{
    uint64_t one = 1;
    /* Fails only when the counter would overflow: it is readable then anyway. */
    (void)!write(p->wake, &one, sizeof one);
}

void rs_pollers_quiesce(rs_pollers *g)
{
    atomic_store(&g->quiesce, true);
    for (int i = 0; i < g->n; i++)
        rs_poller_wake(&g->p[i]);
}

/* Asks the threads started to stop and joins them. */
static void pollers_join(rs_pollers *g)
{
    atomic_store(&g->stop, true);
    for (int i = 0; i < g->n; i++)
        if (g->p[i].running) rs_poller_wake(&g->p[i]);
    for (int i = 0; i < g->n; i++)
        if (g->p[i].running) pthread_join(g->p[i].tid, NULL);
    for (int i = 0; i < g->n; i++)
        g->p[i].running = false;
}

/* Closes the pollers' fds and frees g (threads joined); not the daemons. */
static void pollers_free(rs_pollers *g)
{
    for (int i = 0; i < g->n; i++) {
        if (g->p[i].ep >= 0) close(g->p[i].ep);
        if (g->p[i].wake >= 0) close(g->p[i].wake);
    }
    free(g);
}

void rs_pollers_stop(rs_pollers *g)
{
    if (!g) return;
    pollers_join(g);
    /* Nobody else runs the daemons now: each stop closes its connections
     * here, their completion callbacks running on this thread. */
    for (int i = 0; i < g->n; i++) {
        poller_quiesce(&g->p[i]); /* done by its thread already */
        MHD_stop_daemon(g->p[i].d);
    }
    pollers_free(g);
}

int rs_pollers_start(rs_pollers **out, struct MHD_Daemon *const *daemons, int n,
                     rs_poll_policy policy, char *err, size_t errlen)
{
    rs_pollers *g = calloc(1, sizeof *g + (size_t)n * sizeof g->p[0]);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->n = n;
    g->spin_ns = policy.us > 0 ? (uint64_t)policy.us * 1000u : 0;
    g->hold = policy.hold;
    g->after_run = policy.after_run;
    g->ctx = policy.ctx;
    for (int i = 0; i < n; i++)
        g->p[i] = (rs_poller){.g = g, .d = daemons[i], .index = i, .ep = -1, .wake = -1};
    for (int i = 0; i < n; i++) {
        rs_poller *p = &g->p[i];
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_EPOLL_FD);
        struct epoll_event de = {.events = EPOLLIN, .data.ptr = p->d};
        struct epoll_event we = {.events = EPOLLIN, .data.ptr = &p->wake};
        const char *what = NULL;
        int rc = 0;
        if (!info) {
            what = "the daemon has no epoll fd";
            rc = EINVAL;
        } else if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
            what = "epoll_create1";
        } else if ((p->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            what = "eventfd";
        } else if (epoll_ctl(p->ep, EPOLL_CTL_ADD, info->epoll_fd, &de) ||
                   epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake, &we)) {
            what = "epoll_ctl";
        } else if ((rc = pthread_create(&p->tid, NULL, poller_main, p))) {
            what = "pthread_create";
        }
        if (what) {
            snprintf(err, errlen, "cannot start HTTP thread %d: %s: %s", i, what,
                     strerror(rc ? rc : errno));
            /* The threads that ran quiesced their daemons on their way out
             * (MHD_quiesce_daemon then hands the caller nothing to close). */
            pollers_join(g);
            pollers_free(g);
            return -1;
        }
        p->running = true;
    }
    *out = g;
    return 0;
}
