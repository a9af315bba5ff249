/*
 * kernels — the matrix products of libmlp (internal to libmlp).
 *
 * Forward: the dense layer product Z = X·Wᵀ + b. Backward: dW = dZᵀ·A and
 * dA = dZ·W. Each has two implementations: our own fixed-order vectorised
 * kernels (lib/kernels.c, lib/kernels_grad.c), which give the same bits on
 * every machine and win at small batches where BLAS pays call and packing
 * overhead, and cblas_sgemm, which wins on large products but whose bits
 * depend on the BLAS build and the CPU it picks a kernel for. The mlp_kernel
 * of a workspace chooses: BATCH_INVARIANT (the own kernels) never calls BLAS,
 * BLAS always does, AUTO switches at the measured crossovers
 * (mlp_kernel_crossover_rows in mlp.h, mlp_grad_uses_blas below). This file
 * and lib/kernels.c are the only places libmlp reaches BLAS.
 */
#ifndef MLP_KERNELS_H
#define MLP_KERNELS_H

#include <stdbool.h>

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

/* dw[out x in] = dz[n x out]ᵀ · a[n x in]: the weight gradient of a layer
 * summed over n rows. The own kernel sums each element over i in order. */
void mlp_grad_weights_own(const float *dz, const float *a, int n, int in, int out, float *dw);
void mlp_grad_weights_blas(const float *dz, const float *a, int n, int in, int out, float *dw);
void mlp_grad_weights(mlp_kernel k, const float *dz, const float *a, int n, int in, int out,
                      float *dw);

/* da[n x in] = dz[n x out] · w[out x in]: the gradient flowing into a layer's
 * input. The own kernel sums each element over j in order. */
void mlp_grad_inputs_own(const float *dz, const float *w, int n, int in, int out, float *da);
void mlp_grad_inputs_blas(const float *dz, const float *w, int n, int in, int out, float *da);
void mlp_grad_inputs(mlp_kernel k, const float *dz, const float *w, int n, int in, int out,
                     float *da);

/* Whether the backward products of an n-row range through an in -> out layer
 * go to BLAS under kernel k. */
bool mlp_grad_uses_blas(mlp_kernel k, int n, int in, int out);

#endif /* MLP_KERNELS_H */
