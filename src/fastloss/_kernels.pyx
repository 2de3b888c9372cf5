# cython: language_level=3
"""nogil OpenMP kernels behind fastloss's public functions.

Design, in three layers (as scikit-learn's sklearn/_loss):

1. Per-row math: ``cdef inline ... noexcept nogil`` functions (``closs_*`` for
   a loss, ``closs_grad_*`` for loss and gradient in one pass). Their innermost
   loops (nan-ignoring max, sum of exp accumulated in double, affine update)
   are the C loops of ``_rowops.h``, which gcc vectorises under ``omp simd``.
2. Drivers: ``def`` functions taking C-contiguous ``const`` memoryviews (so
   read-only and memory-mapped arrays work without a copy). They turn each
   optional argument into a pointer (NULL when absent) once, before the loop,
   then run ``prange(schedule='static')`` over fixed-size blocks of rows.
   Each block's loss sum, in double, goes to its own slot; the slots are added
   in block order afterwards. Block size depends only on the row length, so
   every result is bitwise identical for any number of threads.
3. The Python API (``_core.py``): validation, defaults, output allocation.

One fused-type (float32/float64) body serves both dtypes. float32 data stays
float32 in memory; row sums, losses and reductions are accumulated in double.
Arguments are tagged IN / OUT in the docstrings.
"""
from cython.parallel cimport prange
from libc.math cimport INFINITY, NAN, isfinite, isnan, log1p
from libc.string cimport memset

import numpy as np

ctypedef fused floating:
    float
    double

ctypedef fused target_floating:
    float
    double

