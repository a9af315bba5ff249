/*
 * poll — the repository poll: stat signatures of the model folders, and the
 * loads and unloads that bring the registry in line with them.
 */
#include "poll.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

/* One folder's signature: a model (version NULL: its config.json) or one of
 * its versions (every entry of the folder). */
typedef struct {
    char *model;
    char *version;
    uint64_t sig;
} entry;

/* A scan of the repository, sorted by model, then the model's own entry,
 * then its versions. */
typedef struct {
    entry *e;
    size_t n, cap;
} snapshot;

struct rs_poll {
    char *dir;
    snapshot applied; /* what the registry was last brought in line with */
    snapshot seen;    /* what the previous poll saw */
    bool unreadable;  /* the last scan could not read dir (logged once) */
};

/* ------------------------------------------------------------ signatures */

#define PATH_LEN 4096

/* a/b into out; false when it does not fit (such a file is skipped). */
static bool join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_LEN, "%s/%s", a, b);
    return n > 0 && n < PATH_LEN;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#define FNV_START 0xcbf29ce484222325ull

static uint64_t stat_sig(const char *name, const struct stat *st)
{
    uint64_t h = fnv(FNV_START, name, strlen(name) + 1);
    int64_t f[] = {(int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, (int64_t)st->st_mtim.tv_nsec,
                   (int64_t)st->st_ino, (int64_t)(st->st_mode & S_IFMT)};
    return fnv(h, f, sizeof f);
}

/* Every entry of a version folder. The per-entry signatures are summed, so
 * readdir's order does not matter; a temporary file an atomic writer keeps
 * beside the model changes the sum as much as the model itself. */
static uint64_t folder_sig(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return fnv(FNV_START, &errno, sizeof errno);
    uint64_t sum = 0x9e3779b97f4a7c15ull, count = 0;
    struct dirent *de;
    char file[PATH_LEN];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        struct stat st;
        if (!join(file, path, de->d_name) || lstat(file, &st))
            memset(&st, 0, sizeof st); /* removed meanwhile: still a change */
        sum += stat_sig(de->d_name, &st);
        count++;
    }
    closedir(d);
    return fnv(sum, &count, sizeof count);
}

/* The model's own entry: its config.json, or its absence. */
static uint64_t config_sig(const char *model_dir)
{
    char path[PATH_LEN];
    struct stat st;
    if (!join(path, model_dir, "config.json") || stat(path, &st)) return FNV_START;
    return stat_sig("config.json", &st);
}

/* ------------------------------------------------------------- snapshots */

static void snap_free(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].model);
        free(s->e[i].version);
    }
    free(s->e);
    memset(s, 0, sizeof *s);
}

static int snap_add(snapshot *s, const char *model, const char *version, uint64_t sig)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        entry *p = realloc(s->e, cap * sizeof *p);
        if (!p) return -1;
        s->e = p;
        s->cap = cap;
    }
    entry *e = &s->e[s->n];
    e->model = strdup(model);
    e->version = version ? strdup(version) : NULL;
    e->sig = sig;
    if (!e->model || (version && !e->version)) {
        free(e->model);
        free(e->version);
        return -1;
    }
    s->n++;
    return 0;
}

static int cmp_key(const char *m1, const char *v1, const char *m2, const char *v2)
{
    int c = strcmp(m1, m2);
    if (c) return c;
    if (!v1 || !v2) return (v1 != NULL) - (v2 != NULL); /* the model's own entry first */
    return strcmp(v1, v2);
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return cmp_key(x->model, x->version, y->model, y->version);
}

static const entry *snap_find(const snapshot *s, const char *model, const char *version)
{
    entry key = {(char *)model, (char *)version, 0};
    return s->n ? bsearch(&key, s->e, s->n, sizeof *s->e, cmp_entry) : NULL;
}

