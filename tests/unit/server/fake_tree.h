/*
 * fake_tree — a temporary directory of small files for the tests that read
 * what the kernel exposes (cgroup quotas, the cpuidle driver): fake_put
 * writes one file, making its folders; the group setup and teardown make
 * and remove the directory. For test_cpus and test_wakeup.
 */
#ifndef RS_TEST_FAKE_TREE_H
#define RS_TEST_FAKE_TREE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fake_root[64];

static void fake_put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fake_root, rel);
    for (char *p = path + strlen(fake_root) + 1; *p; p++)
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

static int fake_tree_setup(void **s)
{
    (void)s;
    snprintf(fake_root, sizeof fake_root, "/tmp/reluserve-fake-tree.XXXXXX");
    return mkdtemp(fake_root) ? 0 : -1;
}

static int fake_tree_remove(void **s)
{
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fake_root);
    return system(cmd) == 0 ? 0 : -1;
}

#endif /* RS_TEST_FAKE_TREE_H */
