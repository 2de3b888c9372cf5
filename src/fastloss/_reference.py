"""Pure-NumPy reference implementations of fastloss's public functions.

This module is the test oracle and the benchmark baseline (the idea of
bottleneck's ``slow`` module): every function has exactly the signature of
its fast counterpart in :mod:`fastloss`, but is written with plain,
vectorised NumPy, independently from the Cython kernels, favouring obvious
correctness over speed.

Conventions (see the package documentation for the full semantics):

* everything is computed in float64 on ``x / temperature``, the division
  itself done in the input's dtype as torch does (so float32 logits that
  overflow when scaled overflow here too);
  array results are returned in the input's float dtype (float32 stays
  float32), ``"mean"``/``"sum"`` reductions as a Python float;
* gradients are closed-form (softmax minus the target distribution) and are
  taken w.r.t. the *raw* logits;
* ``out`` / ``grad_out`` are written into and returned when given;
  ``n_threads`` is accepted and ignored;
* validation is minimal: these functions assume arguments the fast API
  would accept.
"""
import functools

import numpy as np

__all__ = ["logsumexp", "softmax", "log_softmax", "cross_entropy", "nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _ieee(func):
    """Run func with NumPy's floating-point warnings off: overflow to inf and
    nan from inf - inf are the intended IEEE results here, not accidents."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)
    return wrapper


def _float_dtype(x):
    """float32 stays float32; every other input dtype computes in float64."""
    return np.dtype(np.float32) if x.dtype == np.float32 else np.dtype(np.float64)


def _as_2d(x, name):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_classes), got shape {x.shape}")
    return x


def _scaled64(x, temperature):
    """x / T in x's dtype (torch scales before the softmax), then as float64
    (a new array; the input is never modified)."""
    with np.errstate(over="ignore"):
        return (x / x.dtype.type(temperature)).astype(np.float64)


def _bad_rows(z):
    """Rows that hold a nan or whose max is +-inf: their softmax is all nan."""
    if z.shape[1] == 0:
        return np.zeros(z.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        m = np.max(z, axis=1)  # nan propagates through max
    return ~np.isfinite(m)


def _log_softmax64(z):
    """Row-wise log_softmax of the float64 array z; bad rows entirely nan."""
    n, c = z.shape
    if c == 0:
        return np.empty((n, 0))
    bad = _bad_rows(z)
    safe = np.where(bad[:, None], 0.0, z)
    m = np.max(safe, axis=1, keepdims=True)
    shifted = safe - m
    with np.errstate(divide="ignore"):
        lp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    lp[bad] = np.nan
    return lp


def _write(result, buf):
    if buf is None:
        return result
    buf[...] = result
    return buf


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _weights(class_weight, sample_weight, n, c):
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, dtype=np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return w, sw


# ---------------------------------------------------------------------------
# row-wise functions
# ---------------------------------------------------------------------------

@_ieee
def logsumexp(x, *, temperature=1.0, out=None, n_threads=None):
    """Row-wise ``log(sum(exp(x / T)))``.

    Parameters
    ----------
    x : array_like, shape (n_samples, n_classes)
    temperature : float
    out : ndarray, shape (n_samples,), optional

    Returns
    -------
    ndarray, shape (n_samples,), in x's float dtype.
        Rows with +inf (and no nan) give inf, all -inf (or no columns) -inf,
        any nan gives nan, as ``scipy.special.logsumexp``.
    """
    x = _as_2d(x, "x")
    dtype = _float_dtype(x)
    z = _scaled64(x, temperature)
    n, c = z.shape
    if c == 0:
        return _write(np.full(n, -np.inf, dtype=dtype), out)
    res = np.empty(n)
    has_nan = np.isnan(z).any(axis=1)
    with np.errstate(invalid="ignore"):
        m = np.max(z, axis=1)
    finite = np.isfinite(m)
    zf = z[finite]
    mf = m[finite]
    res[finite] = mf + np.log(np.sum(np.exp(zf - mf[:, None]), axis=1))
    res[~finite] = m[~finite]           # +inf or -inf rows (nan rows fixed below)
    res[has_nan] = np.nan
    return _write(res.astype(dtype), out)


@_ieee
def log_softmax(x, *, temperature=1.0, out=None, n_threads=None):
    """Row-wise log-softmax of ``x / T``.

    A row holding nan, or whose max is +inf or -inf, is entirely nan (as
    torch); a -inf entry in an otherwise finite row gives -inf.

    Returns
    -------
    ndarray, shape (n_samples, n_classes), in x's float dtype.
    """
    x = _as_2d(x, "x")
    lp = _log_softmax64(_scaled64(x, temperature))
    return _write(lp.astype(_float_dtype(x)), out)


@_ieee
def softmax(x, *, temperature=1.0, out=None, n_threads=None):
    """Row-wise softmax of ``x / T`` (bad rows entirely nan, as ``log_softmax``).

    Returns
    -------
    ndarray, shape (n_samples, n_classes), in x's float dtype.
    """
    x = _as_2d(x, "x")
    z = _scaled64(x, temperature)
    n, c = z.shape
    if c == 0:
        return _write(np.empty((n, 0), dtype=_float_dtype(x)), out)
    bad = _bad_rows(z)
    safe = np.where(bad[:, None], 0.0, z)
    e = np.exp(safe - np.max(safe, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    p[bad] = np.nan
    return _write(p.astype(_float_dtype(x)), out)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------

@_ieee
def cross_entropy(logits, target, *, class_weight=None, sample_weight=None,
                  ignore_index=-100, label_smoothing=0.0, temperature=1.0,
                  reduction="mean", return_grad=False, out=None, grad_out=None,
                  n_threads=None):
    """Softmax cross-entropy with torch's semantics (plus sample_weight, temperature).

    Parameters
    ----------
    logits : array_like, shape (n_samples, n_classes)
    target : integer array (n_samples,) of class indices, or float array
        (n_samples, n_classes) of probabilities.
    class_weight : array_like (n_classes,), optional
    sample_weight : array_like (n_samples,), optional
    ignore_index : int
        Integer targets equal to it contribute nothing (loss and gradient 0).
    label_smoothing : float in [0, 1]
    temperature : float > 0
    reduction : {"none", "mean", "sum"}
    return_grad : bool
    out, grad_out : ndarray, optional

    Returns
    -------
    loss : ndarray (n_samples,) for "none", else float
    grad : ndarray like logits, only when ``return_grad`` is true.
        The gradient of the returned loss (its sum for "none") w.r.t. logits.
    """
    _check_reduction(reduction)
    x = _as_2d(logits, "logits")
    dtype = _float_dtype(x)
    n, c = x.shape
    T = float(temperature)
    eps = float(label_smoothing)
    w, sw = _weights(class_weight, sample_weight, n, c)
    t = np.asarray(target)
    lp = _log_softmax64(_scaled64(x, T))
    p = np.exp(lp)

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if t.ndim == 2:
            # probability targets: t' = (1 - eps) t + eps / C
            tt = t.astype(np.float64)
            if eps > 0:
                tt = (1.0 - eps) * tt + eps / c
            wt = w * tt
            row_loss = -np.sum(wt * lp, axis=1)          # 0 * (-inf) = nan, as torch
            row_grad = p * np.sum(wt, axis=1, keepdims=True) - wt
            keep = np.ones(n, dtype=bool)
            per_row = sw * row_loss
            row_grad = row_grad * (sw / T)[:, None]
            denominator = np.sum(sw)
        else:
            y = t.astype(np.int64)
            keep = y != ignore_index
            yk = np.where(keep, y, 0)
            rows = np.arange(n)
            wy = w[yk] if n else np.zeros(0)
            nll = -lp[rows, yk] if n else np.zeros(0)
            row_loss = (1.0 - eps) * wy * nll
            onehot = np.zeros((n, c))
            onehot[rows, yk] = 1.0
            coef = (1.0 - eps) * wy
            if eps > 0:
                row_loss = row_loss + (eps / c) * np.sum(w * (-lp), axis=1)
                coef = coef + (eps / c) * np.sum(w)
                row_grad = p * coef[:, None] - (1.0 - eps) * wy[:, None] * onehot - (eps / c) * w
            else:
                row_grad = p * coef[:, None] - wy[:, None] * onehot
            per_row = np.where(keep, sw * row_loss, 0.0)
            row_grad = row_grad * (sw / T)[:, None]
            denominator = np.sum(np.where(keep, sw * wy, 0.0))

        n_kept = int(np.count_nonzero(keep))
        if reduction == "none":
            loss = _write(per_row.astype(dtype), out)
            grad = row_grad
        elif reduction == "sum":
            loss = float(np.sum(per_row))
            grad = row_grad
        else:  # mean
            if n_kept == 0:                      # empty input or every row ignored
                loss = float("nan")
                grad = np.zeros_like(row_grad)
            elif denominator == 0:               # kept rows, zero total weight: 0/0
                loss = float("nan")
                grad = np.full_like(row_grad, np.nan)
            else:
                loss = float(np.sum(per_row) / denominator)
                grad = row_grad / denominator
        grad = np.where(keep[:, None], grad, 0.0)   # ignored rows: exactly 0

    if not return_grad:
        return loss
    return loss, _write(grad.astype(dtype), grad_out)


@_ieee
def nll_loss(log_probs, target, *, class_weight=None, sample_weight=None,
             ignore_index=-100, reduction="mean", return_grad=False, out=None,
             grad_out=None, n_threads=None):
    """Negative log-likelihood loss with torch's semantics (plus sample_weight).

    ``l_i = -class_weight[y_i] * log_probs[i, y_i] * sample_weight[i]``; only
    the target column of each row is read.  "mean" divides by
    ``sum(sample_weight[i] * class_weight[y_i])`` over non-ignored rows.

    Returns
    -------
    loss : ndarray (n_samples,) for "none", else float
    grad : ndarray like log_probs, only when ``return_grad`` is true.
    """
    _check_reduction(reduction)
    x = _as_2d(log_probs, "log_probs")
    dtype = _float_dtype(x)
    n, c = x.shape
    w, sw = _weights(class_weight, sample_weight, n, c)
    y = np.asarray(target).astype(np.int64)
    keep = y != ignore_index
    yk = np.where(keep, y, 0)
    rows = np.arange(n)
    lp_y = x[rows, yk].astype(np.float64) if n else np.zeros(0)
    wy = w[yk] if n else np.zeros(0)
    coef = np.where(keep, wy * sw, 0.0)                 # -d l_i / d log_probs[i, y_i]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        per_row = np.where(keep, -wy * lp_y * sw, 0.0)
        n_kept = int(np.count_nonzero(keep))
        denominator = np.sum(coef)
        grad_y = -coef[keep]                             # d l / d log_probs[i, y_i]
        if reduction == "none":
            loss = _write(per_row.astype(dtype), out)
        elif reduction == "sum":
            loss = float(np.sum(per_row))
        elif n_kept == 0:                                # empty input or every row ignored
            loss = float("nan")
            grad_y = np.zeros_like(grad_y)
        else:                                            # 0 / 0 -> nan when denominator is 0
            loss = float(np.sum(per_row) / denominator)
            grad_y = grad_y / denominator
        grad = np.zeros((n, c))
        grad[rows[keep], yk[keep]] = grad_y
    if not return_grad:
        return loss
    return loss, _write(grad.astype(dtype), grad_out)


# ===========================================================================
# Multi-class and margin losses (issue 4): softmax_focal_loss,
# margin_cross_entropy, hinge_loss, zero_one_loss. Written independently of
# the kernels of _multiclass.pyx, from the textbook formulas.
# ===========================================================================

__all__ += ["softmax_focal_loss", "margin_cross_entropy", "hinge_loss", "zero_one_loss"]


def _reduce_rows(per_row, grad_rows, keep, denominator, reduction, dtype, out):
    """Shared tail: per_row (n,) weighted losses, grad_rows the gradient of
    their sum; "mean" divides both by `denominator` (no counted row: nan loss
    and zero gradient; zero denominator: nan loss, nan gradient rows)."""
    if reduction == "none":
        return _write(per_row.astype(dtype), out), grad_rows
    if reduction == "sum":
        return float(np.sum(per_row)), grad_rows
    if not keep.any():
        return float("nan"), np.zeros_like(grad_rows)
    if denominator == 0:
        grad = np.full_like(grad_rows, np.nan)
        grad[~keep] = 0.0
        return float("nan"), grad
    return float(np.sum(per_row) / denominator), grad_rows / denominator


def _class_rows(target, ignore_index, n, w, sw):
    """keep mask, labels with ignored rows set to 0, w[y], and Σ sw w_y over kept rows."""
    y = np.asarray(target).astype(np.int64)
    keep = y != ignore_index
    yk = np.where(keep, y, 0)
    wy = w[yk] if n else np.zeros(0)
    return keep, yk, wy, float(np.sum(np.where(keep, sw * wy, 0.0)))


@_ieee
def softmax_focal_loss(logits, target, *, gamma=2.0, class_weight=None, sample_weight=None,
                       ignore_index=-100, reduction="mean", return_grad=False, out=None,
                       grad_out=None, n_threads=None):
    """Softmax focal loss, l_i = -sw_i w_y (1 - p_y)^gamma log p_y (Lin et al. 2017).

    "mean" divides by sum_i sw_i w_{y_i} over non-ignored rows (torch's
    weighted mean). Gradient: d l_i / d x_k = sw_i w_y B (p_k - [k == y]) with
    B = (1 - p)^gamma - gamma p (1 - p)^(gamma - 1) log p, p = p_y; its limits
    are B = [gamma == 0] at p = 1 and B = 1 at p = 0.
    """
    _check_reduction(reduction)
    x = _as_2d(logits, "logits")
    dtype = _float_dtype(x)
    n, c = x.shape
    w, sw = _weights(class_weight, sample_weight, n, c)
    keep, yk, wy, denominator = _class_rows(target, ignore_index, n, w, sw)
    rows = np.arange(n)
    lp = _log_softmax64(x.astype(np.float64))
    probs = np.exp(lp)
    lp_y = lp[rows, yk] if n else np.zeros(0)
    p = np.exp(lp_y)
    q = -np.expm1(lp_y)                       # 1 - p_y, accurate near p_y = 1
    loss = -wy * q ** gamma * lp_y
    per_row = np.where(keep, sw * loss, 0.0)
    b = q ** gamma - gamma * p * q ** (gamma - 1.0) * lp_y
    b = np.where(q == 0, 1.0 if gamma == 0 else 0.0, b)   # p_y = 1
    b = np.where(p == 0, q ** gamma, b)                    # p_y = 0 (a -inf target logit)
    onehot = np.zeros((n, c))
    onehot[rows, yk] = 1.0
    grad = (sw * wy * b)[:, None] * (probs - onehot)
    grad[~keep] = 0.0
    loss, grad = _reduce_rows(per_row, grad, keep, denominator, reduction, dtype, out)
    if not return_grad:
        return loss
    return loss, _write(grad.astype(dtype), grad_out)


def _margin_target(c, kind, m):
    """f(c) and f'(c) of margin_cross_entropy, from the angle theta = arccos(c)."""
    import math     # math.cos / math.sin: the C library's, as the kernel's constants

    theta = np.arccos(c)
    if kind == "additive":
        return c - m, np.ones_like(c)
    if kind == "arc":
        # ArcFace: cos(theta + m) while theta + m <= pi (c > cos(pi - m)), else
        # insightface's c - m sin(pi - m). d cos(theta + m) / dc = sin(theta + m) / sin(theta).
        arc = np.cos(theta + m)
        d_arc = np.where(theta == 0, np.inf if m > 0 else 1.0,
                         np.sin(theta + m) / np.sin(theta))
        inside = c > math.cos(math.pi - m)
        return (np.where(inside, arc, c - m * math.sin(math.pi - m)),
                np.where(inside, d_arc, 1.0))
    # SphereFace: psi = (-1)^k cos(m theta) - 2k on [k pi / m, (k + 1) pi / m];
    # d cos(m theta) / dc = m sin(m theta) / sin(theta) (m^2 at theta = 0,
    # (-1)^(m-1) m^2 at theta = pi)
    m = int(m)
    k = np.clip(np.floor(m * theta / np.pi), 0, m - 1)
    sign = np.where(k % 2 == 1, -1.0, 1.0)
    d_cos = np.where(theta == 0, float(m * m),
                     np.where(theta == np.pi, float((-1) ** (m - 1) * m * m),
                              m * np.sin(m * theta) / np.sin(theta)))
    return sign * np.cos(m * theta) - 2.0 * k, sign * d_cos


@_ieee
def margin_cross_entropy(cosine, target, *, kind="arc", scale=64.0, margin=0.5,
                         class_weight=None, sample_weight=None, ignore_index=-100,
                         reduction="mean", return_grad=False, out=None, grad_out=None,
                         n_threads=None):
    """Large-margin softmax cross-entropy on cosines (CosFace / ArcFace / SphereFace).

    z = s * cos with z[i, y_i] = s * f(cos[i, y_i]), rounded to the input's
    dtype; l_i = sw_i w_y (logsumexp(z_i) - z_iy). Gradient w.r.t. the cosines:
    s * dL/dz, times f'(c_y) at the target (0 where dL/dz_y is exactly 0, even
    if f' is infinite).
    """
    _check_reduction(reduction)
    x = _as_2d(cosine, "cosine")
    dtype = _float_dtype(x)
    n, c = x.shape
    s = float(scale)
    w, sw = _weights(class_weight, sample_weight, n, c)
    keep, yk, wy, denominator = _class_rows(target, ignore_index, n, w, sw)
    rows = np.arange(n)
    c64 = x.astype(np.float64)
    c_y = c64[rows, yk] if n else np.zeros(0)
    f, df = _margin_target(c_y, kind, float(margin))
    z = s * c64
    z[rows[keep], yk[keep]] = s * f[keep]
    z = z.astype(dtype).astype(np.float64)   # the logits as a model in that dtype holds them
    lp = _log_softmax64(z)
    lp_y = lp[rows, yk] if n else np.zeros(0)
    per_row = np.where(keep, -sw * wy * lp_y, 0.0)
    onehot = np.zeros((n, c))
    onehot[rows, yk] = 1.0
    dz = (sw * wy)[:, None] * (np.exp(lp) - onehot)        # dL/dz
    grad = s * dz
    dz_y = dz[rows, yk] if n else np.zeros(0)
    grad[rows, yk] = np.where(dz_y == 0, 0.0, s * dz_y * df)
    grad[~keep] = 0.0
    loss, grad = _reduce_rows(per_row, grad, keep, denominator, reduction, dtype, out)
    if not return_grad:
        return loss
    return loss, _write(grad.astype(dtype), grad_out)


@_ieee
def hinge_loss(scores, target, *, margin=1.0, sample_weight=None, reduction="mean",
               return_grad=False, out=None, grad_out=None, n_threads=None):
    """Hinge loss: 1-D scores with labels in {-1, +1}, max(0, margin - y s);
    2-D scores with class indices, Crammer-Singer max(0, margin - (s_y - max_{j != y} s_j)).

    "mean" is sum_i sw_i l_i / sum_i sw_i. Subgradient 0 at the kink; for 2-D,
    +1 at the first largest s_j (j != y) and -1 at y where the hinge is active.
    A nan loss has a nan gradient (row).
    """
    _check_reduction(reduction)
    x = np.asarray(scores)
    dtype = _float_dtype(x)
    s64 = x.astype(np.float64)
    n = x.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    y = np.asarray(target)
    if x.ndim == 1:
        sign = np.where(y == 1, 1.0, -1.0)
        t = margin - sign * s64
        dt = np.broadcast_to(-sign, (n,))           # d t / d s
        active = t > 0
        grad = np.where(active, dt, 0.0)
    else:
        c = x.shape[1]
        rows = np.arange(n)
        y = y.astype(np.int64)
        others = s64.copy()
        others[rows, y] = -np.inf
        runner_up = np.argmax(others, axis=1) if n else np.zeros(0, dtype=np.int64)
        t = margin - (s64[rows, y] - np.max(others, axis=1)) if n else np.zeros(0)
        t = np.where(np.isnan(s64).any(axis=1), np.nan, t) if n else t
        active = t > 0
        grad = np.zeros((n, c))
        grad[rows[active], runner_up[active]] = 1.0
        grad[rows[active], y[active]] = -1.0
    loss = np.where(t > 0, t, np.where(np.isnan(t), np.nan, 0.0))
    nan_rows = np.isnan(t)
    grad[nan_rows] = np.nan
    per_row = sw * loss
    scale = np.full(n, 1.0) if reduction != "mean" else (
        np.full(n, np.inf if np.sum(sw) == 0 else 1.0 / np.sum(sw)))
    grad = grad * (sw * scale).reshape((n,) + (1,) * (x.ndim - 1))
    if reduction == "none":
        loss = _write(per_row.astype(dtype), out)
    elif reduction == "sum":
        loss = float(np.sum(per_row))
    else:
        loss = float(np.sum(per_row) / np.sum(sw)) if np.sum(sw) != 0 else float("nan")
    if not return_grad:
        return loss
    return loss, _write(grad.astype(dtype), grad_out)


@_ieee
def zero_one_loss(scores, target, *, sample_weight=None, reduction="mean", out=None,
                  n_threads=None):
    """Misclassification loss: 2-D, np.argmax(scores, axis=1) != target; 1-D,
    (scores > 0) != (target == 1) for labels in {-1, +1} or {0, 1}. nan scores
    (anywhere in a 2-D row) give nan. "mean" = sum_i sw_i l_i / sum_i sw_i.
    """
    _check_reduction(reduction)
    x = np.asarray(scores)
    dtype = _float_dtype(x)
    n = x.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    y = np.asarray(target)
    if x.ndim == 1:
        wrong = (x > 0) != (y == 1)
        nan = np.isnan(x)
    else:
        pred = np.argmax(x, axis=1) if n else np.zeros(0, dtype=np.int64)
        wrong = pred != y
        nan = np.isnan(x).any(axis=1)
    per_row = sw * np.where(nan, np.nan, wrong.astype(np.float64))
    if reduction == "none":
        return _write(per_row.astype(dtype), out)
    if reduction == "sum":
        return float(np.sum(per_row))
    return float(np.sum(per_row) / np.sum(sw)) if np.sum(sw) != 0 else float("nan")


# ===========================================================================
# Element-wise losses (issue 4): binary_cross_entropy_with_logits,
# binary_cross_entropy, logistic_loss, exponential_loss, sigmoid_focal_loss,
# kl_div, entropy, mse_loss, l1_loss, huber_loss, smooth_l1_loss.
# Written independently of the kernels of _elementwise.pyx, in float64 from
# the formulas of torch / torchvision / scipy. Conventions: the target is
# first converted to the input's dtype (as the fast API does); a 1-D input is
# n samples of one column; sample_weight multiplies each row; "mean" divides
# by k * sum(sample_weight) (n * k without weights); "none" returns the
# weighted per-element losses (entropy: per row).
# ===========================================================================

__all__ += ["binary_cross_entropy_with_logits", "binary_cross_entropy", "logistic_loss",
            "exponential_loss", "sigmoid_focal_loss", "kl_div", "entropy", "mse_loss",
            "l1_loss", "huber_loss", "smooth_l1_loss"]


def _ew_args(x, target=None):
    """(x as float64, target as the input's dtype then float64, the input's dtype)."""
    x = np.asarray(x)
    dtype = _float_dtype(x)
    t = None if target is None else np.asarray(target).astype(dtype).astype(np.float64)
    return x.astype(np.float64), t, dtype


def _ew_sigmoid(z):
    """1 / (1 + exp(-z)) as exp(-log(1 + exp(-z))): no overflow for any z."""
    return np.exp(-np.logaddexp(0.0, -z))


def _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out,
               per_row=False):
    """Weight, reduce and return. `loss` holds the per-element losses (per-row
    ones when per_row), `dloss` their derivatives w.r.t. the input (its
    shape). "batchmean" divides by sum(sample_weight) (n without weights)."""
    n = dloss.shape[0]
    k = 1 if (per_row or dloss.ndim == 1) else dloss.shape[1]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    weighted = loss * (sw if loss.ndim == 1 else sw[:, None])
    grad = dloss * (sw if dloss.ndim == 1 else sw[:, None])
    if reduction == "none":
        result = _write(weighted.astype(dtype), out)
    elif reduction == "sum":
        result = float(np.sum(weighted))
    else:
        denominator = float(np.sum(sw)) * (k if reduction == "mean" else 1)
        result = float(np.sum(weighted) / denominator) if denominator != 0 else float("nan")
        grad = grad / denominator
    if not return_grad:
        return result
    return result, _write(grad.astype(dtype), grad_out)