/* The versions of one model folder into s. Returns -1 when out of memory. */
static int scan_model(snapshot *s, const char *dir, const char *model)
{
    char path[PATH_LEN];
    if (!join(path, dir, model)) return 0;
    if (snap_add(s, model, NULL, config_sig(path))) return -1;
    DIR *d = opendir(path);
    if (!d) return 0; /* removed meanwhile: the next poll sees it gone */
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        long long number;
        if (!rs_registry_version_valid(de->d_name, &number)) continue;
        char vpath[PATH_LEN];
        struct stat st;
        if (!join(vpath, path, de->d_name) || stat(vpath, &st) || !S_ISDIR(st.st_mode)) continue;
        rc = snap_add(s, model, de->d_name, folder_sig(vpath));
    }
    closedir(d);
    return rc;
}

/* Returns 0, -1 when out of memory, -2 when dir cannot be read. */
static int scan(const char *dir, snapshot *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (!d) return -2;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!rs_registry_name_valid(de->d_name)) continue;
        char path[PATH_LEN];
        struct stat st;
        if (!join(path, dir, de->d_name) || stat(path, &st) || !S_ISDIR(st.st_mode)) continue;
        rc = scan_model(s, dir, de->d_name);
    }
    closedir(d);
    if (rc) {
        snap_free(s);
        return rc;
    }
    if (s->n) qsort(s->e, s->n, sizeof *s->e, cmp_entry);
    return 0;
}

/* ------------------------------------------------------------------ poll */

rs_poll *rs_poll_create(const char *dir)
{
    rs_poll *p = calloc(1, sizeof *p);
    if (!p || !(p->dir = strdup(dir))) {
        free(p);
        return NULL;
    }
    /* An unreadable repository makes the registry refuse to start; an empty
     * baseline is right for any other use. */
    int rc = scan(dir, &p->seen);
    if (rc == -1) {
        rs_poll_free(p);
        return NULL;
    }
    for (size_t i = 0; i < p->seen.n; i++) {
        const entry *e = &p->seen.e[i];
        if (snap_add(&p->applied, e->model, e->version, e->sig)) {
            rs_poll_free(p);
            return NULL;
        }
    }
    return p;
}

void rs_poll_free(rs_poll *p)
{
    if (!p) return;
    snap_free(&p->applied);
    snap_free(&p->seen);
    free(p->dir);
    free(p);
}

/* Both absent, or both present with the same signature. */
static bool same(const entry *a, const entry *b)
{
    return a && b ? a->sig == b->sig : a == b;
}

typedef struct {
    rs_poll *p;
    rs_registry *r;
    const snapshot *cur;
    snapshot next; /* the new `applied` */
    bool (*stop)(void *);
    void *arg;
    bool stopped;
    bool oom;
    int actions;
} tick;

static void keep(tick *t, const entry *e)
{
    if (e && snap_add(&t->next, e->model, e->version, e->sig)) t->oom = true;
}

/* Asked before each load or unload. */
static bool may_act(tick *t)
{
    if (!t->stopped && t->stop && t->stop(t->arg)) {
        t->stopped = true;
        rs_log(RS_LOG_INFO, "repository poll stopped: the server is shutting down");
    }
    if (t->stopped) return false;
    t->actions++;
    return true;
}

/* Calls f(t, model, version) for every version of `model` in cur or applied. */
static void each_version(tick *t, const char *model,
                         void (*f)(tick *t, const char *model, const char *version))
{
    const snapshot *s[2] = {t->cur, &t->p->applied};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < s[k]->n; i++) {
            const entry *e = &s[k]->e[i];
            if (!e->version || strcmp(e->model, model)) continue;
            if (k == 1 && snap_find(t->cur, model, e->version)) continue; /* seen in cur */
            f(t, model, e->version);
        }
}

/* After a whole-model load: versions seen stable count as applied; the others
 * keep their old signature, so that they load once they settle. */
static void after_model_load(tick *t, const char *model, const char *version)
{
    const entry *c = snap_find(t->cur, model, version);
    keep(t, same(c, snap_find(&t->p->seen, model, version))
                ? c
                : snap_find(&t->p->applied, model, version));
}

static void keep_applied(tick *t, const char *model, const char *version)
{
    keep(t, snap_find(&t->p->applied, model, version));
}

