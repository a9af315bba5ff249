/*
 * kernels — the matrix products of libmlp (internal to libmlp).
 *
 * Forward: the dense layer product Z = X·Wᵀ + b. Backward: dW = dZᵀ·A and
 * dA = dZ·W. Each has three implementations, one per mlp_kernel:
 * - portable (lib/kernels.c, lib/kernels_grad.c): fixed-order vector code
 *   without FMA, the same bits on every machine and in every batch;
 * - native (lib/kernels_native.c): one fused multiply-add chain per element
 *   in index order, on the widest vectors the CPU has (AVX-512 or AVX2 with
 *   FMA); the same bits in every batch, near the core's peak;
 * - cblas_sgemm, which wins on large products over the portable kernels but
 *   whose bits depend on the BLAS build, the CPU kernel it picks and the
 *   row count.
 * The mlp_kernel of a workspace chooses: PORTABLE and NATIVE never call
 * BLAS, BLAS always does, AUTO switches from portable to BLAS at the measured
 * crossovers (mlp_kernel_crossover_rows in mlp.h, mlp_grad_uses_blas below).
 * This file and lib/kernels.c are the only places libmlp reaches BLAS.
 */
#ifndef MLP_KERNELS_H
#define MLP_KERNELS_H

#include <stdbool.h>

#include "mlp.h"

/* z[n x out] = x[n x in] · w[out x in]ᵀ + b[out] (all row-major). BLAS is
 * called single-threaded-safe: the caller's thread does all the work. */
void mlp_dense_portable(const float *x, int n, int in, const float *w, const float *b, int out,
                        float *z);
void mlp_dense_blas(const float *x, int n, int in, const float *w, const float *b, int out,
                    float *z);
/* Picks by k (AUTO: by mlp_kernel_crossover_rows; NATIVE: by mlp_native_isa_best). */
void mlp_dense(mlp_kernel k, const float *x, int n, int in, const float *w, const float *b, int out,
               float *z);

/* dw[out x in] = dz[n x out]ᵀ · a[n x in]: the weight gradient of a layer
 * summed over n rows. The portable kernel sums each element over i in order. */
void mlp_grad_weights_portable(const float *dz, const float *a, int n, int in, int out, float *dw);
void mlp_grad_weights_blas(const float *dz, const float *a, int n, int in, int out, float *dw);
void mlp_grad_weights(mlp_kernel k, const float *dz, const float *a, int n, int in, int out,
                      float *dw);

/* da[n x in] = dz[n x out] · w[out x in]: the gradient flowing into a layer's
 * input. The portable kernel sums each element over j in order. w_finite:
 * every value of w is finite, so that the native kernel may step over the
 * zeros of a single row of dz (the same bits: see mlp_grad_inputs_native). */
void mlp_grad_inputs_portable(const float *dz, const float *w, int n, int in, int out, float *da);
void mlp_grad_inputs_blas(const float *dz, const float *w, int n, int in, int out, float *da);
void mlp_grad_inputs(mlp_kernel k, const float *dz, const float *w, int n, int in, int out,
                     bool w_finite, float *da);

/* The instruction sets of the native kernels, best last. PORTABLE: the CPU
 * has no FMA (or is not x86-64), and the native kernels are the portable ones. */
typedef enum { MLP_ISA_PORTABLE = 0, MLP_ISA_AVX2_FMA, MLP_ISA_AVX512 } mlp_native_isa;
/* Whether this CPU (and its OS) runs isa. */
bool mlp_native_isa_supported(mlp_native_isa isa);
/* The best isa this CPU runs: what MLP_KERNEL_NATIVE computes with. */
mlp_native_isa mlp_native_isa_best(void);
/* "avx512f+fma", "avx2+fma" or "portable". */
const char *mlp_native_isa_name(mlp_native_isa isa);

/* The native products for one isa, which must be supported. Each element is
 * one chain of fused multiply-adds over the summed index in increasing order
 * from 0 (the forward adds the bias to it last), so every isa gives the same
 * bits, whatever the row count. */
void mlp_dense_native(mlp_native_isa isa, const float *x, int n, int in, const float *w,
                      const float *b, int out, float *z);
void mlp_grad_weights_native(mlp_native_isa isa, const float *dz, const float *a, int n, int in,
                             int out, float *dw);
/* One row (n = 1) with w_finite steps over the zeros of dz (NK(gemv_skip) in
 * lib/kernels_native_body.h): the same bits, fewer rows of W read. */
void mlp_grad_inputs_native(mlp_native_isa isa, const float *dz, const float *w, int n, int in,
                            int out, bool w_finite, float *da);

/* MLP_KERNEL_NATIVE's forward reads each layer's W re-laid out in panels
 * (lib/kernels_native_body.h, NK(pack_weights)): kept with the model, built
 * for isa by the first call that asks (thread-safe), as many bytes again as
 * the weights plus padding to the panel width. NULL for the portable isa, when
 * memory runs out (the forward then packs per call; the failure is kept with
 * the model, so no later call tries again before mlp_model_prepare does) or
 * when the model holds another isa's copy. mlp_native_drop frees it (and
 * forgets a failure): every function that writes a model's parameters calls
 * it. */
typedef struct {
    const float *packed; /* NULL: none (see above) */
    /* every weight of the layer is finite: then a zero input adds exactly
     * nothing to a chain (0·w = ±0), and a one-row product skips it */
    bool finite;
} mlp_native_layer;
mlp_native_layer mlp_native_weights(const mlp_model *m, mlp_native_isa isa, int layer);
void mlp_native_drop(mlp_model *m);
/* Z = X·Wᵀ + b with W as mlp_native_weights returns it (packed not NULL).
 * One row of finite W steps over the zeros of x (NK(gemv_skip) in
 * lib/kernels_native_body.h): the same bits, fewer lines of W read. */
void mlp_dense_native_packed(mlp_native_isa isa, const float *x, int n, int in, mlp_native_layer w,
                             const float *b, int out, float *z);

/* Whether the backward products of an n-row range through an in -> out layer
 * go to BLAS under kernel k. */
bool mlp_grad_uses_blas(mlp_kernel k, int n, int in, int out);

#endif /* MLP_KERNELS_H */
