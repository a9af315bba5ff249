/*
 * wakeup — the platform facts --busy-poll-us auto decides from, and the
 * decision (see wakeup.h).
 */
#include "wakeup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "cpus.h"

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
    rs_cpus c;
    rs_cpus_inspect(&c);
    w->cpus = c.affinity;
    w->quota_cpus = c.quota;
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
