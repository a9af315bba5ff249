/*
 * router — maps a request path to one of the server's endpoints (a static
 * table of shapes; no allocation). Pure, so it is unit-tested directly.
 */
#ifndef RS_ROUTER_H
#define RS_ROUTER_H

#include <stdbool.h>

#include "web_assets.h"

typedef enum {
    RS_ROUTE_NONE = 0,
    RS_ROUTE_ASSET,        /* GET /, GET /<playground file> */
    RS_ROUTE_LIVE,         /* GET /v2/health/live */
    RS_ROUTE_READY,        /* GET /v2/health/ready */
    RS_ROUTE_SERVER_META,  /* GET /v2 */
    RS_ROUTE_MODEL_META,   /* GET /v2/models/{m}[/versions/{v}] */
    RS_ROUTE_MODEL_READY,  /* GET .../ready */
    RS_ROUTE_MODEL_DIAG,   /* GET .../diagnostics */
    RS_ROUTE_MODEL_STATS,  /* GET /v2/models[/{m}[/versions/{v}]]/stats */
    RS_ROUTE_MODEL_CONFIG, /* GET .../config */
    RS_ROUTE_INFER,        /* POST .../infer */
    RS_ROUTE_PREDICT,      /* POST /v1/models/{m}[/versions/{v}]:predict */
    RS_ROUTE_STATUS_V1,    /* GET /v1/models/{m}[/versions/{v}] */
    RS_ROUTE_REPO_INDEX,   /* POST /v2/repository/index */
    RS_ROUTE_REPO_LOAD,    /* POST /v2/repository/models/{m}/load */
    RS_ROUTE_REPO_UNLOAD,  /* POST /v2/repository/models/{m}/unload */
    RS_ROUTE_METRICS,      /* GET /metrics */
} rs_route_kind;

#define RS_NAME_MAX 256

typedef struct {
    rs_route_kind kind;
    char model[RS_NAME_MAX];   /* "" when the route names none */
    char version[RS_NAME_MAX]; /* "" = newest */
    const rs_web_asset *asset; /* RS_ROUTE_ASSET */
} rs_route;

/* Fills r for path (query string already removed). Returns true when the
 * path is one of ours; false (r->kind NONE) otherwise. */
bool rs_route_parse(const char *path, rs_route *r);

/* Whether the route is answered to POST (else to GET/HEAD). */
bool rs_route_is_post(rs_route_kind k);

#endif /* RS_ROUTER_H */
