# cython: language_level=3
"""nogil OpenMP kernels of the element-wise losses (issue 4).

Design
------
The losses here are sums of independent per-element terms l(x_ij, t_ij)
(entropy: per-row sums of them). The layers follow ``_kernels.pyx``:

1. Per-element math: ``cdef inline noexcept nogil`` functions ``closs_*``
   (the loss of one element) and ``cgrad_*`` (its derivative w.r.t. the first
   argument), in double. They receive the transcendental values they need
   (exp, log, log1p, powers) already computed.
2. Chunk and block loops. The exp/log/log1p of a chunk of CHUNK elements is
   computed in one call of a small C loop (the ``el_*_array`` functions in the
   C block below) over double scratch arrays. Those loops are the only C: they
   run the branch-free exp/log1p of ``_vexp.h`` (and a log written the same
   way) and are compiled as AVX-512 / AVX2 / SSE2 clones (``target_clones``,
   as ``_rowops.h``) because the Cython-generated loops are compiled for the
   baseline ISA only, where ``fl_log1p_d`` does not vectorise at all and
   ``fl_exp_d`` runs two lanes wide. Measured at 1e7 float64 elements, one
   thread: BCE with logits takes 22 ms this way against 320 ms with the
   exp/log1p calls inlined in the Cython loop (a 13-term polynomial evaluated
   one element at a time is latency-bound); ``el_log_array`` runs as fast as
   NumPy's SIMD log. For float64 data the array functions read the data in
   place; float32 is converted into the scratch array first.
   ``<loss>_chunk`` (one fused-type function per loss, for float32 and
   float64) fills the scratch arguments, calls the array functions, then runs
   closs_*/cgrad_* over the chunk into double arrays ``l`` (losses) and ``d``
   (derivatives). ``chunk_finish`` applies the row weights, adds the chunk's
   losses with eight independent accumulators in a fixed pattern, and writes
   the per-element losses ("none") and the scaled gradient in the data's dtype.
   A chunk is whole rows (rows of k <= CHUNK elements) or a piece of one row,
   so the row weight and the column parameter (pos_weight) of every element
   are known without division.
3. Drivers: ``def`` functions on C-contiguous ``const`` memoryviews. They
   ``prange(schedule='static')`` over blocks of ``rows_per_block(k)`` rows
   (``_common.pxd``); each block's loss sum, in double, goes to its own slot
   and the slots are added in block order, so every result is bitwise the
   same for any number of threads (the chunking inside a block depends on the
   shape only). Blocks are whole rows: an input of very few very wide rows
   (say (1, 10**7)) runs on one thread. The Python API
   (``_elementwise_api.py``) validates and allocates.

float32 data stays float32 in memory; every element is computed in double and
rounded once when stored; sums are in double. Arguments are tagged IN / OUT.
"""
from cython.parallel cimport prange
from libc.math cimport INFINITY, NAN, fabs
from libc.string cimport memcpy

import numpy as np

from fastloss._common cimport floating, rows_per_block, sum_in_order

