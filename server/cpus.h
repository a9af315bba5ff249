/*
 * cpus — how many CPUs this process may use: the CPUs its affinity allows
 * (taskset, docker --cpuset-cpus, a Kubernetes static CPU policy), capped by
 * the cgroup CPU quota (docker --cpus, a Kubernetes CPU limit). The defaults
 * of --threads and --http-threads size from it, and --busy-poll-us auto
 * spins only where it leaves a CPU free. The number of online cores alone
 * says nothing about either: a container limited to 2 CPUs on a 64-core node
 * would otherwise start 64 compute threads, each with its own scratch
 * memory, and be throttled by the quota they share.
 */
#ifndef RS_CPUS_H
#define RS_CPUS_H

#include <stddef.h>

typedef struct {
    int affinity; /* CPUs the process may run on (sched_getaffinity; else online cores) */
    double quota; /* the cgroup CPU quota in CPUs; 0 = none */
} rs_cpus;

/* Fills c from this process and machine. Never fails: an unreadable quota
 * is none, an unreadable affinity the online cores (at least 1). */
void rs_cpus_inspect(rs_cpus *c);

/* The cgroup CPU quota in CPUs: the smallest that the process's cgroup or
 * any of its parents sets (v2 cpu.max; v1 cpu.cfs_quota_us over
 * cpu.cfs_period_us, in the hierarchy that has the cpu controller), with the
 * hierarchies mounted under root (normally "/sys/fs/cgroup") and the
 * process's cgroups read from proc_cgroup (normally "/proc/self/cgroup");
 * 0 when none is set or none can be read. */
double rs_cpus_quota(const char *proc_cgroup, const char *root);

/* The CPUs the defaults size from: the affinity's, or the quota rounded up
 * when that is fewer (a quota of 1.5 CPUs keeps 2 threads busy). At least 1. */
int rs_cpus_usable(const rs_cpus *c);

/* "2 CPUs", "1 CPU by affinity of 2 online", "2 CPUs by cgroup quota 1.5":
 * what the start-up line says about where the thread counts came from. */
void rs_cpus_describe(const rs_cpus *c, char *out, size_t len);

#endif /* RS_CPUS_H */
