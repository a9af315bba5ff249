/*
 * wakeup — the wake-up probe and the auto busy-poll window (see wakeup.h).
 *
 * The probe: a prober thread pinned to one CPU sends a number through an
 * eventfd to an echo thread pinned to another, which sends it back; the
 * prober polls for the answer (its own wake-up is not what is measured) and
 * sleeps ~50 us between rounds, long enough for the echo's CPU to go idle.
 * Once with the echo blocking in read(2), as an HTTP thread blocks in
 * epoll_wait, once with it polling: the difference is what a wake-up costs.
 * Every wait is bounded, so a CPU that never answers (stopped, starved)
 * leaves the measurement unmade, never the start-up stuck.
 */
#include "wakeup.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 41 };                     /* per mode; odd, for the median */
static const uint64_t STOP = 1ull << 40;  /* an eventfd value no round sends */
static const double ROUND_LIMIT_US = 1e4; /* a round that takes longer ends the probe */

typedef struct {
    int to_echo, to_prober; /* eventfds; to_echo blocks unless poll */
    bool poll;
    int cpu_prober, cpu_echo;
    double rtt_us[ROUNDS];
    bool ok;
} probe;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static void *echo_main(void *arg)
{
    probe *p = arg;
    for (;;) {
        uint64_t v;
        ssize_t r = read(p->to_echo, &v, sizeof v);
        if (r != (ssize_t)sizeof v) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue; /* polling */
            return NULL;
        }
        if (v >= STOP || write(p->to_prober, &v, sizeof v) != (ssize_t)sizeof v) return NULL;
    }
}

static void *prober_main(void *arg)
{
    probe *p = arg;
    pthread_attr_t attr;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p->cpu_echo, &set);
    pthread_t echo;
    if (pthread_attr_init(&attr)) return NULL;
    bool started = !pthread_attr_setaffinity_np(&attr, sizeof set, &set) &&
                   !pthread_create(&echo, &attr, echo_main, p);
    pthread_attr_destroy(&attr);
    if (!started) return NULL;
    p->ok = true;
    for (int i = 0; i < ROUNDS && p->ok; i++) {
        nanosleep(&(struct timespec){0, 50000}, NULL);
        uint64_t one = 1, v;
        double t0 = now_us(), t = t0;
        if (write(p->to_echo, &one, sizeof one) != (ssize_t)sizeof one) p->ok = false;
        while (p->ok && read(p->to_prober, &v, sizeof v) != (ssize_t)sizeof v)
            if ((t = now_us()) - t0 > ROUND_LIMIT_US) p->ok = false;
        p->rtt_us[i] = now_us() - t0;
    }
    /* An echo that never answered may still be blocked in read: STOP ends it
     * either way. */
    (void)!write(p->to_echo, &STOP, sizeof STOP);
    pthread_join(echo, NULL);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median round trip with the echo blocking or polling; < 0 if unmade. */
static double probe_run(bool poll, int cpu_prober, int cpu_echo)
{
    probe p = {.poll = poll, .cpu_prober = cpu_prober, .cpu_echo = cpu_echo};
    p.to_echo = eventfd(0, EFD_CLOEXEC | (poll ? EFD_NONBLOCK : 0));
    p.to_prober = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    double median = -1.0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_prober, &set);
    pthread_attr_t attr;
    pthread_t prober;
    if (p.to_echo >= 0 && p.to_prober >= 0 && !pthread_attr_init(&attr)) {
        if (!pthread_attr_setaffinity_np(&attr, sizeof set, &set) &&
            !pthread_create(&prober, &attr, prober_main, &p)) {
            pthread_join(prober, NULL);
            if (p.ok) {
                qsort(p.rtt_us, ROUNDS, sizeof p.rtt_us[0], cmp_double);
                median = p.rtt_us[ROUNDS / 2];
            }
        }
        pthread_attr_destroy(&attr);
    }
    if (p.to_echo >= 0) close(p.to_echo);
    if (p.to_prober >= 0) close(p.to_prober);
    return median;
}

/* The CPU quota one cgroup directory sets, in CPUs; 0 if none or unreadable.
 * v2: cpu.max, "max PERIOD" or "QUOTA PERIOD"; v1: cpu.cfs_quota_us (-1 =
 * none) over cpu.cfs_period_us. */
