/*
 * registry — the model repository on disk and the versions loaded from it.
 */
#include "registry.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec.h"
#include "log.h"

typedef struct {
    char *name;
    rs_model_config cfg;
    char *error;                 /* model-level problem (bad config.json, no versions), or NULL */
    rs_model_version **versions; /* ascending by number, each holding one reference */
    int n_versions;
} model_group;

struct rs_registry {
    pthread_mutex_t lock;
    char *dir;
    rs_model_config defaults;
    model_group *groups; /* ascending by name */
    int n_groups;
};

/* ------------------------------------------------------------ versions */

void rs_model_version_acquire(rs_model_version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void rs_model_version_release(rs_model_version *v)
{
    if (!v) return;
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
    rs_monitor_free(v->monitor);
    rs_stats_free(v->stats);
    mlp_model_free(v->model);
    free(v->name);
    free(v->version);
    free(v->error);
    free(v->reload_error);
    free(v);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Version folders are decimal integers without sign or leading junk. */
bool rs_registry_version_valid(const char *s, long long *out)
{
    if (!*s || strlen(s) > 18) return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

/* Removes every occurrence of prefix from msg. Errors are kept without the
 * repository's location because HTTP answers (ready, metadata, the index,
 * load) carry them: a client learns which file failed and why, never where
 * the server keeps it. The log line says where. */
static void strip_all(char *msg, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!n) return;
    for (char *p; (p = strstr(msg, prefix));)
        memmove(p, p + n, strlen(p + n) + 1);
}

/* Loads DIR/<name>/<version>; never NULL except when out of memory. v->error
 * names files relative to the version folder (see strip_all). */
static rs_model_version *version_load(const char *dir, const char *name, const char *version,
                                      long long number, const rs_model_config *cfg)
{
    rs_model_version *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    atomic_init(&v->refs, 1);
    atomic_init(&v->queued, 0);
    v->name = strdup(name);
    v->version = strdup(version);
    v->number = number;
    v->cfg = *cfg;
    if (!v->name || !v->version) {
        rs_model_version_release(v);
        return NULL;
    }
    static const char *const files[] = {"model.json", "model.safetensors", "model.onnx"};
    char path[1024];
    bool found = false;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !found; i++) {
        snprintf(path, sizeof path, "%s/%s/%s/%s", dir, name, version, files[i]);
        found = file_exists(path);
    }
    char msg[2048];
    if (!found) {
        snprintf(msg, sizeof msg,
                 "the version folder holds no model.json, model.safetensors or model.onnx");
    } else {
        mlp_error e = {{0}};
        mlp_status st = mlp_model_load(path, &v->model, &e);
        /* the native kernel's copy of the weights, built now rather than by
         * the first request, so a ready model holds all its memory */
        if (st == MLP_OK && (st = mlp_model_prepare(v->model, cfg->kernel, &e)) != MLP_OK) {
            mlp_model_free(v->model);
            v->model = NULL;
        }
#ifdef __GLIBC__
        /* Parsing takes many times the weights (jansson holds a native JSON
         * model's every number as an object: ~27 MiB for 2.6 MiB of weights);
         * glibc keeps those freed pages in its heap for good, since the
         * weights are allocated above them. Give them back once per load. */
        malloc_trim(0);
#endif
        if (st == MLP_OK) {
            v->monitor = rs_monitor_create(v->model, cfg->monitor_window_s);
            v->stats = rs_stats_create();
            if (!v->monitor || !v->stats) {
                mlp_model_free(v->model);
                v->model = NULL;
                snprintf(msg, sizeof msg, "out of memory for the activity monitor or statistics");
            } else {
                rs_log(RS_LOG_INFO,
                       "loaded model %s version %s from %s (%d inputs, %d layers, %d outputs)",
                       name, version, path, mlp_model_n_inputs(v->model),
                       mlp_model_n_layers(v->model), mlp_model_n_outputs(v->model));
                return v;
            }
        } else {
            v->model = NULL;
            /* The loader's message names the file already. */
            if (e.msg[0] && strstr(e.msg, path))
                snprintf(msg, sizeof msg, "%s", e.msg);
            else
                snprintf(msg, sizeof msg, "%s: %s", path, e.msg[0] ? e.msg : mlp_status_str(st));
        }
    }
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s/%s/", dir, name, version);
    strip_all(msg, folder);
    /* Loaders quote bytes from the file near an error; the message goes into
     * the JSON repository index, whose strings must be valid UTF-8. */
    rs_utf8_scrub(msg);
    v->error = strdup(msg);
    rs_log(RS_LOG_ERROR, "model %s version %s (%s) failed to load: %s", name, version, folder, msg);
    return v;
}

#define NO_VERSIONS                                                                                \
    "the model folder has no version folders (expected a numbered folder such as '1' holding "     \
    "model.json)"

/* --------------------------------------------------------------- config */

static int cfg_int(json_t *root, const char *key, int64_t min, int64_t max, int64_t *out, char *err,
                   size_t errlen)
{
    json_t *j = json_object_get(root, key);
    if (!j) return 0;
    if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max) {
        snprintf(err, errlen, "config.json: \"%s\" must be an integer from %lld to %lld", key,
                 (long long)min, (long long)max);
        return -1;
    }
    *out = json_integer_value(j);
    return 1;
}

