/*
 * metrics — Prometheus counters and histograms (see metrics.h). Series are kept per model name in a
 * small array: a server holds a handful of models, so a linear search under one mutex is cheaper
 * than anything cleverer.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets (seconds) span 25 µs to 10 s; batch buckets are powers of two. */
static const double TIME_BOUNDS[] = {25e-6,  50e-6,  100e-6, 250e-6, 500e-6, 1e-3,
                                     2.5e-3, 5e-3,   10e-3,  25e-3,  50e-3,  100e-3,
                                     250e-3, 500e-3, 1,      2.5,    10};
#define N_TIME (sizeof TIME_BOUNDS / sizeof TIME_BOUNDS[0])
static const double ROW_BOUNDS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
#define N_ROWS (sizeof ROW_BOUNDS / sizeof ROW_BOUNDS[0])

typedef struct {
    uint64_t counts[N_TIME + 1]; /* per bucket (not cumulative); last = +Inf */
    double sum;
    uint64_t n;
} histogram;

typedef struct {
    int status;
    uint64_t n;
} status_count;

typedef struct {
    char *model; /* "" for requests without a model */
    status_count *statuses;
    int n_statuses;
    histogram latency, queue, compute, rows;
    uint64_t lean; /* requests computed on the lean path */
} series;

struct rs_metrics {
    pthread_mutex_t lock;
    series *s;
    int n, cap;
};

static void hist_add(histogram *h, const double *bounds, size_t nb, double v)
{
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

rs_metrics *rs_metrics_create(void)
{
    rs_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->lock, NULL);
    return m;
}

void rs_metrics_free(rs_metrics *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->s[i].model);
        free(m->s[i].statuses);
    }
    free(m->s);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The series of model (created on first use); NULL when out of memory. Lock held. */
static series *series_get(rs_metrics *m, const char *model)
{
    if (!model) model = "";
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].model, model)) return &m->s[i];
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 8;
        series *p = realloc(m->s, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        m->s = p;
        m->cap = cap;
    }
    series *s = &m->s[m->n];
    memset(s, 0, sizeof *s);
    if (!(s->model = strdup(model))) return NULL;
    m->n++;
    return s;
}

void rs_metrics_request(rs_metrics *m, const char *model, int status, double seconds)
{
    pthread_mutex_lock(&m->lock);
    series *s = series_get(m, model);
    if (s) {
        hist_add(&s->latency, TIME_BOUNDS, N_TIME, seconds);
        int i = 0;
        while (i < s->n_statuses && s->statuses[i].status != status)
            i++;
        if (i == s->n_statuses) {
            status_count *p = realloc(s->statuses, (size_t)(i + 1) * sizeof *p);
            if (p) {
                s->statuses = p;
                p[i] = (status_count){status, 0};
                s->n_statuses++;
            }
        }
        if (i < s->n_statuses) s->statuses[i].n++;
    }
    pthread_mutex_unlock(&m->lock);
}

void rs_metrics_queue_time(rs_metrics *m, const char *model, double seconds)
{
    pthread_mutex_lock(&m->lock);
    series *s = series_get(m, model);
    if (s) hist_add(&s->queue, TIME_BOUNDS, N_TIME, seconds);
    pthread_mutex_unlock(&m->lock);
}

void rs_metrics_batch(rs_metrics *m, const char *model, int rows, double compute_seconds)
{
    pthread_mutex_lock(&m->lock);
    series *s = series_get(m, model);
    if (s) {
        hist_add(&s->compute, TIME_BOUNDS, N_TIME, compute_seconds);
        hist_add(&s->rows, ROW_BOUNDS, N_ROWS, rows);
    }
    pthread_mutex_unlock(&m->lock);
}

