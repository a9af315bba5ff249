/*
 * web_assets — the playground's static files, embedded into the binary at
 * build time by scripts/embed-web (web/X is served at /X). The table and its
 * length are defined in the generated $(BUILD)/gen/web_assets.c; everything
 * is static read-only data that lives as long as the process.
 */
#ifndef RS_WEB_ASSETS_H
#define RS_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;         /* URL path, e.g. "/index.html" */
    const char *content_type; /* e.g. "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t len;
} rs_web_asset;

extern const rs_web_asset rs_web_assets[];
extern const size_t rs_web_assets_count;

#endif /* RS_WEB_ASSETS_H */