/* Every key a model-level config.json may hold. Any other key is refused,
 * not ignored: a typo ("max_bach") would otherwise change nothing, silently. */
static const char *const CONFIG_KEYS[] = {"max_batch", "batch_delay_us", "max_queue",
                                          "monitor_window_s"};
#define N_CONFIG_KEYS (sizeof CONFIG_KEYS / sizeof CONFIG_KEYS[0])

static bool config_key_known(const char *key)
{
    for (size_t i = 0; i < N_CONFIG_KEYS; i++)
        if (!strcmp(key, CONFIG_KEYS[i])) return true;
    return false;
}

/* "max_batch, batch_delay_us, ..." for the messages. */
static void config_keys_list(char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < N_CONFIG_KEYS && used < outlen; i++) {
        int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", CONFIG_KEYS[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* key, cut to at most 64 bytes at a whole UTF-8 character (jansson keys are
 * valid UTF-8 and the message goes into the JSON repository index). */
static void key_quote(char *out, size_t outlen, const char *key)
{
    size_t n = strlen(key), cut = n > 64 ? 64 : n;
    while (cut > 0 && cut < n && ((unsigned char)key[cut] & 0xc0) == 0x80)
        cut--;
    snprintf(out, outlen, "\"%.*s%s\"", (int)cut, key, cut < n ? "..." : "");
}

/* The key jansson refused as a duplicate, decoded (escapes resolved) into
 * out; false if it cannot be found. jansson stops just past the repeated
 * key's closing quote (je->position); its opening quote is the nearest quote
 * before that is not escaped (not preceded by an odd run of backslashes). */