void rs_metrics_lean(rs_metrics *m, const char *model, int rows, double compute_seconds)
{
    /* What rs_metrics_queue_time (0 s) and rs_metrics_batch record, under
     * one lock and one series lookup: this runs on every lean request. */
    pthread_mutex_lock(&m->lock);
    series *s = series_get(m, model);
    if (s) {
        hist_add(&s->queue, TIME_BOUNDS, N_TIME, 0.0);
        hist_add(&s->compute, TIME_BOUNDS, N_TIME, compute_seconds);
        hist_add(&s->rows, ROW_BOUNDS, N_ROWS, rows);
        s->lean++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* Label values are model and version names (validated plain names); escape anyway. */
static void put_label(rs_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            rs_buf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            rs_buf_puts(out, "\\n");
        else
            rs_buf_append(out, v, 1);
    }
}

static void put_hist(rs_buf *out, const char *name, const char *model, const histogram *h,
                     const double *bounds, size_t nb)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += h->counts[i];
        rs_buf_printf(out, "%s_bucket{model=\"", name);
        put_label(out, model);
        if (i < nb)
            rs_buf_printf(out, "\",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else
            rs_buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    rs_buf_printf(out, "%s_sum{model=\"", name);
    put_label(out, model);
    rs_buf_printf(out, "\"} %.9g\n%s_count{model=\"", h->sum, name);
    put_label(out, model);
    rs_buf_printf(out, "\"} %llu\n", (unsigned long long)h->n);
}

typedef enum { H_LATENCY, H_QUEUE, H_COMPUTE, H_ROWS } hist_kind;

static void render_hist_family(rs_metrics *m, rs_buf *out, const char *name, const char *help,
                               hist_kind k)
{
    rs_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < m->n; i++) {
        const series *s = &m->s[i];
        const histogram *h = k == H_LATENCY   ? &s->latency
                             : k == H_QUEUE   ? &s->queue
                             : k == H_COMPUTE ? &s->compute
                                              : &s->rows;
        if (h->n == 0 && k != H_LATENCY) continue;
        put_hist(out, name, s->model, h, k == H_ROWS ? ROW_BOUNDS : TIME_BOUNDS,
                 k == H_ROWS ? N_ROWS : N_TIME);
    }
}

static void render_version_gauges(rs_registry *r, rs_buf *out)
{
    rs_model_version **vs;
    int n;
    if (rs_registry_list(r, &vs, &n)) return;
    rs_buf_puts(out, "# HELP reluserve_model_ready 1 when the model version is loaded and serving\n"
                     "# TYPE reluserve_model_ready gauge\n");
    for (int i = 0; i < n; i++) {
        rs_buf_puts(out, "reluserve_model_ready{model=\"");
        put_label(out, vs[i]->name);
        rs_buf_puts(out, "\",version=\"");
        put_label(out, vs[i]->version);
        rs_buf_printf(out, "\"} %d\n", vs[i]->model ? 1 : 0);
    }
    rs_buf_puts(out, "# HELP reluserve_queue_depth Requests waiting in the model's queue\n"
                     "# TYPE reluserve_queue_depth gauge\n");
    for (int i = 0; i < n; i++) {
        if (!vs[i]->model) continue;
        rs_buf_puts(out, "reluserve_queue_depth{model=\"");
        put_label(out, vs[i]->name);
        rs_buf_puts(out, "\",version=\"");
        put_label(out, vs[i]->version);
        rs_buf_printf(out, "\"} %d\n", atomic_load(&vs[i]->queued));
    }
    rs_buf_puts(out,
                "# HELP reluserve_never_active_fraction Fraction of a hidden layer's units never "
                "active (Z finite and > 0) on any row of the monitor window\n"
                "# TYPE reluserve_never_active_fraction gauge\n");
    rs_buf mon_rows, mon_nonfinite;
    rs_buf_init(&mon_rows);
    rs_buf_init(&mon_nonfinite);
    for (int i = 0; i < n; i++) {
        if (!vs[i]->model || !vs[i]->monitor) continue;
        mlp_activity a;
        if (mlp_activity_init(vs[i]->model, &a, NULL) != MLP_OK) continue;
        rs_monitor_snapshot(vs[i]->monitor, &a);
        for (int l = 0; l < a.n_layers; l++) {
            rs_buf_puts(out, "reluserve_never_active_fraction{model=\"");
            put_label(out, vs[i]->name);
            rs_buf_puts(out, "\",version=\"");
            put_label(out, vs[i]->version);
            rs_buf_printf(out, "\",layer=\"%d\"} ", l);
            rs_buf_float(out, mlp_activity_never_active_fraction(&a, l));
            rs_buf_puts(out, "\n");
            rs_buf_puts(&mon_nonfinite, "reluserve_nonfinite_fraction{model=\"");
            put_label(&mon_nonfinite, vs[i]->name);
            rs_buf_puts(&mon_nonfinite, "\",version=\"");
            put_label(&mon_nonfinite, vs[i]->version);
            rs_buf_printf(&mon_nonfinite, "\",layer=\"%d\"} ", l);
            rs_buf_float(&mon_nonfinite, mlp_activity_nonfinite_fraction(&a, l));
            rs_buf_puts(&mon_nonfinite, "\n");
        }
        rs_buf_puts(&mon_rows, "reluserve_monitor_rows{model=\"");
        put_label(&mon_rows, vs[i]->name);
        rs_buf_puts(&mon_rows, "\",version=\"");
        put_label(&mon_rows, vs[i]->version);
        rs_buf_printf(&mon_rows, "\"} %llu\n", (unsigned long long)a.rows);
        mlp_activity_free(&a);
    }
    rs_buf_puts(out, "# HELP reluserve_monitor_rows Rows counted in the monitor window\n"
                     "# TYPE reluserve_monitor_rows gauge\n");
    if (mon_rows.len) rs_buf_append(out, mon_rows.data, mon_rows.len);
    rs_buf_free(&mon_rows);
    rs_buf_puts(out, "# HELP reluserve_nonfinite_fraction Fraction of a hidden layer's units whose "
                     "pre-activation was NaN or infinite on some row of the monitor window (not "
                     "counted as never active)\n"
                     "# TYPE reluserve_nonfinite_fraction gauge\n");
    if (mon_nonfinite.len) rs_buf_append(out, mon_nonfinite.data, mon_nonfinite.len);
    if (mon_nonfinite.failed) out->failed = true;
    rs_buf_free(&mon_nonfinite);
    for (int i = 0; i < n; i++)
        rs_model_version_release(vs[i]);
    free(vs);
}

