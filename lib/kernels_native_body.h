/*
 * kernels_native_body — the native kernels' code for one instruction set
 * (internal to libmlp; lib/kernels_native.c includes it once per ISA).
 *
 * One generic product and its three uses:
 *     C[M x N] = (bias +) Σ_{t < K} X(r, t) · P(t, c)
 *     X(r, t) = x[r·xr + t·xk]         (broadcast, one scalar at a time)
 *     P(t, c) = p[t·ld + c]            (direct) or p[c·ld + t] (transposed)
 * The order: every element of C is ONE chain of fused multiply-adds over t
 * in increasing order, from 0: s = fma(X(r, t), P(t, c), s), then bias + s.
 * Nothing else touches it: no partial sums shared between lanes, no tree.
 * A chain cut into summed-index blocks is carried in C itself (a float
 * stored and loaded back changes no bit). So neither the vector width, nor
 * the tile that computes an element, nor how many rows the product has can
 * change a bit: a row's result depends only on its own data, and every ISA
 * compiled here (and a scalar fmaf loop) gives the same bits.
 *
 * The includer defines, before including:
 *   NK(name)     the ISA's prefix for every function here
 *   NK_TARGET    its target attribute string (e.g. "avx2,fma")
 *   VT, VW       vector type and its floats (8 for __m256, 16 for __m512)
 *   V_ZERO() V_LOAD(p) V_STORE(p, v) V_BCAST(p) V_FMA(a, b, c) V_ADD(a, b)
 *                with V_FMA(a, b, c) = a·b + c rounded once
 *   V_LOAD_MASK(p, n) V_STORE_MASK(p, n, v)
 *                the first n (1 .. VW-1) lanes only: the others are neither
 *                read nor written (loaded as 0)
 *   NK_MR        rows of the largest register tile
 * (and may define V_MASK for its masked ones); all of them are #undef'd at
 * the end, so that the next ISA can define its own.
 */

/* Columns of a packed panel (two vectors), summed indices per block and
 * panels per block: a block of NK_PANELS panels x NK_KC rows is the pack
 * buffer (32 KB for AVX2, 64 KB for AVX-512, on the stack). */
#define NK_PW     (2 * VW)
#define NK_KC     128
#define NK_PANELS 4
/* Rows per pass over a packed block: their X slab (NK_MC x NK_KC floats,
 * 96-128 KB) stays in L2 while every panel reads it. */
#define NK_MC (32 * NK_MR)

#define NK_FN     static __attribute__((target(NK_TARGET)))
#define NK_INLINE static inline __attribute__((target(NK_TARGET), always_inline))

/*
 * The register tile: m rows x nv vectors of C (vector v in panel v / 2),
 * over kc summed indices; cols (<= nv·VW) of its columns are C's, the others
 * (a panel's padding past C's last column, within the last vector) are
 * computed from the pack's zero padding and neither read nor written. pk points at the block's
 * first panel (ld floats per summed index, pstride floats from one panel to the next); c at the
 * tile in C (ldc floats per row). first: the chains start here from 0, else from C. bias (only at
 * the block that ends the chains): C = bias + chain.
 */
NK_INLINE void NK(micro)(int m, int nv, const float *x, size_t xr, size_t xk, const float *pk,
                         size_t ld, size_t pstride, int kc, float *c, size_t ldc, int cols,
                         bool first, const float *bias)
{
    VT acc[NK_MR][2 * NK_PANELS];
#pragma GCC unroll 16
    for (int r = 0; r < m; r++)
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++) {
            int lanes = cols - v * VW;
            const float *cp = c + (size_t)r * ldc + (size_t)v * VW;
            acc[r][v] = first         ? V_ZERO()
                        : lanes >= VW ? V_LOAD(cp)
                        : lanes > 0   ? V_LOAD_MASK(cp, lanes)
                                      : V_ZERO();
        }
    for (int t = 0; t < kc; t++) {
        const float *pt = pk + (size_t)t * ld;
        VT b[2 * NK_PANELS];
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            b[v] = V_LOAD(pt + (size_t)(v / 2) * pstride + (size_t)(v % 2) * VW);
        const float *xt = x + (size_t)t * xk;
#pragma GCC unroll 16
        for (int r = 0; r < m; r++) {
            VT a = V_BCAST(xt + (size_t)r * xr);
#pragma GCC unroll 16
            for (int v = 0; v < nv; v++)
                acc[r][v] = V_FMA(a, b[v], acc[r][v]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < m; r++)
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++) {
            int lanes = cols - v * VW;
            float *cp = c + (size_t)r * ldc + (size_t)v * VW;
            VT s = acc[r][v];
            if (lanes >= VW) {
                if (bias) s = V_ADD(V_LOAD(bias + (size_t)v * VW), s);
                V_STORE(cp, s);
            } else if (lanes > 0) {
                if (bias) s = V_ADD(V_LOAD_MASK(bias + (size_t)v * VW, lanes), s);
                V_STORE_MASK(cp, lanes, s);
            }
        }
}