static bool duplicate_key(const char *text, size_t len, const json_error_t *je, char *out,
                          size_t outlen)
{
    size_t end = je->position > 0 ? (size_t)je->position : 0;
    if (end < 2 || end > len || text[end - 1] != '"') return false;
    size_t open = end - 1;
    for (;;) {
        if (open == 0) return false;
        open--;
        if (text[open] != '"') continue;
        size_t bs = 0;
        while (bs < open && text[open - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0) break;
    }
    json_t *k = json_loadb(text + open, end - open, JSON_DECODE_ANY, NULL);
    bool ok = json_is_string(k);
    if (ok) key_quote(out, outlen, json_string_value(k));
    json_decref(k);
    return ok;
}

/* The message of a text jansson refused. A repeated key is refused too
 * (JSON_REJECT_DUPLICATES): with "last wins" the first value would be
 * ignored without a word. */
static void config_json_error(const char *text, size_t len, const json_error_t *je, char *err,
                              size_t errlen)
{
    char key[80], keys[128];
    if (json_error_code(je) == json_error_duplicate_key &&
        duplicate_key(text, len, je, key, sizeof key)) {
        config_keys_list(keys, sizeof keys);
        snprintf(err, errlen,
                 "config.json: line %d: the key %s appears more than once; each key may appear "
                 "once (the keys are %s)",
                 je->line, key, keys);
        return;
    }
    /* je->text quotes the bytes near the error, which may be anything. */
    snprintf(err, errlen, "config.json: line %d: %s", je->line, je->text);
    rs_utf8_scrub(err);
}

int rs_model_config_parse(const char *text, size_t len, rs_model_config *cfg, char *err,
                          size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        config_json_error(text, len, &je, err, errlen);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "config.json: expected a JSON object");
        return -1;
    }
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        if (config_key_known(key)) continue;
        char quoted[80], keys[128];
        key_quote(quoted, sizeof quoted, key);
        config_keys_list(keys, sizeof keys);
        snprintf(err, errlen, "config.json: unknown key %s; the keys are %s", quoted, keys);
        json_decref(root);
        return -1;
    }
    rs_model_config c = *cfg;
    int64_t v;
    int rc;
    if ((rc = cfg_int(root, "max_batch", 1, 1 << 20, &v, err, errlen)) < 0) goto fail;
    if (rc) c.max_batch = (int)v;
    if ((rc = cfg_int(root, "batch_delay_us", 0, 10000000, &v, err, errlen)) < 0) goto fail;
    if (rc) c.batch_delay_us = v;
    if ((rc = cfg_int(root, "max_queue", 1, 1 << 24, &v, err, errlen)) < 0) goto fail;
    if (rc) c.max_queue = (int)v;
    if ((rc = cfg_int(root, "monitor_window_s", 1, 30 * 86400, &v, err, errlen)) < 0) goto fail;
    if (rc) c.monitor_window_s = (int)v;
    json_decref(root);
    *cfg = c;
    return 0;
fail:
    json_decref(root);
    return -1;
}

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > (1u << 24)) break; /* a serving config is small */
            char *p = realloc(buf, cap);
            if (!p) break;
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            fclose(f);
            *len = n;
            return buf;
        }
    }
    fclose(f);
    free(buf);
    return NULL;
}

/* ---------------------------------------------------------------- groups */

static void group_clear(model_group *g)
{
    for (int i = 0; i < g->n_versions; i++)
        rs_model_version_release(g->versions[i]);
    free(g->versions);
    free(g->name);
    free(g->error);
    memset(g, 0, sizeof *g);
}

static int cmp_version(const void *a, const void *b)
{
    const rs_model_version *x = *(rs_model_version *const *)a, *y = *(rs_model_version *const *)b;
    return (x->number > y->number) - (x->number < y->number);
}

/* msg names files relative to the model's folder DIR/<name>/ (see strip_all). */
static void group_set_error(model_group *g, const char *dir, const char *msg)
{
    free(g->error);
    g->error = strdup(msg);
    if (g->error) rs_utf8_scrub(g->error); /* for the index, as a version's error */
    rs_log(RS_LOG_ERROR, "model %s (%s/%s/) is not available: %s", g->name, dir, g->name, msg);
}

/* Reads DIR/<name> into g (which the caller frees with group_clear).
 * Returns -1 only when out of memory. */
