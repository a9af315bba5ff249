/*
 * A model repository in a scratch folder, for the tests of the registry and
 * the repository poll: repo_create makes the folder, repo_write writes a file
 * at a path relative to it (making its folders), repo_save_model writes a
 * small model, repo_remove deletes a path in it (NULL: the whole folder).
 * Included by the test files that need it; one per binary.
 */
#ifndef TEST_REPO_H
#define TEST_REPO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "registry.h"

static char g_dir[64];
static const rs_model_config DEFAULTS = {64, 0, 1024, 60, MLP_KERNEL_NATIVE};

static void repo_create(const char *name)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/rs_%s_XXXXXX", name);
    assert_non_null(mkdtemp(g_dir));
}

/* Makes the folders of g_dir/rel up to its last '/'. */
static void repo_folders(const char *rel)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, rel);
    for (char *p = buf + strlen(g_dir) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
}

static void repo_write(const char *rel, const char *text)
{
    char path[512];
    repo_folders(rel);
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A 3-input model whose hidden layer has `hidden` units, so tests can tell
 * versions and rewrites apart by shape. */
static void repo_save_model(const char *name, const char *version, int hidden)
{
    char rel[256], path[512];
    snprintf(rel, sizeof rel, "%s/%s/model.json", name, version);
    repo_folders(rel);
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    mlp_layer_spec spec[] = {{hidden, MLP_ACT_RELU, 0}, {2, MLP_ACT_SOFTMAX, 0}};
    mlp_model *m;
    assert_int_equal(mlp_model_create(3, spec, 2, &m, NULL), MLP_OK);
    mlp_model_init(m, MLP_INIT_HE_NORMAL, 1, NULL);
    assert_int_equal(mlp_model_save_json(m, path, NULL), MLP_OK);
    mlp_model_free(m);
}

static int repo_remove(const char *rel)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s%s%s", g_dir, rel ? "/" : "", rel ? rel : "");
    return system(cmd);
}

#endif /* TEST_REPO_H */