cdef extern from *:
    """
    #include "_vexp.h"


    /* log1p(u) for u >= -1 (fl_log1p_d, which is <= 1 ulp on (-1, inf) but
     * not defined at -1). */
    FL_INLINE double el_log1p_d(double u)
    {
        double r = fl_log1p_d(u);
        return u == -1.0 ? -INFINITY : r;
    }

    /* The array loops: out[j] = f(a[j]) for j < n. */
    FL_CLONES static void el_exp_array(const double *a, double *out, Py_ssize_t n)
    {
        Py_ssize_t j;
    #pragma omp simd
        for (j = 0; j < n; ++j)
            out[j] = fl_exp_d(a[j]);
    }

    FL_CLONES static void el_log_array(const double *a, double *out, Py_ssize_t n)
    {
        Py_ssize_t j;
    #pragma omp simd
        for (j = 0; j < n; ++j)
            out[j] = fl_log_d(a[j]);
    }

    FL_CLONES static void el_log1p_array(const double *a, double *out, Py_ssize_t n)
    {
        Py_ssize_t j;
    #pragma omp simd
        for (j = 0; j < n; ++j)
            out[j] = el_log1p_d(a[j]);
    }

    /* out[j] = log(1 - a[j]) = log1p(-a[j]), for a <= 1. */
    FL_CLONES static void el_log1m_array(const double *a, double *out, Py_ssize_t n)
    {
        Py_ssize_t j;
    #pragma omp simd
        for (j = 0; j < n; ++j)
            out[j] = el_log1p_d(-a[j]);
    }

    /* The softplus pieces: e[j] = exp(a[j]) and lp[j] = log1p(e[j]). Two
     * loops: gcc 12 vectorises neither clone of the fused one. */
    FL_CLONES static void el_exp_log1p_array(const double *a, double *e, double *lp, Py_ssize_t n)
    {
        Py_ssize_t j;
    #pragma omp simd
        for (j = 0; j < n; ++j)
            e[j] = fl_exp_d(a[j]);
    #pragma omp simd
        for (j = 0; j < n; ++j)
            lp[j] = fl_log1p_d(e[j]);
    }

    /* out[j] = q[j]^gamma for q >= 0, gamma >= 0: exactly 1 for gamma = 0 (as
     * pow(0, 0) = 1), q or q*q for gamma = 1 or 2, else exp(gamma log q). */
    FL_CLONES static void el_pow_array(const double *q, double gamma, double *out, Py_ssize_t n)
    {
        Py_ssize_t j;
        if (gamma == 0.0) {
            for (j = 0; j < n; ++j)
                out[j] = 1.0;
        } else if (gamma == 1.0) {
            for (j = 0; j < n; ++j)
                out[j] = q[j];
        } else if (gamma == 2.0) {
    #pragma omp simd
            for (j = 0; j < n; ++j)
                out[j] = q[j] * q[j];
        } else {
    #pragma omp simd
            for (j = 0; j < n; ++j)
                out[j] = fl_exp_d(gamma * fl_log_d(q[j]));
        }
    }

    /* How many of a[0..n) fail the value check: outside [0, 1] (unit != 0;
     * nan passes, it propagates) or not +-1 (nan fails). An integer count, so
     * the reduction vectorises without reassociating floating-point sums. */
    #define EL_COUNT_BAD(NAME, T)                                               \
    FL_CLONES static Py_ssize_t NAME(const T *a, Py_ssize_t n, int unit)        \
    {                                                                           \
        Py_ssize_t j, count = 0;                                                \
        if (unit) {                                                             \
    _Pragma("omp simd reduction(+:count)")                                     \
            for (j = 0; j < n; ++j)                                             \
                count += (a[j] < 0) | (a[j] > 1);                               \
        } else {                                                                \
    _Pragma("omp simd reduction(+:count)")                                     \
            for (j = 0; j < n; ++j)                                             \
                count += !(a[j] == 1 || a[j] == -1);                            \
        }                                                                       \
        return count;                                                           \
    }
    EL_COUNT_BAD(el_count_bad_d, double)
    EL_COUNT_BAD(el_count_bad_f, float)

    /* exponential_loss on a chunk: l[j] = exp(-y x), d[j] = -y l (d may be
     * NULL), in one clone-compiled pass (the Cython form is SSE2 only);
     * returns how many labels are not +-1 when `count` (the label check, in
     * the same pass: a separate one costs a sixth of the time). */
    #define EL_EXPONENTIAL(NAME, T)                                             \
    FL_CLONES static Py_ssize_t NAME(const T *x, const T *y, Py_ssize_t m,      \
                                     double *l, double *d, int count)           \
    {                                                                           \
        Py_ssize_t j, bad = 0;                                                  \
        if (d == NULL) {                                                        \
    _Pragma("omp simd reduction(+:bad)")                                       \
            for (j = 0; j < m; ++j) {                                           \
                l[j] = fl_exp_d(-(double)y[j] * (double)x[j]);                  \
                bad += !(y[j] == 1 || y[j] == -1);                              \
            }                                                                   \
        } else {                                                                \
    _Pragma("omp simd reduction(+:bad)")                                       \
            for (j = 0; j < m; ++j) {                                           \
                double e = fl_exp_d(-(double)y[j] * (double)x[j]);             \
                l[j] = e;                                                       \
                d[j] = -(double)y[j] * e;                                       \
                bad += !(y[j] == 1 || y[j] == -1);                              \
            }                                                                   \
        }                                                                       \
        return count ? bad : 0;                                                 \
    }
    EL_EXPONENTIAL(el_exponential_d, double)
    EL_EXPONENTIAL(el_exponential_f, float)
    """
    Py_ssize_t el_exponential_d(const double *x, const double *y, Py_ssize_t m, double *l,
                                double *d, int count) nogil
    Py_ssize_t el_exponential_f(const float *x, const float *y, Py_ssize_t m, double *l,
                                double *d, int count) nogil
    Py_ssize_t el_count_bad_d(const double *a, Py_ssize_t n, int unit) nogil
    Py_ssize_t el_count_bad_f(const float *a, Py_ssize_t n, int unit) nogil
    double fl_log_d(double y) nogil
    double el_log1p_d(double u) nogil
    void el_exp_array(const double *a, double *out, Py_ssize_t n) nogil
    void el_log_array(const double *a, double *out, Py_ssize_t n) nogil
    void el_log1p_array(const double *a, double *out, Py_ssize_t n) nogil
    void el_log1m_array(const double *a, double *out, Py_ssize_t n) nogil
    void el_exp_log1p_array(const double *a, double *e, double *lp, Py_ssize_t n) nogil
    void el_pow_array(const double *q, double gamma, double *out, Py_ssize_t n) nogil


