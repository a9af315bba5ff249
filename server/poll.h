/*
 * poll — the repository poll (--repository-poll-s): new, changed and removed
 * model and version folders on disk are brought into the registry without a
 * restart, the way Triton's POLL model control mode does it:
 *   - a new model folder or version folder is loaded;
 *   - a changed version folder (any file in it) is reloaded; a changed
 *     DIR/<name>/config.json reloads every version of the model;
 *   - a version folder or model folder removed from disk is unloaded;
 *   - a reload that fails (half-written or corrupt files) leaves the copy
 *     loaded before serving, and the repository index and the log say why.
 * Requests running on a version finish on it whatever a reload does (the
 * registry reference-counts versions).
 *
 * Detecting a change costs stat() calls only: each version folder has a
 * signature over the name, size, mtime (ns), inode and type of every entry in
 * it; the model has one over its config.json. A folder is acted on only when
 * its signature differs from what was last applied AND equals what the
 * previous poll saw: files still being written (a signature that moved since
 * the last poll) wait for the next poll. The load then validates the whole
 * model before it replaces anything (registry.h).
 *
 * Threads: rs_poll_create before the registry is opened (its first scan is
 * the baseline, so that a change while the models load is not missed);
 * rs_poll_tick only on the control worker (control.h), which runs loads one
 * at a time and stops them at shutdown.
 */
#ifndef RS_POLL_H
#define RS_POLL_H

#include <stdbool.h>

#include "registry.h"

typedef struct rs_poll rs_poll;

/* Scans dir for the baseline. NULL when out of memory. */
rs_poll *rs_poll_create(const char *dir);
void rs_poll_free(rs_poll *p);

/*
 * One poll: scans the repository and applies the changes that are stable.
 * stop(arg) is asked before each load or unload; once it answers true the
 * rest waits (for a next start). Returns how many loads and unloads ran.
 */
int rs_poll_tick(rs_poll *p, rs_registry *r, bool (*stop)(void *arg), void *arg);

#endif /* RS_POLL_H */
