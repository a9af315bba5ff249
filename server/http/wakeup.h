/*
 * wakeup — whether waking an idle CPU is slow here, and the busy-poll window
 * `--busy-poll-us auto` picks from that.
 *
 * A thread that blocks (epoll_wait, read) and is woken from another CPU
 * waits for that CPU to come out of idle. On a virtual machine whose idle
 * vCPUs halt, that is an exit to the hypervisor and back: tens of
 * microseconds (measured on this project's VM: bench/README.md#busy-polling),
 * more than a tiny model's whole request. Busy polling removes it, at the
 * price of a spinning core. Auto pays that price where the platform says
 * wake-ups are slow (a hypervisor, and no guest halt-polling: the kernel's
 * haltpoll cpuidle driver with a non-zero guest_halt_poll_ns already polls
 * before halting) and the spin cannot take a core the process does not have.
 * A start-up measurement of the wake-up was tried first and dropped: it
 * reads the machine's load at that instant (cores kept awake by other
 * processes wake fast), so the same server decided differently from one
 * start to the next.
 */
#ifndef RS_WAKEUP_H
#define RS_WAKEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What auto decides from. */
typedef struct {
    int cpus;          /* CPUs this process may run on (rs_cpus.affinity) */
    double quota_cpus; /* the cgroup CPU quota in CPUs; 0 = none (rs_cpus.quota) */
    bool hypervisor;   /* the CPU reports a hypervisor (CPUID) */
    bool guest_polls;  /* the guest kernel polls before halting (haltpoll) */
} rs_wakeup;

/* Fills w from this process and machine. Never fails: what it cannot find
 * out it leaves at 0 / false. */
void rs_wakeup_inspect(rs_wakeup *w);

/* Whether the cpuidle driver named in the file cpuidle_driver (normally
 * /sys/devices/system/cpu/cpuidle/current_driver) is haltpoll and the file
 * poll_ns (normally /sys/module/haltpoll/parameters/guest_halt_poll_ns)
 * holds a poll time above 0. */
bool rs_wakeup_guest_polls(const char *cpuidle_driver, const char *poll_ns);

/* The window auto polls for: bench/README.md#busy-polling measures it. */
#define RS_BUSY_POLL_AUTO_US 100

/* The window for --busy-poll-us auto: RS_BUSY_POLL_AUTO_US on a virtual
 * machine without guest halt-polling where the process has a core for every
 * HTTP thread plus one more (CPUs and quota), else 0. note gets the reason,
 * for the start-up line. */
int64_t rs_busy_poll_auto(const rs_wakeup *w, int http_threads, char *note, size_t len);

#endif /* RS_WAKEUP_H */