cdef enum:
    CHUNK = 256            # elements per chunk: the scratch arrays stay in L1

# Loss kinds (the Python API passes these; KINDS maps names to them).
cdef enum:
    K_BCE_LOGITS = 0
    K_BCE = 1
    K_LOGISTIC = 2
    K_EXPONENTIAL = 3
    K_SIGMOID_FOCAL = 4
    K_KL_DIV = 5
    K_ENTROPY = 6
    K_MSE = 7
    K_L1 = 8
    K_HUBER = 9
    K_SMOOTH_L1 = 10

KINDS = {
    "binary_cross_entropy_with_logits": K_BCE_LOGITS,
    "binary_cross_entropy": K_BCE,
    "logistic_loss": K_LOGISTIC,
    "exponential_loss": K_EXPONENTIAL,
    "sigmoid_focal_loss": K_SIGMOID_FOCAL,
    "kl_div": K_KL_DIV,
    "entropy": K_ENTROPY,
    "mse_loss": K_MSE,
    "l1_loss": K_L1,
    "huber_loss": K_HUBER,
    "smooth_l1_loss": K_SMOOTH_L1,
}

# Value checks of first_bad_value.
cdef enum:
    CHECK_UNIT = 0         # outside [0, 1] (nan passes: it propagates)
    CHECK_SIGN = 1         # neither -1 nor +1 (nan fails)
    NO_CHECK = -1

CHECKS = {"unit": CHECK_UNIT, "sign": CHECK_SIGN}
NO_CHECK_CODE = NO_CHECK


cdef struct Params:
    double p0              # alpha (focal), delta (huber), beta (smooth_l1)
    double p1              # gamma (focal)
    bint flag              # log_target (kl_div)


cdef struct Scratch:
    double a[CHUNK]        # arguments of the array functions
    double e[CHUNK]        # exp results
    double b[CHUNK]        # log / log1p results
    double q[CHUNK]        # focal: 1 - p_t; logistic: -y s; bce: log1p(-p)
    double g[CHUNK]        # focal: (1 - p_t)^gamma
    double w[CHUNK]        # per-element row weights
    double col[CHUNK]      # per-element column parameter (pos_weight), rows of k <= CHUNK


# ---------------------------------------------------------------------------
# Layer 1: per-element math, in double.
# ---------------------------------------------------------------------------

cdef inline double csigmoid(double x, double e) noexcept nogil:
    """sigma(x) given e = exp(-|x|), without cancellation for either sign."""
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)


cdef inline double closs_bce_logits(double x, double t, double pw, double lp) noexcept nogil:
    """torch's (1 - t) x + lw softplus(-x), lw = 1 + (pw - 1) t, given
    lp = log1p(exp(-|x|)). softplus(-x) = max(-x, 0) + lp, and the linear parts
    are combined exactly: x (1 - t) for x > 0, -x (pw t) for x <= 0 (no overflow
    at |x| = 1e308 unless the loss itself overflows, no cancellation).
    x = -inf gives nan, as torch's formula."""
    cdef double lw = 1.0 + (pw - 1.0) * t
    cdef double lin = x * (1.0 - t) if x > 0.0 else -x * (pw * t)
    return NAN if x == -INFINITY else lin + lw * lp


cdef inline double cgrad_bce_logits(double x, double t, double pw, double e) noexcept nogil:
    """d/dx: lw sigma(x) - pw t (= sigma(x) - t without pos_weight)."""
    return (1.0 + (pw - 1.0) * t) * csigmoid(x, e) - pw * t


cdef inline double clamp_log(double v) noexcept nogil:
    """max(v, -100) as torch's std::max(v, -100): nan stays nan."""
    return -100.0 if v < -100.0 else v


cdef inline double closs_bce(double t, double log_p, double log1m_p) noexcept nogil:
    """torch's (t - 1) max(log1p(-p), -100) - t max(log p, -100)."""
    return (t - 1.0) * clamp_log(log1m_p) - t * clamp_log(log_p)


cdef inline double cgrad_bce(double p, double t) noexcept nogil:
    """torch's backward: (p - t) / max(p (1 - p), eps), eps = 1e-12 rounded to
    float (torch's EPSILON is a float constant, also for double data)."""
    cdef double eps = <float>1e-12
    cdef double v = (1.0 - p) * p
    return (p - t) / (eps if v < eps else v)


cdef inline double closs_logistic(double z, double lp) noexcept nogil:
    """softplus(z) = max(z, 0) + log1p(exp(-|z|)), z = -y s."""
    return (z if z > 0.0 else 0.0) + lp


