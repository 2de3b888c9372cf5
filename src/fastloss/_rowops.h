/* Inner row loops shared by the Cython kernels (_kernels.pyx).
 *
 * Why C and not Cython: these are the loops Cython cannot get vectorised (a
 * nan-ignoring max reduction, a sum of exp accumulated in double, loops across
 * rows) and they need the vectorisable exp/log of _vexp.h. Each function is
 * written once, in _rowops_impl.h, and instantiated here for double (suffix
 * _d) and float (suffix _f): float data is computed in float SIMD lanes, sums
 * are accumulated in double.
 *
 * Dispatch: each driver is compiled as AVX-512, AVX2 and baseline clones
 * (FL_CLONES, _simd.h) and the loader picks the best for the CPU.
 *
 * Vectorisation (gcc 12, -O3 -fno-math-errno -fno-trapping-math, checked with
 * -fopt-info-vec-all): every innermost loop vectorises (in the AVX-512 clone
 * some in 64-byte vectors, some in 32-byte ones: checked in the disassembly);
 * only the outer loops over blocks, columns and rows do not. Narrow rows (C <=
 * FL_NARROW_MAX) are vectorised ACROSS rows, one row per lane, through a
 * transposed tile (in-register AVX-512 transposes in the v4 clone, scalar
 * moves elsewhere; the tiles ahead are prefetched); wide rows along the row,
 * in whole blocks of FL_BLOCK with the last block overlapping (no scalar
 * remainder loops, which cost 35-40 % at C = 100).
 *
 * AVX-512: on CPUs that have it, the hot loops run hand-written intrinsics
 * (the *_v4 functions: wide rows' max, normaliser and gradient, narrow rows'
 * column and gradient loops), called through fl_v4() from the clones. gcc's
 * code for the portable loops spent about 45 instructions per vector of
 * floats (two-step 2^n scaling, lane sums spilled and added serially per
 * row, half-width vectors in the narrow rows' loops); with 512-bit vectors,
 * vscalef, masked tails and in-register sums a float row of 100 runs 1.6x
 * faster. The arithmetic is the same; results may differ from the portable path's in the last bits (the
 * exp's rounding, and lane sums grouped differently: see fl_sum_lanes_v4).
 *
 * gcc pitfalls met here: `a[l] = c ? v : a[l]` and `a[l] += c ? v : 0` over
 * lane arrays become masked stores behind a branch on the mask (it
 * mispredicts when c is sparse and random), and a loop mixing int, FL_T and
 * double lanes or loading through a struct pointer may not vectorise in the
 * clones at all.
 *
 * Cross-entropy against class indices (fl_ce_spec) is computed inside these
 * loops, losses and gradient coefficients included: a per-row Cython loop
 * after them cost ~20 % at 10 columns.
 *
 * Contract: `x` points at C-contiguous rows; nothing outside the rows named by
 * the arguments is read or written (software prefetches may run past them:
 * they never fault and are not reads).
 */
#ifndef FASTLOSS_ROWOPS_H
#define FASTLOSS_ROWOPS_H

#include <math.h>
#include <stddef.h>
#include <Python.h>   /* Py_ssize_t */

#include "_vexp.h"   /* and through it _simd.h: FL_CLONES, FL_HAVE_V4, FL_V4 */

#ifdef FL_HAVE_V4
/* Lane masks of the AVX-512 loops: the first k lanes; all FL_VEC_N of the
 * instantiation's vector. */
#define fl_first_lanes(k) ((__mmask16)((1u << (k)) - 1))
#define FL_ALL_LANES fl_first_lanes(FL_VEC_N)

/* AVX-512 intrinsics for the narrow-row tile transposes (gcc vectorises
 * neither the transposes nor strided loads well). */

/* In-register transposes, rows in, columns out (each is its own inverse):
 * unpack pairs of rows, then swap 128-bit lanes twice. */
