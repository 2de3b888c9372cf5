"""Public softmax / cross-entropy functions: validation and defaults only.

All arithmetic happens in the nogil kernels of ``_kernels.pyx``.
"""
import math

import numpy as np

from . import _kernels
from . import _validation as v
from ._threads import resolve_n_threads

__all__ = ["logsumexp", "softmax", "log_softmax", "cross_entropy", "nll_loss"]


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def logsumexp(x, *, temperature=1.0, out=None, n_threads=None):
    r"""Row-wise log-sum-exp, computed in the max-shifted stable form.

    .. math:: \mathrm{lse}_i = \log \sum_j \exp(x_{ij} / T)
              = m_i + \log\Bigl(\sum_j e^{x_{ij}/T - m_i}\Bigr),\quad m_i = \max_j x_{ij}/T

    Parameters
    ----------
    x : array_like of float32 or float64, shape (n_samples, n_classes)
        Any memory layout; C-contiguous input is used without a copy.
    temperature : float, default 1.0
        T > 0; the rows are divided by T first.
    out : ndarray, shape (n_samples,), optional
        C-contiguous, writeable buffer of x's dtype that receives the result.
    n_threads : int or None, default None
        None: all usable cores; -1: all cores; k > 0: k threads.

    Returns
    -------
    lse : ndarray, shape (n_samples,), x's dtype
        As ``scipy.special.logsumexp(x / T, axis=1)``: a row holding +inf
        gives +inf, an all -inf row gives -inf, any nan gives nan.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.logsumexp(np.array([[0.0, 0.0], [1000.0, -np.inf]])).round(6).tolist()
    [0.693147, 1000.0]
    """
    x_arr = v.float_matrix(x, "x")
    inv_t = v.inverse_temperature(temperature, x_arr.dtype)
    n, n_cols = x_arr.shape
    out = v.output_buffer(out, (n,), x_arr.dtype, "out", [("x", x)])
    threads = resolve_n_threads(n_threads, x_arr.size)
    _kernels.logsumexp_rows(x_arr, inv_t, out, threads)
    return out


def _softmax_family(x, temperature, out, n_threads, log_output):
    x_arr = v.float_matrix(x, "x")
    inv_t = v.inverse_temperature(temperature, x_arr.dtype)
    out = v.output_buffer(out, x_arr.shape, x_arr.dtype, "out", [("x", x)])
    threads = resolve_n_threads(n_threads, x_arr.size)
    _kernels.softmax_rows(x_arr, inv_t, out, log_output, threads)
    return out