def _ew_bce_logits_terms(x, t, pw):
    """torch's (1 - t) x + lw softplus(-x), lw = 1 + (pw - 1) t, and its
    derivative (1 - t) - lw sigmoid(-x). softplus(-x) = max(-x, 0) +
    log1p(exp(-|x|)); the linear parts (1 - t) x + lw max(-x, 0) are added
    first (x (1 - t) for x > 0, -x pw t otherwise) so that nothing overflows
    for |x| up to 1e308. x = -inf gives nan, as torch's formula (inf - inf)."""
    lw = 1.0 + (pw - 1.0) * t
    linear = np.where(x > 0, x * (1.0 - t), -x * (pw * t))
    loss = linear + lw * np.log1p(np.exp(-np.abs(x)))
    loss = np.where(x == -np.inf, np.nan, loss)
    return loss, (1.0 - t) - lw * _ew_sigmoid(-x)


@_ieee
def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, sample_weight=None,
                                     reduction="mean", return_grad=False, out=None,
                                     grad_out=None, n_threads=None):
    """torch.nn.functional.binary_cross_entropy_with_logits (pos_weight broadcast
    over the last axis), plus sample_weight."""
    _check_reduction(reduction)
    x, t, dtype = _ew_args(logits, target)
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, dtype=np.float64)
    loss, dloss = _ew_bce_logits_terms(x, t, pw)
    return _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out)