/* Panels a tile of m rows takes, so that it keeps at least 8 chains in
 * flight (the FMA latency times its throughput) in few registers. */
NK_INLINE int NK(panels_for)(int m)
{
    return m == 1 ? 4 : m <= 3 ? 2 : 1;
}

/* NK(micro) with m and its vectors as constants, so that its loops unroll
 * and the accumulators live in registers. A tile of np panels takes only
 * the vectors that hold some of its cols columns: a vector wholly in a
 * panel's padding (a layer of 10 outputs, whose panel is 32 wide) would
 * only read zeros and compute what is never stored. */
NK_FN void NK(micro_any)(int m, int np, const float *x, size_t xr, size_t xk, const float *pk,
                         size_t ld, size_t pstride, int kc, float *c, size_t ldc, int cols,
                         bool first, const float *bias)
{
    int nv = (cols + VW - 1) / VW < 2 * np ? (cols + VW - 1) / VW : 2 * np;
#define NK_CASE(M, NV)                                                                             \
    case (M)*16 + (NV):                                                                            \
        NK(micro)(M, NV, x, xr, xk, pk, ld, pstride, kc, c, ldc, cols, first, bias);               \
        return;
    switch (m * 16 + nv) {
        NK_CASE(1, 1)
        NK_CASE(1, 2)
        NK_CASE(1, 3)
        NK_CASE(1, 4)
        NK_CASE(1, 5)
        NK_CASE(1, 6)
        NK_CASE(1, 7)
        NK_CASE(1, 8)
        NK_CASE(2, 1)
        NK_CASE(2, 2)
        NK_CASE(2, 3)
        NK_CASE(2, 4)
        NK_CASE(3, 1)
        NK_CASE(3, 2)
        NK_CASE(3, 3)
        NK_CASE(3, 4)
        NK_CASE(4, 1)
        NK_CASE(4, 2)
        NK_CASE(5, 1)
        NK_CASE(5, 2)
        NK_CASE(6, 1)
        NK_CASE(6, 2)
#if NK_MR > 6
        NK_CASE(7, 1)
        NK_CASE(7, 2)
        NK_CASE(8, 1)
        NK_CASE(8, 2)
#endif
    default:
        break; /* unreachable: the callers pass only the shapes above */
    }
#undef NK_CASE
}