void rs_metrics_render(rs_metrics *m, rs_registry *r, int batches_in_flight, rs_buf *out)
{
    pthread_mutex_lock(&m->lock);
    rs_buf_puts(out, "# HELP reluserve_requests_total HTTP requests answered, by model and status\n"
                     "# TYPE reluserve_requests_total counter\n");
    for (int i = 0; i < m->n; i++)
        for (int j = 0; j < m->s[i].n_statuses; j++) {
            rs_buf_puts(out, "reluserve_requests_total{model=\"");
            put_label(out, m->s[i].model);
            rs_buf_printf(out, "\",status=\"%d\"} %llu\n", m->s[i].statuses[j].status,
                          (unsigned long long)m->s[i].statuses[j].n);
        }
    render_hist_family(m, out, "reluserve_request_duration_seconds",
                       "Time from a request's first byte to its response", H_LATENCY);
    render_hist_family(m, out, "reluserve_queue_duration_seconds",
                       "Time a request waited in its model's queue", H_QUEUE);
    render_hist_family(m, out, "reluserve_compute_duration_seconds",
                       "Time one batch computed (on a pool thread; a lean request on its HTTP "
                       "thread)",
                       H_COMPUTE);
    render_hist_family(m, out, "reluserve_batch_rows",
                       "Rows per batch computed (a lean request is a batch of its own)", H_ROWS);
    /* Every model that computed has the line, 0 with the lean path off: the
     * exposition has the same series whichever path its requests took. */
    rs_buf_puts(out, "# HELP reluserve_lean_requests_total Inference requests computed on an HTTP "
                     "thread as batches of one, skipping the queue (--lean-max-flops)\n"
                     "# TYPE reluserve_lean_requests_total counter\n");
    for (int i = 0; i < m->n; i++) {
        if (m->s[i].rows.n == 0 && m->s[i].lean == 0) continue;
        rs_buf_puts(out, "reluserve_lean_requests_total{model=\"");
        put_label(out, m->s[i].model);
        rs_buf_printf(out, "\"} %llu\n", (unsigned long long)m->s[i].lean);
    }
    pthread_mutex_unlock(&m->lock);
    rs_buf_printf(out,
                  "# HELP reluserve_batches_in_flight Batches computing on the pool now\n"
                  "# TYPE reluserve_batches_in_flight gauge\nreluserve_batches_in_flight %d\n",
                  batches_in_flight);
    render_version_gauges(r, out);
}