@_ieee
def binary_cross_entropy(probs, target, *, sample_weight=None, reduction="mean",
                         return_grad=False, out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.binary_cross_entropy: logs clamped at -100; the
    gradient is torch's (p - t) / max(p (1 - p), eps), eps = float32(1e-12)."""
    _check_reduction(reduction)
    p, t, dtype = _ew_args(probs, target)
    log_p = np.maximum(np.log(p), -100.0)          # np.maximum keeps nan
    log_1mp = np.maximum(np.log1p(-p), -100.0)
    loss = -(t * log_p + (1.0 - t) * log_1mp)
    dloss = (p - t) / np.maximum(p * (1.0 - p), float(np.float32(1e-12)))
    return _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out)


@_ieee
def logistic_loss(scores, target, *, sample_weight=None, reduction="mean", return_grad=False,
                  out=None, grad_out=None, n_threads=None):
    """log(1 + exp(-y s)) for labels y in {-1, +1}; derivative -y sigmoid(-y s)."""
    _check_reduction(reduction)
    s, y, dtype = _ew_args(scores, target)
    z = -y * s
    loss = np.logaddexp(0.0, z)
    dloss = -y * _ew_sigmoid(z)
    return _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out)


@_ieee
def exponential_loss(scores, target, *, sample_weight=None, reduction="mean",
                     return_grad=False, out=None, grad_out=None, n_threads=None):
    """exp(-y s) for labels y in {-1, +1} (AdaBoost's loss); derivative -y exp(-y s)."""
    _check_reduction(reduction)
    s, y, dtype = _ew_args(scores, target)
    loss = np.exp(-y * s)
    return _ew_reduce(loss, -y * loss, dtype, sample_weight, reduction, return_grad, out,
                      grad_out)


