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
