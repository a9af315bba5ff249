/*
 * wakeup — what a blocked thread's wake-up costs on this machine, and the
 * busy-poll window `--busy-poll-us auto` picks from it.
 *
 * A thread that blocks (epoll_wait, read) and is woken from another CPU
 * waits for that CPU to come out of idle. On bare metal with shallow idle
 * states that is a few microseconds; on a virtual machine whose idle vCPUs
 * halt (and on CPUs with deep C-states) it is tens, and a loopback request to
 * a tiny model pays it once more than its whole compute. Busy polling removes
 * it, at the price of a spinning core; auto pays that price only where the
 * measured wake-up is worth it and the spin cannot take a core the process
 * does not have.
 */
#ifndef RS_WAKEUP_H
#define RS_WAKEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What auto decides from. */
typedef struct {
    int cpus;          /* CPUs this process may run on (sched_getaffinity) */
    double quota_cpus; /* the cgroup CPU quota in CPUs; 0 = none */
    bool measured;     /* block_us and poll_us hold a measurement */
    double block_us;   /* median round trip to a thread on another CPU that blocks */
    double poll_us;    /* the same with that thread polling */
} rs_wakeup;

/* Fills w: the CPUs, the quota and (with two CPUs or more) the round trips,
 * each the median of a few dozen rounds between two threads pinned to two of
 * this process's CPUs, the woken one idle for ~50 us before each (about 10 ms
 * in all). Never fails: what it cannot find out it leaves at 0 / false. */
void rs_wakeup_measure(rs_wakeup *w);

/* The cgroup CPU quota in CPUs: the smallest that the process's cgroup or
 * any of its parents sets (v2 cpu.max; v1 cpu.cfs_quota_us over
 * cpu.cfs_period_us, in the hierarchy that has the cpu controller), with the
 * hierarchies mounted under root (normally "/sys/fs/cgroup") and the
 * process's cgroups read from proc_cgroup (normally "/proc/self/cgroup");
 * 0 when none is set or none can be read. */
double rs_wakeup_quota_cpus(const char *proc_cgroup, const char *root);

/* A wake-up that costs at least this much more than polling makes auto poll. */
#define RS_WAKEUP_WORTH_US 10.0
/* The window auto polls for: bench/README.md#busy-polling measures it. */
#define RS_BUSY_POLL_AUTO_US 100

/* The window for --busy-poll-us auto: RS_BUSY_POLL_AUTO_US when the wake-up
 * costs at least RS_WAKEUP_WORTH_US more than polling and the process has a
 * core for every HTTP thread plus one more (CPUs and quota), else 0. note
 * gets the reason, for the start-up line. */
int64_t rs_busy_poll_auto(const rs_wakeup *w, int http_threads, char *note, size_t len);

#endif /* RS_WAKEUP_H */