@_ieee
def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, sample_weight=None,
                       reduction="mean", return_grad=False, out=None, grad_out=None,
                       n_threads=None):
    """torchvision.ops.sigmoid_focal_loss: alpha_t * ce * (1 - p_t)^gamma with
    p = sigmoid(x), ce = BCE with logits, p_t = p t + (1 - p)(1 - t),
    alpha_t = alpha t + (1 - alpha)(1 - t) (1 when alpha < 0). 1 - p_t is
    computed as p (1 - t) + (1 - p) t with 1 - p = sigmoid(-x) (no cancellation).
    Derivative: alpha_t [(p - t) q^gamma + ce gamma q^(gamma-1) p (1 - p)(1 - 2t)],
    q = 1 - p_t, whose second term tends to 0 as q -> 0."""
    _check_reduction(reduction)
    x, t, dtype = _ew_args(logits, target)
    p, p_neg = _ew_sigmoid(x), _ew_sigmoid(-x)
    ce, _ = _ew_bce_logits_terms(x, t, 1.0)
    q = p * (1.0 - t) + p_neg * t
    alpha_t = alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0 else np.ones_like(t)
    modulating = np.power(q, gamma)
    loss = alpha_t * ce * modulating
    if gamma == 0:
        dq = np.zeros_like(q)
    else:
        dq = np.where(q > 0, gamma * np.power(np.where(q > 0, q, 1.0), gamma - 1.0), 0.0)
    dloss = alpha_t * ((p - t) * modulating + ce * (dq * p * p_neg * (1.0 - 2.0 * t)))
    return _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out)