cdef inline double cgrad_logistic(double y, double z, double e) noexcept nogil:
    """d/ds softplus(-y s) = -y sigma(z)."""
    return -y * csigmoid(z, e)


cdef inline double cfocal_q(double x, double t, double e) noexcept nogil:
    """1 - p_t = p (1 - t) + (1 - p) t, p = sigma(x), from the stable sigma(x)
    and sigma(-x) (no 1 - p cancellation)."""
    return csigmoid(x, e) * (1.0 - t) + csigmoid(-x, e) * t


cdef inline double calpha_t(double t, double alpha) noexcept nogil:
    return alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0.0 else 1.0


cdef inline double closs_focal(double x, double t, double lp, double qg,
                               double alpha) noexcept nogil:
    """torchvision's alpha_t * ce * (1 - p_t)^gamma, ce = BCE with logits."""
    return calpha_t(t, alpha) * closs_bce_logits(x, t, 1.0, lp) * qg


cdef inline double cgrad_focal(double x, double t, double e, double lp, double q, double qg,
                               double alpha, double gamma) noexcept nogil:
    """alpha_t [(p - t) q^gamma + ce gamma q^(gamma - 1) p (1 - p) (1 - 2t)],
    q = 1 - p_t; the second term is 0 when q = 0 (its limit)."""
    cdef double p = csigmoid(x, e), pm = csigmoid(-x, e)
    cdef double ce = closs_bce_logits(x, t, 1.0, lp)
    cdef double dq = gamma * qg / q * p * pm * (1.0 - 2.0 * t) if q > 0.0 else 0.0
    return calpha_t(t, alpha) * ((p - t) * qg + ce * dq)


cdef inline double closs_kl_div(double x, double t, double log_t) noexcept nogil:
    """torch: xlogy(t, t) - t x (0 log 0 = 0)."""
    return (0.0 if t == 0.0 else t * log_t) - t * x


cdef inline double centr(double p, double log_p) noexcept nogil:
    """scipy.special.entr: -p log p for p > 0, 0 at 0, -inf for p < 0, nan for nan."""
    if p > 0.0:
        return -p * log_p
    if p == 0.0:
        return 0.0
    return -INFINITY if p < 0.0 else p


cdef inline double cgrad_entr(double log_p) noexcept nogil:
    """-(1 + log p): +inf at 0, nan for p < 0 (torch.special.entr's gradient)."""
    return -(1.0 + log_p)


cdef inline double csign(double v) noexcept nogil:
    """sign with sign(0) = 0 and sign(nan) = nan."""
    return 1.0 if v > 0.0 else (-1.0 if v < 0.0 else v * 0.0)


cdef inline double closs_huber(double r, double delta) noexcept nogil:
    """torch: 0.5 r^2 if |r| < delta else delta (|r| - delta / 2)."""
    cdef double z = fabs(r)
    return 0.5 * z * z if z < delta else delta * (z - 0.5 * delta)


cdef inline double cgrad_huber(double r, double delta) noexcept nogil:
    return -delta if r <= -delta else (delta if r >= delta else r)


cdef inline double closs_smooth_l1(double r, double beta) noexcept nogil:
    """torch: 0.5 r^2 / beta if |r| < beta else |r| - beta / 2 (beta > 0)."""
    cdef double z = fabs(r)
    return 0.5 * z * z / beta if z < beta else z - 0.5 * beta


cdef inline double cgrad_smooth_l1(double r, double beta) noexcept nogil:
    return -1.0 if r <= -beta else (1.0 if r >= beta else r / beta)


# ---------------------------------------------------------------------------
# Layer 2a: one chunk of m <= CHUNK elements of one loss.
# IN x, t: the chunk's elements; col: per-element column parameter or NULL.
# OUT l[j]: loss of element j; d[j]: its derivative (skipped when d is NULL).
# ---------------------------------------------------------------------------

cdef void bce_logits_chunk(const floating *x, const floating *t, const double *col,
                           Py_ssize_t m, double *l, double *d, Scratch *s) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(m):
        s.a[j] = -fabs(<double>x[j])
    el_exp_log1p_array(s.a, s.e, s.b, m)
    if col == NULL:
        for j in range(m):
            l[j] = closs_bce_logits(x[j], t[j], 1.0, s.b[j])
        if d != NULL:
            for j in range(m):
                d[j] = cgrad_bce_logits(x[j], t[j], 1.0, s.e[j])
    else:
        for j in range(m):
            l[j] = closs_bce_logits(x[j], t[j], col[j], s.b[j])
        if d != NULL:
            for j in range(m):
                d[j] = cgrad_bce_logits(x[j], t[j], col[j], s.e[j])