FL_V4 void fl_transpose_d(__m512d r[8])
{
    __m512d t[8], u[8];
    int k;
    for (k = 0; k < 8; k += 2) {
        t[k] = _mm512_unpacklo_pd(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_pd(r[k], r[k + 1]);
    }
    for (k = 0; k < 8; k += 4) {   /* u[k + c]: columns c and c + 4 (c = 0, 2, 1, 3) */
        u[k] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0x88);
        u[k + 1] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0xdd);
        u[k + 2] = _mm512_shuffle_f64x2(t[k + 1], t[k + 3], 0x88);
        u[k + 3] = _mm512_shuffle_f64x2(t[k + 1], t[k + 3], 0xdd);
    }
    for (k = 0; k < 4; ++k) {
        int c = k == 1 ? 2 : k == 2 ? 1 : k;
        r[c] = _mm512_shuffle_f64x2(u[k], u[k + 4], 0x88);
        r[c + 4] = _mm512_shuffle_f64x2(u[k], u[k + 4], 0xdd);
    }
}

FL_V4 void fl_transpose_f(__m512 r[16])
{
    __m512 t[16], s[16];
    int k;
    for (k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    for (k = 0; k < 16; k += 4) {   /* s[k + c], 128-bit lane q: column 4q + c of rows k..k+3 */
        __m512d lo = _mm512_castps_pd(t[k]), hi = _mm512_castps_pd(t[k + 1]);
        __m512d lo2 = _mm512_castps_pd(t[k + 2]), hi2 = _mm512_castps_pd(t[k + 3]);
        s[k] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, lo2));
        s[k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, lo2));
        s[k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi, hi2));
        s[k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi, hi2));
    }
    for (k = 0; k < 4; ++k) {   /* a 4x4 transpose of 128-bit lanes per column class k */
        __m512 a = _mm512_shuffle_f32x4(s[k], s[k + 4], 0x88);
        __m512 b = _mm512_shuffle_f32x4(s[k], s[k + 4], 0xdd);
        __m512 c = _mm512_shuffle_f32x4(s[k + 8], s[k + 12], 0x88);
        __m512 d = _mm512_shuffle_f32x4(s[k + 8], s[k + 12], 0xdd);
        r[k] = _mm512_shuffle_f32x4(a, c, 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(a, c, 0xdd);
        r[k + 4] = _mm512_shuffle_f32x4(b, d, 0x88);
        r[k + 12] = _mm512_shuffle_f32x4(b, d, 0xdd);
    }
}

/* Per-lane double sums of exps (all >= 0, or nan) for the AVX-512 loops:
 * fl_sum_lanes_v4 adds the lanes of v selected by `keep`, fl_sum_total_v4
 * returns the sum of all lanes and fl_sum_store_v4 adds each lane's sum to
 * sum[lane] (the narrow rows' per-row sums).
 * Float: converting each vector to double (two vcvtps2pd and an extract) cost
 * a third of the float exp loop on Zen 4 (vcvtps2pd zmm: one per 1.6 cycles).
 * Instead a float's bits, sign cleared, are shifted into a double's fields:
 * that double is the float times 2^-896 exactly, whether the float is zero,
 * subnormal or normal; five integer instructions per vector, even lanes summed
 * in lo, odd ones in hi. The sums are unscaled (times 2^896, exact) at the
 * end. A nan (or inf) becomes 2^128 or more there, which no sum of up to 2^63
 * exps of at most 1 reaches: such a sum is returned as nan. */
#define FL_SUM_UNSCALE 0x1p896     /* scaled sum -> sum */
#define FL_SUM_NAN_FROM 0x1p-768   /* scaled sums from here up held a nan (2^128 unscaled) */
FL_V4_INLINE void fl_sum_lanes_v4_d(__m512d *lo, __m512d *hi, __m512d v, __mmask16 keep)
{
    (void)hi;
    *lo = _mm512_mask_add_pd(*lo, (__mmask8)keep, *lo, v);
}

FL_V4_INLINE void fl_sum_lanes_v4_f(__m512d *lo, __m512d *hi, __m512 v, __mmask16 keep)
{
    const __m512i q = _mm512_maskz_and_epi32(keep, _mm512_castps_si512(v),
                                             _mm512_set1_epi32(0x7fffffff));
    const __m512i even = _mm512_and_si512(q, _mm512_set1_epi64(0xffffffffLL));
    const __m512i odd = _mm512_andnot_si512(even, q);
    *lo = _mm512_add_pd(*lo, _mm512_castsi512_pd(_mm512_slli_epi64(even, 29)));
    *hi = _mm512_add_pd(*hi, _mm512_castsi512_pd(_mm512_srli_epi64(odd, 3)));
}

