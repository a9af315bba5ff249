/*
 * wakeup — the platform facts --busy-poll-us auto decides from, and the
 * decision (see wakeup.h).
 */
#include "wakeup.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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

/* Whether the CPU says it runs under a hypervisor (CPUID leaf 1, ECX bit 31,
 * which hypervisors set and hardware leaves clear). */
static bool under_hypervisor(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 31));
#else
    return false; /* no portable test: auto stays off */
#endif
}

/* The first line of path, without its newline; "" if unreadable. */
static void read_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f) return;
    if (fgets(out, (int)len, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

bool rs_wakeup_guest_polls(const char *cpuidle_driver, const char *poll_ns)
{
    char driver[64], ns[64];
    read_line(cpuidle_driver, driver, sizeof driver);
    read_line(poll_ns, ns, sizeof ns);
    return !strcmp(driver, "haltpoll") && strtoull(ns, NULL, 10) > 0;
}

void rs_wakeup_inspect(rs_wakeup *w)
{
    *w = (rs_wakeup){0};
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof set, &set)) w->cpus = CPU_COUNT(&set);
    w->quota_cpus = rs_wakeup_quota_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
    w->hypervisor = under_hypervisor();
    w->guest_polls = rs_wakeup_guest_polls("/sys/devices/system/cpu/cpuidle/current_driver",
                                           "/sys/module/haltpoll/parameters/guest_halt_poll_ns");
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
    if (!w->hypervisor) {
        snprintf(note, len, "auto: off, not a virtual machine (idle CPUs wake in a few us)");
        return 0;
    }
    if (w->guest_polls) {
        snprintf(note, len, "auto: off, the kernel's haltpoll already polls idle vCPUs");
        return 0;
    }
    snprintf(note, len, "auto: %d us, a virtual machine whose idle vCPUs halt",
             RS_BUSY_POLL_AUTO_US);
    return RS_BUSY_POLL_AUTO_US;
}