cdef inline const double *as_double(const floating *v, Py_ssize_t m, double *buf) noexcept nogil:
    """v itself for float64 data; else v converted into buf."""
    cdef Py_ssize_t j
    if floating is double:
        return v
    for j in range(m):
        buf[j] = v[j]
    return buf


cdef void bce_chunk(const floating *p, const floating *t, Py_ssize_t m, double *l, double *d,
                    Scratch *s) noexcept nogil:
    cdef Py_ssize_t j
    cdef const double *pd = as_double(p, m, s.a)
    el_log_array(pd, s.b, m)
    el_log1m_array(pd, s.e, m)
    if d == NULL:
        for j in range(m):
            l[j] = closs_bce(t[j], s.b[j], s.e[j])
    else:
        for j in range(m):
            l[j] = closs_bce(t[j], s.b[j], s.e[j])
            d[j] = cgrad_bce(p[j], t[j])


cdef void logistic_chunk(const floating *x, const floating *y, Py_ssize_t m, double *l,
                         double *d, Scratch *s) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(m):
        s.q[j] = -<double>y[j] * <double>x[j]
        s.a[j] = -fabs(s.q[j])
    el_exp_log1p_array(s.a, s.e, s.b, m)
    for j in range(m):
        l[j] = closs_logistic(s.q[j], s.b[j])
    if d != NULL:
        for j in range(m):
            d[j] = cgrad_logistic(y[j], s.q[j], s.e[j])


cdef Py_ssize_t exponential_chunk(const floating *x, const floating *y, Py_ssize_t m,
                                  double *l, double *d, bint count) noexcept nogil:
    """exp(-y s); derivative -y exp(-y s). Returns the labels not +-1 if count."""
    if floating is double:
        return el_exponential_d(x, y, m, l, d, count)
    else:
        return el_exponential_f(x, y, m, l, d, count)


cdef void focal_chunk(const floating *x, const floating *t, Py_ssize_t m, const Params *p,
                      double *l, double *d, Scratch *s) noexcept nogil:
    cdef Py_ssize_t j
    cdef double alpha = p.p0, gamma = p.p1
    for j in range(m):
        s.a[j] = -fabs(<double>x[j])
    el_exp_log1p_array(s.a, s.e, s.b, m)
    for j in range(m):
        s.q[j] = cfocal_q(x[j], t[j], s.e[j])
    el_pow_array(s.q, gamma, s.g, m)
    for j in range(m):
        l[j] = closs_focal(x[j], t[j], s.b[j], s.g[j], alpha)
    if d != NULL:
        for j in range(m):
            d[j] = cgrad_focal(x[j], t[j], s.e[j], s.b[j], s.q[j], s.g[j], alpha, gamma)


cdef void kl_div_chunk(const floating *x, const floating *t, Py_ssize_t m, const Params *p,
                       double *l, double *d, Scratch *s) noexcept nogil:
    """log_target=False: xlogy(t, t) - t x, derivative -t;
    log_target=True: exp(t) (t - x), derivative -exp(t)."""
    cdef Py_ssize_t j
    cdef const double *td = as_double(t, m, s.a)
    if p.flag:
        el_exp_array(td, s.e, m)
        for j in range(m):
            l[j] = s.e[j] * (<double>t[j] - <double>x[j])
        if d != NULL:
            for j in range(m):
                d[j] = -s.e[j]
    else:
        el_log_array(td, s.b, m)
        for j in range(m):
            l[j] = closs_kl_div(x[j], t[j], s.b[j])
        if d != NULL:
            for j in range(m):
                d[j] = -<double>t[j]


cdef void entropy_chunk(const floating *p, Py_ssize_t m, double *l, double *d,
                        Scratch *s) noexcept nogil:
    cdef Py_ssize_t j
    el_log_array(as_double(p, m, s.a), s.b, m)
    if d == NULL:
        for j in range(m):
            l[j] = centr(p[j], s.b[j])
    else:
        for j in range(m):
            l[j] = centr(p[j], s.b[j])
            d[j] = cgrad_entr(s.b[j])


