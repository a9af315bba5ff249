/*
 * router — method + path to a route kind (see router.h). Paths are split into at most 8 segments;
 * every shape of the API is then a comparison of a few segments.
 */
#include "router.h"

#include <string.h>

#define MAX_SEGS 8

typedef struct {
    const char *p;
    size_t len;
} seg;

static bool seg_is(const seg *s, const char *lit)
{
    return s->len == strlen(lit) && !memcmp(s->p, lit, s->len);
}

static bool seg_copy(const seg *s, char *out)
{
    if (s->len == 0 || s->len >= RS_NAME_MAX) return false;
    memcpy(out, s->p, s->len);
    out[s->len] = 0;
    return true;
}

/* Splits "/a/b/c" into segments; false for more than MAX_SEGS or empty ones
 * (except one trailing slash, which is ignored). */
static bool split(const char *path, seg *segs, int *n)
{
    *n = 0;
    if (*path != '/') return false;
    const char *p = path + 1;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return e && e[1] == 0 ? true : false;
        if (*n == MAX_SEGS) return false;
        segs[*n].p = p;
        segs[*n].len = len;
        (*n)++;
        if (!e) break;
        p = e + 1;
    }
    return true;
}

/* A word that ends a route, and the route it makes. */
typedef struct {
    const char *word;
    rs_route_kind kind;
} ending;

/* Sets r->kind to the route of the ending s is among the n endings e;
 * false when it is none of them. */
static bool seg_ending(const seg *s, const ending *e, size_t n, rs_route *r)
{
    for (size_t i = 0; i < n; i++)
        if (seg_is(s, e[i].word)) {
            r->kind = e[i].kind;
            return true;
        }
    return false;
}

#define ENDINGS(s, e, r) seg_ending(s, e, sizeof(e) / sizeof((e)[0]), r)

static const rs_web_asset *asset_find(const char *path)
{
    if (!strcmp(path, "/")) path = "/index.html";
    for (size_t i = 0; i < rs_web_assets_count; i++)
        if (rs_web_assets[i].path && !strcmp(rs_web_assets[i].path, path)) return &rs_web_assets[i];
    return NULL;
}

/* /v2/models/{m}[/versions/{v}][/tail] starting at segs[2], and /v2/models/stats. */
static bool parse_v2_model(const seg *s, int n, rs_route *r)
{
    /* Statistics of every model: Triton's path, so a model named "stats" has
     * no metadata route of its own (its other routes work). */
    if (n == 3 && seg_is(&s[2], "stats")) {
        r->kind = RS_ROUTE_MODEL_STATS;
        return true;
    }
    if (n < 3 || !seg_copy(&s[2], r->model)) return false;
    int i = 3;
    if (n >= 5 && seg_is(&s[3], "versions")) {
        if (!seg_copy(&s[4], r->version)) return false;
        i = 5;
    }
    if (i == n) {
        r->kind = RS_ROUTE_MODEL_META;
        return true;
    }
    static const ending tails[] = {
        {"ready", RS_ROUTE_MODEL_READY},      {"infer", RS_ROUTE_INFER},
        {"diagnostics", RS_ROUTE_MODEL_DIAG}, {"stats", RS_ROUTE_MODEL_STATS},
        {"config", RS_ROUTE_MODEL_CONFIG},
    };
    return i + 1 == n && ENDINGS(&s[i], tails, r);
}

/* /v1/models/{m}[/versions/{v}][:predict] */
static bool parse_v1_model(const seg *s, int n, rs_route *r)
{
    if (n != 3 && n != 5) return false;
    seg last = s[n - 1];
    bool predict = false;
    static const char suffix[] = ":predict";
    size_t sl = sizeof suffix - 1;
    if (last.len > sl && !memcmp(last.p + last.len - sl, suffix, sl)) {
        predict = true;
        last.len -= sl;
    }
    if (memchr(last.p, ':', last.len)) return false; /* ":predict" alone, or another verb */
    if (n == 3) {
        if (!seg_copy(&last, r->model)) return false;
    } else {
        if (!seg_copy(&s[2], r->model) || !seg_is(&s[3], "versions") ||
            !seg_copy(&last, r->version))
            return false;
    }
    r->kind = predict ? RS_ROUTE_PREDICT : RS_ROUTE_STATUS_V1;
    return true;
}

bool rs_route_parse(const char *path, rs_route *r)
{
    memset(r, 0, sizeof *r);
    seg s[MAX_SEGS];
    int n;
    bool ok = false;
    if (!split(path, s, &n) || n == 0) goto asset;
    if (n == 1 && seg_is(&s[0], "metrics")) {
        r->kind = RS_ROUTE_METRICS;
        ok = true;
    } else if (seg_is(&s[0], "v2")) {
        if (n == 1) {
            r->kind = RS_ROUTE_SERVER_META;
            ok = true;
        } else if (n == 3 && seg_is(&s[1], "health")) {
            static const ending health[] = {{"live", RS_ROUTE_LIVE}, {"ready", RS_ROUTE_READY}};
            ok = ENDINGS(&s[2], health, r);
        } else if (seg_is(&s[1], "models")) {
            ok = parse_v2_model(s, n, r);
        } else if (seg_is(&s[1], "repository")) {
            if (n == 3 && seg_is(&s[2], "index")) {
                r->kind = RS_ROUTE_REPO_INDEX;
                ok = true;
            } else if (n == 5 && seg_is(&s[2], "models") && seg_copy(&s[3], r->model)) {
                static const ending control[] = {{"load", RS_ROUTE_REPO_LOAD},
                                                 {"unload", RS_ROUTE_REPO_UNLOAD}};
                ok = ENDINGS(&s[4], control, r);
            }
        }
    } else if (seg_is(&s[0], "v1") && n >= 3 && seg_is(&s[1], "models")) {
        ok = parse_v1_model(s, n, r);
    }
    if (ok) return true;
    memset(r, 0, sizeof *r);
asset:
    /* The playground's files last: no API path is one of them (they are
     * single names, none "metrics" or "v2"), and API requests, the hot ones,
     * then skip the string compares. */
    if ((r->asset = asset_find(path))) r->kind = RS_ROUTE_ASSET;
    return r->asset != NULL;
}

bool rs_route_is_post(rs_route_kind k)
{
    return k == RS_ROUTE_INFER || k == RS_ROUTE_PREDICT || k == RS_ROUTE_REPO_INDEX ||
           k == RS_ROUTE_REPO_LOAD || k == RS_ROUTE_REPO_UNLOAD;
}
