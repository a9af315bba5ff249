/*
 * test_cpus — server/cpus.c: the cgroup CPU quota as v2 and v1 hierarchies
 * state it (fake trees in a temporary directory), the usable CPUs the thread
 * defaults size from, the start-up line's words on them, and what
 * rs_cpus_inspect reports on this machine.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpus.h"
#include "fake_tree.h"

/* The quota rs_cpus_quota reads for a process whose /proc/self/cgroup says
 * proc_cgroup_text, with the hierarchies under the fake tree's fs/. */
static double quota(const char *proc_cgroup_text)
{
    fake_put("proc-cgroup", proc_cgroup_text);
    char pc[128], mnt[128];
    snprintf(pc, sizeof pc, "%s/proc-cgroup", fake_root);
    snprintf(mnt, sizeof mnt, "%s/fs", fake_root);
    return rs_cpus_quota(pc, mnt);
}

static void test_quota_v2_is_the_least_up_the_tree(void **s)
{
    (void)s;
    fake_put("fs/kubepods/pod1/c1/cpu.max", "max 100000\n");
    fake_put("fs/kubepods/pod1/cpu.max", "150000 100000\n");
    fake_put("fs/kubepods/cpu.max", "800000 100000\n");
    assert_true(quota("0::/kubepods/pod1/c1\n") == 1.5); /* the pod's, above the container */
    fake_put("fs/kubepods/pod1/c1/cpu.max", "50000 100000\n");
    assert_true(quota("0::/kubepods/pod1/c1\n") == 0.5);
    fake_put("fs/cpu.max", "max 100000\n");
    assert_true(quota("0::/\n") == 0.0);        /* none */
    assert_true(quota("0::/nowhere\n") == 0.0); /* unreadable */
    assert_true(quota("garbage\n") == 0.0);
    fake_put("fs/bad/cpu.max", "x y\n");
    assert_true(quota("0::/bad\n") == 0.0);
}

static void test_quota_v1_in_the_cpu_hierarchy(void **s)
{
    (void)s;
    fake_put("fs/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
    fake_put("fs/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    fake_put("fs/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n");
    fake_put("fs/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
    assert_true(quota("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n") == 2.0);
    /* mounted as plain "cpu" */
    fake_put("fs/cpu/lxc/cpu.cfs_quota_us", "25000\n");
    fake_put("fs/cpu/lxc/cpu.cfs_period_us", "100000\n");
    assert_true(quota("2:cpu:/lxc\n") == 0.25);
    /* "cpuset" is not "cpu" */
    fake_put("fs/cpuset/x/cpu.cfs_quota_us", "25000\n");
    fake_put("fs/cpuset/x/cpu.cfs_period_us", "100000\n");
    assert_true(quota("5:cpuset:/x\n") == 0.0);
    assert_true(quota("3:cpu,cpuacct:/docker\n") == 0.0); /* -1: none */
}

/* The affinity's CPUs, or the quota rounded up when that is fewer: 1.5 CPUs
 * of quota keep 2 threads busy, 0.25 still 1. Never 0. */
static void test_usable_is_the_affinity_capped_by_the_quota(void **s)
{
    (void)s;
    assert_int_equal(rs_cpus_usable(&(rs_cpus){64, 0.0}), 64); /* no quota */
    assert_int_equal(rs_cpus_usable(&(rs_cpus){64, 2.0}), 2);  /* a 2-CPU limit on a big node */
    assert_int_equal(rs_cpus_usable(&(rs_cpus){64, 1.5}), 2);
    assert_int_equal(rs_cpus_usable(&(rs_cpus){64, 0.25}), 1);
    assert_int_equal(rs_cpus_usable(&(rs_cpus){4, 8.0}), 4); /* the quota above the affinity */
    assert_int_equal(rs_cpus_usable(&(rs_cpus){1, 0.0}), 1);
    assert_int_equal(rs_cpus_usable(&(rs_cpus){0, 0.0}), 1);
}

/* The start-up line says which limit decided. */
static void test_describe_names_the_limit(void **s)
{
    (void)s;
    char out[96];
    rs_cpus_describe(&(rs_cpus){64, 1.5}, out, sizeof out);
    assert_string_equal(out, "2 CPUs by cgroup quota 1.5");
    rs_cpus_describe(&(rs_cpus){64, 0.5}, out, sizeof out);
    assert_string_equal(out, "1 CPU by cgroup quota 0.5");
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    rs_cpus_describe(&(rs_cpus){(int)online, 0.0}, out, sizeof out);
    char want[96];
    snprintf(want, sizeof want, "%ld CPU%s", online, online == 1 ? "" : "s");
    assert_string_equal(out, want);
    if (online > 1) {
        rs_cpus_describe(&(rs_cpus){1, 0.0}, out, sizeof out);
        snprintf(want, sizeof want, "1 CPU by affinity of %ld online", online);
        assert_string_equal(out, want);
    }
}

static void test_inspect_reports_this_process(void **s)
{
    (void)s;
    cpu_set_t all;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    rs_cpus c;
    rs_cpus_inspect(&c);
    assert_int_equal(c.affinity, CPU_COUNT(&all));
    assert_true(c.quota >= 0.0);
    printf("    affinity %d, quota %.3g: %d usable\n", c.affinity, c.quota, rs_cpus_usable(&c));
    /* a narrower affinity is what inspect sees (taskset, docker --cpuset-cpus) */
    if (CPU_COUNT(&all) > 1) {
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &all)) {
                CPU_SET(i, &one);
                break;
            }
        assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
        rs_cpus_inspect(&c);
        assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
        assert_int_equal(c.affinity, 1);
        assert_int_equal(rs_cpus_usable(&c), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_v2_is_the_least_up_the_tree),
        cmocka_unit_test(test_quota_v1_in_the_cpu_hierarchy),
        cmocka_unit_test(test_usable_is_the_affinity_capped_by_the_quota),
        cmocka_unit_test(test_describe_names_the_limit),
        cmocka_unit_test(test_inspect_reports_this_process),
    };
    return cmocka_run_group_tests(tests, fake_tree_setup, fake_tree_remove);
}
