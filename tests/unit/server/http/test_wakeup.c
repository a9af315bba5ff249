/*
 * test_wakeup — server/http/wakeup.c: the window --busy-poll-us auto picks
 * (from the CPUs, the cgroup quota and the measured wake-up), the cgroup
 * quota as v2 and v1 hierarchies state it (fake trees in a temporary
 * directory), and the probe itself on this machine: what it reports about
 * the CPUs, that it runs with two of them and is skipped with one.
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

#include "http/wakeup.h"

static int64_t decide(int cpus, double quota, bool measured, double block, double poll, int threads,
                      char *note)
{
    rs_wakeup w = {.cpus = cpus,
                   .quota_cpus = quota,
                   .measured = measured,
                   .block_us = block,
                   .poll_us = poll};
    return rs_busy_poll_auto(&w, threads, note, 160);
}

static void test_auto_spins_where_a_wake_up_costs_and_a_core_is_free(void **s)
{
    (void)s;
    char note[160];
    assert_int_equal(decide(2, 0, true, 30, 2, 1, note), RS_BUSY_POLL_AUTO_US);
    assert_string_equal(note,
                        "auto: 100 us, a blocked thread wakes in 28 us more than a polling one");
    /* the threshold: 10 us more spins, just under it does not */
    assert_int_equal(decide(8, 0, true, 12, 2, 1, note), RS_BUSY_POLL_AUTO_US);
    assert_int_equal(decide(8, 0, true, 11.9, 2, 1, note), 0);
    assert_string_equal(note, "auto: off, a blocked thread wakes in 10 us more than a polling one");
    assert_int_equal(decide(8, 0, true, 2, 3, 1, note), 0); /* noise: never negative */
    assert_string_equal(note, "auto: off, a blocked thread wakes in 0 us more than a polling one");
    assert_int_equal(decide(8, 0, false, 0, 0, 1, note), 0);
    assert_string_equal(note, "auto: off, the wake-up probe could not run");
}

static void test_auto_never_takes_the_last_core(void **s)
{
    (void)s;
    char note[160];
    assert_int_equal(decide(1, 0, false, 0, 0, 1, note), 0);
    assert_string_equal(note, "auto: off, no core to spare for spinning (1 CPU, 1 HTTP thread)");
    assert_int_equal(decide(2, 0, true, 50, 1, 2, note), 0); /* two spinners, two CPUs */
    assert_string_equal(note, "auto: off, no core to spare for spinning (2 CPUs, 2 HTTP threads)");
    assert_int_equal(decide(3, 0, true, 50, 1, 2, note), RS_BUSY_POLL_AUTO_US);
    /* a quota below the CPUs counts: 1.5 CPUs leave no whole core beside one spinner */
    assert_int_equal(decide(16, 1.5, true, 50, 1, 1, note), 0);
    assert_string_equal(note, "auto: off, no core to spare for spinning (1.5 CPUs by cgroup "
                              "quota, 1 HTTP thread)");
    assert_int_equal(decide(16, 2, true, 50, 1, 1, note), RS_BUSY_POLL_AUTO_US);
    assert_int_equal(decide(2, 8, true, 50, 1, 1, note), RS_BUSY_POLL_AUTO_US); /* quota > CPUs */
}

/* ------------------------------------------------------- cgroup quotas */

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static double quota(const char *proc_cgroup_text)
{
    put("proc-cgroup", proc_cgroup_text);
    char pc[128], mnt[128];
    snprintf(pc, sizeof pc, "%s/proc-cgroup", root);
    snprintf(mnt, sizeof mnt, "%s/fs", root);
    return rs_wakeup_quota_cpus(pc, mnt);
}

static int setup_root(void **s)
{
    (void)s;
    snprintf(root, sizeof root, "/tmp/test_wakeup.XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int remove_root(void **s)
{
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_quota_v2_is_the_least_up_the_tree(void **s)
{
    (void)s;
    put("fs/kubepods/pod1/c1/cpu.max", "max 100000\n");
    put("fs/kubepods/pod1/cpu.max", "150000 100000\n");
    put("fs/kubepods/cpu.max", "800000 100000\n");
    assert_true(quota("0::/kubepods/pod1/c1\n") == 1.5); /* the pod's, above the container */
    put("fs/kubepods/pod1/c1/cpu.max", "50000 100000\n");
    assert_true(quota("0::/kubepods/pod1/c1\n") == 0.5);
    put("fs/cpu.max", "max 100000\n");
    assert_true(quota("0::/\n") == 0.0);        /* none */
    assert_true(quota("0::/nowhere\n") == 0.0); /* unreadable */
    assert_true(quota("garbage\n") == 0.0);
    put("fs/bad/cpu.max", "x y\n");
    assert_true(quota("0::/bad\n") == 0.0);
}

static void test_quota_v1_in_the_cpu_hierarchy(void **s)
{
    (void)s;
    put("fs/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
    put("fs/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    put("fs/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n");
    put("fs/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
    assert_true(quota("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n") == 2.0);
    /* mounted as plain "cpu" */
    put("fs/cpu/lxc/cpu.cfs_quota_us", "25000\n");
    put("fs/cpu/lxc/cpu.cfs_period_us", "100000\n");
    assert_true(quota("2:cpu:/lxc\n") == 0.25);
    /* "cpuset" is not "cpu" */
    put("fs/cpuset/x/cpu.cfs_quota_us", "25000\n");
    put("fs/cpuset/x/cpu.cfs_period_us", "100000\n");
    assert_true(quota("5:cpuset:/x\n") == 0.0);
    assert_true(quota("3:cpu,cpuacct:/docker\n") == 0.0); /* -1: none */
}

/* ---------------------------------------------------------------- probe */

static void test_probe_reports_this_machine(void **s)
{
    (void)s;
    cpu_set_t all;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    rs_wakeup w;
    rs_wakeup_measure(&w);
    assert_int_equal(w.cpus, CPU_COUNT(&all));
    printf("    %d CPUs, quota %.3g, measured %d: blocking %.1f us, polling %.1f us\n", w.cpus,
           w.quota_cpus, w.measured, w.block_us, w.poll_us);
    if (w.measured) {
        assert_true(w.block_us > 0.0 && w.block_us < 1e4);
        assert_true(w.poll_us > 0.0 && w.poll_us < 1e4);
    }

    /* One CPU: nothing to measure across, and nothing spins. */
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    rs_wakeup_measure(&w);
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    assert_int_equal(w.cpus, 1);
    assert_false(w.measured);
    char note[160];
    assert_int_equal(rs_busy_poll_auto(&w, 1, note, sizeof note), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_spins_where_a_wake_up_costs_and_a_core_is_free),
        cmocka_unit_test(test_auto_never_takes_the_last_core),
        cmocka_unit_test(test_quota_v2_is_the_least_up_the_tree),
        cmocka_unit_test(test_quota_v1_in_the_cpu_hierarchy),
        cmocka_unit_test(test_probe_reports_this_machine),
    };
    return cmocka_run_group_tests(tests, setup_root, remove_root);
}