FL_V4_INLINE double fl_sum_total_v4_d(__m512d lo, __m512d hi)
{
    (void)hi;
    return _mm512_reduce_add_pd(lo);
}

FL_V4_INLINE double fl_sum_total_v4_f(__m512d lo, __m512d hi)
{
    double s = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    return s >= FL_SUM_NAN_FROM ? NAN : s * FL_SUM_UNSCALE;
}

FL_V4_INLINE void fl_sum_store_v4_d(double *sum, __m512d lo, __m512d hi)
{
    (void)hi;
    _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum), lo));
}

FL_V4_INLINE __m512d fl_unscale_v4(__m512d s)
{
    __mmask8 bad = _mm512_cmp_pd_mask(s, _mm512_set1_pd(FL_SUM_NAN_FROM), _CMP_GE_OQ);
    return _mm512_mask_mov_pd(_mm512_mul_pd(s, _mm512_set1_pd(FL_SUM_UNSCALE)), bad,
                              _mm512_set1_pd(NAN));
}

FL_V4_INLINE void fl_sum_store_v4_f(double *sum, __m512d lo, __m512d hi)
{
    /* lanes 0..7 interleave lo's and hi's first four, lanes 8..15 their last four */
    const __m512i first = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i second = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    _mm512_storeu_pd(sum, _mm512_add_pd(_mm512_loadu_pd(sum),
                                        fl_unscale_v4(_mm512_permutex2var_pd(lo, first, hi))));
    _mm512_storeu_pd(sum + 8, _mm512_add_pd(_mm512_loadu_pd(sum + 8),
                                            fl_unscale_v4(_mm512_permutex2var_pd(lo, second, hi))));
}

/* a v - c w (w: the valid lanes of the class weights, or NULL for ones) for the
 * AVX-512 gradient rows, rounded once from double precision. Float without c:
 * with a = a_hi + a_lo split into floats, fma(v, a_hi, v a_lo) is a v to within
 * 2^-47 before its one rounding, in two float instructions instead of the
 * conversions to double and back (eight). */
FL_V4_INLINE __m512d fl_affine_v4_d(__m512d v, double a, double c, const double *w,
                                    __mmask16 valid)
{
    __m512d cw = _mm512_set1_pd(c);
    if (w != NULL)
        cw = _mm512_mul_pd(cw, _mm512_maskz_loadu_pd((__mmask8)valid, w));
    return _mm512_fmsub_pd(_mm512_set1_pd(a), v, cw);
}

FL_V4_INLINE __m512 fl_affine_v4_f(__m512 v, double a, double c, const double *w,
                                   __mmask16 valid)
{
    float a_hi = (float)a, a_lo = (float)(a - (double)a_hi);
    __m512d lo, hi;
    if (c == 0.0 && fabsf(a_hi) != INFINITY)   /* a beyond float's range: inf - inf */
        return _mm512_fmadd_ps(v, _mm512_set1_ps(a_hi), _mm512_mul_ps(v, _mm512_set1_ps(a_lo)));
    lo = fl_affine_v4_d(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), a, c, w, valid);
    hi = fl_affine_v4_d(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), a, c,
                        w != NULL ? w + 8 : NULL, valid >> 8);
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/* a_l v_l for lanes l (a: per-lane doubles), rounded once: split (FL_LANES_SPLIT_V4)
 * into a_hi + a_lo once per tile, then applied (FL_LANES_SCALE_V4) per column as
 * fl_affine_v4_f does for float (two float instructions instead of the
 * conversions to double and back); for double, a v directly. The split returns
 * 0 (unusable) when some a_l is beyond float's range (a_hi = inf, a_lo = -inf). */
FL_V4_INLINE int fl_lanes_split_v4_d(const double *a, __m512d *hi, __m512d *lo)
{
    *hi = *lo = _mm512_loadu_pd(a);   /* lo: unused */
    return 1;
}

FL_V4_INLINE __m512d fl_lanes_scale_v4_d(__m512d v, __m512d hi, __m512d lo)
{
    (void)lo;
    return _mm512_mul_pd(v, hi);
}

