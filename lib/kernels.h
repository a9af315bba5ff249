/*
 * kernels — the dense layer product Z = X·Wᵀ + b (internal to libmlp).
 *
 * Two implementations: our own vectorised kernel, which wins at small batches
 * where BLAS pays call and packing overhead, and cblas_sgemm for large ones.
 * mlp_kernel_crossover_rows() (mlp.h) holds the measured switch point.
 */
#ifndef MLP_KERNELS_H
#define MLP_KERNELS_H

#include "mlp.h"

/* z[n x out] = x[n x in] · w[out x in]ᵀ + b[out] (all row-major). BLAS is
 * called single-threaded-safe: the caller's thread does all the work. */
void mlp_dense_own(const float *x, int n, int in, const float *w, const float *b, int out,
                   float *z);
void mlp_dense_blas(const float *x, int n, int in, const float *w, const float *b, int out,
                    float *z);
/* Picks by k (AUTO: by mlp_kernel_crossover_rows). */
void mlp_dense(mlp_kernel k, const float *x, int n, int in, const float *w, const float *b, int out,
               float *z);

#endif /* MLP_KERNELS_H */
