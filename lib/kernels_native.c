/*
 * kernels_native — MLP_KERNEL_NATIVE: the three products with fused
 * multiply-adds, for the widest vectors this CPU has.
 *
 *     forward  Z = X·Wᵀ + b      z[i][j]  = b[j] + Σ_k x[i][k]·w[j][k]
 *     dA = dZ·W                  da[i][k] = Σ_j dz[i][j]·w[j][k]
 *     dW = dZᵀ·A                 dw[j][k] = Σ_i dz[i][j]·a[i][k]
 *
 * Every element is one chain of fused multiply-adds over the summed index in
 * increasing order, from 0 (then the bias is added): see
 * lib/kernels_native_body.h, which holds the code, compiled here once per
 * instruction set through target attributes (not target_clones, so clang
 * builds it too). A row's result therefore depends only on that row, never on
 * its batch or its place in it, and the AVX2 and AVX-512 versions give the
 * same bits as each other and as a scalar fmaf() loop
 * (tests/unit/lib/test_kernels_native.c checks both against that loop on
 * every variant the CPU runs).
 *
 * Against the portable kernels (lib/kernels.c, lib/kernels_grad.c): those
 * round each product before adding it and sum in 8 lanes joined by a fixed
 * tree, which every x86-64 CPU computes alike. These round once per
 * multiply-add, so their bits differ from the portable ones in the last
 * places (both stay within a few float32 roundings of the exact sum: see
 * the bounds in the tests), but they run near the core's peak.
 *
 * Which ISA runs is decided from the CPU, once (mlp_native_isa_best):
 * AVX-512F + FMA, else AVX2 + FMA, else (no FMA, or not x86-64) the portable
 * kernels, which then are what MLP_KERNEL_NATIVE computes.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target)
#define MLP_NATIVE_X86 1
#endif
#endif

#ifdef MLP_NATIVE_X86
#include <immintrin.h>

/* ---------------------------------------------------------- AVX2 + FMA */
#define NK(name)       avx2_##name
#define NK_TARGET      "avx2,fma"
#define VT             __m256
#define VW             8
#define V_ZERO()       _mm256_setzero_ps()
#define V_LOAD(p)      _mm256_loadu_ps(p)
#define V_STORE(p, v)  _mm256_storeu_ps((p), (v))
#define V_BCAST(p)     _mm256_broadcast_ss(p)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_ADD(a, b)    _mm256_add_ps((a), (b))
/* the first n (1..7) lanes: those whose index is below n */
#define V_MASK(n)                                                                                  \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOAD_MASK(p, n)     _mm256_maskload_ps((p), V_MASK(n))
#define V_STORE_MASK(p, n, v) _mm256_maskstore_ps((p), V_MASK(n), (v))
#define NK_MR                 6 /* 12 accumulators + 2 panel vectors + 1 broadcast of 16 registers */
#include "kernels_native_body.h" /* #undefs all of the above */

/* ------------------------------------------------------- AVX-512F + FMA */
#define NK(name)              avx512_##name
#define NK_TARGET             "avx512f,avx2,fma"
#define VT                    __m512
#define VW                    16
#define V_ZERO()              _mm512_setzero_ps()
#define V_LOAD(p)             _mm512_loadu_ps(p)
#define V_STORE(p, v)         _mm512_storeu_ps((p), (v))
#define V_BCAST(p)            _mm512_set1_ps(*(p))
#define V_FMA(a, b, c)        _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b)           _mm512_add_ps((a), (b))
#define V_MASK(n)             ((__mmask16)((1u << (n)) - 1u))
#define V_LOAD_MASK(p, n)     _mm512_maskz_loadu_ps(V_MASK(n), (p))
#define V_STORE_MASK(p, n, v) _mm512_mask_storeu_ps((p), V_MASK(n), (v))
#define NK_MR                 8  /* 16 accumulators of 32 registers */
#include "kernels_native_body.h" /* #undefs all of the above */
#endif                           /* MLP_NATIVE_X86 */

bool mlp_native_isa_supported(mlp_native_isa isa)
{
    switch (isa) {
    case MLP_ISA_PORTABLE:
        return true;
#ifdef MLP_NATIVE_X86
    case MLP_ISA_AVX2_FMA:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case MLP_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default:
        return false;
    }
}

/* libgcc's and compiler-rt's feature tests also check that the OS saves the
 * vector registers (XCR0), so a supported ISA is one that runs. */
