/* Inner row loops shared by the Cython kernels (_kernels.pyx).
 *
 * Why C and not Cython: these are the loops Cython cannot get vectorised (a
 * nan-ignoring max reduction, a sum of exp accumulated in double, loops across
 * rows) and they need the vectorisable exp/log of _vexp.h. Each function is
 * written once, in _rowops_impl.h, and instantiated here for double (suffix
 * _d) and float (suffix _f): float data is computed in float SIMD lanes, sums
 * are accumulated in double.
 *
 * Dispatch: on x86-64 Linux with gcc each function is compiled three times
 * (target_clones: x86-64-v4 = AVX-512, x86-64-v3 = AVX2+FMA, baseline SSE2)
 * and the loader picks the best clone for the CPU, so one portable build runs
 * at full width everywhere. fl_simd_level() reports which clone runs.
 *
 * Vectorisation (gcc 12, -O3 -fno-math-errno -fno-trapping-math, checked with
 * -fopt-info-vec-all): every innermost loop vectorises, in 64-byte vectors in
 * the AVX-512 clone; only the outer loops over blocks, columns and rows, and
 * the scalar 16-lane setup of gradient coefficients, do not. Narrow rows
 * (C <= FL_NARROW_MAX) are vectorised ACROSS rows, one row per lane, through a
 * transposed tile; wide rows along the row, in whole blocks of FL_BLOCK with
 * the last block overlapping (no scalar remainder loops, which cost 35-40 %
 * at C = 100).
 *
 * Contract: `x` points at C-contiguous rows; nothing outside the rows named by
 * the arguments is read or written.
 */
#ifndef FASTLOSS_ROWOPS_H
#define FASTLOSS_ROWOPS_H

#include <math.h>
#include <stddef.h>
#include <Python.h>   /* Py_ssize_t */
#include "_vexp.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTLOSS_NO_CLONES)
#define FL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
/* Which clone the loader picks: the same order gcc's resolver uses. */
static int fl_simd_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return 512;
    if (__builtin_cpu_supports("x86-64-v3")) return 256;
    return 128;
}
#else
#define FL_CLONES
static int fl_simd_level(void) { return 0; }   /* compiler default only */
#endif

/* Rows at most this wide are processed across rows (fl_rows_norm). */
#define FL_NARROW_MAX 40
/* Rows handled together, one per SIMD lane, by fl_rows_norm. */
#define FL_LANES 16
/* Elements per vector block of a wide row (one AVX-512 float vector). */
#define FL_BLOCK 16

/* Optional gradient written in the same pass as the normaliser (see
 * fl_rows_norm): for row i, with p_ij = e_ij / total_i,
 *   g_ij = a_i p_ij - c_i w_j - (j == y_i ? b_i : 0)
 * y_i = FL_NO_TARGET: no target term; y_i = FL_ZERO_ROW: the row is exactly 0
 * (an ignored row, whatever its logits hold). A row whose max is not finite or
 * that holds nan gets nan. All per-row arrays are indexed from the first row
 * of the call. */
#define FL_NO_TARGET (-1)
#define FL_ZERO_ROW (-2)
typedef struct {
    const double *a;
    const double *c;
    const double *b;
    const Py_ssize_t *y;
    const double *w;        /* per column, or NULL for all ones */
} fl_grad_spec;

#define FL_T double
#define FL_SUFFIX(name) name##_d
#define FL_EXP fl_exp_d
#include "_rowops_impl.h"
#undef FL_T
#undef FL_SUFFIX
#undef FL_EXP

#define FL_T float
#define FL_SUFFIX(name) name##_f
#define FL_EXP fl_exp_f
#include "_rowops_impl.h"
#undef FL_T
#undef FL_SUFFIX
#undef FL_EXP

#endif
