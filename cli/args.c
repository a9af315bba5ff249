/*
 * args — option and number parsing for the offline subcommands.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool rs_arg_match(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    if (a[0] != '-' || a[1] != '-') return false;
    size_t len = strlen(name);
    if (strncmp(a + 2, name, len) != 0) return false;
    if (a[2 + len] == '=') {
        *value = a + 3 + len;
        return true;
    }
    if (a[2 + len] != '\0') return false;
    if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        *value = NULL;
    }
    return true;
}

bool rs_arg_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool rs_arg_float(const char *s, float *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v) || fabs(v) > 3.0e38) return false;
    *out = (float)v;
    return true;
}

bool rs_arg_choice(const char *s, const char *no, const char *yes, bool *out)
{
    if (!s || (strcmp(s, no) != 0 && strcmp(s, yes) != 0)) return false;
    *out = strcmp(s, yes) == 0;
    return true;
}