mlp_native_isa mlp_native_isa_best(void)
{
    /* The CPU's answer cannot change while the process runs, and every
     * forward and backward asks: found once. Relaxed: first callers that
     * race store the same value. */
    static _Atomic int best = -1;
    int b = atomic_load_explicit(&best, memory_order_relaxed);
    if (b < 0) {
        b = mlp_native_isa_supported(MLP_ISA_AVX512)     ? MLP_ISA_AVX512
            : mlp_native_isa_supported(MLP_ISA_AVX2_FMA) ? MLP_ISA_AVX2_FMA
                                                         : MLP_ISA_PORTABLE;
        atomic_store_explicit(&best, b, memory_order_relaxed);
    }
    return (mlp_native_isa)b;
}

const char *mlp_native_isa_name(mlp_native_isa isa)
{
    switch (isa) {
    case MLP_ISA_AVX512:
        return "avx512f+fma";
    case MLP_ISA_AVX2_FMA:
        return "avx2+fma";
    default:
        return "portable";
    }
}

const char *mlp_kernel_native_isa(void)
{
    return mlp_native_isa_name(mlp_native_isa_best());
}

void mlp_dense_native(mlp_native_isa isa, const float *x, int n, int in, const float *w,
                      const float *b, int out, float *z)
{
    switch (isa) {
#ifdef MLP_NATIVE_X86
    case MLP_ISA_AVX512:
        avx512_gemm(n, out, in, x, (size_t)in, 1, w, (size_t)in, true, NULL, b, z, (size_t)out);
        return;
    case MLP_ISA_AVX2_FMA:
        avx2_gemm(n, out, in, x, (size_t)in, 1, w, (size_t)in, true, NULL, b, z, (size_t)out);
        return;
#endif
    default:
        mlp_dense_portable(x, n, in, w, b, out, z);
    }
}

void mlp_grad_inputs_native(mlp_native_isa isa, const float *dz, const float *w, int n, int in,
                            int out, bool w_finite, float *da)
{
    switch (isa) {
#ifdef MLP_NATIVE_X86
    case MLP_ISA_AVX512:
        if (n == 1 && w_finite)
            avx512_gemv_skip(in, out, dz, w, (size_t)in, NULL, NULL, da);
        else
            avx512_gemm(n, in, out, dz, (size_t)out, 1, w, (size_t)in, false, NULL, NULL, da,
                        (size_t)in);
        return;
    case MLP_ISA_AVX2_FMA:
        if (n == 1 && w_finite)
            avx2_gemv_skip(in, out, dz, w, (size_t)in, NULL, NULL, da);
        else
            avx2_gemm(n, in, out, dz, (size_t)out, 1, w, (size_t)in, false, NULL, NULL, da,
                      (size_t)in);
        return;
#endif
    default:
        mlp_grad_inputs_portable(dz, w, n, in, out, da);
    }
}

void mlp_grad_weights_native(mlp_native_isa isa, const float *dz, const float *a, int n, int in,
                             int out, float *dw)
{
    switch (isa) {
#ifdef MLP_NATIVE_X86
    case MLP_ISA_AVX512:
        avx512_gemm(out, in, n, dz, 1, (size_t)out, a, (size_t)in, false, NULL, NULL, dw,
                    (size_t)in);
        return;
    case MLP_ISA_AVX2_FMA:
        avx2_gemm(out, in, n, dz, 1, (size_t)out, a, (size_t)in, false, NULL, NULL, dw, (size_t)in);
        return;
#endif
    default:
        mlp_grad_weights_portable(dz, a, n, in, out, dw);
    }
}

void mlp_dense_native_packed(mlp_native_isa isa, const float *x, int n, int in, mlp_native_layer w,
                             const float *b, int out, float *z)
{
    switch (isa) {
#ifdef MLP_NATIVE_X86
    case MLP_ISA_AVX512:
        if (n == 1 && w.finite)
            avx512_gemv_skip(out, in, x, NULL, 0, w.packed, b, z);
        else
            avx512_gemm(n, out, in, x, (size_t)in, 1, NULL, 0, true, w.packed, b, z, (size_t)out);
        return;
    case MLP_ISA_AVX2_FMA:
        if (n == 1 && w.finite)
            avx2_gemv_skip(out, in, x, NULL, 0, w.packed, b, z);
        else
            avx2_gemm(n, out, in, x, (size_t)in, 1, NULL, 0, true, w.packed, b, z, (size_t)out);
        return;
#endif
    default:
        break; /* mlp_native_weights gives the portable isa no packed weights */
    }
}

/* ------------------------------------------- the model's packed weights */