cdef void regression_chunk(int kind, const floating *x, const floating *t, Py_ssize_t m,
                           const Params *p, double *l, double *d) noexcept nogil:
    """mse, l1, huber (p0 = delta), smooth_l1 (p0 = beta; 0 is l1) of r = x - t."""
    cdef Py_ssize_t j
    cdef double r, c = p.p0
    if kind == K_SMOOTH_L1 and c == 0.0:
        kind = K_L1
    if kind == K_MSE:
        for j in range(m):
            r = <double>x[j] - <double>t[j]
            l[j] = r * r
        if d != NULL:
            for j in range(m):
                d[j] = 2.0 * (<double>x[j] - <double>t[j])
    elif kind == K_L1:
        for j in range(m):
            l[j] = fabs(<double>x[j] - <double>t[j])
        if d != NULL:
            for j in range(m):
                d[j] = csign(<double>x[j] - <double>t[j])
    elif kind == K_HUBER:
        for j in range(m):
            l[j] = closs_huber(<double>x[j] - <double>t[j], c)
        if d != NULL:
            for j in range(m):
                d[j] = cgrad_huber(<double>x[j] - <double>t[j], c)
    else:
        for j in range(m):
            l[j] = closs_smooth_l1(<double>x[j] - <double>t[j], c)
        if d != NULL:
            for j in range(m):
                d[j] = cgrad_smooth_l1(<double>x[j] - <double>t[j], c)


cdef inline Py_ssize_t loss_chunk(
    int kind, const floating *x, const floating *t, const double *col, Py_ssize_t m,
    const Params *p, double *l, double *d, Scratch *s,
    int check,                  # IN  value check (CHECKS or NO_CHECK): on t for
                                #     CHECK_SIGN (labels), on x for CHECK_UNIT
) noexcept nogil:
    """Fills l (and d) for one chunk; returns how many elements fail `check`
    (counted while the chunk is in L1, or inside the loss loop itself)."""
    if kind == K_EXPONENTIAL:
        return exponential_chunk(x, t, m, l, d, check == CHECK_SIGN)
    cdef Py_ssize_t bad = count_bad(check, t if check == CHECK_SIGN else x, m)
    if kind == K_BCE_LOGITS:
        bce_logits_chunk(x, t, col, m, l, d, s)
    elif kind == K_BCE:
        bce_chunk(x, t, m, l, d, s)
    elif kind == K_LOGISTIC:
        logistic_chunk(x, t, m, l, d, s)
    elif kind == K_SIGMOID_FOCAL:
        focal_chunk(x, t, m, p, l, d, s)
    elif kind == K_KL_DIV:
        kl_div_chunk(x, t, m, p, l, d, s)
    elif kind == K_ENTROPY:
        entropy_chunk(x, m, l, d, s)
    else:
        regression_chunk(kind, x, t, m, p, l, d)
    return bad


# ---------------------------------------------------------------------------
# Layer 2b: weighting, summing and storing a chunk; block loops.
# ---------------------------------------------------------------------------

