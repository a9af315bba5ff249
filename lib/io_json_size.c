/*
 * io_json_size — what a native JSON model's size may be, checked before
 * jansson builds the document's tree (which takes tens of bytes per number:
 * a multi-gigabyte file of numbers would take tens of gigabytes).
 *
 * One pass over the bytes, building nothing, reads the shapes the file
 * declares: input.size and each layer's units. They bound the text:
 *   - at least 2 bytes per parameter (a digit and a separator), so a file
 *     too small for the layers it declares (a 65536 x 65536 layer in 100
 *     bytes) is refused at once;
 *   - at most JSON_BYTES_PER_NUMBER per number (parameters, input.mean and
 *     input.std), JSON_BYTES_PER_LABEL per output label, plus JSON_SLACK for
 *     names and layout, so a huge file is refused when the layers it declares
 *     cannot justify it. Shapes the pass cannot read (missing, not integers,
 *     invalid JSON) justify nothing: such a file gets JSON_SLACK, enough for
 *     the parser proper to report what is wrong.
 * The parser (io_json.c) then checks every shape exactly.
 */
#include <stdio.h>
#include <string.h>

#include "io_internal.h"

/* Room for the widest number any sane writer prints ("-1.2345678901234567e-308"
 * is 24) with its separator and the indentation of a pretty-printer that puts
 * every number on a line of its own. */
#define JSON_BYTES_PER_NUMBER 64
#define JSON_BYTES_PER_LABEL  1024
#define JSON_SLACK            ((size_t)1 << 20)
#define JSON_SCAN_MAX_DEPTH   64 /* a model nests 4 deep */

/* A cursor over the text; `bad` stops every later step. */
typedef struct {
    const char *p, *end;
    bool bad;
} scan;

/* What the pass found: -1 where a size was absent or not an integer >= 1. */
typedef struct {
    long long input_size;
    int n_layers; /* -1: no readable "layers" array */
    long long units[MLP_MAX_LAYERS];
} shapes;

static void ws(scan *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static bool eat(scan *c, char ch)
{
    ws(c);
    if (c->bad || c->p == c->end || *c->p != ch) return false;
    c->p++;
    return true;
}

static int hex_digit(char h)
{
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

/* A string at the cursor; its ASCII text (escapes decoded) goes into key when
 * it fits in cap - 1 bytes, otherwise key is left empty. */
static void string(scan *c, char *key, size_t cap)
{
    size_t n = 0;
    bool fits = true;
    if (!eat(c, '"')) {
        c->bad = true;
        return;
    }
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\') {
            /* Only ASCII keys matter here; any escape but \uXXXX below 0x80
             * and the quote, backslash and slash makes a key no name. */
            if (c->p == c->end) break;
            char e = *c->p++;
            fits &= e == 'u' || e == '"' || e == '\\' || e == '/';
            ch = e;
            if (e == 'u') {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int d = c->p < c->end ? hex_digit(*c->p++) : -1;
                    if (d < 0) {
                        c->bad = true;
                        return;
                    }
                    v = v << 4 | d;
                }
                ch = (char)v;
                fits &= v > 0 && v < 0x80;
            }
        }
        if (fits && n + 1 < cap)
            key[n++] = ch;
        else
            fits = false;
    }
    if (!eat(c, '"')) c->bad = true;
    if (cap) key[fits ? n : 0] = '\0';
}

/* A number at the cursor: *out is its value when it is an integer in
 * [1, 2^31) written without fraction or exponent, else -1. */
static void number(scan *c, long long *out)
{
    ws(c);
    const char *s = c->p;
    long long v = 0;
    bool integer = c->p < c->end && *c->p != '-';
    if (c->p < c->end && *c->p == '-') c->p++;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (v < ((long long)1 << 31)) v = v * 10 + (*c->p - '0');
        c->p++;
    }
    while (c->p < c->end && strchr("0123456789.eE+-", *c->p)) {
        integer = false;
        c->p++;
    }
    if (c->p == s) c->bad = true;
    *out = integer && v >= 1 && v < ((long long)1 << 31) ? v : -1;
}

static void value(scan *c, int depth);

/* An object: calls member(key) for each member (which reads its value). */
static void object(scan *c, int depth, void (*member)(scan *, const char *, int, void *), void *ctx)
{
    if (!eat(c, '{') || depth > JSON_SCAN_MAX_DEPTH) {
        c->bad = true;
        return;
    }
    if (eat(c, '}')) return;
    do {
        char key[16];
        string(c, key, sizeof key);
        if (!eat(c, ':')) c->bad = true;
        if (c->bad) return;
        if (member)
            member(c, key, depth, ctx);
        else
            value(c, depth + 1);
    } while (!c->bad && eat(c, ','));
    if (!eat(c, '}')) c->bad = true;
}