static double dir_quota(const char *dir, bool v2)
{
    char path[4200], line[128];
    double quota = 0.0, period = 0.0;
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        FILE *f = fopen(path, "re");
        if (!f) return 0.0;
        char q[32] = "";
        if (fgets(line, sizeof line, f) && sscanf(line, "%31s %lf", q, &period) == 2 &&
            strcmp(q, "max") != 0)
            quota = strtod(q, NULL);
        fclose(f);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        FILE *f = fopen(path, "re");
        if (!f) return 0.0;
        if (!fgets(line, sizeof line, f) || sscanf(line, "%lf", &quota) != 1) quota = 0.0;
        fclose(f);
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (!(f = fopen(path, "re"))) return 0.0;
        if (!fgets(line, sizeof line, f) || sscanf(line, "%lf", &period) != 1) period = 0.0;
        fclose(f);
    }
    return quota > 0.0 && period > 0.0 ? quota / period : 0.0;
}

/* The smallest quota from dir up to (and with) its first root_len bytes. */
static double least_quota(char *dir, size_t root_len, bool v2)
{
    double least = 0.0;
    for (;;) {
        double q = dir_quota(dir, v2);
        if (q > 0.0 && (least == 0.0 || q < least)) least = q;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < root_len) return least;
        *slash = '\0';
    }
}

/* Whether a v1 line's controller list ("cpu,cpuacct") names cpu. */
static bool names_cpu(const char *list, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = strcspn(list + i, ",");
        if (n > len - i) n = len - i;
        if (n == 3 && !strncmp(list + i, "cpu", 3)) return true;
        i += n + 1;
    }
    return false;
}

double rs_wakeup_quota_cpus(const char *proc_cgroup, const char *root)
{
    FILE *f = fopen(proc_cgroup, "re");
    if (!f) return 0.0;
    char line[4096], dir[4200];
    size_t root_len = strlen(root);
    double least = 0.0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* "ID:CONTROLLERS:PATH"; v2's is "0::PATH" */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        bool v2 = c2 == c1 + 1;
        double q = 0.0;
        if (v2) {
            snprintf(dir, sizeof dir, "%s%s", root, c2 + 1);
            q = least_quota(dir, root_len, true);
        } else if (names_cpu(c1 + 1, (size_t)(c2 - c1 - 1))) {
            /* mounted under the list's name ("cpu,cpuacct") or as "cpu" */
            int n = snprintf(dir, sizeof dir, "%s/%.*s", root, (int)(c2 - c1 - 1), c1 + 1);
            snprintf(dir + n, sizeof dir - (size_t)n, "%s", c2 + 1);
            q = least_quota(dir, (size_t)n, false);
            if (q == 0.0) {
                n = snprintf(dir, sizeof dir, "%s/cpu", root);
                snprintf(dir + n, sizeof dir - (size_t)n, "%s", c2 + 1);
                q = least_quota(dir, (size_t)n, false);
            }
        }
        if (q > 0.0 && (least == 0.0 || q < least)) least = q;
    }
    fclose(f);
    return least;
}

void rs_wakeup_measure(rs_wakeup *w)
{
    *w = (rs_wakeup){0};
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set)) return;
    w->cpus = CPU_COUNT(&set);
    w->quota_cpus = rs_wakeup_quota_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
    if (w->cpus < 2) return;
    int cpu[2], found = 0;
    for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
        if (CPU_ISSET(c, &set)) cpu[found++] = c;
    double block = probe_run(false, cpu[0], cpu[1]);
    double poll = block < 0.0 ? -1.0 : probe_run(true, cpu[0], cpu[1]);
    if (block < 0.0 || poll < 0.0) return;
    w->measured = true;
    w->block_us = block;
    w->poll_us = poll;
}

int64_t rs_busy_poll_auto(const rs_wakeup *w, int http_threads, char *note, size_t len)
{
    double cores = w->cpus;
    if (w->quota_cpus > 0.0 && w->quota_cpus < cores) cores = w->quota_cpus;
    if (cores < http_threads + 1) {
        snprintf(note, len,
                 "auto: off, no core to spare for spinning (%.3g CPU%s%s, %d HTTP thread%s)", cores,
                 cores == 1.0 ? "" : "s",
                 w->quota_cpus > 0.0 && w->quota_cpus < w->cpus ? " by cgroup quota" : "",
                 http_threads, http_threads == 1 ? "" : "s");
        return 0;
    }
    if (!w->measured) {
        snprintf(note, len, "auto: off, the wake-up probe could not run");
        return 0;
    }
    double cost = w->block_us - w->poll_us;
    if (cost < RS_WAKEUP_WORTH_US) {
        snprintf(note, len, "auto: off, a blocked thread wakes in %.0f us more than a polling one",
                 cost < 0.0 ? 0.0 : cost);
        return 0;
    }
    snprintf(note, len, "auto: %d us, a blocked thread wakes in %.0f us more than a polling one",
             RS_BUSY_POLL_AUTO_US, cost);
    return RS_BUSY_POLL_AUTO_US;
}
