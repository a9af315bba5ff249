/*
 * vec8 — the 8-float vector type and build attributes libmlp's own kernels
 * share (internal to libmlp).
 *
 * Every kernel that includes this is compiled twice through target_clones:
 * once for AVX2 (one 256-bit register per vector) and once for baseline
 * x86-64 (two SSE registers per vector). Both clones perform exactly the same
 * IEEE-754 float operations in the same order; FMA is deliberately not in the
 * clone list and -ffp-contract=off forbids contracting a*b+c, so the kernels
 * give bit-identical results on every x86-64 CPU (and on other architectures,
 * where they are compiled once without clones, and under clang: see below).
 */
#ifndef MLP_VEC8_H
#define MLP_VEC8_H

/* Not under clang: clang 14 names the resolver of an external target_clones
 * function "<name>.ifunc" and emits no "<name>", so a call from another file
 * (backward.c, the unit tests) does not link. A clang build (the fuzz
 * targets) gets the baseline version alone, which computes the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MLP_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef MLP_CLONES
#define MLP_CLONES
#endif

/* Helpers must be inlined into each clone to be compiled for its target. */
#define MLP_INLINE inline __attribute__((always_inline))

typedef float mlp_v8 __attribute__((vector_size(32)));
/* The same vector at any float address (unaligned loads; may alias float).
 * Vectors are never passed by value between functions, which would make the
 * baseline clone's ABI differ from the AVX one (-Wpsabi). */
typedef float mlp_v8u __attribute__((vector_size(32), aligned(4), may_alias));
#define v8_load(p)     (*(const mlp_v8u *)(p))
#define v8_store(p, v) (*(mlp_v8u *)(p) = (v))

#endif /* MLP_VEC8_H */
