/*
 * bench_timer — the timing discipline every C benchmark here shares.
 *
 * A measurement is the median over `samples` of the mean time per call of a
 * sample, where each sample runs the function enough times to last about
 * `sample_us` (so the clock's resolution and the loop overhead vanish even for
 * sub-microsecond calls). Before sampling, the function runs for a warm-up of
 * about one sample, which also calibrates the calls per sample. The median
 * rather than the mean: a descheduled sample on a shared 2-core machine must
 * not move the result. Functions compared with each other are sampled
 * interleaved (bench_run), so load from elsewhere hits them alike. A case's
 * median is NAN only if bench_run could not allocate its sample table.
 */
#ifndef BENCH_TIMER_H
#define BENCH_TIMER_H

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*bench_fn)(void *ctx);

/* How many samples of about how long each, as the command line asks:
 * --quick (scripts/run-bench --quick) takes 7 of ~0.3 ms, a full run 31 of ~1 ms. */
typedef struct {
    int samples;
    double sample_us;
} bench_sampling;

static inline bench_sampling bench_sampling_from_args(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    return quick ? (bench_sampling){7, 300.0} : (bench_sampling){31, 1000.0};
}

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define BENCH_MAX_SAMPLES 64

/* One function under test: set fn and ctx; bench_run fills the rest. */
typedef struct {
    bench_fn fn;
    void *ctx;
    long reps;        /* calls per sample, from the calibration */
    double median_us; /* median over samples of the mean time per call */
} bench_case;

/* Warm-up and calibration: one call untimed, then double the calls until
 * they last a sample. The untimed call takes what a first call does once
 * (the native forward packs the model's weights then): timed, a first call
 * slower than a sample would set one call per sample, each run cold right
 * after the other cases' samples. */
static inline long bench_calibrate(bench_fn fn, void *ctx, double sample_us)
{
    long reps = 1;
    double t;
    fn(ctx);
    for (;;) {
        double t0 = bench_now_us();
        for (long r = 0; r < reps; r++)
            fn(ctx);
        t = bench_now_us() - t0;
        if (t >= sample_us || reps >= (1L << 30)) break;
        reps *= 2;
    }
    reps = (long)((double)reps * sample_us / (t > 0.0 ? t : 1.0));
    return reps < 1 ? 1 : reps;
}

/*
 * Times n cases interleaved: sample s of every case runs before sample s + 1
 * of any, so a burst of load from elsewhere on the machine hits all of them
 * alike and their ratios stay meaningful.
 */
static inline void bench_run(bench_case *cases, int n, int samples, double sample_us)
{
    if (samples < 1) samples = 1;
    if (samples > BENCH_MAX_SAMPLES) samples = BENCH_MAX_SAMPLES;
    for (int c = 0; c < n; c++)
        cases[c].reps = bench_calibrate(cases[c].fn, cases[c].ctx, sample_us);
    double *per_call = malloc(sizeof(double) * (size_t)n * (size_t)samples);
    if (!per_call) {
        for (int c = 0; c < n; c++)
            cases[c].median_us = NAN;
        return;
    }
    for (int s = 0; s < samples; s++) {
        for (int c = 0; c < n; c++) {
            double t0 = bench_now_us();
            for (long r = 0; r < cases[c].reps; r++)
                cases[c].fn(cases[c].ctx);
            per_call[(size_t)c * samples + s] = (bench_now_us() - t0) / (double)cases[c].reps;
        }
    }
    for (int c = 0; c < n; c++) {
        double *v = per_call + (size_t)c * samples;
        qsort(v, (size_t)samples, sizeof v[0], bench_cmp_double);
        cases[c].median_us =
            samples % 2 ? v[samples / 2] : 0.5 * (v[samples / 2 - 1] + v[samples / 2]);
    }
    free(per_call);
}

#endif /* BENCH_TIMER_H */
