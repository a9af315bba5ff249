/*
 * blas — the binary's BLAS policy, set once at start-up before any
 * subcommand runs: OpenBLAS single-threaded.
 *
 * libmlp's contract (lib/mlp.h, at mlp_kernel) is that its callers own the
 * threads: `serve` runs one job per pool thread, each calling cblas_sgemm on
 * its own thread, so OpenBLAS threads on top would oversubscribe the cores.
 * libmlp cannot set this itself (it needs only CBLAS, and a library changing
 * process-wide state behind its caller's back would break its no-global-state
 * promise); the binary can, whatever OPENBLAS_NUM_THREADS says (the
 * Dockerfile's 1 is a default, not what this relies on).
 */
#ifndef MLP_NO_BLAS
#include <cblas.h>
#endif

#include "cli.h"

int rs_blas_single_thread(void)
{
#ifdef MLP_NO_BLAS
    return 0; /* make BLAS=0: no OpenBLAS in the process, nothing to pin */
#else
    openblas_set_num_threads(1);
    return openblas_get_num_threads();
#endif
}
