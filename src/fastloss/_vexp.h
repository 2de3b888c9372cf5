/* Branch-free exp for double and float that gcc vectorises inside
 * `#pragma omp simd` loops (glibc's exp is a scalar call and blocks it).
 *
 * exp(x) = 2^n * exp(r),  n = rint(x / ln 2),  r = x - n ln2  in [-ln2/2, ln2/2]
 *  - n by the round-to-nearest shifter trick (no float->int conversion, which
 *    AVX2 lacks for 64-bit lanes); r in two parts (Cody & Waite) so it is exact
 *    to well below an ulp.
 *  - exp(r) by its Taylor polynomial in Horner form: degree 13 (double) or 7
 *    (float) leaves a truncation error below 0.1 ulp on that interval.
 *  - 2^n applied as two powers of two built from exponent bits, so results
 *    that are subnormal or overflow to inf come out right with one rounding.
 *  - x is clamped first to where the result is 0 or inf anyway; nan survives
 *    the clamp (comparisons with nan are false) and gives nan.
 * Accuracy is tested against numpy (tests/test_vexp.py): <= 2 ulp.
 */
#ifndef FASTLOSS_VEXP_H
#define FASTLOSS_VEXP_H

#include <stdint.h>
#include <string.h>
#include "_simd.h"   /* FL_HAVE_V4, FL_V4_INLINE for the AVX-512 exps */

/* Forced inlining: these run inside the target_clones loops of _rowops.h, and
 * a copy left out of line would be compiled for the baseline ISA only. */
#if defined(__GNUC__)
#define FL_INLINE static inline __attribute__((always_inline))
#else
#define FL_INLINE static inline
#endif

FL_INLINE double fl_bits_to_double(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
FL_INLINE uint64_t fl_double_to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
FL_INLINE float fl_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
FL_INLINE uint32_t fl_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

FL_INLINE double fl_exp_d(double x)
{
    const double log2e = 1.4426950408889634074;
    const double ln2_hi = 6.93147180369123816490e-01;  /* trailing zeros: n*ln2_hi exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 6755399441055744.0;         /* 1.5 * 2^52 */
    double t, n, r, p;
    int64_t k, k1, k2;
    x = x > 710.0 ? 710.0 : x;      /* exp(710) = inf */
    x = x < -746.0 ? -746.0 : x;    /* exp(-746) = 0 */
    t = x * log2e + shifter;        /* low bits of t hold rint(x / ln2) */
    n = t - shifter;
    k = (int64_t)(fl_double_to_bits(t) - fl_double_to_bits(shifter));
    r = (x - n * ln2_hi) - n * ln2_lo;
    p = 1.0 / 6227020800.0;         /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    k1 = k >> 1;                    /* 2^k = 2^k1 * 2^k2, each a normal number */
    k2 = k - k1;
    return p * fl_bits_to_double((uint64_t)(k1 + 1023) << 52)
             * fl_bits_to_double((uint64_t)(k2 + 1023) << 52);
}

FL_INLINE float fl_exp_f(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 6.9314575195e-01f;            /* 0x1.62e4p-1 */
    const float ln2_lo = 1.4286067653e-06f;
    const float shifter = 12582912.0f;                 /* 1.5 * 2^23 */
    float t, n, r, p;
    int32_t k, k1, k2;
    x = x > 89.0f ? 89.0f : x;      /* expf(89) = inf */
    x = x < -104.0f ? -104.0f : x;  /* expf(-104) = 0 */
    t = x * log2e + shifter;
    n = t - shifter;
    k = (int32_t)(fl_float_to_bits(t) - fl_float_to_bits(shifter));
    r = (x - n * ln2_hi) - n * ln2_lo;
    p = 1.0f / 5040.0f;             /* 1/7! */
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    k1 = k >> 1;
    k2 = k - k1;
    return p * fl_bits_to_float((uint32_t)(k1 + 127) << 23)
             * fl_bits_to_float((uint32_t)(k2 + 127) << 23);
}

#ifdef FL_HAVE_V4
/* exp for 8 doubles or 16 floats in AVX-512 intrinsics, for the hand-vectorised
 * loops of the AVX-512 clone (_rowops.h). Table-driven, to spend fewer
 * multiply-adds: Zen 4 runs one 512-bit FMA per cycle, and the degree-13
 * polynomial made these loops FMA-bound there.
 *   exp(x) = 2^floor(n) * T_j * exp(r),  n = rint(K x / ln 2) / K,
 *   j = K n mod K,  T_j = 2^(j/K),  r = x - n ln2  in [-ln2/2K, ln2/2K]
 * with K = 8 for double (a table of 8 fits one register: one vpermpd per
 * lookup; a table of 16 takes the two-register vpermi2pd, which cost more than
 * the extra multiply-add of the longer polynomial) and K = 16 for float.
 *  - n by the shifter trick at a granularity of 1/K (a shifter K times
 *    smaller than for rint), so the low bits of the sum index the table and
 *    vscalef, which scales by 2^floor(n), takes n as it is;
 *  - T_j = hi_j + lo_j from tables held in registers;
 *  - exp(r) = 1 + r P(r), P of degree 6 (double: Taylor's of degree 7 with the
 *    r^7 term folded into the odd ones by Chebyshev economisation) or 2 (float,
 *    Taylor): below 0.1 ulp on that interval. hi_j + (lo_j + (hi_j r) P) is
 *    rounded once where it matters, in the last add: 0.7 ulp at most over a
 *    dense sweep (1.1 ulp without lo_j, and the gradients' error grew past 4
 *    ulp);
 *  - 2^floor(n) by vscalef, which rounds a subnormal or overflowing result
 *    once, in one instruction.
 * Same clamps as fl_exp_d: nan in -> nan out (the clamps return their second
 * operand when either is nan). may_overflow = 0 (a constant at the call) drops
 * the upper clamp for arguments known to be <= 0 or nan (+inf must not reach
 * it: it would give nan). exp(0) is exactly 1. The results may differ from
 * fl_exp_d's in the last bit; both are tested (tests/test_vexp.py). */
#define FL_DEFINE_EXP_V4(name, VEC, S, clamp_hi, clamp_lo, log2e, shifter_, ln2_hi, ln2_lo, \
                         LOOKUP, HORNER_STEPS)                                               \
    FL_V4_INLINE VEC name(VEC x, int may_overflow)                                          \
    {                                                                                       \
        const VEC shifter = _mm512_set1_##S(shifter_);                                      \
        VEC t, n, r, p;                                                                     \
        if (may_overflow)                                                                   \
            x = _mm512_min_##S(_mm512_set1_##S(clamp_hi), x);                               \
        x = _mm512_max_##S(_mm512_set1_##S(clamp_lo), x);                                   \
        t = _mm512_fmadd_##S(x, _mm512_set1_##S(log2e), shifter);                           \
        n = _mm512_sub_##S(t, shifter);                                                     \
        r = _mm512_fnmadd_##S(n, _mm512_set1_##S(ln2_hi), x);                               \
        r = _mm512_fnmadd_##S(n, _mm512_set1_##S(ln2_lo), r);                               \
        HORNER_STEPS                                                                        \
        {                                                                                   \
            const __m512i j = _mm512_cast##S##_si512(t);                                    \
            VEC hi = LOOKUP(hi), lo = LOOKUP(lo);                                           \
            p = _mm512_fmadd_##S(_mm512_mul_##S(hi, r), p, lo);                             \
            return _mm512_scalef_##S(_mm512_add_##S(hi, p), n);                             \
        }                                                                                   \
    }