struct mlp_native_pack {
    mlp_native_isa isa;
    float *layer[MLP_MAX_LAYERS];
    bool finite[MLP_MAX_LAYERS]; /* every weight of the layer is finite */
    float *data;                 /* one block, MLP_ALIGN-aligned */
};

/* What the model keeps when its pack could not be built (out of memory): no
 * weights for any native isa, so every forward computes with the kernel
 * packing W per call (the same chains, the same bits) instead of trying the
 * large allocation again at every layer of every forward. Static: nothing is
 * allocated when memory has run out, and a reader that loaded it stays valid
 * when mlp_model_prepare replaces it. Never written. */
static struct mlp_native_pack pack_failed = {.isa = MLP_ISA_PORTABLE};

static void pack_free(struct mlp_native_pack *p)
{
    if (!p || p == &pack_failed) return;
    free(p->data);
    free(p);
}

#ifdef MLP_NATIVE_X86
/* Floats of a layer's packed W for isa, as its kernel's panel width gives. */
static size_t packed_floats(const mlp_layer *ly, mlp_native_isa isa)
{
    return isa == MLP_ISA_AVX512 ? avx512_packed_floats(ly->in, ly->out)
                                 : avx2_packed_floats(ly->in, ly->out);
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static struct mlp_native_pack *pack_build(const mlp_model *m, mlp_native_isa isa)
{
    size_t total = 0;
    for (int l = 0; l < m->n_layers; l++)
        total += packed_floats(&m->layers[l], isa);
    struct mlp_native_pack *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->isa = isa;
    p->data = mlp_aligned_alloc(total * sizeof(float));
    if (!p->data) {
        free(p);
        return NULL;
    }
    size_t off = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *ly = &m->layers[l];
        p->layer[l] = p->data + off;
        const float *w = m->params + ly->weight_offset;
        p->finite[l] = all_finite(w, (size_t)ly->in * (size_t)ly->out);
        if (isa == MLP_ISA_AVX512)
            avx512_pack_weights(w, ly->in, ly->out, p->layer[l]);
        else
            avx2_pack_weights(w, ly->in, ly->out, p->layer[l]);
        off += packed_floats(ly, isa);
    }
    return p;
}
#else
/* Only the x86-64 isas have packed weights; here isa is never one of them. */
static struct mlp_native_pack *pack_build(const mlp_model *m, mlp_native_isa isa)
{
    (void)m, (void)isa;
    return NULL;
}
#endif

/* The model's pack for isa, built when its slot holds nothing yet, or (when
 * retry) after a failure. The model is const to its readers; its pack is a
 * cache they share, published with a compare-and-swap (the loser frees its
 * copy); a failed build publishes pack_failed. Never NULL. */
static struct mlp_native_pack *pack_get(const mlp_model *m, mlp_native_isa isa, bool retry)
{
    struct mlp_native_pack **slot = &((mlp_model *)m)->native;
    struct mlp_native_pack *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p && !(retry && p == &pack_failed)) return p;
    struct mlp_native_pack *mine = pack_build(m, isa);
    if (!mine) mine = &pack_failed;
    if (__atomic_compare_exchange_n(slot, &p, mine, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return mine;
    pack_free(mine);
    return p; /* another reader's, published meanwhile */
}

mlp_native_layer mlp_native_weights(const mlp_model *m, mlp_native_isa isa, int layer)
{
    if (isa == MLP_ISA_PORTABLE || layer < 0 || layer >= m->n_layers) return (mlp_native_layer){0};
    struct mlp_native_pack *p = pack_get(m, isa, false);
    if (p->isa != isa) return (mlp_native_layer){0};
    return (mlp_native_layer){.packed = p->layer[layer], .finite = p->finite[layer]};
}

void mlp_native_drop(mlp_model *m)
{
    pack_free(__atomic_exchange_n(&m->native, NULL, __ATOMIC_ACQ_REL));
}

mlp_status mlp_model_prepare(const mlp_model *m, mlp_kernel k, mlp_error *err)
{
    if (!m) return mlp_set_error(err, MLP_ERR_INVALID, "model is NULL");
    if (k != MLP_KERNEL_NATIVE) return MLP_OK;
    mlp_native_isa isa = mlp_native_isa_best();
    /* asked to build: a failure a forward remembered is tried once more */
    if (isa == MLP_ISA_PORTABLE || pack_get(m, isa, true)->isa == isa) return MLP_OK;
    return mlp_set_error(err, MLP_ERR_NOMEM, "out of memory packing the weights for the %s kernel",
                         mlp_native_isa_name(isa));
}