static void model_load(tick *t, const char *model, const char *why)
{
    rs_log(RS_LOG_INFO, "repository poll: model %s %s: loading it", model, why);
    char err[2048];
    int st = rs_registry_load(t->r, model, err, sizeof err);
    if (st && st != 400) rs_log(RS_LOG_ERROR, "repository poll: %s", err);
    /* 400: the registry logged each failure, and the index shows it. */
}

static void version_step(tick *t, const char *model, const char *version)
{
    const entry *c = snap_find(t->cur, model, version),
                *a = snap_find(&t->p->applied, model, version),
                *s = snap_find(&t->p->seen, model, version);
    if (same(c, a) || !same(c, s) || !may_act(t)) {
        keep(t, a); /* unchanged, still being written, or shutting down */
        return;
    }
    char err[2048];
    if (!c) {
        rs_log(RS_LOG_INFO,
               "repository poll: model %s version %s was removed from disk: "
               "unloading it",
               model, version);
        rs_registry_unload_version(t->r, model, version, err, sizeof err);
        return;
    }
    rs_log(RS_LOG_INFO, "repository poll: model %s version %s %s on disk: loading it", model,
           version, a ? "changed" : "is new");
    int st = rs_registry_load_version(t->r, model, version, err, sizeof err);
    if (st == 404) /* the model is not loaded whole (a broken config.json): load all of it */
        model_load(t, model, "is not loaded whole");
    else if (st && st != 400)
        rs_log(RS_LOG_ERROR, "repository poll: %s", err);
    keep(t, c);
}

static void model_step(tick *t, const char *model)
{
    const entry *c = snap_find(t->cur, model, NULL), *a = snap_find(&t->p->applied, model, NULL),
                *s = snap_find(&t->p->seen, model, NULL);
    if (!same(c, a)) {
        if (!same(c, s) || !may_act(t)) { /* still changing, or shutting down */
            keep(t, a);
            each_version(t, model, keep_applied);
            return;
        }
        if (c) {
            model_load(t, model, a ? "has a changed config.json" : "is new on disk");
            keep(t, c);
            each_version(t, model, after_model_load);
        } else {
            rs_log(RS_LOG_INFO, "repository poll: model %s was removed from disk: unloading it",
                   model);
            char err[512];
            rs_registry_unload(t->r, model, err, sizeof err);
        }
        return;
    }
    if (!c) return;
    keep(t, c);
    each_version(t, model, version_step);
}

int rs_poll_tick(rs_poll *p, rs_registry *r, bool (*stop)(void *arg), void *arg)
{
    snapshot cur;
    int rc = scan(p->dir, &cur);
    if (rc) {
        if (rc == -2 && !p->unreadable)
            rs_log(RS_LOG_ERROR,
                   "repository poll: cannot read the model repository '%s': %s; "
                   "the models loaded keep serving",
                   p->dir, strerror(errno));
        else if (rc == -1)
            rs_log(RS_LOG_ERROR, "repository poll: out of memory; trying again at the next poll");
        p->unreadable = rc == -2;
        return 0;
    }
    if (p->unreadable)
        rs_log(RS_LOG_INFO, "repository poll: the model repository is readable again");
    p->unreadable = false;
    tick t = {.p = p, .r = r, .cur = &cur, .stop = stop, .arg = arg};
    const snapshot *s[2] = {&cur, &p->applied};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < s[k]->n; i++) {
            const entry *e = &s[k]->e[i];
            if (e->version) continue;
            if (k == 1 && snap_find(&cur, e->model, NULL)) continue; /* done from cur */
            model_step(&t, e->model);
        }
    if (t.oom) {
        /* Nothing lost but the bookkeeping: the next poll compares against the
         * old `applied` and repeats what changed (loading is idempotent). */
        rs_log(RS_LOG_ERROR, "repository poll: out of memory; trying again at the next poll");
        snap_free(&t.next);
        snap_free(&cur);
        return t.actions;
    }
    if (t.next.n) qsort(t.next.e, t.next.n, sizeof *t.next.e, cmp_entry);
    snap_free(&p->applied);
    p->applied = t.next;
    snap_free(&p->seen);
    p->seen = cur;
    return t.actions;
}
