/*
 * test_wakeup — server/http/wakeup.c: the window --busy-poll-us auto picks
 * (from the CPUs, the cgroup quota, the hypervisor and guest halt-polling),
 * the haltpoll state as sysfs states it (fake trees in a temporary
 * directory), and what rs_wakeup_inspect reports on this machine. The
 * cgroup quota's reading is test_cpus's.
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

#include "../fake_tree.h"
#include "http/wakeup.h"

static int64_t decide(int cpus, double quota, bool hypervisor, bool guest_polls, int threads,
                      char *note)
{
    rs_wakeup w = {
        .cpus = cpus, .quota_cpus = quota, .hypervisor = hypervisor, .guest_polls = guest_polls};
    return rs_busy_poll_auto(&w, threads, note, 160);
}

static void test_auto_spins_on_a_vm_whose_vcpus_halt(void **s)
{
    (void)s;
    char note[160];
    assert_int_equal(decide(2, 0, true, false, 1, note), RS_BUSY_POLL_AUTO_US);
    assert_string_equal(note, "auto: 100 us, a virtual machine whose idle vCPUs halt");
    assert_int_equal(decide(64, 0, false, false, 1, note), 0);
    assert_string_equal(note, "auto: off, not a virtual machine (idle CPUs wake in a few us)");
    assert_int_equal(decide(8, 0, true, true, 1, note), 0);
    assert_string_equal(note, "auto: off, the kernel's haltpoll already polls idle vCPUs");
}

static void test_auto_never_takes_the_last_core(void **s)
{
    (void)s;
    char note[160];
    assert_int_equal(decide(1, 0, true, false, 1, note), 0);
    assert_string_equal(note, "auto: off, no core to spare for spinning (1 CPU, 1 HTTP thread)");
    assert_int_equal(decide(2, 0, true, false, 2, note), 0); /* two spinners, two CPUs */
    assert_string_equal(note, "auto: off, no core to spare for spinning (2 CPUs, 2 HTTP threads)");
    assert_int_equal(decide(3, 0, true, false, 2, note), RS_BUSY_POLL_AUTO_US);
    /* a quota below the CPUs counts: 1.5 CPUs leave no whole core beside one spinner */
    assert_int_equal(decide(16, 1.5, true, false, 1, note), 0);
    assert_string_equal(note, "auto: off, no core to spare for spinning (1.5 CPUs by cgroup "
                              "quota, 1 HTTP thread)");
    assert_int_equal(decide(16, 2, true, false, 1, note), RS_BUSY_POLL_AUTO_US);
    assert_int_equal(decide(2, 8, true, false, 1, note), RS_BUSY_POLL_AUTO_US); /* quota > CPUs */
}

/* ------------------------------------------------------------ haltpoll */

static bool polls(const char *driver, const char *ns)
{
    char d[128], n[128];
    snprintf(d, sizeof d, "%s/driver", fake_root);
    snprintf(n, sizeof n, "%s/ns", fake_root);
    unlink(d);
    unlink(n);
    if (driver) fake_put("driver", driver);
    if (ns) fake_put("ns", ns);
    return rs_wakeup_guest_polls(d, n);
}

static void test_guest_polls_only_with_haltpoll_and_a_poll_time(void **s)
{
    (void)s;
    assert_true(polls("haltpoll\n", "200000\n"));
    assert_false(polls("haltpoll\n", "0\n")); /* this project's VM: the driver, no polling */
    assert_false(polls("acpi_idle\n", "200000\n"));
    assert_false(polls("haltpoll\n", NULL)); /* no module parameters */
    assert_false(polls(NULL, NULL));
}

/* ------------------------------------------------------------ inspect */

static void test_inspect_reports_this_machine(void **s)
{
    (void)s;
    cpu_set_t all;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    rs_wakeup w;
    rs_wakeup_inspect(&w);
    assert_int_equal(w.cpus, CPU_COUNT(&all));
    /* the hypervisor bit as the kernel reports it in /proc/cpuinfo's flags */
    FILE *f = fopen("/proc/cpuinfo", "r");
    assert_non_null(f);
    char line[4096];
    bool flag = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor")) flag = true;
    fclose(f);
    printf("    %d CPUs, quota %.3g, hypervisor %d, guest halt-polling %d\n", w.cpus, w.quota_cpus,
           w.hypervisor, w.guest_polls);
    assert_int_equal(w.hypervisor, flag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_spins_on_a_vm_whose_vcpus_halt),
        cmocka_unit_test(test_auto_never_takes_the_last_core),
        cmocka_unit_test(test_guest_polls_only_with_haltpoll_and_a_poll_time),
        cmocka_unit_test(test_inspect_reports_this_machine),
    };
    return cmocka_run_group_tests(tests, fake_tree_setup, fake_tree_remove);
}
