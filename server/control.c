/*
 * control — load/unload requests and the repository poll, one at a time on a
 * worker the server joins.
 */
#include "control.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "poll.h"

#define STOPPING_MSG "the server is shutting down and refuses model control requests"

struct rs_control {
    rs_app *app;
    pthread_t thread;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    rs_control_job *head, *tail;
    int waiting;
    bool stopping;
    struct timespec next_poll; /* CLOCK_MONOTONIC; only with app->poll */
};

static void poll_schedule(rs_control *c)
{
    clock_gettime(CLOCK_MONOTONIC, &c->next_poll);
    c->next_poll.tv_sec += c->app->cfg->repository_poll_s;
}

static bool poll_due(const rs_control *c)
{
    if (!c->app->poll) return false;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > c->next_poll.tv_sec ||
           (now.tv_sec == c->next_poll.tv_sec && now.tv_nsec >= c->next_poll.tv_nsec);
}

/* The poll asks before each load: shutdown stops a tick between loads. */
static bool poll_stop(void *arg)
{
    rs_control *c = arg;
    pthread_mutex_lock(&c->lock);
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->lock);
    return stopping;
}

static void job_answer(rs_control_job *j, int status, const char *msg)
{
    rs_buf_init(&j->body);
    rs_encode_error(&j->body, msg);
    j->status = status;
    j->done(j);
}

static void *worker(void *arg)
{
    rs_control *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->head && !c->stopping && !poll_due(c)) {
            if (c->app->poll)
                pthread_cond_timedwait(&c->wake, &c->lock, &c->next_poll);
            else
                pthread_cond_wait(&c->wake, &c->lock);
        }
        if (!c->head && !c->stopping) { /* the poll is due; jobs go first */
            pthread_mutex_unlock(&c->lock);
            rs_poll_tick(c->app->poll, c->app->reg, poll_stop, c);
            pthread_mutex_lock(&c->lock);
            poll_schedule(c); /* the period counts from the end of a tick */
            continue;
        }
        rs_control_job *j = c->head;
        if (!j) break; /* stopping, nothing left */
        c->head = j->next;
        if (!c->head) c->tail = NULL;
        c->waiting--;
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        j->next = NULL;
        if (stopping) {
            job_answer(j, 503, STOPPING_MSG);
        } else {
            rs_buf_init(&j->body);
            j->status = rs_handle_repo_control(c->app, j->route, &j->body);
            j->done(j);
        }
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int rs_control_start(rs_control **out, rs_app *app)
{
    rs_control *c = calloc(1, sizeof *c);
    if (!c) return ENOMEM;
    c->app = app;
    pthread_mutex_init(&c->lock, NULL);
    /* A monotonic clock for the poll's timed wait: a clock step cannot stall it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (app->poll) poll_schedule(c);
    int rc = pthread_create(&c->thread, NULL, worker, c);
    if (rc) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int rs_control_submit(rs_control *c, rs_control_job *j, char *err, size_t errlen)
{
    pthread_mutex_lock(&c->lock);
    int status = 0;
    if (c->stopping) {
        snprintf(err, errlen, "%s", STOPPING_MSG);
        status = 503;
    } else if (c->waiting >= RS_CONTROL_MAX_WAITING) {
        snprintf(err, errlen,
                 "%d model control requests are waiting already (they run one at a time); "
                 "retry shortly",
                 c->waiting);
        status = 503;
    } else {
        j->next = NULL;
        if (c->tail)
            c->tail->next = j;
        else
            c->head = j;
        c->tail = j;
        c->waiting++;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->lock);
    return status;
}

void rs_control_stop(rs_control *c)
{
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void rs_control_free(rs_control *c)
{
    if (!c) return;
    rs_control_stop(c);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