FL_V4_INLINE int fl_lanes_split_v4_f(const double *a, __m512 *hi, __m512 *lo)
{
    __m512d a0 = _mm512_loadu_pd(a), a1 = _mm512_loadu_pd(a + 8);
    __m256 h0 = _mm512_cvtpd_ps(a0), h1 = _mm512_cvtpd_ps(a1);
    __m256 l0 = _mm512_cvtpd_ps(_mm512_sub_pd(a0, _mm512_cvtps_pd(h0)));
    __m256 l1 = _mm512_cvtpd_ps(_mm512_sub_pd(a1, _mm512_cvtps_pd(h1)));
    *hi = _mm512_insertf32x8(_mm512_castps256_ps512(h0), h1, 1);
    *lo = _mm512_insertf32x8(_mm512_castps256_ps512(l0), l1, 1);
    return !_mm512_fpclass_ps_mask(*hi, 0x18);   /* 0x18: +inf or -inf */
}

FL_V4_INLINE __m512 fl_lanes_scale_v4_f(__m512 v, __m512 hi, __m512 lo)
{
    return _mm512_fmadd_ps(v, hi, _mm512_mul_ps(v, lo));
}

/* a_l v_l - c_l w for lanes l (a, c: per-lane doubles) rounded once from double. */
FL_V4_INLINE __m512d fl_lanes_affine_v4_d(__m512d v, const double *a, const double *c, double w)
{
    return _mm512_fmsub_pd(_mm512_loadu_pd(a), v,
                           _mm512_mul_pd(_mm512_loadu_pd(c), _mm512_set1_pd(w)));
}

FL_V4_INLINE __m512 fl_lanes_affine_v4_f(__m512 v, const double *a, const double *c, double w)
{
    __m512d lo = fl_lanes_affine_v4_d(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), a, c, w);
    __m512d hi = fl_lanes_affine_v4_d(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), a + 8,
                                      c + 8, w);
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}
#endif

/* Rows at most this wide are processed across rows (fl_rows_norm). */
#define FL_NARROW_MAX 40
/* Rows handled together, one per SIMD lane, by fl_rows_norm. */
#define FL_LANES 16
#define FL_LANES_LOG2 4   /* FL_LANES = 2^4, for index shifts */
/* Elements per vector block of a wide row (one AVX-512 float vector). */
#define FL_BLOCK 16
/* A wide row's lane sums are kept in two levels: each run of FL_RUN blocks is
 * summed on its own, then added in, so a lane adds up about FL_RUN + n /
 * (FL_RUN FL_BLOCK) terms in sequence instead of n / FL_BLOCK (a float64 row of
 * 4099 had softmax errors of 6.7 ulp from that rounding alone). */
#define FL_RUN 16

/* Cross-entropy against class indices, fused into the normaliser pass (see
 * fl_rows_norm_grad) so no per-row loop is left to the caller. For row i, with
 * target y = y_i, s = sw_i, v = w_y, z_j = x_ij inv_t - row_max_i and
 * p = softmax (torch's formula; keep = 1 - eps, spread = eps / C for label
 * smoothing eps):
 *   loss_i = s (keep v (log_norm_i - z_y) + spread (w_sum log_norm_i - sum_j w_j z_j))
 *   g_ij   = scale s ((keep v + spread w_sum) p_ij - spread w_j - keep v [j == y])
 * y == NULL: no target (v = 1, no [j == y] term, no loss); with keep = scale = 1
 * and spread = 0 the gradient is the softmax itself. A row with y_i == ignore
 * has loss 0 and a zero gradient row whatever its logits; a row whose max is
 * not finite or that holds nan gets nan. Per-row arrays are indexed from the
 * call's first row. */
typedef struct {
    const Py_ssize_t *y;    /* per row, or NULL */
    Py_ssize_t ignore;
    const double *sw;       /* per row, or NULL for all ones */
    const double *w;        /* per column, or NULL for all ones */
    double w_sum, keep, spread, scale;
    double *loss;           /* OUT per row, or NULL */
} fl_ce_spec;
/* Internal per-row target states besides a class index. */
#define FL_NO_TARGET (-1)
#define FL_ZERO_ROW (-2)