static int group_scan(const char *dir, const char *name, const rs_model_config *defaults,
                      model_group *g)
{
    memset(g, 0, sizeof *g);
    g->name = strdup(name);
    if (!g->name) return -1;
    g->cfg = *defaults;
    char path[1024], msg[2048];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, name);
    if (file_exists(path)) {
        size_t len = 0;
        char *text = file_read(path, &len);
        if (!text) {
            snprintf(msg, sizeof msg, "config.json: cannot be read");
            group_set_error(g, dir, msg);
            return 0;
        }
        char e[512];
        int rc = rs_model_config_parse(text, len, &g->cfg, e, sizeof e);
        free(text);
        if (rc) {
            group_set_error(g, dir, e); /* e starts with "config.json: " */
            return 0;
        }
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(msg, sizeof msg, "the model folder cannot be read: %s", strerror(errno));
        group_set_error(g, dir, msg);
        return 0;
    }
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        long long num;
        if (!rs_registry_version_valid(de->d_name, &num)) continue;
        snprintf(path, sizeof path, "%s/%s/%s", dir, name, de->d_name);
        if (!dir_exists(path)) continue;
        if (g->n_versions == cap) {
            cap = cap ? 2 * cap : 4;
            rs_model_version **p = realloc(g->versions, (size_t)cap * sizeof *p);
            if (!p) {
                closedir(d);
                return -1;
            }
            g->versions = p;
        }
        rs_model_version *v = version_load(dir, name, de->d_name, num, &g->cfg);
        if (!v) {
            closedir(d);
            return -1;
        }
        g->versions[g->n_versions++] = v;
    }
    closedir(d);
    if (g->n_versions == 0) {
        group_set_error(g, dir, NO_VERSIONS);
        return 0;
    }
    qsort(g->versions, (size_t)g->n_versions, sizeof *g->versions, cmp_version);
    return 0;
}

/* Model names become URL segments and folder names: keep them plain. */
bool rs_registry_name_valid(const char *name)
{
    if (!*name || name[0] == '.' || strlen(name) > 255) return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) return false;
    return true;
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const model_group *)a)->name, ((const model_group *)b)->name);
}

static model_group *group_find(rs_registry *r, const char *name)
{
    for (int i = 0; i < r->n_groups; i++)
        if (!strcmp(r->groups[i].name, name)) return &r->groups[i];
    return NULL;
}

/* -------------------------------------------------------------- registry */

