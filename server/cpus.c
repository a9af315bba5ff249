/*
 * cpus — the CPUs this process may use (see cpus.h).
 */
#include "cpus.h"

#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

double rs_cpus_quota(const char *proc_cgroup, const char *root)
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
static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void rs_cpus_inspect(rs_cpus *c)
{
    cpu_set_t set;
    c->affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (c->affinity < 1) c->affinity = online_cores();
    c->quota = rs_cpus_quota("/proc/self/cgroup", "/sys/fs/cgroup");
}

int rs_cpus_usable(const rs_cpus *c)
{
    int n = c->affinity > 0 ? c->affinity : 1;
    if (c->quota > 0.0 && c->quota < n) n = (int)ceil(c->quota);
    return n > 0 ? n : 1;
}

void rs_cpus_describe(const rs_cpus *c, char *out, size_t len)
{
    int n = rs_cpus_usable(c), online = online_cores();
    const char *s = n == 1 ? "" : "s";
    if (c->quota > 0.0 && ceil(c->quota) < c->affinity)
        snprintf(out, len, "%d CPU%s by cgroup quota %.3g", n, s, c->quota);
    else if (c->affinity < online)
        snprintf(out, len, "%d CPU%s by affinity of %d online", n, s, online);
    else
        snprintf(out, len, "%d CPU%s", n, s);
}
