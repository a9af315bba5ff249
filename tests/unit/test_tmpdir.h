/*
 * A scratch folder for tests that write files: a cmocka group setup makes it
 * (setup_dir), the group teardown removes it with everything in it
 * (teardown_dir). Included by the test files that need it; one per binary.
 */
#ifndef TEST_TMPDIR_H
#define TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/reluserve_test_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int teardown_dir(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* TEST_TMPDIR_H */