cdef extern from "_rowops.h" nogil:
    double fl_row_max_d(const double *x, Py_ssize_t n)
    float fl_row_max_f(const float *x, Py_ssize_t n)
    double fl_row_sumexp_d(const double *x, Py_ssize_t n, double m, double inv_t,
                           double *e, Py_ssize_t *n_at_max)
    double fl_row_sumexp_f(const float *x, Py_ssize_t n, float m, float inv_t,
                           float *e, Py_ssize_t *n_at_max)
    void fl_row_affine_d(double *g, Py_ssize_t n, double a, double c, const double *c_w)
    void fl_row_affine_f(float *g, Py_ssize_t n, double a, double c, const double *c_w)
    double fl_row_wsum_shifted_d(const double *x, Py_ssize_t n, double m, const double *w)
    double fl_row_wsum_shifted_f(const float *x, Py_ssize_t n, float m, const double *w)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FL_OPENMP_ENABLED 1
    static int fl_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define FL_OPENMP_ENABLED 0
    static int fl_omp_max_threads(void) { return 1; }
    #endif
    """
    int FL_OPENMP_ENABLED
    int fl_omp_max_threads() nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP (run in parallel)."""
    return bool(FL_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS and threadpoolctl limits."""
    return fl_omp_max_threads()


# ---------------------------------------------------------------------------
# Layer 1a: dtype dispatch onto the C row loops (resolved at compile time).
# ---------------------------------------------------------------------------

cdef inline floating row_max(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is double:
        return fl_row_max_d(x, n)
    else:
        return fl_row_max_f(x, n)


cdef inline double row_sumexp(const floating *x, Py_ssize_t n, floating m, floating inv_t,
                              floating *e, Py_ssize_t *n_at_max) noexcept nogil:
    if floating is double:
        return fl_row_sumexp_d(x, n, m, inv_t, e, n_at_max)
    else:
        return fl_row_sumexp_f(x, n, m, inv_t, e, n_at_max)


cdef inline void row_affine(floating *g, Py_ssize_t n, double a, double c,
                            const double *c_w) noexcept nogil:
    if floating is double:
        fl_row_affine_d(g, n, a, c, c_w)
    else:
        fl_row_affine_f(g, n, a, c, c_w)


cdef inline double row_wsum_shifted(const floating *x, Py_ssize_t n, floating m,
                                    const double *w) noexcept nogil:
    if floating is double:
        return fl_row_wsum_shifted_d(x, n, m, w)
    else:
        return fl_row_wsum_shifted_f(x, n, m, w)


cdef inline void row_fill(floating *g, Py_ssize_t n, floating value) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        g[j] = value


# ---------------------------------------------------------------------------
# Layer 1b: per-row math.
# ---------------------------------------------------------------------------

cdef inline double closs_logsumexp(const floating *x, Py_ssize_t n,
                                   double inv_t) noexcept nogil:
    """log sum_j exp(x_j * inv_t), scipy.special.logsumexp's semantics."""
    cdef floating m = row_max(x, n)
    cdef Py_ssize_t n_at_max
    cdef double rest = row_sumexp(x, n, m, <floating>inv_t, <floating *>NULL, &n_at_max)
    if isfinite(m):
        return m * inv_t + log1p(rest + <double>(n_at_max - 1))
    # max is +inf, or -inf (all -inf, all nan, empty): the result is that
    # infinity unless a nan is present, in which case `rest` is nan.
    return rest if isnan(rest) else <double>m * inv_t


cdef inline void closs_softmax(const floating *x, Py_ssize_t n, double inv_t,
                               floating *out, bint log_output) noexcept nogil:
    """OUT out[j] = softmax or log_softmax of x * inv_t.  A row holding nan or
    whose max is infinite is all nan (as torch)."""
    cdef floating m = row_max(x, n)
    cdef Py_ssize_t n_at_max, j
    cdef double rest, log_norm
    if not isfinite(m):
        row_fill(out, n, <floating>NAN)
        return
    if log_output:
        rest = row_sumexp(x, n, m, <floating>inv_t, <floating *>NULL, &n_at_max)
        log_norm = log1p(rest + <double>(n_at_max - 1))
        for j in range(n):
            out[j] = <floating>((<double>x[j] - <double>m) * inv_t - log_norm)
    else:
        rest = row_sumexp(x, n, m, <floating>inv_t, out, &n_at_max)
        row_affine(out, n, 1.0 / (rest + <double>n_at_max), 0.0, NULL)


cdef inline double closs_grad_ce_index(
    const floating *x,          # IN  logits row, n_classes values
    Py_ssize_t n_classes,
    Py_ssize_t y,               # IN  target class, 0 <= y < n_classes
    const double *cw,           # IN  class weights or NULL (all ones)
    double cw_sum,              # IN  sum of class weights (n_classes if cw is NULL)
    double eps,                 # IN  label smoothing
    double inv_t,               # IN  1 / temperature
    double grad_scale,          # IN  factor applied to the gradient row
    floating *g,                # OUT gradient row, or NULL for loss only
) noexcept nogil:
    """Cross-entropy of one row against class y, torch's formula:
        (1 - eps) * w_y * (-log p_y) + eps / C * sum_j w_j * (-log p_j),
    p = softmax(x * inv_t).  Gradient w.r.t. x (scaled by grad_scale):
        inv_t * [((1 - eps) w_y + eps W / C) p_k - (1 - eps) w_y [k == y] - eps w_k / C].
    (inv_t is folded into grad_scale by the caller.)"""
    cdef floating m = row_max(x, n_classes)
    cdef Py_ssize_t n_at_max
    cdef double rest, log_norm, w_y, loss, a, e_y
    if not isfinite(m):
        if g != NULL:
            row_fill(g, n_classes, <floating>NAN)
        return NAN
    rest = row_sumexp(x, n_classes, m, <floating>inv_t, g, &n_at_max)
    log_norm = log1p(rest + <double>(n_at_max - 1))
    w_y = cw[y] if cw != NULL else 1.0
    loss = (1.0 - eps) * w_y * (log_norm - (<double>x[y] - <double>m) * inv_t)
    if eps != 0.0:
        loss += eps / n_classes * (
            cw_sum * log_norm - inv_t * row_wsum_shifted(x, n_classes, m, cw))
    if g != NULL:
        e_y = g[y]
        a = grad_scale * ((1.0 - eps) * w_y + eps * cw_sum / n_classes) / (rest + <double>n_at_max)
        row_affine(g, n_classes, a, grad_scale * eps / n_classes, cw)
        # the target entry again in double, so p_y ~ 1 does not cancel in float32
        g[y] = <floating>(a * e_y - grad_scale * (eps / n_classes * (cw[y] if cw != NULL else 1.0)
                                                  + (1.0 - eps) * w_y))
    return loss


cdef inline double closs_grad_ce_proba(
    const floating *x,          # IN  logits row
    const target_floating *t,   # IN  target probabilities row
    Py_ssize_t n_classes,
    const double *cw,           # IN  class weights or NULL
    double eps,                 # IN  label smoothing
    double inv_t,               # IN  1 / temperature
    double grad_scale,          # IN  factor applied to the gradient row
    floating *g,                # OUT gradient row or NULL
) noexcept nogil:
    """-sum_j w_j t'_j log p_j with t' = (1 - eps) t + eps / C (torch's
    probability-target formula). Gradient: (sum_j w_j t'_j) p_k - w_k t'_k."""
    cdef floating m = row_max(x, n_classes)
    cdef Py_ssize_t n_at_max, j
    cdef double rest, log_norm, wt, wt_sum = 0.0, wt_shifted = 0.0, a
    cdef double keep = 1.0 - eps, spread = eps / n_classes
    if not isfinite(m):
        if g != NULL:
            row_fill(g, n_classes, <floating>NAN)
        return NAN
    rest = row_sumexp(x, n_classes, m, <floating>inv_t, g, &n_at_max)
    log_norm = log1p(rest + <double>(n_at_max - 1))
    for j in range(n_classes):
        wt = (keep * t[j] + spread) * (cw[j] if cw != NULL else 1.0)
        wt_sum += wt
        wt_shifted += wt * (<double>x[j] - <double>m)
    if g != NULL:
        a = grad_scale * wt_sum / (rest + <double>n_at_max)
        for j in range(n_classes):
            wt = (keep * t[j] + spread) * (cw[j] if cw != NULL else 1.0)
            g[j] = <floating>(a * g[j] - grad_scale * wt)
    return wt_sum * log_norm - inv_t * wt_shifted


# ---------------------------------------------------------------------------
# Layer 2: block loops and prange drivers.
# ---------------------------------------------------------------------------

cdef inline Py_ssize_t rows_per_block(Py_ssize_t n_cols) noexcept nogil:
    """About 16k elements per block. Depends on the shape only (never on the
    thread count), which fixes the summation order."""
    if n_cols < 1:
        n_cols = 1
    return max(<Py_ssize_t>1, <Py_ssize_t>16384 // n_cols)


cdef double sum_in_order(const double[::1] partial) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t b
    for b in range(partial.shape[0]):
        total += partial[b]
    return total


cdef double ce_index_block(
    const floating *logits, Py_ssize_t n_classes, const Py_ssize_t *target,
    const double *cw, double cw_sum, const double *sw, Py_ssize_t ignore_index,
    double eps, double inv_t, double grad_scale,
    floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef double acc = 0.0, row_loss, sw_i
    cdef floating *g = NULL
    for i in range(start, stop):
        if grad != NULL:
            g = grad + i * n_classes
        if target[i] == ignore_index:
            row_loss = 0.0
            if g != NULL:
                memset(g, 0, n_classes * sizeof(floating))
        else:
            sw_i = sw[i] if sw != NULL else 1.0
            row_loss = sw_i * closs_grad_ce_index(
                logits + i * n_classes, n_classes, target[i], cw, cw_sum, eps, inv_t,
                sw_i * grad_scale, g)
        if loss_out != NULL:
            loss_out[i] = <floating>row_loss
        acc += row_loss
    return acc


cdef double ce_proba_block(
    const floating *logits, const target_floating *target, Py_ssize_t n_classes,
    const double *cw, const double *sw, double eps, double inv_t, double grad_scale,
    floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef double acc = 0.0, row_loss, sw_i
    for i in range(start, stop):
        sw_i = sw[i] if sw != NULL else 1.0
        row_loss = sw_i * closs_grad_ce_proba(
            logits + i * n_classes, target + i * n_classes, n_classes, cw, eps, inv_t,
            sw_i * grad_scale, grad + i * n_classes if grad != NULL else NULL)
        if loss_out != NULL:
            loss_out[i] = <floating>row_loss
        acc += row_loss
    return acc


cdef double nll_block(
    const floating *log_probs, Py_ssize_t n_classes, const Py_ssize_t *target,
    const double *cw, const double *sw, Py_ssize_t ignore_index, double grad_scale,
    floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    cdef Py_ssize_t i, y
    cdef double acc = 0.0, row_loss, weight
    for i in range(start, stop):
        y = target[i]
        if grad != NULL:
            memset(grad + i * n_classes, 0, n_classes * sizeof(floating))
        if y == ignore_index:
            row_loss = 0.0
        else:
            weight = (sw[i] if sw != NULL else 1.0) * (cw[y] if cw != NULL else 1.0)
            row_loss = -weight * <double>log_probs[i * n_classes + y]
            if grad != NULL:
                grad[i * n_classes + y] = <floating>(-weight * grad_scale)
        if loss_out != NULL:
            loss_out[i] = <floating>row_loss
        acc += row_loss
    return acc


def logsumexp_rows(const floating[:, ::1] x, double inv_t, floating[::1] out, int n_threads):
    """OUT out[i] = log sum_j exp(x[i, j] * inv_t)."""
    cdef Py_ssize_t n = x.shape[0], n_cols = x.shape[1], i
    if n == 0:
        return
    cdef const floating *px = &x[0, 0] if n_cols > 0 else <const floating *>NULL
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads):
            out[i] = <floating>closs_logsumexp(px + i * n_cols, n_cols, inv_t)


def softmax_rows(const floating[:, ::1] x, double inv_t, floating[:, ::1] out,
                 bint log_output, int n_threads):
    """OUT out = softmax(x * inv_t) (log_softmax when log_output), row-wise."""
    cdef Py_ssize_t n = x.shape[0], n_cols = x.shape[1], i
    if n == 0 or n_cols == 0:
        return
    cdef const floating *px = &x[0, 0]
    cdef floating *pout = &out[0, 0]
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads):
            closs_softmax(px + i * n_cols, n_cols, inv_t, pout + i * n_cols, log_output)


def target_weight_sum(const Py_ssize_t[::1] target, Py_ssize_t n_classes,
                      Py_ssize_t ignore_index, const double[::1] class_weight,
                      const double[::1] sample_weight):
    """Scan integer targets once.

    Returns (first_bad_row, weight_sum): the first row whose label is neither
    ignore_index nor in [0, n_classes) (-1 when all are valid), and
    sum_i sample_weight[i] * class_weight[target[i]] over non-ignored rows.
    """
    cdef Py_ssize_t i, y, n = target.shape[0], bad = -1
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef double total = 0.0
    with nogil:
        for i in range(n):
            y = target[i]
            if y == ignore_index:
                continue
            if y < 0 or y >= n_classes:
                bad = i
                break
            total += (sw[i] if sw != NULL else 1.0) * (cw[y] if cw != NULL else 1.0)
    return bad, total


def cross_entropy_index(
    const floating[:, ::1] logits,          # IN  (n, C)
    const Py_ssize_t[::1] target,           # IN  (n,) validated class indices
    const double[::1] class_weight,         # IN  (C,) or None
    const double[::1] sample_weight,        # IN  (n,) or None
    Py_ssize_t ignore_index,
    double label_smoothing,
    double inv_t,
    double grad_scale,                      # IN  gradient factor (1/T, and 1/denominator for mean)
    floating[::1] loss_out,                 # OUT (n,) weighted per-row losses, or None
    floating[:, ::1] grad_out,              # OUT (n, C) gradient, or None
    int n_threads,
):
    """Fused softmax cross-entropy over class-index targets.

    Returns sum_i sample_weight[i] * loss_i in double (fixed order)."""
    cdef Py_ssize_t n = logits.shape[0], n_classes = logits.shape[1]
    if n == 0:
        return 0.0
    cdef Py_ssize_t block = rows_per_block(n_classes)
    cdef Py_ssize_t n_blocks = (n + block - 1) // block, b
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef double cw_sum = float(np.sum(class_weight)) if class_weight is not None else n_classes
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0, 0] if grad_out is not None else NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            partial[b] = ce_index_block(
                &logits[0, 0], n_classes, &target[0], cw, cw_sum, sw, ignore_index,
                label_smoothing, inv_t, grad_scale, pl, pg, b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def cross_entropy_proba(
    const floating[:, ::1] logits,          # IN  (n, C)
    const target_floating[:, ::1] target,   # IN  (n, C) probabilities
    const double[::1] class_weight,         # IN  (C,) or None
    const double[::1] sample_weight,        # IN  (n,) or None
    double label_smoothing,
    double inv_t,
    double grad_scale,
    floating[::1] loss_out,                 # OUT (n,) or None
    floating[:, ::1] grad_out,              # OUT (n, C) or None
    int n_threads,
):
    """Fused softmax cross-entropy over probability targets.

    Returns sum_i sample_weight[i] * loss_i in double (fixed order)."""
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
            partial[b] = ce_proba_block(
                &logits[0, 0], &target[0, 0], n_classes, cw, sw, label_smoothing, inv_t,
                grad_scale, pl, pg, b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)


def nll_index(
    const floating[:, ::1] log_probs,       # IN  (n, C)
    const Py_ssize_t[::1] target,           # IN  (n,)
    const double[::1] class_weight,         # IN  (C,) or None
    const double[::1] sample_weight,        # IN  (n,) or None
    Py_ssize_t ignore_index,
    double grad_scale,
    floating[::1] loss_out,                 # OUT (n,) or None
    floating[:, ::1] grad_out,              # OUT (n, C) or None
    int n_threads,
):
    """Negative log-likelihood -w_y * log_probs[i, y]; returns its sum (fixed order)."""
    cdef Py_ssize_t n = log_probs.shape[0], n_classes = log_probs.shape[1]
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
            partial[b] = nll_block(
                &log_probs[0, 0], n_classes, &target[0], cw, sw, ignore_index, grad_scale,
                pl, pg, b * block, min(n, (b + 1) * block))
    return sum_in_order(partial)
