/*
 * control — the model repository's load and unload requests, run one at a
 * time on a thread the server owns and joins.
 *
 * Loading reads and parses model files (seconds for a big model), so it can
 * run neither on a polling thread nor on the scheduler's loop. One worker
 * taking jobs in arrival order gives:
 *   - at most one load of a model at a time: a second request for it waits
 *     its turn, and reloading a big model holds at most one extra copy (the
 *     new one, built while the old keeps serving), never one per request;
 *   - a bounded wait list: past RS_CONTROL_MAX_WAITING jobs, 503;
 *   - a clean stop: once rs_control_stop has run, new jobs are refused with
 *     503 and waiting ones are answered 503 without running; the job that is
 *     running finishes (a load cannot be interrupted), and rs_control_free
 *     joins the thread, so no job outlives the registry it works on.
 *
 * With the repository poll (app->poll, --repository-poll-s) the worker also
 * runs rs_poll_tick every repository_poll_s seconds (counted from the end of
 * the previous tick) when no job waits, so polled reloads share the one-load-
 * at-a-time rule and the clean stop: once rs_control_stop has run, no tick
 * starts and a running tick stops before its next load.
 *
 * Threads: submit and stop from any thread; done() and the poll run on the
 * worker.
 */
#ifndef RS_CONTROL_H
#define RS_CONTROL_H

#include <stdbool.h>

#include "http/handlers.h"

/* Jobs that may wait behind the running one. */
#define RS_CONTROL_MAX_WAITING 16

typedef struct rs_control_job {
    struct rs_control_job *next; /* the worker's link */
    const rs_route *route;       /* RS_ROUTE_REPO_LOAD or _UNLOAD; the caller keeps it alive */
    /* Results, set before done(): */
    int status;
    rs_buf body; /* JSON; ownership passes to the caller */
    /* Called once, on the worker thread; the worker's last touch of the job. */
    void (*done)(struct rs_control_job *j);
    void *user;
} rs_control_job;

typedef struct rs_control rs_control;

/* Starts the worker; app (its registry and poll) must outlive rs_control_free.
 * Returns 0 or an errno value. */
int rs_control_start(rs_control **out, rs_app *app);

/* Queues j (route, done set) and returns 0, or refuses it at once with 503
 * and a sentence in err (stopping, or the wait list is full); a refused job
 * is not touched. */
int rs_control_submit(rs_control *c, rs_control_job *j, char *err, size_t errlen);

/* Refuses every job from now on; waiting ones are answered 503. */
void rs_control_stop(rs_control *c);

/* Stops, waits for the running job and joins the worker; NULL is ignored. */
void rs_control_free(rs_control *c);

#endif /* RS_CONTROL_H */