cdef inline double sum8(const double *v, const double *w, Py_ssize_t m) noexcept nogil:
    """sum_j w[j] v[j] (w NULL: sum_j v[j]) with eight accumulators in a fixed
    pattern: independent add chains, and the same order on every run."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef double a4 = 0.0, a5 = 0.0, a6 = 0.0, a7 = 0.0
    cdef Py_ssize_t j, m8 = m - m % 8
    if w == NULL:
        for j in range(0, m8, 8):
            a0 += v[j]
            a1 += v[j + 1]
            a2 += v[j + 2]
            a3 += v[j + 3]
            a4 += v[j + 4]
            a5 += v[j + 5]
            a6 += v[j + 6]
            a7 += v[j + 7]
        for j in range(m8, m):
            a0 += v[j]
    else:
        for j in range(0, m8, 8):
            a0 += w[j] * v[j]
            a1 += w[j + 1] * v[j + 1]
            a2 += w[j + 2] * v[j + 2]
            a3 += w[j + 3] * v[j + 3]
            a4 += w[j + 4] * v[j + 4]
            a5 += w[j + 5] * v[j + 5]
            a6 += w[j + 6] * v[j + 6]
            a7 += w[j + 7] * v[j + 7]
        for j in range(m8, m):
            a0 += w[j] * v[j]
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef inline double chunk_finish(
    const double *l, const double *d,   # IN  losses, derivatives (d NULL: no gradient)
    const double *w,                    # IN  per-element row weights or NULL (all 1)
    Py_ssize_t m, double grad_scale,
    floating *out,                      # OUT w * l, or NULL
    floating *grad,                     # OUT grad_scale * w * d, or NULL
) noexcept nogil:
    """Returns sum_j w[j] l[j] (fixed order)."""
    cdef Py_ssize_t j
    if out != NULL:
        if w == NULL:
            for j in range(m):
                out[j] = <floating>l[j]
        else:
            for j in range(m):
                out[j] = <floating>(w[j] * l[j])
    if grad != NULL:
        if w == NULL:
            for j in range(m):
                grad[j] = <floating>(grad_scale * d[j])
        else:
            for j in range(m):
                grad[j] = <floating>(grad_scale * w[j] * d[j])
    return sum8(l, w, m)


cdef inline Py_ssize_t count_bad(int check, const floating *a, Py_ssize_t m) noexcept nogil:
    """How many of a[0..m) fail `check` (NO_CHECK: 0)."""
    if check == NO_CHECK:
        return 0
    if floating is double:
        return el_count_bad_d(a, m, check == CHECK_UNIT)
    return el_count_bad_f(a, m, check == CHECK_UNIT)


cdef double elementwise_block(
    int kind, const floating *x, const floating *t, Py_ssize_t k,
    const double *col,          # IN  (k,) column parameter (pos_weight) or NULL
    const Params *p,
    const double *sw,           # IN  (n,) row weights or NULL
    double grad_scale,
    floating *loss_out,         # OUT per-element weighted losses or NULL
    floating *grad,             # OUT gradient or NULL
    int check,                  # IN  value check on the chunks (CHECKS, or NO_CHECK)
    Py_ssize_t *n_bad,          # OUT elements failing it (checked in L1 as they are read)
    Py_ssize_t start, Py_ssize_t stop,   # rows of this block
) noexcept nogil:
    """Sum over rows [start, stop) of sw_i sum_j l_ij; fills loss_out / grad there.
    The check is on t (CHECK_SIGN: labels) or x (CHECK_UNIT: probabilities)."""
    cdef Scratch s
    cdef double l[CHUNK]
    cdef double d[CHUNK]
    cdef double *dp = d if grad != NULL else NULL
    cdef const double *cp = NULL
    cdef const double *wp = NULL
    cdef double acc = 0.0
    cdef Py_ssize_t q, c, i, r, j, c0, m, e0, rows
    n_bad[0] = 0
    if k <= CHUNK:
        # chunks of q whole rows: element j of a chunk is in column j % k
        q = CHUNK // k
        if col != NULL:
            for r in range(q):
                memcpy(&s.col[r * k], col, k * sizeof(double))
            cp = s.col
        for c in range((stop - start + q - 1) // q):
            i = start + c * q
            rows = min(q, stop - i)
            m = rows * k
            e0 = i * k
            if sw != NULL:
                if k == 1:
                    wp = sw + i
                else:
                    for r in range(rows):
                        for j in range(k):
                            s.w[r * k + j] = sw[i + r]
                    wp = s.w
            n_bad[0] += loss_chunk(kind, x + e0, t + e0, cp, m, p, l, dp, &s, check)
            acc += chunk_finish(l, dp, wp, m, grad_scale,
                                loss_out + e0 if loss_out != NULL else NULL,
                                grad + e0 if grad != NULL else NULL)
    else:
        # each row in pieces of CHUNK columns
        for i in range(start, stop):
            if sw != NULL:
                for j in range(CHUNK):
                    s.w[j] = sw[i]
                wp = s.w
            for c in range((k + CHUNK - 1) // CHUNK):
                c0 = c * CHUNK
                m = min(<Py_ssize_t>CHUNK, k - c0)
                e0 = i * k + c0
                n_bad[0] += loss_chunk(kind, x + e0, t + e0,
                                       col + c0 if col != NULL else NULL, m, p, l, dp, &s,
                                       check)
                acc += chunk_finish(l, dp, wp, m, grad_scale,
                                    loss_out + e0 if loss_out != NULL else NULL,
                                    grad + e0 if grad != NULL else NULL)
    return acc


cdef double entropy_block(
    const floating *prob, Py_ssize_t k,
    const double *sw,           # IN  (n,) row weights or NULL
    double grad_scale,
    floating *row_out,          # OUT (n,) weighted row entropies or NULL
    floating *grad,             # OUT gradient or NULL
    Py_ssize_t start, Py_ssize_t stop,
) noexcept nogil:
    """Sum over rows [start, stop) of sw_i H_i, H_i = sum_j entr(p_ij)."""
    cdef Scratch s
    cdef double l[CHUNK]
    cdef double d[CHUNK]
    cdef double *dp = d if grad != NULL else NULL
    cdef double acc = 0.0, h, wi
    cdef Py_ssize_t q, c, i, r, j, c0, m, e0, rows
    if k <= CHUNK:
        q = CHUNK // k
        for c in range((stop - start + q - 1) // q):
            i = start + c * q
            rows = min(q, stop - i)
            m = rows * k
            e0 = i * k
            entropy_chunk(prob + e0, m, l, dp, &s)
            for r in range(rows):
                wi = sw[i + r] if sw != NULL else 1.0
                h = wi * sum8(l + r * k, <const double *>NULL, k)
                acc += h
                if row_out != NULL:
                    row_out[i + r] = <floating>h
                if grad != NULL:
                    wi = wi * grad_scale
                    for j in range(r * k, (r + 1) * k):
                        grad[e0 + j] = <floating>(wi * d[j])
    else:
        for i in range(start, stop):
            wi = sw[i] if sw != NULL else 1.0
            h = 0.0
            for c in range((k + CHUNK - 1) // CHUNK):
                c0 = c * CHUNK
                m = min(<Py_ssize_t>CHUNK, k - c0)
                e0 = i * k + c0
                entropy_chunk(prob + e0, m, l, dp, &s)
                h += sum8(l, <const double *>NULL, m)
                if grad != NULL:
                    for j in range(m):
                        grad[e0 + j] = <floating>(wi * grad_scale * d[j])
            h = wi * h
            acc += h
            if row_out != NULL:
                row_out[i] = <floating>h
    return acc


# ---------------------------------------------------------------------------
# Layer 3 (kernel side): prange drivers.
# ---------------------------------------------------------------------------

def elementwise_loss(
    int kind,                           # IN  a value of KINDS
    const floating[:, ::1] x,           # IN  (n, k) first argument
    const floating[:, ::1] t,           # IN  (n, k) target (entropy: ignored)
    const double[::1] col_param,        # IN  (k,) pos_weight, or None
    double p0, double p1, bint flag,    # IN  loss parameters (see Params)
    const double[::1] sample_weight,    # IN  (n,) or None
    double grad_scale,                  # IN  factor of the gradient (1/denominator for means)
    floating[::1] loss_out,             # OUT n*k weighted losses (entropy: n), or None
    floating[::1] grad_out,             # OUT n*k gradient, or None
    int n_threads,
    int check=NO_CHECK,                 # IN  a value of CHECKS, run in the same pass
):
    """Fused element-wise loss (and gradient). Returns ``(total, n_bad)``:
    sum_i sw_i sum_j l_ij in double, added in a fixed order (bitwise the same
    for every n_threads), and how many elements failed ``check`` (when some
    did, the outputs hold garbage and the caller raises)."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], b
    if n == 0 or k == 0:
        if kind == K_ENTROPY and loss_out is not None:
            loss_out[:] = 0     # the entropy of an empty row is 0
        return 0.0, 0
    cdef Params params
    params.p0 = p0
    params.p1 = p1
    params.flag = flag
    cdef Py_ssize_t block = rows_per_block(k), n_blocks = (n + block - 1) // block
    cdef double[::1] partial = np.empty(n_blocks)
    cdef const floating *px = &x[0, 0]
    cdef const floating *pt = &t[0, 0]
    cdef const double *col = &col_param[0] if col_param is not None else NULL
    cdef const double *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *pl = &loss_out[0] if loss_out is not None else NULL
    cdef floating *pg = &grad_out[0] if grad_out is not None else NULL
    cdef Py_ssize_t[::1] bad = np.zeros(n_blocks, dtype=np.intp)
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            if kind == K_ENTROPY:
                partial[b] = entropy_block(px, k, sw, grad_scale, pl, pg,
                                           b * block, min(n, (b + 1) * block))
            else:
                partial[b] = elementwise_block(kind, px, pt, k, col, &params, sw, grad_scale,
                                               pl, pg, check, &bad[b],
                                               b * block, min(n, (b + 1) * block))
    return sum_in_order(partial), int(np.sum(bad))


