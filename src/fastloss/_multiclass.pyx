# cython: language_level=3
"""nogil OpenMP kernels of the multi-class and margin losses.

softmax_focal_loss, margin_cross_entropy, hinge_loss (binary and
Crammer-Singer) and zero_one_loss (binary and argmax). The Python API, with
all validation, is ``_multiclass_api.py``.

Design: the three layers of ``_kernels.pyx``.

1. Per-row math in ``cdef inline noexcept nogil`` functions: ``closs_*`` for a
   loss, ``closs_grad_*`` for loss and gradient coefficients in one go, and
   ``cmargin_*`` for the target-logit transforms of the large-margin family.
2. Drivers: ``def`` functions over C-contiguous ``const`` memoryviews that
   turn optional arguments into pointers (NULL when absent) once, then run
   ``prange(schedule='static')`` over fixed blocks of rows
   (``rows_per_block`` of ``_common.pxd``: the block size depends on the row
   length only). Each block's loss sum, in double, goes to its own slot; the
   slots are added in block order (``sum_in_order``), so every result is
   bitwise identical for any number of threads.
3. The thin Python API (``_multiclass_api.py``).

The softmax losses reuse the C row loops of ``_rowops.h``: ``fl_rows_norm``
gives, for a chunk of rows that stays in cache, each row's max, log
normaliser and sum of exps and stores the exps (into the gradient buffer when
a gradient is wanted); the per-row math then turns them into a loss and two
coefficients per row, and ``fl_rows_affine`` writes the gradient rows
``g_j = a e_j - c w_j``, the target entry being recomputed in double. So
there is one exp per element, as in cross_entropy.

* focal: the loss is a function of p_y only, so its gradient is the
  cross-entropy gradient times one factor per row (see closs_grad_focal).
* margin: the logits z = s * cos, with the target entry replaced by
  s * f(cos_y), are written to a per-thread scratch buffer (a chunk of rows, in
  the input dtype, as a float32 model would hold them) and normalised from
  there; the gradient w.r.t. the cosines is s * dL/dz, times f'(cos_y) at the
  target.

The hinge and zero-one losses have no normaliser: their row loops (a row
max and its first index, or one element per row for 1-D scores) are written
in C in the verbatim block below, like _rowops.h's, because they must be
branch-free to run fast: labels and argmax positions are random, and a branch
on them mispredicts about half the time (the first Cython version of the 1-D
hinge ran at 9 ns per element, the C loop at 0.7). They are compiled for
AVX-512 / AVX2 / baseline (target_clones); the 1-D loops vectorise (chunks of
256 elements through stack buffers, a fixed-order simd sum), wide rows take
the row max with a vectorised reduction and then look for its first index.

Labels of the 1-D losses (-1/+1 or 0/1, any dtype) are checked and turned into
an int8 "is positive" array in one parallel pass before the kernel (the fused
``label_t`` reads the common label dtypes without a conversion copy).

float32 data stay float32 in memory; everything per row is computed and
accumulated in double.
"""
cimport cython
from cython.parallel cimport parallel, prange
from libc.math cimport (INFINITY, NAN, M_PI, acos, cos, exp, expm1, floor, isfinite, isnan,
                        pow, sin, sqrt)
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

from fastloss._common cimport floating, rows_per_block, sum_in_lanes, sum_in_order

# Label dtypes the 1-D losses read without conversion (the API converts others).
ctypedef fused label_t:
    signed char
    unsigned char
    short
    int
    long
    float
    double

cdef extern from "_rowops.h" nogil:
    void fl_rows_norm_d(const double *x, Py_ssize_t n_rows, Py_ssize_t n_cols, double inv_t,
                        double *e, double *row_max, double *log_norm, double *total)
    void fl_rows_norm_f(const float *x, Py_ssize_t n_rows, Py_ssize_t n_cols, float inv_t,
                        float *e, float *row_max, double *log_norm, double *total)
    void fl_rows_affine_d(double *g, Py_ssize_t n_rows, Py_ssize_t n_cols, const double *a,
                          const double *c, const double *w)
    void fl_rows_affine_f(float *g, Py_ssize_t n_rows, Py_ssize_t n_cols, const double *a,
                          const double *c, const double *w)