/* FL_INT, FL_UINT: integers as wide as FL_T (so they share its SIMD lanes);
 * FL_BITS, FL_FROM_BITS: its bit pattern. FL_VEC*: one AVX-512 vector of FL_T,
 * for the tile transposes; FL_V(op), FL_V_CMP_MASK, FL_EXP_V4, FL_SUM_LANES_V4 (and _TOTAL, _STORE),
 * FL_AFFINE_V4, FL_LANES_AFFINE_V4: its intrinsics, and FL_VI(op, suffix) those of FL_INT, for the
 * AVX-512 paths. FL_HALF, FL_H(op), FL_H_GATHER: eight FL_T (as many as an AVX-512
 * vector of doubles holds) and their intrinsics; FL_H_TO_D converts them to doubles. */
#define FL_T double
#define FL_SUFFIX(name) name##_d
#define FL_EXP fl_exp_d
#define FL_INT int64_t
#define FL_UINT uint64_t
#define FL_BITS fl_double_to_bits
#define FL_FROM_BITS fl_bits_to_double
#define FL_VEC __m512d
#define FL_VEC_N 8
#define FL_VEC_LOAD _mm512_maskz_loadu_pd
#define FL_VEC_STORE _mm512_mask_storeu_pd
#define FL_V(op) _mm512_##op##_pd
#define FL_V_CMP_MASK _mm512_cmp_pd_mask
#define FL_VI(op, suffix) _mm512_##op##_epi64##suffix
#define FL_EXP_V4 fl_exp_v4_d
#define FL_SUM_LANES_V4 fl_sum_lanes_v4_d
#define FL_SUM_TOTAL_V4 fl_sum_total_v4_d
#define FL_SUM_STORE_V4 fl_sum_store_v4_d
#define FL_GATHER_V4(src, mask, index, base) \
    _mm512_mask_i64gather_pd(src, (__mmask8)(mask), index, base, 8)
#define FL_HALF __m512d
#define FL_H(op) _mm512_##op##_pd
#define FL_H_TO_D(v) (v)
#define FL_H_GATHER(src, mask, index, base) _mm512_mask_i64gather_pd(src, mask, index, base, 8)
#define FL_AFFINE_V4 fl_affine_v4_d
#define FL_LANES_AFFINE_V4 fl_lanes_affine_v4_d
#define FL_LANES_SPLIT_V4 fl_lanes_split_v4_d
#define FL_LANES_SCALE_V4 fl_lanes_scale_v4_d
#include "_rowops_impl.h"   /* which undefines its parameters */

#define FL_T float
#define FL_SUFFIX(name) name##_f
#define FL_EXP fl_exp_f
#define FL_INT int32_t
#define FL_UINT uint32_t
#define FL_BITS fl_float_to_bits
#define FL_FROM_BITS fl_bits_to_float
#define FL_VEC __m512
#define FL_VEC_N 16
#define FL_VEC_LOAD _mm512_maskz_loadu_ps
#define FL_VEC_STORE _mm512_mask_storeu_ps
#define FL_V(op) _mm512_##op##_ps
#define FL_V_CMP_MASK _mm512_cmp_ps_mask
#define FL_VI(op, suffix) _mm512_##op##_epi32##suffix
#define FL_EXP_V4 fl_exp_v4_f
#define FL_SUM_LANES_V4 fl_sum_lanes_v4_f
#define FL_SUM_TOTAL_V4 fl_sum_total_v4_f
#define FL_SUM_STORE_V4 fl_sum_store_v4_f
#define FL_GATHER_V4(src, mask, index, base) _mm512_mask_i32gather_ps(src, mask, index, base, 4)
#define FL_HALF __m256
#define FL_H(op) _mm256_##op##_ps
#define FL_H_TO_D(v) _mm512_cvtps_pd(v)
#define FL_H_GATHER(src, mask, index, base) _mm512_mask_i64gather_ps(src, mask, index, base, 4)
#define FL_AFFINE_V4 fl_affine_v4_f
#define FL_LANES_AFFINE_V4 fl_lanes_affine_v4_f
#define FL_LANES_SPLIT_V4 fl_lanes_split_v4_f
#define FL_LANES_SCALE_V4 fl_lanes_scale_v4_f
#include "_rowops_impl.h"   /* which undefines its parameters */

#endif