/* 2^(j/K) = hi_j + lo_j: hi_j correctly rounded, lo_j the rest, rounded */
static const double fl_exp2_8ths_hi_d[8] = {
    0x1.0000000000000p+0, 0x1.172b83c7d517bp+0, 0x1.306fe0a31b715p+0, 0x1.4bfdad5362a27p+0,
    0x1.6a09e667f3bcdp+0, 0x1.8ace5422aa0dbp+0, 0x1.ae89f995ad3adp+0, 0x1.d5818dcfba487p+0};
static const double fl_exp2_8ths_lo_d[8] = {
    0x0.0p+0, -0x1.19041b9d78a76p-55, 0x1.6f46ad23182e4p-55, 0x1.d4397afec42e2p-56,
    -0x1.bdd3413b26456p-54, 0x1.6e9f156864b27p-54, 0x1.7a1cd345dcc81p-54, 0x1.2ed02d75b3707p-55};
static const float fl_exp2_16ths_hi_f[16] = {
    0x1.000000p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f,
    0x1.306fe0p+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f,
    0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
    0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
static const float fl_exp2_16ths_lo_f[16] = {
    0x0.0p+0f, 0x1.9f3122p-25f, -0x1.c15742p-27f, 0x1.ceac48p-25f,
    0x1.4636e2p-25f, 0x1.824684p-25f, -0x1.593abcp-25f, -0x1.5bd5ecp-27f,
    0x1.9fcef4p-26f, -0x1.829fd0p-25f, 0x1.15506ep-27f, 0x1.51f848p-27f,
    -0x1.a94b14p-26f, -0x1.3d56b2p-27f, -0x1.822dbcp-27f, 0x1.52486cp-27f};

/* Shifters 1.5 * 2^(52 - 3) and 1.5 * 2^(23 - 4); ln2 in two parts, the first
 * with trailing zeros so that n times it is exact (n has at most 14 significant
 * bits for double, 12 for float: hence a shorter first part for float). */
#define FL_LOOKUP_D(part) _mm512_permutexvar_pd(j, _mm512_loadu_pd(fl_exp2_8ths_##part##_d))
#define FL_H(c) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c));
FL_DEFINE_EXP_V4(fl_exp_v4_d, __m512d, pd, 710.0, -746.0, 1.4426950408889634074, 0x1.8p49,
                 6.93147180369123816490e-01, 1.90821492927058770002e-10, FL_LOOKUP_D,
                 p = _mm512_set1_pd(0x1.a01a01a01a01ap-13); FL_H(0x1.6c1c38d7d266ep-10)
                 FL_H(0x1.1111111111111p-7) FL_H(0x1.5555554ad3e8dp-5) FL_H(0x1.5555555555555p-3)
                 FL_H(0x1.00000000000a2p-1) FL_H(1.0))
#undef FL_H
#define FL_LOOKUP_F(part) _mm512_permutexvar_ps(j, _mm512_loadu_ps(fl_exp2_16ths_##part##_f))
#define FL_H(c) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
FL_DEFINE_EXP_V4(fl_exp_v4_f, __m512, ps, 89.0f, -104.0f, 1.44269504088896341f, 0x1.8p19f,
                 0x1.62ep-1f, 0x1.0bfbe8p-15f, FL_LOOKUP_F,
                 p = _mm512_set1_ps(1.0f / 6.0f); FL_H(0.5f) FL_H(1.0f))
#undef FL_H
#undef FL_LOOKUP_D
#undef FL_LOOKUP_F
#undef FL_DEFINE_EXP_V4
#endif

/* k ln2 + log(1 + f) + correction, for 1 + f in [sqrt(1/2), sqrt(2)) with f
 * exact, to <= 1 ulp. With s = f / (2 + f):
 *   log(1 + f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R)),  R = 2 (s^2/3 + s^4/5 + ...)
 * so the leading term f is exact and the rest is a small correction
 * (|s| <= 0.172: the series to s^22 is below 0.01 ulp). Shared by fl_log1p_d
 * and fl_log_d. */
FL_INLINE double fl_log_reduced(double f, double k, double correction)
{
    const double ln2_hi = 6.93147180369123816490e-01;   /* trailing zeros: k*ln2_hi exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    double s = f / (2.0 + f), s2 = s * s, r, half_f2;
    r = 2.0 / 23.0;
    r = r * s2 + 2.0 / 21.0;
    r = r * s2 + 2.0 / 19.0;
    r = r * s2 + 2.0 / 17.0;
    r = r * s2 + 2.0 / 15.0;
    r = r * s2 + 2.0 / 13.0;
    r = r * s2 + 2.0 / 11.0;
    r = r * s2 + 2.0 / 9.0;
    r = r * s2 + 2.0 / 7.0;
    r = r * s2 + 2.0 / 5.0;
    r = r * s2 + 2.0 / 3.0;
    r = r * s2;
    half_f2 = 0.5 * f * f;
    return k * ln2_hi - ((half_f2 - (s * (half_f2 + r) + (k * ln2_lo + correction))) - f);
}

/* log1p(u) for u >= 0 (the callers' argument: a sum of exps), to <= 1 ulp.
 * 1 + u = 2^k (1 + f); for k != 0 the part of u lost when rounding 1 + u is
 * added back as (u - (y - 1)) / y. nan -> nan, inf -> inf. */
FL_INLINE double fl_log1p_d(double u)
{
    double y = 1.0 + u, f, correction, r;
    uint64_t bits = fl_double_to_bits(y);
    /* exponent relative to sqrt(1/2), so that 1 + f = y / 2^k lands in [sqrt(1/2), sqrt(2)) */
    int64_t k = (int64_t)((bits + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL)) >> 52) - 1023;
    f = k == 0 ? u : fl_bits_to_double(bits - ((uint64_t)k << 52)) - 1.0;
    correction = k == 0 ? 0.0 : (u - (y - 1.0)) / y;
    r = fl_log_reduced(f, (double)k, correction);
    return (y == y && y < INFINITY) ? r : y;
}

/* log(y) for every double y, <= 1 ulp: y = 2^k (1 + f) with f exact (no
 * rounding of 1 + u here). Subnormal y is scaled by 2^54 first. The integer
 * work is 64-bit shifts, adds and ORs and k becomes a double by the 2^52 trick
 * (no int64 -> double conversion, which AVX2 lacks), so loops over it
 * vectorise in every clone. 0 -> -inf, y < 0 -> nan, inf -> inf, nan -> nan. */
FL_INLINE double fl_log_d(double y)
{
    const double two52 = 4503599627370496.0;
    int tiny = y < 0x1p-1022;
    double z = tiny ? y * 0x1p54 : y;
    uint64_t bits = fl_double_to_bits(z);
    uint64_t e = (bits + (0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL)) >> 52;
    double k = (fl_bits_to_double(e | 0x4330000000000000ULL) - (two52 + 1023.0))
               - (tiny ? 54.0 : 0.0);
    double r = fl_log_reduced(fl_bits_to_double(bits - ((e - 1023) << 52)) - 1.0, k, 0.0);
    return y > 0.0 ? (y < INFINITY ? r : y) : (y == 0.0 ? -INFINITY : NAN);
}

#endif