/* Skips one value of any kind. */
static void value(scan *c, int depth)
{
    ws(c);
    if (c->bad || c->p == c->end || depth > JSON_SCAN_MAX_DEPTH) {
        c->bad = true;
        return;
    }
    char ch = *c->p;
    long long ignored;
    if (ch == '{') {
        object(c, depth, NULL, NULL);
    } else if (ch == '[') {
        c->p++;
        if (eat(c, ']')) return;
        do
            value(c, depth + 1);
        while (!c->bad && eat(c, ','));
        if (!eat(c, ']')) c->bad = true;
    } else if (ch == '"') {
        string(c, NULL, 0);
    } else if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *lit = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) c->bad = true;
        c->p += c->bad ? 0 : n;
    } else {
        number(c, &ignored);
    }
}

/* The value at the cursor: an integer size into *out when it is a number,
 * otherwise skipped (leaving *out -1). */
static void size_value(scan *c, int depth, long long *out)
{
    ws(c);
    if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
        number(c, out);
    else
        value(c, depth + 1);
}

static void input_member(scan *c, const char *key, int depth, void *ctx)
{
    if (strcmp(key, "size") == 0)
        size_value(c, depth, &((shapes *)ctx)->input_size);
    else
        value(c, depth + 1);
}

static void layer_member(scan *c, const char *key, int depth, void *ctx)
{
    if (strcmp(key, "units") == 0)
        size_value(c, depth, ctx);
    else
        value(c, depth + 1);
}

static void layers(scan *c, int depth, shapes *sh)
{
    if (!eat(c, '[')) {
        value(c, depth);
        return;
    }
    sh->n_layers = 0;
    if (eat(c, ']')) return;
    do {
        long long u = -1;
        ws(c);
        if (c->p < c->end && *c->p == '{')
            object(c, depth + 1, layer_member, &u);
        else
            value(c, depth + 1);
        if (sh->n_layers < MLP_MAX_LAYERS) sh->units[sh->n_layers] = u;
        if (sh->n_layers <= MLP_MAX_LAYERS) sh->n_layers++;
    } while (!c->bad && eat(c, ','));
    if (!eat(c, ']')) c->bad = true;
}

static void root_member(scan *c, const char *key, int depth, void *ctx)
{
    shapes *sh = ctx;
    ws(c);
    bool is_object = c->p < c->end && *c->p == '{';
    if (strcmp(key, "input") == 0 && is_object)
        object(c, depth + 1, input_member, sh);
    else if (strcmp(key, "layers") == 0)
        layers(c, depth + 1, sh);
    else
        value(c, depth + 1);
}

/* Parameters the shapes declare (each layer units x (in + 1), counted only
 * where both are known), and whether every shape was known. */
static unsigned long long declared_params(const shapes *sh, bool *complete)
{
    unsigned long long total = 0;
    *complete = sh->input_size > 0 && sh->n_layers >= 1 && sh->n_layers <= MLP_MAX_LAYERS;
    long long in = sh->input_size;
    for (int l = 0; l < sh->n_layers && l < MLP_MAX_LAYERS; l++) {
        long long units = sh->units[l];
        if (units > 0 && in > 0) total += (unsigned long long)units * (unsigned long long)(in + 1);
        *complete &= units > 0;
        in = units;
    }
    return total;
}

mlp_status mlp_io_json_size_check(const char *text, size_t len, const char *origin, mlp_error *err)
{
    if (!text) return MLP_OK; /* the loader reports it */
    shapes sh = {.input_size = -1, .n_layers = -1};
    scan c = {text, text + len, false};
    object(&c, 0, root_member, &sh);
    bool complete;
    unsigned long long params = declared_params(&sh, &complete);
    if (c.bad) complete = false;
    /* Sizes beyond the limits are the parser's to report, as limits; they
     * justify no bytes. */
    bool in_limits =
        sh.input_size <= MLP_MAX_UNITS && sh.n_layers <= MLP_MAX_LAYERS && params <= MLP_MAX_PARAMS;
    for (int l = 0; l < sh.n_layers && l < MLP_MAX_LAYERS; l++)
        in_limits &= sh.units[l] <= MLP_MAX_UNITS;
    if (!in_limits) params = 0, complete = false;
    if (complete && params > len / 2)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the file is %zu bytes, too small for the %llu parameters its layers "
                           "declare (each needs at least 2 bytes)",
                           len, params);
    /* Within the limits, no term comes near 2^64. */
    unsigned long long in = in_limits && sh.input_size > 0 ? (unsigned long long)sh.input_size : 0;
    unsigned long long outputs = complete ? (unsigned long long)sh.units[sh.n_layers - 1] : 0;
    unsigned long long most =
        JSON_SLACK + JSON_BYTES_PER_NUMBER * (params + 2 * in) + JSON_BYTES_PER_LABEL * outputs;
    if (len > most)
        return mlp_io_fail(err, origin, MLP_ERR_FORMAT,
                           "the file is %zu bytes, more than the shapes it declares can need "
                           "(%llu parameters%s: at most %llu bytes); refused before parsing",
                           len, params, complete ? "" : ", some sizes unreadable", most);
    return MLP_OK;
}