int rs_registry_open(rs_registry **out, const char *dir, const rs_model_config *defaults, char *err,
                     size_t errlen)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read the model repository '%s': %s", dir, strerror(errno));
        return -1;
    }
    rs_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        closedir(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->defaults = *defaults;
    struct dirent *de;
    int cap = 0;
    char path[1024];
    while ((de = readdir(d))) {
        if (!rs_registry_name_valid(de->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!dir_exists(path)) continue;
        if (r->n_groups == cap) {
            cap = cap ? 2 * cap : 8;
            model_group *p = realloc(r->groups, (size_t)cap * sizeof *p);
            if (!p) goto oom;
            r->groups = p;
        }
        if (group_scan(dir, de->d_name, defaults, &r->groups[r->n_groups])) {
            group_clear(&r->groups[r->n_groups]);
            goto oom;
        }
        r->n_groups++;
    }
    closedir(d);
    if (r->n_groups) qsort(r->groups, (size_t)r->n_groups, sizeof *r->groups, cmp_group);
    *out = r;
    return 0;
oom:
    closedir(d);
    rs_registry_free(r);
    snprintf(err, errlen, "out of memory while loading '%s'", dir);
    return -1;
}

void rs_registry_free(rs_registry *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_groups; i++)
        group_clear(&r->groups[i]);
    free(r->groups);
    free(r->dir);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int rs_registry_acquire(rs_registry *r, const char *name, const char *version,
                        rs_model_version **out, char *err, size_t errlen)
{
    *out = NULL;
    int status = 0;
    pthread_mutex_lock(&r->lock);
    model_group *g = group_find(r, name);
    if (!g) {
        snprintf(err, errlen, "model '%s' is not in the repository", name);
        status = 404;
    } else if (version) {
        rs_model_version *v = NULL;
        for (int i = 0; i < g->n_versions && !v; i++)
            if (!strcmp(g->versions[i]->version, version)) v = g->versions[i];
        if (!v) {
            snprintf(err, errlen, "model '%s' has no version '%s'", name, version);
            status = 404;
        } else if (!v->model) {
            snprintf(err, errlen, "model '%s' version '%s' is not ready: %s", name, version,
                     v->error);
            status = 503;
        } else {
            rs_model_version_acquire(v);
            *out = v;
        }
    } else {
        for (int i = g->n_versions - 1; i >= 0 && !*out; i--)
            if (g->versions[i]->model) {
                rs_model_version_acquire(g->versions[i]);
                *out = g->versions[i];
            }
        if (!*out) {
            const char *why = g->error            ? g->error
                              : g->n_versions > 0 ? g->versions[g->n_versions - 1]->error
                                                  : "no versions";
            snprintf(err, errlen, "model '%s' is not ready: %s", name, why);
            status = 503;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return status;
}

int rs_registry_list(rs_registry *r, rs_model_version ***out, int *n)
{
    pthread_mutex_lock(&r->lock);
    int total = 0;
    for (int i = 0; i < r->n_groups; i++)
        total += r->groups[i].n_versions;
    rs_model_version **a = malloc((size_t)(total ? total : 1) * sizeof *a);
    if (!a) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < r->n_groups; i++)
        for (int j = 0; j < r->groups[i].n_versions; j++) {
            rs_model_version_acquire(r->groups[i].versions[j]);
            a[k++] = r->groups[i].versions[j];
        }
    pthread_mutex_unlock(&r->lock);
    *out = a;
    *n = k;
    return 0;
}

bool rs_registry_ready(rs_registry *r, char *why, size_t whylen)
{
    bool ready = true;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n_groups && ready; i++) {
        model_group *g = &r->groups[i];
        if (g->error) {
            snprintf(why, whylen, "model '%s' is not ready: %s", g->name, g->error);
            ready = false;
        }
        for (int j = 0; j < g->n_versions && ready; j++)
            if (!g->versions[j]->model) {
                snprintf(why, whylen, "model '%s' version '%s' is not ready: %s", g->name,
                         g->versions[j]->version, g->versions[j]->error);
                ready = false;
            }
    }
    pthread_mutex_unlock(&r->lock);
    return ready;
}

/* The model folders of dir (valid names only), read without the registry's
 * lock: every request takes that lock, and a directory scan is file I/O.
 * Returns a NULL-terminated array the caller frees (each name, then it), or
 * NULL when out of memory or dir cannot be read. */
static char **folders_read(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = calloc(1, sizeof *names);
    size_t n = 0;
    struct dirent *de;
    char path[1024];
    while (names && (de = readdir(d))) {
        if (!rs_registry_name_valid(de->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!dir_exists(path)) continue;
        char **p = realloc(names, (n + 2) * sizeof *p);
        if (p) names = p;
        char *name = p ? strdup(de->d_name) : NULL;
        if (!name) {
            for (size_t i = 0; i < n; i++)
                free(names[i]);
            free(names);
            names = NULL;
            break;
        }
        names[n++] = name;
        names[n] = NULL;
    }
    closedir(d);
    return names;
}

json_t *rs_registry_index(rs_registry *r)
{
    json_t *arr = json_array();
    char **folders = folders_read(r->dir);
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n_groups; i++) {
        model_group *g = &r->groups[i];
        if (g->n_versions == 0)
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s}", "name", g->name, "state",
                                            "UNAVAILABLE", "reason", g->error ? g->error : ""));
        for (int j = 0; j < g->n_versions; j++) {
            rs_model_version *v = g->versions[j];
            char reason[2200] = "";
            if (!v->model)
                snprintf(reason, sizeof reason, "%s", v->error);
            else if (v->reload_error)
                snprintf(reason, sizeof reason,
                         "the files on disk failed to load, the copy loaded before still serves: "
                         "%s",
                         v->reload_error);
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s}", "name", g->name, "version", v->version,
                               "state", v->model ? "READY" : "UNAVAILABLE", "reason", reason));
        }
    }
    /* Folders in the repository that are not loaded (unloaded through model control). */
    for (size_t i = 0; folders && folders[i]; i++)
        if (!group_find(r, folders[i]))
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", folders[i], "state",
                                                 "UNAVAILABLE", "reason", "unloaded"));
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; folders && folders[i]; i++)
        free(folders[i]);
    free(folders);
    return arr;
}