cdef extern from * nogil:
    """
    /* Row loops of the hinge and zero-one losses (see the module docstring).
     * One template, instantiated for double (_d) and float (_f); everything
     * is computed in double. As in _rowops.h, each block-level function is
     * compiled for AVX-512, AVX2 and baseline x86-64 (target_clones) and the
     * loader picks one; the loops are branch-free so that gcc vectorises them
     * (the 1-D losses) or runs them without mispredictions (the row max). */
    #include <math.h>
    #include <stddef.h>
    #define FL_MC_STEP 256          /* elements of a 1-D chunk held in stack buffers */
    #define FL_MC_WIDE 32           /* rows at least this wide: vectorised argmax */
    #define FL_MC_LANES 16          /* block of the wide-row argmax's index search */
    /* forced inlining: the row loops run inside the target_clones functions, and a
     * copy left out of line would be compiled for the baseline ISA only */
    #if defined(__GNUC__)
    #define FL_MC_INLINE static inline __attribute__((always_inline))
    #else
    #define FL_MC_INLINE static inline
    #endif

    #define FL_MC_TEMPLATE(FT, SUF)                                                          \\
    /* Index of the first largest x[j], j != skip (skip < 0: none), over a row of n;     \\
     * *best = that value. *nan = the row (skip included) holds nan; then the index is   \\
     * meaningless. No element above -inf: the first j != skip (-1 if there is none). */ \\
    FL_MC_INLINE Py_ssize_t fl_mc_row_argmax_##SUF(const FT *x, Py_ssize_t n,              \\
                                                  Py_ssize_t skip, FT *best, int *nan)    \\
    {                                                                                     \\
        FT m = -INFINITY;                                                                 \\
        Py_ssize_t j, b = -1;                                                             \\
        int has_nan = 0;                                                                  \\
        if (n >= FL_MC_WIDE) {                                                            \\
            /* the max in one vectorised pass, then its first index: blocks of         \\
             * FL_MC_LANES tested at once, one scalar look inside the block that has it */ \\
            Py_ssize_t c0, l;                                                             \\
            _Pragma("omp simd reduction(max:m) reduction(|:has_nan)")                     \\
            for (j = 0; j < n; ++j) {                                                     \\
                FT v = x[j];                                                              \\
                has_nan |= v != v;                                                        \\
                v = j == skip ? (FT)-INFINITY : v;                                        \\
                m = v > m ? v : m;                                                        \\
            }                                                                             \\
            for (c0 = 0; c0 < n && b < 0; c0 += FL_MC_LANES) {                            \\
                Py_ssize_t len = n - c0 < FL_MC_LANES ? n - c0 : FL_MC_LANES;             \\
                int hit = 0;                                                              \\
                _Pragma("omp simd reduction(|:hit)")                                      \\
                for (l = 0; l < len; ++l)                                                 \\
                    hit |= (x[c0 + l] == m) & (c0 + l != skip);                           \\
                if (hit)                                                                  \\
                    for (l = 0; l < len; ++l)                                             \\
                        if (x[c0 + l] == m && c0 + l != skip) {                           \\
                            b = c0 + l;                                                   \\
                            break;                                                        \\
                        }                                                                 \\
            }                                                                             \\
        } else {                                                                          \\
            for (j = 0; j < n; ++j) {                                                     \\
                FT v = x[j];                                                              \\
                int better = (j != skip) & (v > m);                                       \\
                has_nan |= v != v;                                                        \\
                b = better ? j : b;                                                       \\
                m = better ? v : m;                                                       \\
            }                                                                             \\
        }                                                                                 \\
        if (b < 0)                                                                        \\
            b = skip == 0 ? (n > 1 ? 1 : -1) : 0;                                         \\
        *best = m;                                                                        \\
        *nan = has_nan;                                                                   \\
        return b;                                                                         \\
    }                                                                                     \\
                                                                                          \\
    /* Crammer-Singer hinge over rows [start, stop): t = margin - (x_y - max_{j!=y} x_j) \\
     * in sklearn's order of operations, l = sw max(0, t) (nan kept); gradient rows     \\
     * coef * (+1 at the first runner-up, -1 at y) where t > 0, else 0 * coef, with     \\
     * coef = sw gs (nan for a nan t). Returns the sum of l in row order. */             \\
    FL_CLONES static double fl_mc_hinge_cs_##SUF(                                      \\
        const FT *x, Py_ssize_t n_classes, const Py_ssize_t *target, const double *sw,   \\
        double margin, double gs, FT *loss, FT *grad, Py_ssize_t start, Py_ssize_t stop) \\
    {                                                                                     \\
        double acc = 0.0;                                                                 \\
        Py_ssize_t i, j;                                                                  \\
        for (i = start; i < stop; ++i) {                                                  \\
            const FT *row = x + i * n_classes;                                            \\
            Py_ssize_t y = target[i], arg;                                                \\
            FT mo;                                                                        \\
            int nan;                                                                      \\
            double t, l, w = sw != NULL ? sw[i] : 1.0, coef;                              \\
            arg = fl_mc_row_argmax_##SUF(row, n_classes, y, &mo, &nan);                   \\
            t = nan ? (double)NAN : margin - ((double)row[y] - (double)mo);               \\
            l = w * ((t > 0.0 || t != t) ? t : 0.0);                                      \\
            if (loss != NULL)                                                             \\
                loss[i] = (FT)l;                                                          \\
            acc += l;                                                                     \\
            if (grad != NULL) {                                                           \\
                FT *g = grad + i * n_classes;                                             \\
                coef = t != t ? (double)NAN : w * gs;                                     \\
                for (j = 0; j < n_classes; ++j)                                           \\
                    g[j] = (FT)(0.0 * coef);                                              \\
                if (t > 0.0) {                                                            \\
                    g[arg] = (FT)coef;                                                    \\
                    g[y] = (FT)(-coef);                                                   \\
                }                                                                         \\
            }                                                                             \\
        }                                                                                 \\
        return acc;                                                                       \\
    }                                                                                     \\
                                                                                          \\
    /* Zero-one loss of the row argmax (first maximum) over rows [start, stop). */       \\
    FL_CLONES static double fl_mc_zero_one_argmax_##SUF(                               \\
        const FT *x, Py_ssize_t n_classes, const Py_ssize_t *target, const double *sw,   \\
        FT *loss, Py_ssize_t start, Py_ssize_t stop)                                      \\
    {                                                                                     \\
        double acc = 0.0;                                                                 \\
        Py_ssize_t i;                                                                     \\
        for (i = start; i < stop; ++i) {                                                  \\
            FT m;                                                                         \\
            int nan;                                                                      \\
            Py_ssize_t arg = fl_mc_row_argmax_##SUF(x + i * n_classes, n_classes, -1,     \\
                                                    &m, &nan);                            \\
            double l = nan ? (double)NAN : (arg != target[i] ? 1.0 : 0.0);                \\
            l *= sw != NULL ? sw[i] : 1.0;                                                \\
            if (loss != NULL)                                                             \\
                loss[i] = (FT)l;                                                          \\
            acc += l;                                                                     \\
        }                                                                                 \\
        return acc;                                                                       \\
    }                                                                                     \\
                                                                                          \\
    /* Binary hinge over [start, stop): t = margin - y x (y = +1 where pos, else -1),   \\
     * l = sw max(0, t) (nan kept), gradient (t > 0 ? -y : 0) sw gs (nan for nan t).    \\
     * Computed FL_MC_STEP elements at a time into stack buffers (a vectorised loop     \\
     * with a fixed-order sum), then stored. */                                          \\
    FL_CLONES static double fl_mc_hinge_binary_##SUF(                                  \\
        const FT *x, const signed char *pos, const double *sw, double margin, double gs, \\
        FT *loss, FT *grad, Py_ssize_t start, Py_ssize_t stop)                            \\
    {                                                                                     \\
        double acc = 0.0, lb[FL_MC_STEP], gb[FL_MC_STEP], ones[FL_MC_STEP];               \\
        Py_ssize_t c0, k, len;                                                            \\
        for (k = 0; k < FL_MC_STEP; ++k)                                                  \\
            ones[k] = 1.0;                                                                \\
        for (c0 = start; c0 < stop; c0 += FL_MC_STEP) {                                   \\
            const FT *xc = x + c0;                                                        \\
            const signed char *pc = pos + c0;                                             \\
            const double *wc = sw != NULL ? sw + c0 : ones;                               \\
            len = stop - c0 < FL_MC_STEP ? stop - c0 : FL_MC_STEP;                        \\
            _Pragma("omp simd reduction(+:acc)")                                          \\
            for (k = 0; k < len; ++k) {                                                   \\
                double sgn = 2.0 * (double)pc[k] - 1.0;                                   \\
                double t = margin - sgn * (double)xc[k];                                  \\
                double l = wc[k] * (!(t <= 0.0) ? t : 0.0);   /* max(0, t), nan kept */   \\
                double d = t > 0.0 ? -sgn : 0.0;                                          \\
                gb[k] = (t != t ? t : d) * (wc[k] * gs);                                  \\
                lb[k] = l;                                                                \\
                acc += l;                                                                 \\
            }                                                                             \\
            if (loss != NULL) {                                                           \\
                _Pragma("omp simd")                                                       \\
                for (k = 0; k < len; ++k)                                                 \\
                    loss[c0 + k] = (FT)lb[k];                                             \\
            }                                                                             \\
            if (grad != NULL) {                                                           \\
                _Pragma("omp simd")                                                       \\
                for (k = 0; k < len; ++k)                                                 \\
                    grad[c0 + k] = (FT)gb[k];                                             \\
            }                                                                             \\
        }                                                                                 \\
        return acc;                                                                       \\
    }                                                                                     \\
                                                                                          \\
    /* Binary zero-one over [start, stop): l = sw [(x > 0) != pos], nan for nan x. */    \\
    FL_CLONES static double fl_mc_zero_one_binary_##SUF(                               \\
        const FT *x, const signed char *pos, const double *sw, FT *loss,                 \\
        Py_ssize_t start, Py_ssize_t stop)                                                \\
    {                                                                                     \\
        double acc = 0.0, lb[FL_MC_STEP], ones[FL_MC_STEP];                               \\
        Py_ssize_t c0, k, len;                                                            \\
        for (k = 0; k < FL_MC_STEP; ++k)                                                  \\
            ones[k] = 1.0;                                                                \\
        for (c0 = start; c0 < stop; c0 += FL_MC_STEP) {                                   \\
            const FT *xc = x + c0;                                                        \\
            const signed char *pc = pos + c0;                                             \\
            const double *wc = sw != NULL ? sw + c0 : ones;                               \\
            len = stop - c0 < FL_MC_STEP ? stop - c0 : FL_MC_STEP;                        \\
            _Pragma("omp simd reduction(+:acc)")                                          \\
            for (k = 0; k < len; ++k) {                                                   \\
                FT v = xc[k];                                                             \\
                double wrong = (double)((v > 0) != pc[k]);                                \\
                double l = wc[k] * (v != v ? (double)v : wrong);                          \\
                lb[k] = l;                                                                \\
                acc += l;                                                                 \\
            }                                                                             \\
            if (loss != NULL) {                                                           \\
                _Pragma("omp simd")                                                       \\
                for (k = 0; k < len; ++k)                                                 \\
                    loss[c0 + k] = (FT)lb[k];                                             \\
            }                                                                             \\
        }                                                                                 \\
        return acc;                                                                       \\
    }

    FL_MC_TEMPLATE(double, d)
    FL_MC_TEMPLATE(float, f)

    /* 1-D labels: pos[i] = (y[i] == 1) over [start, stop); returns the first i whose
     * label is neither 1 nor neg, or -1. Vectorised, counting bad labels per chunk and
     * locating one only in a chunk that has it. */
    #define FL_MC_SIGNS(LT, SUF)                                                             \
    FL_CLONES static Py_ssize_t fl_mc_binary_signs_##SUF(                                  \
        const LT *y, LT neg, signed char *pos, Py_ssize_t start, Py_ssize_t stop)          \
    {                                                                                     \
        Py_ssize_t c0, k, len;                                                            \
        for (c0 = start; c0 < stop; c0 += FL_MC_STEP) {                                   \
            const LT *yc = y + c0;                                                        \
            signed char *pc = pos + c0;                                                   \
            int n_bad = 0;                                                                \
            len = stop - c0 < FL_MC_STEP ? stop - c0 : FL_MC_STEP;                        \
            _Pragma("omp simd reduction(+:n_bad)")                                        \
            for (k = 0; k < len; ++k) {                                                   \
                LT v = yc[k];                                                             \
                int p = v == (LT)1;                                                       \
                n_bad += !(p | (v == neg));                                               \
                pc[k] = (signed char)p;                                                   \
            }                                                                             \
            if (n_bad)                                                                    \
                for (k = 0; k < len; ++k)                                                 \
                    if (!(yc[k] == (LT)1 || yc[k] == neg))                                \
                        return c0 + k;                                                    \
        }                                                                                 \
        return -1;                                                                        \
    }
    FL_MC_SIGNS(signed char, i8)
    FL_MC_SIGNS(unsigned char, u8)
    FL_MC_SIGNS(short, i16)
    FL_MC_SIGNS(int, i32)
    FL_MC_SIGNS(long, i64)
    FL_MC_SIGNS(float, f32)
    FL_MC_SIGNS(double, f64)
    """
    Py_ssize_t fl_mc_binary_signs_i8(const signed char *y, signed char neg, signed char *pos,
                                     Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_u8(const unsigned char *y, unsigned char neg,
                                     signed char *pos, Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_i16(const short *y, short neg, signed char *pos,
                                      Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_i32(const int *y, int neg, signed char *pos,
                                      Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_i64(const long *y, long neg, signed char *pos,
                                      Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_f32(const float *y, float neg, signed char *pos,
                                      Py_ssize_t start, Py_ssize_t stop)
    Py_ssize_t fl_mc_binary_signs_f64(const double *y, double neg, signed char *pos,
                                      Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_hinge_cs_d(const double *x, Py_ssize_t n_classes, const Py_ssize_t *target,
                            const double *sw, double margin, double gs, double *loss,
                            double *grad, Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_hinge_cs_f(const float *x, Py_ssize_t n_classes, const Py_ssize_t *target,
                            const double *sw, double margin, double gs, float *loss,
                            float *grad, Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_zero_one_argmax_d(const double *x, Py_ssize_t n_classes,
                                   const Py_ssize_t *target, const double *sw, double *loss,
                                   Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_zero_one_argmax_f(const float *x, Py_ssize_t n_classes,
                                   const Py_ssize_t *target, const double *sw, float *loss,
                                   Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_hinge_binary_d(const double *x, const signed char *pos, const double *sw,
                                double margin, double gs, double *loss, double *grad,
                                Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_hinge_binary_f(const float *x, const signed char *pos, const double *sw,
                                double margin, double gs, float *loss, float *grad,
                                Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_zero_one_binary_d(const double *x, const signed char *pos, const double *sw,
                                   double *loss, Py_ssize_t start, Py_ssize_t stop)
    double fl_mc_zero_one_binary_f(const float *x, const signed char *pos, const double *sw,
                                   float *loss, Py_ssize_t start, Py_ssize_t stop)


cdef enum:
    CHUNK_ROWS = 256        # at most this many rows per chunk ...
    CHUNK_ELEMENTS = 4096   # ... and about this many elements (the chunk stays in L1/L2)

# margin_cross_entropy kinds (the API maps the strings)
cdef enum:
    KIND_ADDITIVE = 0
    KIND_ARC = 1
    KIND_ANGULAR = 2

KINDS = {"additive": KIND_ADDITIVE, "arc": KIND_ARC, "angular": KIND_ANGULAR}


# ---------------------------------------------------------------------------
# Layer 1a: dtype dispatch onto the C row loops.
# ---------------------------------------------------------------------------

cdef inline Py_ssize_t rows_per_chunk(Py_ssize_t n_cols) noexcept nogil:
    return max(<Py_ssize_t>1, min(<Py_ssize_t>CHUNK_ROWS, CHUNK_ELEMENTS // max(n_cols, 1)))


cdef inline void chunk_norms(const floating *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                             floating *e, floating *maxima, double *log_norm,
                             double *total) noexcept nogil:
    """Softmax normalisers of n_rows rows at temperature 1 (fl_rows_norm):
    OUT maxima (nan ignored), log_norm = log sum_j exp(x_j - max), total = that
    sum (nan iff the row holds nan) and, if e is not NULL, every exp."""
    if floating is double:
        fl_rows_norm_d(x, n_rows, n_cols, 1.0, e, maxima, log_norm, total)
    else:
        fl_rows_norm_f(x, n_rows, n_cols, 1.0, e, maxima, log_norm, total)


cdef inline void rows_affine(floating *g, Py_ssize_t n_rows, Py_ssize_t n_cols,
                             const double *a, const double *c, const double *w) noexcept nogil:
    """OUT g[i, j] = a[i] * g[i, j] - c[i] * w[j]  (w NULL: w[j] = 1)."""
    if floating is double:
        fl_rows_affine_d(g, n_rows, n_cols, a, c, w)
    else:
        fl_rows_affine_f(g, n_rows, n_cols, a, c, w)


# ---------------------------------------------------------------------------
# Layer 1b: per-row math.
# ---------------------------------------------------------------------------

cdef inline double focal_power(double q, double gamma) noexcept nogil:
    """q ** gamma, exact for the common gamma 0, 1, 2 (0 ** 0 = 1)."""
    if gamma == 0.0:
        return 1.0
    if gamma == 1.0:
        return q
    if gamma == 2.0:
        return q * q
    return pow(q, gamma)


cdef inline double closs_grad_focal(
    floating x_y,               # IN  the target logit
    floating m,                 # IN  the row's max
    double log_norm,            # IN  log sum_j exp(x_j - m)
    double total,               # IN  sum_j exp(x_j - m)
    double e_y,                 # IN  exp(x_y - m) as stored by the normaliser
    double w_y,                 # IN  class weight of the target
    double gamma,
    double coef,                # IN  gradient factor of the row (sample weight / mean)
    bint want_grad,
    double *a,                  # OUT gradient row: g_k = a e_k ...
    double *g_y,                # OUT ... except the target entry, given in full
) noexcept nogil:
    """Softmax focal loss of one row, -w_y (1 - p_y)^gamma log p_y.

    With lp = log p_y, p = p_y and q = 1 - p = -expm1(lp) (accurate when
    p_y ~ 1), the loss is w_y q^gamma (-lp). It depends on the logits through
    p_y only, so its gradient is the cross-entropy gradient times one factor:

        dl/dx_k = w_y B (p_k - [k == y]),
        B = q^gamma - gamma p q^(gamma - 1) lp = q^gamma (1 + gamma p (-lp) / q),

    with the limits p (-lp) / q -> 1 as q -> 0 and p (-lp) -> 0 as p -> 0
    (a -inf target logit). At gamma = 0, q^gamma = B = 1 and the loss is
    computed by the same operations as cross_entropy's (bitwise the same). A
    row whose max is not finite gets nan (nan in the row reaches the loss
    through log_norm)."""
    cdef double nl, q, qg, p, pr, bfac
    if not isfinite(m):
        a[0] = NAN
        g_y[0] = NAN
        return NAN
    nl = log_norm - (<double>x_y - <double>m)     # -log p_y >= 0
    q = -expm1(-nl)
    qg = focal_power(q, gamma)
    if want_grad:
        p = exp(-nl)
        if p == 0.0:
            pr = 0.0
        elif q == 0.0:
            pr = 1.0
        else:
            pr = p * nl / q
        bfac = w_y * (qg * (1.0 + gamma * pr))
        a[0] = coef * bfac / total
        # the target entry in double from e_y, so p_y ~ 1 does not cancel in float32
        g_y[0] = a[0] * e_y - coef * bfac
    return w_y * qg * nl


cdef struct MarginParams:
    int kind
    double scale            # s
    double margin           # m (integer-valued for KIND_ANGULAR)
    double cos_m, sin_m     # cos m, sin m (arc)
    double threshold        # cos(pi - m) (arc)
    double fallback         # m sin(pi - m) (arc)
    int m_int               # m as an int (angular)


cdef inline void cmargin_target(double c, const MarginParams *prm, double *f,
                                double *df) noexcept nogil:
    """OUT f = the margin-modified target cosine f(c) and df = f'(c).

    additive (CosFace / AM-Softmax): f = c - m, f' = 1.
    arc (ArcFace): f = cos(theta + m) = c cos m - sin(theta) sin m with
        sin(theta) = sqrt((1 - c)(1 + c)), while c > cos(pi - m); else the
        insightface fallback f = c - m sin(pi - m) (f' = 1), which keeps f
        decreasing in theta when theta + m would pass pi.
        f' = cos m + c sin m / sin(theta) = sin(theta + m) / sin(theta):
        +inf at c = 1 (theta = 0) when m > 0 (the caller multiplies it by
        dL/dz_y, taking 0 * inf = 0).
    angular (SphereFace): f = psi(theta) = (-1)^k cos(m theta) - 2k on
        [k pi / m, (k + 1) pi / m], k = 0 .. m - 1; cos(m theta) = T_m(c)
        (Chebyshev), so f' = (-1)^k m U_{m-1}(c), finite everywhere (and 0 at
        the interior piece boundaries, where psi is smooth)."""
    cdef double sin_t, t_prev, t_cur, t_next, u_prev, u_cur, u_next, sign
    cdef int k, n
    if prm.kind == KIND_ADDITIVE:
        f[0] = c - prm.margin
        df[0] = 1.0
    elif prm.kind == KIND_ARC:
        if c > prm.threshold:
            sin_t = sqrt((1.0 - c) * (1.0 + c))
            f[0] = c * prm.cos_m - sin_t * prm.sin_m
            df[0] = prm.cos_m + c * prm.sin_m / sin_t if prm.sin_m != 0.0 else 1.0
        else:
            f[0] = c - prm.fallback
            df[0] = 1.0
    else:
        if isnan(c):
            f[0] = NAN
            df[0] = NAN
            return
        k = <int>floor(prm.m_int * acos(c) / M_PI)
        k = min(max(k, 0), prm.m_int - 1)
        t_prev = 1.0        # T_0
        t_cur = c           # T_1
        u_prev = 0.0        # U_{-1}
        u_cur = 1.0         # U_0
        for n in range(1, prm.m_int):
            t_next = 2.0 * c * t_cur - t_prev
            t_prev = t_cur
            t_cur = t_next
            u_next = 2.0 * c * u_cur - u_prev
            u_prev = u_cur
            u_cur = u_next
        sign = -1.0 if k % 2 else 1.0
        f[0] = sign * t_cur - 2.0 * k
        df[0] = sign * prm.m_int * u_cur


# ---------------------------------------------------------------------------
# Layer 2: block loops and prange drivers.
# ---------------------------------------------------------------------------

cdef double focal_block(
    const floating *logits, Py_ssize_t n_classes, const Py_ssize_t *target,
    const double *cw, const double *sw, Py_ssize_t ignore_index, double gamma,
    double grad_scale, floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    cdef Py_ssize_t c, c0, i, k, y, rows, step = rows_per_chunk(n_classes)
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    cdef double a[CHUNK_ROWS]
    cdef double zero[CHUNK_ROWS]
    cdef double g_y[CHUNK_ROWS]
    cdef double row_losses[CHUNK_ROWS]
    cdef double acc = 0.0, row_loss, sw_i
    cdef floating *g = NULL
    memset(zero, 0, sizeof(zero))
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        rows = min(step, stop - c0)
        if grad != NULL:
            g = grad + c0 * n_classes
        chunk_norms(logits + c0 * n_classes, rows, n_classes, g, m, log_norm, total)
        for k in range(rows):
            i = c0 + k
            y = target[i]
            if y == ignore_index:
                row_loss = 0.0
                a[k] = 0.0
            else:
                sw_i = sw[i] if sw != NULL else 1.0
                row_loss = sw_i * closs_grad_focal(
                    logits[i * n_classes + y], m[k], log_norm[k], total[k],
                    g[k * n_classes + y] if g != NULL else 0.0,
                    cw[y] if cw != NULL else 1.0, gamma, sw_i * grad_scale, g != NULL,
                    &a[k], &g_y[k])
            if loss_out != NULL:
                loss_out[i] = <floating>row_loss
            row_losses[k] = row_loss
        acc += sum_in_lanes(row_losses, rows)   # as cross_entropy sums them
        if g != NULL:
            rows_affine(g, rows, n_classes, a, zero, cw)
            for k in range(rows):
                y = target[c0 + k]
                if y == ignore_index:  # exactly 0, whatever the logits held
                    memset(g + k * n_classes, 0, n_classes * sizeof(floating))
                else:
                    g[k * n_classes + y] = <floating>g_y[k]
    return acc


cdef double margin_block(
    const floating *cosine, Py_ssize_t n_classes, const Py_ssize_t *target,
    const double *cw, const double *sw, Py_ssize_t ignore_index, const MarginParams *prm,
    double grad_scale, floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
    floating *z,                # scratch, rows_per_chunk(n_classes) * n_classes elements
) noexcept nogil:
    cdef Py_ssize_t c, c0, i, j, k, y, rows, step = rows_per_chunk(n_classes)
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    cdef double a[CHUNK_ROWS]
    cdef double zero[CHUNK_ROWS]
    cdef double df[CHUNK_ROWS]
    cdef double g_y[CHUNK_ROWS]
    cdef double row_losses[CHUNK_ROWS]
    cdef double acc = 0.0, row_loss, sw_i, w_y, f, coef, dz_y
    cdef double s = prm.scale
    cdef floating *g = NULL
    cdef const floating *src
    memset(zero, 0, sizeof(zero))
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        rows = min(step, stop - c0)
        src = cosine + c0 * n_classes
        for j in range(rows * n_classes):
            z[j] = <floating>(s * <double>src[j])
        for k in range(rows):
            y = target[c0 + k]
            if y != ignore_index:
                cmargin_target(<double>src[k * n_classes + y], prm, &f, &df[k])
                z[k * n_classes + y] = <floating>(s * f)
        if grad != NULL:
            g = grad + c0 * n_classes
        chunk_norms(z, rows, n_classes, g, m, log_norm, total)
        for k in range(rows):
            i = c0 + k
            y = target[i]
            if y == ignore_index:
                row_loss = 0.0
                a[k] = 0.0
            else:
                sw_i = sw[i] if sw != NULL else 1.0
                w_y = cw[y] if cw != NULL else 1.0
                if isfinite(m[k]):
                    row_loss = sw_i * (w_y * (log_norm[k] - (<double>z[k * n_classes + y]
                                                             - <double>m[k])))
                else:
                    row_loss = NAN
                if g != NULL:
                    coef = s * (sw_i * grad_scale) * w_y
                    a[k] = coef / total[k] if isfinite(m[k]) else NAN
                    # dL/dz_y (times s) in double; f'(c_y) may be +inf (arc at c_y = 1):
                    # 0 * inf is taken as 0
                    dz_y = a[k] * <double>g[k * n_classes + y] - coef
                    g_y[k] = 0.0 if dz_y == 0.0 else dz_y * df[k]
            if loss_out != NULL:
                loss_out[i] = <floating>row_loss
            row_losses[k] = row_loss
        acc += sum_in_lanes(row_losses, rows)   # as cross_entropy sums them
        if g != NULL:
            rows_affine(g, rows, n_classes, a, zero, <const double *>NULL)
            for k in range(rows):
                y = target[c0 + k]
                if y == ignore_index:
                    memset(g + k * n_classes, 0, n_classes * sizeof(floating))
                else:
                    g[k * n_classes + y] = <floating>g_y[k]
    return acc


cdef inline Py_ssize_t binary_signs_block(const label_t *y, label_t neg, signed char *pos,
                                          Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """OUT pos[i] = (y[i] == 1) for i in [start, stop); returns the first i whose
    label is neither 1 nor neg, or -1 (fl_mc_binary_signs of the C block)."""
    if label_t is cython.schar:
        return fl_mc_binary_signs_i8(y, neg, pos, start, stop)
    elif label_t is cython.uchar:
        return fl_mc_binary_signs_u8(y, neg, pos, start, stop)
    elif label_t is short:
        return fl_mc_binary_signs_i16(y, neg, pos, start, stop)
    elif label_t is int:
        return fl_mc_binary_signs_i32(y, neg, pos, start, stop)
    elif label_t is long:
        return fl_mc_binary_signs_i64(y, neg, pos, start, stop)
    elif label_t is float:
        return fl_mc_binary_signs_f32(y, neg, pos, start, stop)
    else:
        return fl_mc_binary_signs_f64(y, neg, pos, start, stop)


cdef Py_ssize_t first_outside_unit_block(const floating *x, Py_ssize_t start,
                                         Py_ssize_t stop) noexcept nogil:
    """First flat index in [start, stop) of a value outside [-1, 1] that is not nan."""
    cdef Py_ssize_t i, j, s0, s1
    cdef int n_bad
    cdef floating v
    # count in vectorisable slices of 256, locate only in a slice that has one
    for s0 in range(start, stop, 256):
        s1 = min(s0 + 256, stop)
        n_bad = 0
        for j in range(s0, s1):
            v = x[j]
            n_bad += (v < -1) | (v > 1)
        if n_bad:
            for j in range(s0, s1):
                if x[j] < -1 or x[j] > 1:
                    return j
    return -1


def focal_index(
    const floating[:, ::1] logits,          # IN  (n, C)
    const Py_ssize_t[::1] target,           # IN  (n,) validated class indices
    const double[::1] class_weight,         # IN  (C,) or None
    const double[::1] sample_weight,        # IN  (n,) or None
    Py_ssize_t ignore_index,
    double gamma,
    double grad_scale,                      # IN  gradient factor (1/denominator for mean)
    floating[::1] loss_out,                 # OUT (n,) weighted per-row losses, or None
    floating[:, ::1] grad_out,              # OUT (n, C) gradient, or None
    int n_threads,
):
    """Softmax focal loss over class-index targets; returns sum_i sw_i l_i in
    double (fixed order)."""
    cdef Py_ssize_t n = logits.shape[0], n_classes = logits.shape[1]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(n_classes)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0, 0] if grad_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = focal_block(&logits[0, 0], n_classes, &target[0], cw, sw,
                                     ignore_index, gamma, grad_scale, pl, pg,
                                     b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def margin_index(
    const floating[:, ::1] cosine,          # IN  (n, C) validated: in [-1, 1] or nan
    const Py_ssize_t[::1] target,           # IN  (n,)
    const double[::1] class_weight,         # IN  (C,) or None
    const double[::1] sample_weight,        # IN  (n,) or None
    Py_ssize_t ignore_index,
    int kind, double scale, double margin,
    double grad_scale,
    floating[::1] loss_out,                 # OUT (n,) or None
    floating[:, ::1] grad_out,              # OUT (n, C) gradient w.r.t. the cosines, or None
    int n_threads,
):
    """Large-margin softmax cross-entropy; returns sum_i sw_i l_i (fixed order)."""
    cdef Py_ssize_t n = cosine.shape[0], n_classes = cosine.shape[1]
    if n == 0:
        return 0.0
    cdef MarginParams prm
    prm.kind = kind
    prm.scale = scale
    prm.margin = margin
    prm.cos_m = cos(margin)
    prm.sin_m = sin(margin)
    prm.threshold = cos(M_PI - margin)
    prm.fallback = sin(M_PI - margin) * margin
    prm.m_int = <int>margin if kind == KIND_ANGULAR else 0
    cdef Py_ssize_t block = rows_per_block(n_classes)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef size_t scratch = rows_per_chunk(n_classes) * n_classes * sizeof(floating)
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0, 0] if grad_out is not None else NULL
    cdef floating *z = NULL             # per-thread scratch for the modified logits
    cdef int no_memory = 0
    cdef int *failed = &no_memory       # written through a pointer: shared by the threads
    with nogil, parallel(num_threads=n_threads):
        z = <floating *>malloc(scratch)
        if z == NULL:
            failed[0] = 1
        for b in prange(n_blocks, schedule='static'):
            if z != NULL:
                partial[b] = margin_block(&cosine[0, 0], n_classes, &target[0], cw, sw,
                                          ignore_index, &prm, grad_scale, pl, pg,
                                          b * block, min(n, (b + 1) * block), z)
        free(z)
    if no_memory:
        raise MemoryError("margin_cross_entropy: no memory for the logits scratch buffer")
    return sum_in_order(partial)


cdef inline double hinge_cs_rows(const floating *x, Py_ssize_t n_classes,
                                 const Py_ssize_t *target, const double *sw, double margin,
                                 double grad_scale, floating *loss, floating *grad,
                                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    if floating is double:
        return fl_mc_hinge_cs_d(x, n_classes, target, sw, margin, grad_scale, loss, grad,
                                start, stop)
    else:
        return fl_mc_hinge_cs_f(x, n_classes, target, sw, margin, grad_scale, loss, grad,
                                start, stop)


cdef inline double zero_one_argmax_rows(const floating *x, Py_ssize_t n_classes,
                                        const Py_ssize_t *target, const double *sw,
                                        floating *loss, Py_ssize_t start,
                                        Py_ssize_t stop) noexcept nogil:
    if floating is double:
        return fl_mc_zero_one_argmax_d(x, n_classes, target, sw, loss, start, stop)
    else:
        return fl_mc_zero_one_argmax_f(x, n_classes, target, sw, loss, start, stop)


cdef inline double hinge_binary_rows(const floating *x, const signed char *pos,
                                     const double *sw, double margin, double grad_scale,
                                     floating *loss, floating *grad, Py_ssize_t start,
                                     Py_ssize_t stop) noexcept nogil:
    if floating is double:
        return fl_mc_hinge_binary_d(x, pos, sw, margin, grad_scale, loss, grad, start, stop)
    else:
        return fl_mc_hinge_binary_f(x, pos, sw, margin, grad_scale, loss, grad, start, stop)


cdef inline double zero_one_binary_rows(const floating *x, const signed char *pos,
                                        const double *sw, floating *loss, Py_ssize_t start,
                                        Py_ssize_t stop) noexcept nogil:
    if floating is double:
        return fl_mc_zero_one_binary_d(x, pos, sw, loss, start, stop)
    else:
        return fl_mc_zero_one_binary_f(x, pos, sw, loss, start, stop)


def hinge_crammer_singer(
    const floating[:, ::1] scores,          # IN  (n, C), C >= 2
    const Py_ssize_t[::1] target,           # IN  (n,) validated class indices
    const double[::1] sample_weight,        # IN  (n,) or None
    double margin, double grad_scale,
    floating[::1] loss_out,                 # OUT (n,) or None
    floating[:, ::1] grad_out,              # OUT (n, C) or None
    int n_threads,
):
    """Crammer-Singer multi-class hinge; returns sum_i sw_i l_i (fixed order)."""
    cdef Py_ssize_t n = scores.shape[0], n_classes = scores.shape[1]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(n_classes)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0, 0] if grad_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = hinge_cs_rows(&scores[0, 0], n_classes, &target[0], sw, margin,
                                       grad_scale, pl, pg, b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def zero_one_argmax(
    const floating[:, ::1] scores,          # IN  (n, C)
    const Py_ssize_t[::1] target,           # IN  (n,) validated class indices
    const double[::1] sample_weight,        # IN  (n,) or None
    floating[::1] loss_out,                 # OUT (n,) or None
    int n_threads,
):
    """sum_i sw_i [argmax_j scores[i, j] != target[i]] (fixed order)."""
    cdef Py_ssize_t n = scores.shape[0], n_classes = scores.shape[1]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(n_classes)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = zero_one_argmax_rows(&scores[0, 0], n_classes, &target[0], sw, pl,
                                              b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def hinge_binary(
    const floating[::1] scores,             # IN  (n,)
    const signed char[::1] positive,        # IN  (n,) 1 where the label is +1, else 0
    const double[::1] sample_weight,        # IN  (n,) or None
    double margin, double grad_scale,
    floating[::1] loss_out,                 # OUT (n,) or None
    floating[::1] grad_out,                 # OUT (n,) or None
    int n_threads,
):
    """Binary hinge max(0, margin - y s); returns sum_i sw_i l_i (fixed order)."""
    cdef Py_ssize_t n = scores.shape[0]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(1)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0] if grad_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = hinge_binary_rows(&scores[0], &positive[0], sw, margin, grad_scale,
                                           pl, pg, b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def zero_one_binary(
    const floating[::1] scores,             # IN  (n,)
    const signed char[::1] positive,        # IN  (n,) 1 where the label is the positive one
    const double[::1] sample_weight,        # IN  (n,) or None
    floating[::1] loss_out,                 # OUT (n,) or None
    int n_threads,
):
    """sum_i sw_i [(s_i > 0) != positive_i] (fixed order)."""
    cdef Py_ssize_t n = scores.shape[0]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(1)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = zero_one_binary_rows(&scores[0], &positive[0], sw, pl,
                                              b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def first_label_not(const label_t[::1] target, double value):
    """Index of the first label != value, or -1 (sequential, stops there)."""
    cdef Py_ssize_t i, n = target.shape[0], found = -1
    with nogil:
        for i in range(n):
            if target[i] != value:
                found = i
                break
    return found


def binary_signs(const label_t[::1] target, double neg, signed char[::1] positive,
                 int n_threads):
    """OUT positive[i] = (target[i] == 1). Returns the first index whose label
    is neither 1 nor neg, or -1."""
    cdef Py_ssize_t n = target.shape[0]
    if n == 0:
        return -1
    # neg in the label's type; a value the type cannot hold (-1 for unsigned
    # labels) becomes 1, so that no label passes as the negative class
    cdef label_t neg_t = <label_t>neg if <double><label_t>neg == neg else <label_t>1
    cdef Py_ssize_t block = rows_per_block(1)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef Py_ssize_t[::1] first = np.empty(n_blocks, dtype=np.intp)
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            first[b] = binary_signs_block(&target[0], neg_t, &positive[0], b * block,
                                          min(n, (b + 1) * block))
    for b in range(n_blocks):
        if first[b] >= 0:
            return first[b]
    return -1


def first_outside_unit(const floating[:, ::1] x, int n_threads):
    """Flat index of the first value outside [-1, 1] that is not nan, or -1."""
    cdef Py_ssize_t size = x.shape[0] * x.shape[1]
    if size == 0:
        return -1
    cdef Py_ssize_t block = rows_per_block(1)
    cdef Py_ssize_t n_blocks = (size + block - 1) // block, b
    cdef Py_ssize_t[::1] first = np.empty(n_blocks, dtype=np.intp)
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            first[b] = first_outside_unit_block(&x[0, 0], b * block,
                                                min(size, (b + 1) * block))
    for b in range(n_blocks):
        if first[b] >= 0:
            return first[b]
    return -1


def first_bad_class_index(const Py_ssize_t[::1] target, Py_ssize_t n_classes):
    """Index of the first label outside [0, n_classes), or -1 (no ignore_index)."""
    cdef Py_ssize_t i, n = target.shape[0], bad = -1
    with nogil:
        for i in range(n):
            if target[i] < 0 or target[i] >= n_classes:
                bad = i
                break
    return bad
