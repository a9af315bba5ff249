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
    if (i + 1 != n) return false;
    if (seg_is(&s[i], "ready"))
        r->kind = RS_ROUTE_MODEL_READY;
    else if (seg_is(&s[i], "infer"))
        r->kind = RS_ROUTE_INFER;
    else if (seg_is(&s[i], "diagnostics"))
        r->kind = RS_ROUTE_MODEL_DIAG;
    else if (seg_is(&s[i], "stats"))
        r->kind = RS_ROUTE_MODEL_STATS;
    else if (seg_is(&s[i], "config"))
        r->kind = RS_ROUTE_MODEL_CONFIG;
    else
        return false;
    return true;
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
    if ((r->asset = asset_find(path))) {
        r->kind = RS_ROUTE_ASSET;
        return true;
    }
    if (!split(path, s, &n) || n == 0) return false;
    bool ok = false;
    if (n == 1 && seg_is(&s[0], "metrics")) {
        r->kind = RS_ROUTE_METRICS;
        ok = true;
    } else if (seg_is(&s[0], "v2")) {
        if (n == 1) {
            r->kind = RS_ROUTE_SERVER_META;
            ok = true;
        } else if (n == 3 && seg_is(&s[1], "health")) {
            ok = true;
            if (seg_is(&s[2], "live"))
                r->kind = RS_ROUTE_LIVE;
            else if (seg_is(&s[2], "ready"))
                r->kind = RS_ROUTE_READY;
            else
                ok = false;
        } else if (seg_is(&s[1], "models")) {
            ok = parse_v2_model(s, n, r);
        } else if (seg_is(&s[1], "repository")) {
            if (n == 3 && seg_is(&s[2], "index")) {
                r->kind = RS_ROUTE_REPO_INDEX;
                ok = true;
            } else if (n == 5 && seg_is(&s[2], "models") && seg_copy(&s[3], r->model)) {
                ok = true;
                if (seg_is(&s[4], "load"))
                    r->kind = RS_ROUTE_REPO_LOAD;
                else if (seg_is(&s[4], "unload"))
                    r->kind = RS_ROUTE_REPO_UNLOAD;
                else
                    ok = false;
            }
        }
    } else if (seg_is(&s[0], "v1") && n >= 3 && seg_is(&s[1], "models")) {
        ok = parse_v1_model(s, n, r);
    }
    if (!ok) memset(r, 0, sizeof *r);
    return ok;
}

bool rs_route_is_post(rs_route_kind k)
{
    return k == RS_ROUTE_INFER || k == RS_ROUTE_PREDICT || k == RS_ROUTE_REPO_INDEX ||
           k == RS_ROUTE_REPO_LOAD || k == RS_ROUTE_REPO_UNLOAD;
}