cdef inline bint bad_value(int check, double v) noexcept nogil:
    if check == CHECK_UNIT:
        return v < 0.0 or v > 1.0
    return not (v == 1.0 or v == -1.0)


cdef Py_ssize_t scan_block(int check, const floating *a, Py_ssize_t start,
                           Py_ssize_t stop) noexcept nogil:
    """First j in [start, stop) with a bad a[j], or -1. A vectorised count
    first, the position only when there is one."""
    cdef Py_ssize_t j
    if count_bad(check, a + start, stop - start) == 0:
        return -1
    for j in range(start, stop):
        if bad_value(check, a[j]):
            return j
    return -1


def first_bad_value(int check, const floating[::1] a, int n_threads):
    """Index of the first element of `a` failing `check` (a value of CHECKS), or -1."""
    cdef Py_ssize_t n = a.shape[0], b, block = 16384
    if n == 0:
        return -1
    cdef Py_ssize_t n_blocks = (n + block - 1) // block
    cdef Py_ssize_t[::1] first = np.empty(n_blocks, dtype=np.intp)
    with nogil:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            first[b] = scan_block(check, &a[0], b * block, min(n, (b + 1) * block))
    for b in range(n_blocks):
        if first[b] >= 0:
            return first[b]
    return -1


def vlog(const double[::1] x, double[::1] out):
    """Test hook: OUT out = the kernels' vectorised log of x."""
    with nogil:
        el_log_array(&x[0], &out[0], x.shape[0])


def vlog1p(const double[::1] x, double[::1] out):
    """Test hook: OUT out = the kernels' log1p of x (x >= -1)."""
    with nogil:
        el_log1p_array(&x[0], &out[0], x.shape[0])