int rs_registry_load(rs_registry *r, const char *name, char *err, size_t errlen)
{
    if (!rs_registry_name_valid(name)) {
        snprintf(err, errlen,
                 "model name '%s' is not valid: use letters, digits, '.', '_' and '-' only", name);
        return 400;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    if (!dir_exists(path)) {
        snprintf(err, errlen, "model '%s' has no folder in the repository", name);
        return 404;
    }
    /* Loading reads files: do it outside the lock, then swap. */
    model_group fresh;
    if (group_scan(r->dir, name, &r->defaults, &fresh)) {
        group_clear(&fresh);
        snprintf(err, errlen, "out of memory while loading model '%s'", name);
        return 500;
    }
    int status = 0;
    if (fresh.error) {
        snprintf(err, errlen, "model '%s' failed to load: %s", name, fresh.error);
        status = 400;
    }
    pthread_mutex_lock(&r->lock);
    model_group *old = group_find(r, name);
    for (int i = 0; i < fresh.n_versions; i++) {
        rs_model_version *v = fresh.versions[i];
        if (v->model) continue;
        if (!status) {
            snprintf(err, errlen, "model '%s' version '%s' failed to load: %s", name, v->version,
                     v->error);
            status = 400;
        }
        /* Keep serving the copy that loaded before; the index says why. */
        for (int j = 0; old && j < old->n_versions; j++)
            if (old->versions[j]->number == v->number && old->versions[j]->model) {
                rs_model_version *kept = old->versions[j];
                rs_model_version_acquire(kept);
                free(kept->reload_error);
                kept->reload_error = v->error;
                v->error = NULL;
                fresh.versions[i] = kept;
                rs_model_version_release(v);
                break;
            }
    }
    bool keep_old = fresh.error && old; /* a broken config.json keeps what was served */
    for (int j = 0; keep_old && j < old->n_versions; j++) {
        rs_model_version *kept = old->versions[j];
        if (!kept->model) continue;
        free(kept->reload_error); /* the index says why the files on disk did not load */
        kept->reload_error = strdup(fresh.error);
    }
    if (!keep_old) {
        if (old) {
            group_clear(old);
            *old = fresh;
        } else {
            model_group *p = realloc(r->groups, (size_t)(r->n_groups + 1) * sizeof *p);
            if (!p) {
                pthread_mutex_unlock(&r->lock);
                group_clear(&fresh);
                snprintf(err, errlen, "out of memory while loading model '%s'", name);
                return 500;
            }
            r->groups = p;
            r->groups[r->n_groups++] = fresh;
            qsort(r->groups, (size_t)r->n_groups, sizeof *r->groups, cmp_group);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (keep_old) group_clear(&fresh);
    return status;
}

int rs_registry_unload(rs_registry *r, const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&r->lock);
    model_group *g = group_find(r, name);
    if (!g) {
        pthread_mutex_unlock(&r->lock);
        snprintf(err, errlen, "model '%s' is not loaded", name);
        return 404;
    }
    model_group gone = *g;
    int idx = (int)(g - r->groups);
    memmove(&r->groups[idx], &r->groups[idx + 1],
            (size_t)(r->n_groups - idx - 1) * sizeof *r->groups);
    r->n_groups--;
    pthread_mutex_unlock(&r->lock);
    rs_log(RS_LOG_INFO, "unloaded model %s", name);
    group_clear(&gone); /* versions still computing stay alive through their references */
    return 0;
}

/* Where version `version` of g sits, or -1. */
static int version_find(const model_group *g, const char *version)
{
    for (int i = 0; i < g->n_versions; i++)
        if (!strcmp(g->versions[i]->version, version)) return i;
    return -1;
}

int rs_registry_load_version(rs_registry *r, const char *name, const char *version, char *err,
                             size_t errlen)
{
    long long number;
    if (!rs_registry_name_valid(name) || !rs_registry_version_valid(version, &number)) {
        snprintf(err, errlen, "'%s' version '%s' is not a valid model and version name", name,
                 version);
        return 400;
    }
    pthread_mutex_lock(&r->lock);
    model_group *g = group_find(r, name);
    rs_model_config cfg = g ? g->cfg : r->defaults;
    pthread_mutex_unlock(&r->lock);
    if (!g) {
        snprintf(err, errlen, "model '%s' is not loaded", name);
        return 404;
    }
    /* Loading reads files: outside the lock, then swap. Only one thread loads
     * (the control worker), so the group cannot change its config meanwhile. */
    rs_model_version *fresh = version_load(r->dir, name, version, number, &cfg);
    if (!fresh) {
        snprintf(err, errlen, "out of memory while loading model '%s' version '%s'", name, version);
        return 500;
    }
    int status = 0;
    if (!fresh->model) {
        snprintf(err, errlen, "model '%s' version '%s' failed to load: %s", name, version,
                 fresh->error);
        status = 400;
    }
    rs_model_version *gone = NULL;
    pthread_mutex_lock(&r->lock);
    g = group_find(r, name);
    if (!g) {
        gone = fresh; /* unloaded meanwhile */
        if (!status) snprintf(err, errlen, "model '%s' is not loaded", name);
        status = 404;
    } else {
        int i = version_find(g, version);
        if (i >= 0 && !fresh->model && g->versions[i]->model) {
            /* Keep serving the copy that loaded before; the index says why. */
            free(g->versions[i]->reload_error);
            g->versions[i]->reload_error = fresh->error;
            fresh->error = NULL;
            gone = fresh;
        } else if (i >= 0) {
            gone = g->versions[i];
            g->versions[i] = fresh;
        } else {
            rs_model_version **p =
                realloc(g->versions, (size_t)(g->n_versions + 1) * sizeof *g->versions);
            if (!p) {
                gone = fresh;
                snprintf(err, errlen, "out of memory while loading model '%s' version '%s'", name,
                         version);
                status = 500;
            } else {
                g->versions = p;
                g->versions[g->n_versions++] = fresh;
                qsort(g->versions, (size_t)g->n_versions, sizeof *g->versions, cmp_version);
                if (g->error && !strcmp(g->error, NO_VERSIONS)) {
                    free(g->error);
                    g->error = NULL;
                }
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    rs_model_version_release(gone); /* a copy still computing lives on through its references */
    return status;
}

int rs_registry_unload_version(rs_registry *r, const char *name, const char *version, char *err,
                               size_t errlen)
{
    pthread_mutex_lock(&r->lock);
    model_group *g = group_find(r, name);
    int i = g ? version_find(g, version) : -1;
    if (i < 0) {
        pthread_mutex_unlock(&r->lock);
        snprintf(err, errlen, "model '%s' version '%s' is not loaded", name, version);
        return 404;
    }
    rs_model_version *gone = g->versions[i];
    memmove(&g->versions[i], &g->versions[i + 1],
            (size_t)(g->n_versions - i - 1) * sizeof *g->versions);
    g->n_versions--;
    if (g->n_versions == 0 && !g->error) g->error = strdup(NO_VERSIONS);
    pthread_mutex_unlock(&r->lock);
    rs_log(RS_LOG_INFO, "unloaded model %s version %s", name, version);
    rs_model_version_release(gone); /* requests running on it finish first */
    return 0;
}
