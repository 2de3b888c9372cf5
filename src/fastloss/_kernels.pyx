# cython: language_level=3
"""nogil OpenMP kernels behind fastloss's public functions.

Design, in three layers (as scikit-learn's sklearn/_loss):

1. Per-row math: ``cdef inline ... noexcept nogil`` functions: ``closs_*``
   give a row's loss from its softmax normaliser. The per-element loops under
   them (max, sum of exp accumulated in double, the gradient written while the
   exps are still in cache) are the C loops of ``_rowops.h``: vectorised under
   ``omp simd``, across rows for narrow rows, compiled for AVX-512/AVX2/SSE2
   and picked at load time. A chunk of rows is normalised at once, then the
   row math runs. Cross-entropy against class indices (the hot path) has its
   row math in C too (``fl_ce_spec``): there it vectorises across narrow rows
   with the rest, where a per-row Cython loop cost ~20 % at 10 columns.
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
from libc.math cimport NAN, isfinite, isnan
"""
from cython.parallel cimport prange
from libc.math cimport INFINITY, NAN, isfinite, isnan, log1p
from libc.string cimport memset

import numpy as np

from fastloss._common cimport floating, rows_per_block, sum_in_lanes, sum_in_order

ctypedef fused target_floating:
    float
    double

cdef extern from "_rowops.h" nogil:
    int FL_NARROW_MAX
    ctypedef struct fl_ce_spec:
        const Py_ssize_t *y
        Py_ssize_t ignore
        const double *sw
        const double *w
        double w_sum, keep, spread, scale
        double *loss
    void fl_rows_norm_grad_d(const double *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                             double inv_t, double *e, const fl_ce_spec *ce,
                             double *row_max, double *log_norm, double *total)
    void fl_rows_norm_grad_f(const float *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                             float inv_t, float *e, const fl_ce_spec *ce,
                             float *row_max, double *log_norm, double *total)
    int fl_simd_level()
    void fl_row_log_softmax_d(const double *x, Py_ssize_t n, double m_scaled, double inv_t,
                              double log_norm, double *out)
    void fl_row_log_softmax_f(const float *x, Py_ssize_t n, float m_scaled, float inv_t,
                              double log_norm, float *out)
    double fl_shifted_d(double x, double inv_t, double m_scaled)
    double fl_shifted_f(float x, float inv_t, float m_scaled)
    double fl_exp_d(double x)
    float fl_exp_f(float x)
    double fl_log1p_d(double x)
    int fl_vexp_v4_d(const double *x, double *out, Py_ssize_t n)
    int fl_vexp_v4_f(const float *x, float *out, Py_ssize_t n)

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

cdef enum:
    CHUNK_ROWS = 256        # at most this many rows per chunk ...
    CHUNK_BYTES = 16384     # ... and about this many bytes (the chunk stays in L1/L2)


cdef inline double shifted(floating x, double inv_t, floating m) noexcept nogil:
    """x * inv_t - m for a row's scaled max m, in double (fl_shifted of _rowops.h)."""
    if floating is double:
        return fl_shifted_d(x, inv_t, m)
    else:
        return fl_shifted_f(x, <float>inv_t, m)


cdef inline void row_fill(floating *g, Py_ssize_t n, floating value) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        g[j] = value


