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