/* 8 x 8 transpose: o[i][j] = r[j][i] (the rows r[0..7] are 8 floats each). */
NK_INLINE void NK(transpose8)(const float *src, size_t lds, float *dst, size_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/*
 * Packs P(t0 + t, c0 + q·PW + j) for t < kc, j < PW, q < npan into
 * pk[q·KC·PW + t·PW + j], zero where c0 + q·PW + j >= N. Transposed sources
 * (the forward's W, out x in) go through 8 x 8 register transposes.
 */
NK_FN void NK(pack)(const float *p, size_t ld, bool trans, int t0, int kc, int c0, int N, int npan,
                    float *pk)
{
    for (int q = 0; q < npan; q++) {
        float *dst = pk + (size_t)q * NK_KC * NK_PW;
        int cq = c0 + q * NK_PW, w = N - cq < NK_PW ? N - cq : NK_PW;
        if (!trans) {
            for (int t = 0; t < kc; t++) {
                float *d = dst + (size_t)t * NK_PW;
                memcpy(d, p + (size_t)(t0 + t) * ld + (size_t)cq, sizeof(float) * (size_t)w);
                if (w < NK_PW) memset(d + w, 0, sizeof(float) * (size_t)(NK_PW - w));
            }
            continue;
        }
        /* dst[t][j] = p[(cq + j)·ld + t0 + t] */
        int j = 0;
        for (; j + 8 <= w; j += 8) {
            const float *src = p + (size_t)(cq + j) * ld + (size_t)t0;
            int t = 0;
            for (; t + 8 <= kc; t += 8)
                NK(transpose8)(src + t, ld, dst + (size_t)t * NK_PW + j, NK_PW);
            for (; t < kc; t++)
                for (int jj = 0; jj < 8; jj++)
                    dst[(size_t)t * NK_PW + j + jj] = src[(size_t)jj * ld + (size_t)t];
        }
        for (; j < NK_PW; j++) {
            const float *src = p + (size_t)(cq + j) * ld + (size_t)t0;
            for (int t = 0; t < kc; t++)
                dst[(size_t)t * NK_PW + j] = j < w ? src[t] : 0.0f;
        }
    }
}

/* Floats NK(pack_weights) writes for an in -> out layer: out rounded up to
 * whole panels, times in. */
static size_t NK(packed_floats)(int in, int out)
{
    return (size_t)((out + NK_PW - 1) / NK_PW) * NK_PW * (size_t)in;
}

/*
 * The forward's W (out x in) packed whole, once: panel q holds outputs
 * [q·PW, q·PW + PW) for every summed index, dst[q·in·PW + t·PW + j] =
 * w[(q·PW + j)·in + t], zero past out. NK(gemm) reads it as `pre`.
 */
NK_FN void NK(pack_weights)(const float *w, int in, int out, float *dst)
{
    int npan = (out + NK_PW - 1) / NK_PW;
    for (int q = 0; q < npan; q++) {
        float *d = dst + (size_t)q * (size_t)in * NK_PW;
        int cq = q * NK_PW, wq = out - cq < NK_PW ? out - cq : NK_PW;
        int j = 0;
        for (; j + 8 <= wq; j += 8) {
            const float *src = w + (size_t)(cq + j) * (size_t)in;
            int t = 0;
            for (; t + 8 <= in; t += 8)
                NK(transpose8)(src + t, (size_t)in, d + (size_t)t * NK_PW + j, NK_PW);
            for (; t < in; t++)
                for (int jj = 0; jj < 8; jj++)
                    d[(size_t)t * NK_PW + j + jj] = src[(size_t)jj * (size_t)in + (size_t)t];
        }
        for (; j < NK_PW; j++)
            for (int t = 0; t < in; t++)
                d[(size_t)t * NK_PW + j] =
                    j < wq ? w[(size_t)(cq + j) * (size_t)in + (size_t)t] : 0.0f;
    }
}

/* Rows r0 .. r0 + R of the small product, vector c0 (lanes of C's columns):
 * R independent chains, so they overlap. */
NK_INLINE void NK(small_rows)(int R, int r0, int c0, int lanes, int K, const float *x, size_t xr,
                              size_t xk, const float *p, size_t ld, float *c, size_t ldc)
{
    VT acc[8];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        acc[i] = V_ZERO();
    const float *pc = p + c0;
    for (int t = 0; t < K; t++) {
        VT pv = lanes == VW ? V_LOAD(pc + (size_t)t * ld) : V_LOAD_MASK(pc + (size_t)t * ld, lanes);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
            acc[i] = V_FMA(V_BCAST(x + (size_t)(r0 + i) * xr + (size_t)t * xk), pv, acc[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        float *cr = c + (size_t)(r0 + i) * ldc + c0;
        if (lanes == VW)
            V_STORE(cr, acc[i]);
        else
            V_STORE_MASK(cr, lanes, acc[i]);
    }
}

/*
 * A small direct product (P read in place, !trans, no bias), eight rows of
 * one vector of C at a time: for the backward products of small layers,
 * where packing and the register tiles cost more than the few multiply-adds.
 * The same chains.
 */
NK_FN void NK(gemm_small)(int M, int N, int K, const float *x, size_t xr, size_t xk, const float *p,
                          size_t ld, float *c, size_t ldc)
{
    for (int c0 = 0; c0 < N; c0 += VW) {
        int lanes = N - c0 < VW ? N - c0 : VW, r = 0;
        for (; r + 8 <= M; r += 8)
            NK(small_rows)(8, r, c0, lanes, K, x, xr, xk, p, ld, c, ldc);
        for (; r < M; r++)
            NK(small_rows)(1, r, c0, lanes, K, x, xr, xk, p, ld, c, ldc);
    }
}

/* Multiply-adds up to which a direct product is NK(gemm_small)'s. */
#define NK_SMALL_MACS 65536

/*
 * C (M x N, ldc) = (bias +) Σ_t X(r, t) P(t, c) over t < K, in the order the
 * header describes. A small direct product goes to NK(gemm_small); the
 * others block by block: NK_PANELS panels of P's columns, NK_KC summed
 * indices, packed once (or taken from `pre`, P packed whole by
 * NK(pack_weights), or read in place when few rows read whole panels) and
 * read by every row tile; full tiles of NK_MR rows x 1 panel, the last
 * M % NK_MR rows in one tile of more panels.
 */
NK_FN void NK(gemm)(int M, int N, int K, const float *x, size_t xr, size_t xk, const float *p,
                    size_t ld, bool trans, const float *pre, const float *bias, float *c,
                    size_t ldc)
{
    if (!pre && !trans && !bias && (size_t)M * (size_t)N * (size_t)K <= NK_SMALL_MACS) {
        NK(gemm_small)(M, N, K, x, xr, xk, p, ld, c, ldc);
        return;
    }
    float pk_buf[NK_PANELS * NK_KC * NK_PW] __attribute__((aligned(64)));
    for (int c0 = 0; c0 < N; c0 += NK_PANELS * NK_PW) {
        int nb = N - c0 < NK_PANELS * NK_PW ? N - c0 : NK_PANELS * NK_PW;
        int npan = (nb + NK_PW - 1) / NK_PW;
        /* A few rows read each element of P once or twice: a direct P is
         * read in place where its panels are whole, instead of copied. */
        bool in_place = !pre && !trans && M < NK_MR && nb == npan * NK_PW;
        for (int t0 = 0; t0 < K; t0 += NK_KC) {
            int kc = K - t0 < NK_KC ? K - t0 : NK_KC;
            const float *pk = pk_buf;
            size_t ldp = NK_PW, pstride = (size_t)NK_KC * NK_PW;
            if (pre) {
                pstride = (size_t)K * NK_PW;
                pk = pre + (size_t)(c0 / NK_PW) * pstride + (size_t)t0 * NK_PW;
            } else if (in_place) {
                pk = p + (size_t)t0 * ld + (size_t)c0;
                ldp = ld;
                pstride = NK_PW;
            } else {
                NK(pack)(p, ld, trans, t0, kc, c0, N, npan, pk_buf);
            }
            bool first = t0 == 0;
            const float *bb = bias && t0 + kc == K ? bias + c0 : NULL;
            for (int r0 = 0; r0 < M; r0 += NK_MC) {
                int r1 = M - r0 < NK_MC ? M : r0 + NK_MC;
                int rfull = r0 + (r1 - r0) / NK_MR * NK_MR;
                for (int q = 0; q < npan; q++) {
                    int cols = nb - q * NK_PW < NK_PW ? nb - q * NK_PW : NK_PW;
                    for (int r = r0; r < rfull; r += NK_MR)
                        NK(micro_any)
                    (NK_MR, 1, x + (size_t)r * xr + (size_t)t0 * xk, xr, xk,
                     pk + (size_t)q * pstride, ldp, pstride, kc,
                     c + (size_t)r * ldc + (size_t)(c0 + q * NK_PW), ldc, cols, first,
                     bb ? bb + q * NK_PW : NULL);
                }
                if (rfull < r1) {
                    int m = r1 - rfull, npm = NK(panels_for)(m);
                    for (int q = 0; q < npan; q += npm) {
                        int np = npan - q < npm ? npan - q : npm;
                        int cols = nb - q * NK_PW < np * NK_PW ? nb - q * NK_PW : np * NK_PW;
                        NK(micro_any)
                        (m, np, x + (size_t)rfull * xr + (size_t)t0 * xk, xr, xk,
                         pk + (size_t)q * pstride, ldp, pstride, kc,
                         c + (size_t)rfull * ldc + (size_t)(c0 + q * NK_PW), ldc, cols, first,
                         bb ? bb + q * NK_PW : NULL);
                    }
                }
            }
        }
    }
}

/* Summed indices per pass of NK(gemv_skip): its list of them is on the stack. */
#define NK_SKIP_CHUNK 512

/* NK(gemv_skip)'s tile: nv vectors of C (cols of their columns are C's),
 * the chains stepping over the summed indices idx[0 .. nz) only; P(t, v·VW)
 * at pk[t·ld + (v / 2)·pstride + (v % 2)·VW]. Only C's columns of P are read. */
NK_INLINE void NK(skip_tile)(int nv, const float *x, const int *idx, int nz, const float *pk,
                             size_t ld, size_t pstride, float *c, const float *bias, int cols,
                             bool first, bool last)
{
    int tail = cols - (nv - 1) * VW; /* lanes of the last vector */
    VT acc[2 * NK_PANELS];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        acc[v] = first                      ? V_ZERO()
                 : v < nv - 1 || tail == VW ? V_LOAD(c + v * VW)
                                            : V_LOAD_MASK(c + v * VW, tail);
    for (int i = 0; i < nz; i++) {
        const float *pt = pk + (size_t)idx[i] * ld;
        VT a = V_BCAST(x + idx[i]);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const float *pv = pt + (size_t)(v / 2) * pstride + (size_t)(v % 2) * VW;
            acc[v] =
                V_FMA(a, v < nv - 1 || tail == VW ? V_LOAD(pv) : V_LOAD_MASK(pv, tail), acc[v]);
        }
    }
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        VT s = acc[v];
        if (v < nv - 1 || tail == VW) {
            if (last && bias) s = V_ADD(V_LOAD(bias + v * VW), s);
            V_STORE(c + v * VW, s);
        } else {
            if (last && bias) s = V_ADD(V_LOAD_MASK(bias + v * VW, tail), s);
            V_STORE_MASK(c + v * VW, tail, s);
        }
    }
}

/*
 * One row of a product, c = (bias +) Σ_t x[t]·P(t, ·), stepping only over
 * the summed indices whose x is not zero. P is W packed whole (pre, as
 * NK(gemm) reads it: the forward) or read in place, P(t, j) = p[t·ld + j]
 * (dA = dZ·W). A ReLU layer's input, and the gradient at its output, are
 * often half zeros; each skipped index is a line of P not read, and reading
 * P is what a one-row product waits for. The chains are NK(gemm)'s without
 * the steps fma(±0, w, s), and each of those is exact and changes nothing
 * when w is finite: it adds a zero to s, and s, a chain from +0, is never -0
 * (a sum is -0 only when both addends are). So the bits are NK(gemm)'s, as
 * at any batch size; the caller passes only a P whose values are all finite
 * (0·inf is NaN). A NaN in x compares unequal to zero and is kept.
 */
NK_FN void NK(gemv_skip)(int N, int K, const float *x, const float *p, size_t ld, const float *pre,
                         const float *bias, float *c)
{
    int idx[NK_SKIP_CHUNK];
    for (int t0 = 0; t0 < K; t0 += NK_SKIP_CHUNK) {
        int kc = K - t0 < NK_SKIP_CHUNK ? K - t0 : NK_SKIP_CHUNK, nz = 0;
        for (int t = t0; t < t0 + kc; t++) {
            idx[nz] = t;
            nz += x[t] != 0.0f;
        }
        bool first = t0 == 0, last = t0 + kc == K;
        for (int c0 = 0; c0 < N; c0 += NK_PANELS * NK_PW) {
            int cols = N - c0 < NK_PANELS * NK_PW ? N - c0 : NK_PANELS * NK_PW;
            const float *pk = pre ? pre + (size_t)(c0 / NK_PW) * (size_t)K * NK_PW : p + c0;
            size_t ldt = pre ? NK_PW : ld, pstride = pre ? (size_t)K * NK_PW : NK_PW;
            const float *bc = bias ? bias + c0 : NULL;
#define NK_CASE(NV)                                                                                \
    case NV:                                                                                       \
        NK(skip_tile)(NV, x, idx, nz, pk, ldt, pstride, c + c0, bc, cols, first, last);            \
        break;
            switch ((cols + VW - 1) / VW) {
                NK_CASE(1)
                NK_CASE(2)
                NK_CASE(3)
                NK_CASE(4)
                NK_CASE(5)
                NK_CASE(6)
                NK_CASE(7)
                NK_CASE(8)
            default:
                break; /* unreachable: cols is 1 .. NK_PANELS·NK_PW */
            }
#undef NK_CASE
        }
    }
}

/* The includer's definitions, so that the next ISA can give its own. */
#undef NK
#undef NK_TARGET
#undef VT
#undef VW
#undef V_ZERO
#undef V_LOAD
#undef V_STORE
#undef V_BCAST
#undef V_FMA
#undef V_ADD
#undef V_MASK
#undef V_LOAD_MASK
#undef V_STORE_MASK
#undef NK_MR
#undef NK_PW
#undef NK_KC
#undef NK_PANELS
#undef NK_MC
#undef NK_SMALL_MACS
#undef NK_SKIP_CHUNK
#undef NK_FN
#undef NK_INLINE