@_ieee
def kl_div(input, target, *, log_target=False, sample_weight=None, reduction="mean",
           return_grad=False, out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.kl_div: input holds log-probabilities; per element
    xlogy(t, t) - t x (0 log 0 = 0), or exp(t) (t - x) with log_target.
    "batchmean" divides the sum by n (sum(sample_weight) with weights)."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"reduction must be one of {_REDUCTIONS + ('batchmean',)}, "
                         f"got {reduction!r}")
    x, t, dtype = _ew_args(input, target)
    if log_target:
        loss = np.exp(t) * (t - x)
        dloss = -np.exp(t)
    else:
        xlogy = np.where(t == 0, 0.0, t * np.log(t))     # nan target stays nan
        loss = xlogy - t * x
        dloss = -t
    return _ew_reduce(loss, dloss, dtype, sample_weight, reduction, return_grad, out, grad_out)


@_ieee
def entropy(probs, *, sample_weight=None, reduction="none", return_grad=False, out=None,
            grad_out=None, n_threads=None):
    """Row-wise Shannon entropy in nats, scipy.special.entr(p).sum(axis=1);
    entr(p) = -p log p, 0 at p = 0, -inf for p < 0. Gradient -(1 + log p)."""
    _check_reduction(reduction)
    p, _, dtype = _ew_args(_as_2d(probs, "probs"))
    entr = np.where(p > 0, -p * np.log(p), np.where(p == 0, 0.0, -np.inf))
    entr = np.where(np.isnan(p), np.nan, entr)
    dloss = -(1.0 + np.log(p))
    return _ew_reduce(entr.sum(axis=1), dloss, dtype, sample_weight, reduction, return_grad,
                      out, grad_out, per_row=True)