def softmax(x, *, temperature=1.0, out=None, n_threads=None):
    r"""Row-wise softmax.

    .. math:: p_{ij} = \frac{\exp(x_{ij}/T - m_i)}{\sum_k \exp(x_{ik}/T - m_i)},
              \quad m_i = \max_k x_{ik}/T

    Parameters
    ----------
    x : array_like of float32 or float64, shape (n_samples, n_classes)
    temperature : float, default 1.0
    out : ndarray, shape (n_samples, n_classes), optional
        C-contiguous, writeable buffer of x's dtype.
    n_threads : int or None, default None

    Returns
    -------
    p : ndarray, x's shape and dtype
        A row holding nan, or whose maximum is +inf or -inf (all -inf), is all
        nan, as ``torch.softmax``.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.softmax(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    return _softmax_family(x, temperature, out, n_threads, False)


def log_softmax(x, *, temperature=1.0, out=None, n_threads=None):
    r"""Row-wise log-softmax, :math:`x_{ij}/T - \mathrm{lse}_i`.

    Parameters and the nan/inf rules are those of :func:`softmax`; -inf
    entries of an otherwise finite row give -inf.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.log_softmax(np.array([[0.0, 0.0, -np.inf]]))
    array([[-0.69314718, -0.69314718,        -inf]])
    """
    return _softmax_family(x, temperature, out, n_threads, True)


def _reduction_outputs(reduction, return_grad, out, grad_out, loss_shape, grad_shape, dtype,
                       inputs):
    """Allocate or check the per-row (or per-element) loss buffer of "none" and
    the gradient buffer; the two may not overlap each other or any input."""
    if reduction == "none":
        loss_out = v.output_buffer(out, loss_shape, dtype, "out", inputs)
    elif out is not None:
        raise ValueError(f"out= is only used with reduction='none', got reduction={reduction!r}")
    else:
        loss_out = None
    if return_grad:
        others = inputs + ([("out", loss_out)] if loss_out is not None else [])
        grad = v.output_buffer(grad_out, grad_shape, dtype, "grad_out", others)
    elif grad_out is not None:
        raise ValueError("grad_out= is only used with return_grad=True")
    else:
        grad = None
    return loss_out, grad


def _finish(reduction, total, denominator, loss_out, grad):
    if reduction == "none":
        loss = loss_out
    elif reduction == "sum":
        loss = float(total)
    else:
        loss = float(total) / denominator if denominator != 0 else math.nan
    return (loss, grad) if grad is not None else loss


def _grad_scale(reduction, denominator, inv_t=1.0):
    """Factor of every gradient row: 1/T, and 1/denominator for 'mean'
    (inf when the denominator is 0: rows that count then get 0/0 = nan, as torch)."""
    if reduction != "mean":
        return inv_t
    return inv_t / denominator if denominator != 0 else math.inf


def cross_entropy(logits, target, *, class_weight=None, sample_weight=None, ignore_index=-100,
                  label_smoothing=0.0, temperature=1.0, reduction="mean", return_grad=False,
                  out=None, grad_out=None, n_threads=None):
    r"""Softmax cross-entropy, fused with its gradient; torch's semantics.

    With :math:`\ell p = \log\mathrm{softmax}(x / T)`, smoothing
    :math:`\varepsilon`, class weights :math:`w` and sample weights :math:`s`:

    * class-index target :math:`y_i` (rows with ``y_i == ignore_index`` count 0):

      .. math:: l_i = s_i\Bigl[(1-\varepsilon)\, w_{y_i} (-\ell p_{i y_i})
                + \frac{\varepsilon}{C}\sum_j w_j (-\ell p_{ij})\Bigr]

      ``"mean"`` is :math:`\sum_i l_i / \sum_i s_i w_{y_i}` over rows not ignored
      (``torch.nn.functional.cross_entropy``'s weighted mean; with only
      sample_weight it equals ``np.average(l, weights=sample_weight)``).
    * probability target :math:`t_{ij}` (float, shape (n_samples, n_classes)):

      .. math:: l_i = -s_i \sum_j w_j t'_{ij}\, \ell p_{ij},\quad
                t' = (1-\varepsilon)\, t + \varepsilon / C

      ``"mean"`` is :math:`\sum_i l_i / \sum_i s_i` (``/ n_samples`` without
      sample_weight), as torch.

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (n_samples, n_classes)
        Any layout; C-contiguous input is read in place, others are copied once.
        nan/inf are allowed: a row holding nan or whose maximum is infinite
        gets a nan loss and a nan gradient row; other rows are unaffected.
    target : array_like, shape (n_samples,) of int or (n_samples, n_classes) of float
        Class indices (any integer dtype) or class probabilities.
    class_weight : array_like, shape (n_classes,), optional
        Finite, non-negative (torch's ``weight``).
    sample_weight : array_like, shape (n_samples,), optional
        Finite, non-negative; multiplies each row's loss.
    ignore_index : int, default -100
        Class-index rows with this label contribute 0 and get a zero gradient.
    label_smoothing : float in [0, 1], default 0.0
    temperature : float > 0, default 1.0
        Logits are divided by it before the softmax; the gradient is w.r.t.
        the raw logits.
    reduction : {"mean", "sum", "none"}, default "mean"
    return_grad : bool, default False
        Also return the gradient of the returned loss (of its sum for
        "none") w.r.t. logits, computed in the same pass (one exp per element).
    out : ndarray, shape (n_samples,), optional
        Buffer for the per-row losses (reduction="none" only).
    grad_out : ndarray, logits' shape and dtype, optional
        Buffer for the gradient (return_grad=True only).
    n_threads : int or None, default None
        None: all usable cores; -1: all cores; k > 0: k threads. The result is
        bitwise the same for every value.

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"
        "mean" of no counted row (empty input, all ignored) is nan; "sum" is 0.0.
    grad : ndarray, logits' shape and dtype
        Only with return_grad=True.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> round(fastloss.cross_entropy(logits, np.array([0, 2])), 6)  # (log(e^2 + 2) - 2 + log 3) / 2
    0.669079
    >>> loss, grad = fastloss.cross_entropy(logits, np.array([0, 2]), reduction="sum",
    ...                                     return_grad=True)
    >>> grad.round(4)
    array([[-0.213 ,  0.1065,  0.1065],
           [ 0.3333,  0.3333, -0.6667]])
    """
    logits_arr = v.float_matrix(logits, "logits")
    n, n_classes = logits_arr.shape
    if n_classes == 0:
        raise ValueError(f"logits must have at least one class column, got shape {logits_arr.shape}")
    reduction = v.reduction(reduction)
    return_grad = _flag(return_grad, "return_grad")
    eps = v.label_smoothing(label_smoothing)
    inv_t = v.inverse_temperature(temperature, logits_arr.dtype)
    ignore = v.ignore_index(ignore_index)
    threads = resolve_n_threads(n_threads, logits_arr.size)
    target_arr, is_proba, cw, sw, denominator = _ce_target_and_weights(
        target, class_weight, sample_weight, ignore, logits_arr.shape, threads)
    loss_out, grad = _reduction_outputs(
        reduction, return_grad, out, grad_out, (n,), logits_arr.shape, logits_arr.dtype,
        [("logits", logits), ("target", target), ("class_weight", class_weight),
         ("sample_weight", sample_weight)])
    total = _ce_kernel(logits_arr, target_arr, is_proba, cw, sw, ignore, eps, inv_t,
                       _grad_scale(reduction, denominator, inv_t), loss_out, grad, threads)
    return _finish(reduction, total, denominator, loss_out, grad)


def _ce_target_and_weights(target, class_weight, sample_weight, ignore, logits_shape,
                           n_threads=1):
    """Validated cross-entropy target (class indices or probabilities), weights
    and the denominator of "mean": ``(target, is_proba, cw, sw, denominator)``;
    class indices are scanned on ``n_threads`` threads."""
    n, n_classes = logits_shape
    target_arr = v.as_real_array(target, "target")
    is_proba = target_arr.dtype.kind == "f" and target_arr.ndim == 2
    if is_proba:
        target_arr = v.float_matrix(target_arr, "target")
        if target_arr.shape != tuple(logits_shape):
            raise ValueError(f"probability target must have logits' shape {tuple(logits_shape)}, "
                             f"got {target_arr.shape}")
    else:
        target_arr = v.class_index_target(target_arr, n)
    cw = v.weights(class_weight, n_classes, "class_weight", "one per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    if is_proba:
        denominator = float(np.sum(sw)) if sw is not None else float(n)
    else:
        denominator = _scan_class_targets(target_arr, n_classes, ignore, cw, sw, n_threads)
    return target_arr, is_proba, cw, sw, denominator


def _scan_class_targets(target_arr, n_classes, ignore, cw, sw, n_threads):
    """Σ sw w_y over the non-ignored rows of class-index targets (the denominator
    of "mean"), scanned on n_threads threads; a label neither in [0, n_classes)
    nor ignore is an error naming its row."""
    bad_row, denominator = _kernels.target_weight_sum(target_arr, n_classes, ignore, cw, sw,
                                                      n_threads)
    v.check_label_scan(bad_row, target_arr, n_classes, ignore)
    return denominator


def _ce_kernel(logits, target, is_proba, cw, sw, ignore, eps, inv_t, grad_scale, loss_out, grad,
               threads):
    """Run the fused kernel on validated arrays; returns the (weighted) loss sum."""
    if is_proba:
        return _kernels.cross_entropy_proba(logits, target, cw, sw, eps, inv_t, grad_scale,
                                            loss_out, grad, threads)
    return _kernels.cross_entropy_index(logits, target, cw, sw, ignore, eps, inv_t, grad_scale,
                                        loss_out, grad, threads)


def nll_loss(log_probs, target, *, class_weight=None, sample_weight=None, ignore_index=-100,
             reduction="mean", return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Negative log-likelihood of class indices; torch's ``nll_loss``.

    .. math:: l_i = -s_i\, w_{y_i}\, \mathrm{log\_probs}_{i y_i}

    ``"mean"`` divides the sum by :math:`\sum_i s_i w_{y_i}` over rows whose
    label is not ``ignore_index``. Only the target column of each row is read.

    Parameters
    ----------
    log_probs : array_like of float32 or float64, shape (n_samples, n_classes)
    target : array_like of int, shape (n_samples,)
    class_weight, sample_weight, ignore_index, reduction, return_grad, out, grad_out, n_threads
        As in :func:`cross_entropy`.

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"
    grad : ndarray, log_probs' shape and dtype (with return_grad=True)
        :math:`-s_i w_{y_i}` (divided by the mean's denominator) at the target
        column, 0 elsewhere.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> lp = np.log(np.array([[0.5, 0.5], [0.1, 0.9]]))
    >>> round(fastloss.nll_loss(lp, np.array([0, 1])), 6)  # -(log 0.5 + log 0.9) / 2
    0.399254
    """
    lp_arr = v.float_matrix(log_probs, "log_probs")
    n, n_classes = lp_arr.shape
    if n_classes == 0:
        raise ValueError(f"log_probs must have at least one class column, got shape {lp_arr.shape}")
    reduction = v.reduction(reduction)
    return_grad = _flag(return_grad, "return_grad")
    ignore = v.ignore_index(ignore_index)
    target_arr = v.as_real_array(target, "target")
    if target_arr.dtype.kind == "f" and target_arr.ndim == 2:
        raise TypeError("nll_loss takes integer class indices; for probability targets use "
                        "cross_entropy")
    target_arr = v.class_index_target(target_arr, n)
    cw = v.weights(class_weight, n_classes, "class_weight", "one per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    loss_out, grad = _reduction_outputs(
        reduction, return_grad, out, grad_out, (n,), lp_arr.shape, lp_arr.dtype,
        [("log_probs", log_probs), ("target", target), ("class_weight", class_weight),
         ("sample_weight", sample_weight)])
    threads = resolve_n_threads(n_threads, lp_arr.size)
    denominator = _scan_class_targets(target_arr, n_classes, ignore, cw, sw, threads)
    total = _kernels.nll_index(lp_arr, target_arr, cw, sw, ignore,
                               _grad_scale(reduction, denominator), loss_out, grad, threads)
    return _finish(reduction, total, denominator, loss_out, grad)
