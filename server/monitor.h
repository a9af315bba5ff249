/*
 * monitor — the production dying-ReLU detector of one model version: per-unit
 * activity counts over a sliding window of live traffic. A unit dead on one
 * batch is not dead; one that stayed silent (Z <= 0) on every row served for
 * the whole window is.
 *
 * The window is kept as RS_MONITOR_BUCKETS time buckets of window/BUCKETS
 * seconds each; a report merges the buckets still inside the window, so it
 * covers between (BUCKETS-1)/BUCKETS and all of the window's seconds.
 *
 * Threads: borrow/give_back run on the scheduler's loop thread only; a job
 * counts into its borrowed mlp_activity on a pool thread without locks, and
 * give_back merges it under the monitor's mutex. count (the lean path, on
 * HTTP threads) adds straight into the current bucket under the same
 * mutex — one per version, held for O(hidden units x rows) of small work,
 * and it borrows nothing, so the loop-only spare list needs no lock; snapshot
 * may run anywhere.
 */
#ifndef RS_MONITOR_H
#define RS_MONITOR_H

#include <stdint.h>

#include "mlp.h"

#define RS_MONITOR_BUCKETS 4

typedef struct rs_monitor rs_monitor;

/* m must outlive the monitor. Returns NULL when out of memory. */
rs_monitor *rs_monitor_create(const mlp_model *m, int window_s);
void rs_monitor_free(rs_monitor *mon);
int rs_monitor_window_s(const rs_monitor *mon);

/* A zeroed activity for one batch job (owned by the monitor; hand it back
 * with give_back). NULL when out of memory: the job then counts nothing. */
mlp_activity *rs_monitor_borrow(rs_monitor *mon);
/* Adds a's counts to the current bucket and recycles a. */
void rs_monitor_give_back(rs_monitor *mon, mlp_activity *a);

/* Any thread: adds the activity of the first `rows` rows of ws's last
 * forward pass, which ran this monitor's model, to the current bucket. */
void rs_monitor_count(rs_monitor *mon, const mlp_workspace *ws, int rows);

/* Counts of the live window into out, which the caller initialised with
 * mlp_activity_init for the same model (it is reset first). */
void rs_monitor_snapshot(rs_monitor *mon, mlp_activity *out);

#endif /* RS_MONITOR_H */