@_ieee
def mse_loss(input, target, *, sample_weight=None, reduction="mean", return_grad=False,
             out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.mse_loss: (x - t)^2, derivative 2 (x - t)."""
    _check_reduction(reduction)
    x, t, dtype = _ew_args(input, target)
    r = x - t
    return _ew_reduce(r * r, 2.0 * r, dtype, sample_weight, reduction, return_grad, out,
                      grad_out)


@_ieee
def l1_loss(input, target, *, sample_weight=None, reduction="mean", return_grad=False,
            out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.l1_loss: |x - t|, derivative sign(x - t) (0 at 0)."""
    _check_reduction(reduction)
    x, t, dtype = _ew_args(input, target)
    r = x - t
    return _ew_reduce(np.abs(r), np.sign(r), dtype, sample_weight, reduction, return_grad, out,
                      grad_out)


@_ieee
def huber_loss(input, target, *, delta=1.0, sample_weight=None, reduction="mean",
               return_grad=False, out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.huber_loss: r^2 / 2 for |r| < delta, else
    delta (|r| - delta / 2); derivative clip(r, -delta, delta)."""
    _check_reduction(reduction)
    x, t, dtype = _ew_args(input, target)
    r = x - t
    a = np.abs(r)
    loss = np.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return _ew_reduce(loss, np.clip(r, -delta, delta), dtype, sample_weight, reduction,
                      return_grad, out, grad_out)


@_ieee
def smooth_l1_loss(input, target, *, beta=1.0, sample_weight=None, reduction="mean",
                   return_grad=False, out=None, grad_out=None, n_threads=None):
    """torch.nn.functional.smooth_l1_loss: r^2 / (2 beta) for |r| < beta, else
    |r| - beta / 2; beta = 0 is l1_loss. Derivative clip(r / beta, -1, 1)."""
    if beta == 0:
        return l1_loss(input, target, sample_weight=sample_weight, reduction=reduction,
                       return_grad=return_grad, out=out, grad_out=grad_out)
    _check_reduction(reduction)
    x, t, dtype = _ew_args(input, target)
    r = x - t
    a = np.abs(r)
    loss = np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)
    return _ew_reduce(loss, np.clip(r / beta, -1.0, 1.0), dtype, sample_weight, reduction,
                      return_grad, out, grad_out)


def linear_cross_entropy(X, coef, target, *, intercept=None, class_weight=None,
                         sample_weight=None, ignore_index=-100, label_smoothing=0.0,
                         reduction="mean", return_grad=False, chunk_size=None, n_threads=None):
    """The naive form: materialise ``X @ coef + intercept`` (n_samples, n_classes),
    take :func:`cross_entropy` of it, and chain-rule the gradients with matmuls."""
    X = np.asarray(X)
    coef = np.asarray(coef)
    logits = X @ coef
    if intercept is not None:
        logits = logits + np.asarray(intercept)
    result = cross_entropy(logits, target, class_weight=class_weight,
                           sample_weight=sample_weight, ignore_index=ignore_index,
                           label_smoothing=label_smoothing, reduction=reduction,
                           return_grad=bool(return_grad))
    if not return_grad:
        return result
    loss, grad = result
    grad64 = grad.astype(np.float64)
    grads = ((X.T.astype(np.float64) @ grad64).astype(X.dtype),
             grad64.sum(axis=0).astype(X.dtype) if intercept is not None else None)
    if return_grad == "all":
        return (loss, (grad64 @ coef.T.astype(np.float64)).astype(X.dtype)) + grads
    return (loss,) + grads