cdef inline Py_ssize_t rows_per_chunk(Py_ssize_t n_cols, Py_ssize_t itemsize) noexcept nogil:
    """Rows normalised in one call; their exps are still in cache when the
    per-row math and the gradient pass over them. Sized in bytes: float64 rows
    of 100 in chunks of 32 KB (the L1's size, with the next chunk prefetched
    into it) ran 10 % slower than in 16 KB. Whole multiples of 16 rows when
    more: the C loops take rows 16 at a time (FL_LANES)."""
    cdef Py_ssize_t rows = min(<Py_ssize_t>CHUNK_ROWS, CHUNK_BYTES // (max(n_cols, 1) * itemsize))
    if rows >= 16:
        rows -= rows % 16
    return max(<Py_ssize_t>1, rows)


cdef inline Py_ssize_t rows_per_chunked_block(Py_ssize_t n_cols,
                                              Py_ssize_t itemsize) noexcept nogil:
    """rows_per_block rounded down to whole chunks (at least one): with a short
    chunk at the end of every block (3 rows of float64 100-wide rows after ten
    of 16), that chunk prefetched only 3 rows of the next one."""
    cdef Py_ssize_t chunk = rows_per_chunk(n_cols, itemsize)
    return max(<Py_ssize_t>1, rows_per_block(n_cols) // chunk) * chunk


cdef inline void chunk_norms(
    const floating *x,      # IN  n_rows consecutive rows of n_cols
    Py_ssize_t n_rows, Py_ssize_t n_cols, floating inv_t,
    floating *e,            # OUT exps exp(x * inv_t - maxima), or the gradient of `ce`; or NULL
    const fl_ce_spec *ce,   # IN  cross-entropy (losses OUT to ce.loss) or NULL for the exps
    floating *maxima,       # OUT (n_rows,) scaled row maxima inv_t * max_j x_j (nan ignored)
    double *log_norm,       # OUT (n_rows,) log sum_j exp(x_j * inv_t - maxima)
    double *total,          # OUT (n_rows,) that sum; nan when the row holds nan
) noexcept nogil:
    """Softmax normalisers of a chunk of rows, and optionally the
    cross-entropy loss and gradient of fl_ce_spec in the same pass
    (fl_rows_norm_grad of _rowops.h). Rows with a non-finite max get a
    meaningless log_norm (callers test the max), but `total` is still nan iff
    nan is present."""
    if floating is double:
        fl_rows_norm_grad_d(x, n_rows, n_cols, inv_t, e, ce, maxima, log_norm, total)
    else:
        fl_rows_norm_grad_f(x, n_rows, n_cols, inv_t, e, ce, maxima, log_norm, total)


# ---------------------------------------------------------------------------
# Layer 1b: per-row math, given the row's normaliser: m = inv_t * max_j x_j
# (the scaled max), log_norm = log sum_j exp(x_j * inv_t - m), total = that sum.
# ---------------------------------------------------------------------------

cdef inline double closs_logsumexp(double m, double log_norm, double total,
                                   double inv_t) noexcept nogil:
    """log sum_j exp(x_j * inv_t) given the row's scaled max m,
    scipy.special.logsumexp's semantics."""
    if isfinite(m):
        return m + log_norm
    # max is +inf, or -inf (all -inf, all nan, empty): the result is that
    # infinity unless a nan is present, in which case `total` is nan.
    return total if isnan(total) else m


cdef inline void clog_softmax(const floating *x, Py_ssize_t n, floating m, double log_norm,
                              double total, double inv_t, floating *out) noexcept nogil:
    """OUT out[j] = log_softmax(x * inv_t)[j]. A row holding nan or whose max is
    infinite is all nan (as torch; softmax rows get the same rule from fl_rows_norm_grad)."""
    if not isfinite(m) or isnan(total):
        row_fill(out, n, <floating>NAN)
    elif floating is double:
        fl_row_log_softmax_d(x, n, m, inv_t, log_norm, out)
    else:
        fl_row_log_softmax_f(x, n, m, <float>inv_t, log_norm, out)


cdef inline double closs_grad_ce_proba(
    const floating *x,          # IN  logits row
    const target_floating *t,   # IN  target probabilities row
    Py_ssize_t n_classes,
    floating m, double log_norm, double total,   # IN  the row's normaliser
    const double *cw,           # IN  class weights or NULL
    double eps,                 # IN  label smoothing
    double inv_t,               # IN  1 / temperature
    double grad_scale,          # IN  factor applied to the gradient row
    floating *g,                # IN/OUT exps on entry, gradient on exit; or NULL
) noexcept nogil:
    """-sum_j w_j t'_j log p_j with t' = (1 - eps) t + eps / C (torch's
    probability-target formula). Gradient: (sum_j w_j t'_j) p_k - w_k t'_k."""
    cdef Py_ssize_t j
    cdef double wt, wt_sum = 0.0, wt_shifted = 0.0, a
    cdef double keep = 1.0 - eps, spread = eps / n_classes
    if not isfinite(m):
        if g != NULL:
            row_fill(g, n_classes, <floating>NAN)
        return NAN
    for j in range(n_classes):
        wt = (keep * t[j] + spread) * (cw[j] if cw != NULL else 1.0)
        wt_sum += wt
        wt_shifted += wt * shifted(x[j], inv_t, m)
    if g != NULL:
        a = grad_scale * wt_sum / total
        for j in range(n_classes):
            wt = (keep * t[j] + spread) * (cw[j] if cw != NULL else 1.0)
            g[j] = <floating>(a * g[j] - grad_scale * wt)
    return wt_sum * log_norm - wt_shifted


# ---------------------------------------------------------------------------
# Layer 2: block loops and prange drivers.
# ---------------------------------------------------------------------------

cdef void logsumexp_block(const floating *x, Py_ssize_t n_cols, double inv_t, floating *out,
                          Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t c, c0, i, step = rows_per_chunk(n_cols, sizeof(floating))
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        chunk_norms(x + c0 * n_cols, min(step, stop - c0), n_cols, <floating>inv_t,
                    <floating *>NULL, NULL, m, log_norm, total)
        for i in range(c0, min(c0 + step, stop)):
            out[i] = <floating>closs_logsumexp(m[i - c0], log_norm[i - c0], total[i - c0], inv_t)


cdef void softmax_block(const floating *x, Py_ssize_t n_cols, double inv_t, floating *out,
                        bint log_output, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t c, c0, i, rows, step = rows_per_chunk(n_cols, sizeof(floating))
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    cdef fl_ce_spec probabilities   # no target, g = 1 * p: the softmax itself
    probabilities.y = NULL
    probabilities.sw = NULL
    probabilities.w = NULL
    probabilities.w_sum = probabilities.spread = 0.0
    probabilities.keep = probabilities.scale = 1.0
    probabilities.loss = NULL
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        rows = min(step, stop - c0)
        if log_output:
            chunk_norms(x + c0 * n_cols, rows, n_cols, <floating>inv_t, <floating *>NULL, NULL,
                        m, log_norm, total)
            for i in range(rows):
                clog_softmax(x + (c0 + i) * n_cols, n_cols, m[i], log_norm[i], total[i], inv_t,
                             out + (c0 + i) * n_cols)
        else:
            chunk_norms(x + c0 * n_cols, rows, n_cols, <floating>inv_t, out + c0 * n_cols,
                        &probabilities, m, log_norm, total)


cdef double ce_index_block(
    const floating *logits, Py_ssize_t n_classes, const Py_ssize_t *target,
    const double *cw, double cw_sum, const double *sw, Py_ssize_t ignore_index,
    double eps, double inv_t, double grad_scale,
    floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    """Loss and gradient rows come out of the C row loop (fl_ce_spec): only
    the in-order sum of the losses is left here."""
    cdef Py_ssize_t c, c0, k, rows, step = rows_per_chunk(n_classes, sizeof(floating))
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    cdef double loss[CHUNK_ROWS]
    cdef fl_ce_spec spec
    cdef double acc = 0.0
    spec.ignore = ignore_index
    spec.w = cw
    spec.w_sum = cw_sum
    spec.keep = 1.0 - eps
    spec.spread = eps / n_classes
    spec.scale = grad_scale
    spec.loss = loss
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        rows = min(step, stop - c0)
        spec.y = target + c0
        spec.sw = sw + c0 if sw != NULL else NULL
        chunk_norms(logits + c0 * n_classes, rows, n_classes, <floating>inv_t,
                    grad + c0 * n_classes if grad != NULL else NULL, &spec, m, log_norm, total)
        if loss_out != NULL:
            for k in range(rows):
                loss_out[c0 + k] = <floating>loss[k]
        acc += sum_in_lanes(loss, rows)
    return acc


cdef double ce_proba_block(
    const floating *logits, const target_floating *target, Py_ssize_t n_classes,
    const double *cw, const double *sw, double eps, double inv_t, double grad_scale,
    floating *loss_out, floating *grad, Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    cdef Py_ssize_t c, c0, i, k, step = rows_per_chunk(n_classes, sizeof(floating))
    cdef floating m[CHUNK_ROWS]
    cdef double log_norm[CHUNK_ROWS]
    cdef double total[CHUNK_ROWS]
    cdef double acc = 0.0, row_loss, sw_i
    for c in range((stop - start + step - 1) // step):
        c0 = start + c * step
        chunk_norms(logits + c0 * n_classes, min(step, stop - c0), n_classes, <floating>inv_t,
                    grad + c0 * n_classes if grad != NULL else NULL, NULL, m, log_norm, total)
        for i in range(c0, min(c0 + step, stop)):
            k = i - c0
            sw_i = sw[i] if sw != NULL else 1.0
            row_loss = sw_i * closs_grad_ce_proba(
                logits + i * n_classes, target + i * n_classes, n_classes,
                m[k], log_norm[k], total[k], cw, eps, inv_t, sw_i * grad_scale,
                grad + i * n_classes if grad != NULL else NULL)
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
    cdef Py_ssize_t n = x.shape[0], n_cols = x.shape[1], b
    if n == 0:
        return
    cdef Py_ssize_t block = rows_per_chunked_block(n_cols, sizeof(floating)), n_blocks = (n + block - 1) // block
    cdef const floating *px = &x[0, 0] if n_cols > 0 else <const floating *>NULL
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            logsumexp_block(px, n_cols, inv_t, &out[0], b * block, min(n, (b + 1) * block))


def softmax_rows(const floating[:, ::1] x, double inv_t, floating[:, ::1] out,
                 bint log_output, int n_threads):
    """OUT out = softmax(x * inv_t) (log_softmax when log_output), row-wise."""
    cdef Py_ssize_t n = x.shape[0], n_cols = x.shape[1], b
    if n == 0 or n_cols == 0:
        return
    cdef Py_ssize_t block = rows_per_chunked_block(n_cols, sizeof(floating)), n_blocks = (n + block - 1) // block
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            softmax_block(&x[0, 0], n_cols, inv_t, &out[0, 0], log_output,
                          b * block, min(n, (b + 1) * block))


def simd_level():
    """Vector width (bits) of the code path the CPU runs: 512 (AVX-512 clone),
    256 (AVX2 clone), 128 (baseline SSE2), 0 (no multi-versioning in this build)."""
    return fl_simd_level()


def vexp(const floating[::1] x, floating[::1] out):
    """Test hook: OUT out = the kernels' vectorised exp of x."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            if floating is double:
                out[i] = fl_exp_d(x[i])
            else:
                out[i] = fl_exp_f(x[i])


def vexp_v4(const floating[::1] x, floating[::1] out):
    """Test hook: OUT out = the AVX-512 exp (fl_exp_v4_*) of x. Returns False,
    leaving out alone, when this CPU or build has no such path."""
    cdef int ran
    if x.shape[0] == 0:
        return True
    with nogil:
        if floating is double:
            ran = fl_vexp_v4_d(&x[0], &out[0], x.shape[0])
        else:
            ran = fl_vexp_v4_f(&x[0], &out[0], x.shape[0])
    return bool(ran)


def vlog1p(const double[::1] x, double[::1] out):
    """Test hook: OUT out = the kernels' vectorisable log1p of x."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = fl_log1p_d(x[i])


cdef enum:
    SCAN_BLOCK = 65536   # targets per prange work item of target_weight_sum


cdef void scan_targets(const Py_ssize_t *target, Py_ssize_t n_classes, Py_ssize_t ignore_index,
                       const double *cw, const double *sw, Py_ssize_t start, Py_ssize_t stop,
                       Py_ssize_t *bad, double *total) noexcept nogil:
    """OUT *bad = the first row of [start, stop) whose label is neither
    ignore_index nor in [0, n_classes) (-1 when none), *total = the weight sum
    of the valid rows before it. Unweighted, the rows are counted in an integer
    (a chain of double additions was the whole cost: 1 ms per 1e6 rows)."""
    cdef Py_ssize_t i, y, count = 0
    cdef double acc = 0.0
    cdef bint weighted = cw != NULL or sw != NULL
    bad[0] = -1
    for i in range(start, stop):
        y = target[i]
        if y == ignore_index:
            continue
        if y < 0 or y >= n_classes:
            bad[0] = i
            break
        if weighted:
            acc += (sw[i] if sw != NULL else 1.0) * (cw[y] if cw != NULL else 1.0)
        else:
            count += 1
    total[0] = acc if weighted else <double>count


def target_weight_sum(const Py_ssize_t[::1] target, Py_ssize_t n_classes,
                      Py_ssize_t ignore_index, const double[::1] class_weight,
                      const double[::1] sample_weight, int n_threads=1):
    """Scan integer targets once, in parallel over fixed blocks.

    Returns (first_bad_row, weight_sum): the first row whose label is neither
    ignore_index nor in [0, n_classes) (-1 when all are valid), and
    sum_i sample_weight[i] * class_weight[target[i]] over non-ignored rows
    (block sums added in block order: the same for any n_threads).
    """
    cdef Py_ssize_t n = target.shape[0], b, n_blocks = (n + SCAN_BLOCK - 1) // SCAN_BLOCK
    cdef Py_ssize_t[::1] bad = np.empty(n_blocks, dtype=np.intp)
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const double *cw = &class_weight[0] if class_weight is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    if n == 0:
        return -1, 0.0
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            scan_targets(&target[0], n_classes, ignore_index, cw, sw, b * SCAN_BLOCK,
                         min(n, (b + 1) * SCAN_BLOCK), &bad[b], &partial[b])
    for b in range(n_blocks):
        if bad[b] >= 0:
            return bad[b], float("nan")
    return -1, sum_in_order(partial)


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
    cdef Py_ssize_t block = rows_per_chunked_block(n_classes, sizeof(floating))
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
    cdef Py_ssize_t block = rows_per_chunked_block(n_classes, sizeof(floating))
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
