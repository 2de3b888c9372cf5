"""Public element-wise losses: validation and defaults only.

All arithmetic happens in the nogil kernels of ``_elementwise.pyx``. Every
function shares the contract of :func:`fastloss.cross_entropy`:

* the first argument is a float32/float64 array of shape ``(n_samples,)`` or
  ``(n_samples, n_outputs)`` (``entropy``: 2-D only), any layout (C-contiguous
  input is read in place, others are copied once); the target has the same
  shape, any real dtype, and is converted to the input's dtype (as torch
  requires equal dtypes);
* float32 in gives float32 out; each element is computed in double and sums
  are accumulated in double;
* ``sample_weight`` (shape ``(n_samples,)``, finite, >= 0) multiplies every loss
  of its row; ``reduction="mean"`` is
  :math:`\\sum_i s_i \\sum_j l_{ij} / (k \\sum_i s_i)` (the plain mean of all
  n k losses without weights), ``"sum"`` the weighted sum, ``"none"`` the
  weighted per-element losses in the input's shape; "mean" of nothing is nan;
* ``return_grad=True`` also returns the gradient of the returned loss (of its
  sum for "none") w.r.t. the first argument, computed in the same pass;
* ``out=`` / ``grad_out=`` receive the "none" losses / the gradient (C-contiguous,
  writeable, the right shape and dtype, sharing no memory with the inputs or
  with each other);
* nan in an element gives nan in that element's loss and gradient only;
  results are bitwise identical for every ``n_threads``;
* bad arguments raise TypeError/ValueError naming the argument and the bad
  value or first bad index, before any kernel runs.
"""
import math

import numpy as np

from . import _elementwise as _kernels
from . import _validation as v
from ._core import _finish, _flag, _grad_scale, _reduction_outputs
from ._threads import resolve_n_threads

__all__ = [
    "binary_cross_entropy_with_logits", "binary_cross_entropy", "logistic_loss",
    "exponential_loss", "sigmoid_focal_loss", "kl_div", "entropy", "mse_loss", "l1_loss",
    "huber_loss", "smooth_l1_loss",
]

_KL_REDUCTIONS = ("none", "mean", "batchmean", "sum")


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------

def _input(value, name, ndims=(1, 2)):
    """The first argument as a float32/float64 C-contiguous array of an allowed rank."""
    arr = v.as_real_array(value, name)
    if arr.dtype not in v.FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype} "
                        f"(convert with {name}.astype(np.float64))")
    if arr.ndim not in ndims:
        ranks = {1: "1-D (n_samples,)", 2: "2-D (n_samples, n_outputs)"}
        raise ValueError(f"{name} must be {' or '.join(ranks[d] for d in ndims)}, "
                         f"got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _target(value, x, x_name, name="target"):
    """(the target as given, as an array; the target in x's dtype, C-contiguous)."""
    arr = v.as_real_array(value, name)
    if arr.shape != x.shape:
        raise ValueError(f"{name} must have {x_name}'s shape {x.shape}, got shape {arr.shape}")
    return arr, np.ascontiguousarray(arr, dtype=x.dtype)


def _finite(value, name, condition=None, what=""):
    number = v.real_scalar(value, name)
    if not math.isfinite(number) or (condition is not None and not condition(number)):
        raise ValueError(f"{name} must be a finite number{what}, got {value!r}")
    return number


def _pos_weight(value, n_cols):
    """pos_weight as float64 (n_cols,), or None: a scalar or one weight per column."""
    if value is None:
        return None
    arr = v.as_real_array(value, "pos_weight")
    if arr.dtype.kind == "b":
        raise TypeError("pos_weight must hold real numbers, got dtype bool")
    if arr.ndim == 0:
        weight = float(arr)
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"pos_weight = {weight}: weights must be finite and >= 0")
        return np.full(n_cols, weight)
    return v.weights(arr, n_cols, "pos_weight", "a scalar or one per column of logits")


def _index(flat_index, shape):
    return ", ".join(str(int(i)) for i in np.unravel_index(flat_index, shape))


def _check_probs(probs, name, threads):
    """Every element in [0, 1] (nan is allowed: it propagates)."""
    bad = _kernels.first_bad_value(_kernels.CHECKS["unit"], probs.reshape(-1), threads)
    if bad >= 0:
        value = probs.reshape(-1)[bad].item()
        raise ValueError(f"{name}[{_index(bad, probs.shape)}] = {value!r} is not a probability "
                         "in [0, 1]")


def _rounded_onto_labels(given, converted):
    """True when converting the labels may have rounded a float onto +-1
    (float64 -> float32): they must then be checked as given."""
    return given.dtype.kind == "f" and given.dtype.itemsize > converted.dtype.itemsize


def _probs_check(x, name):
    """(CHECKS code for the kernel, full scan raising on the first bad value)."""
    return _kernels.CHECKS["unit"], lambda threads: _check_probs(x, name, threads)


def _signs_check(given, converted, name):
    code = None if _rounded_onto_labels(given, converted) else _kernels.CHECKS["sign"]
    return code, lambda threads: _check_signs(given, converted, name, threads)


def _check_signs(given, converted, name, threads):
    """Every label -1 or +1. Checked on the converted labels (fast) unless the
    conversion may have rounded a float onto +-1 (float64 -> float32)."""
    if _rounded_onto_labels(given, converted):
        flags = ~((given == 1) | (given == -1)).reshape(-1)
        bad = int(np.argmax(flags)) if flags.any() else -1
    else:
        bad = _kernels.first_bad_value(_kernels.CHECKS["sign"], converted.reshape(-1), threads)
    if bad >= 0:
        value = given[np.unravel_index(bad, given.shape)].item()
        raise ValueError(f"{name}[{_index(bad, given.shape)}] = {value!r} is not a label "
                         "in {-1, +1}")


def _run(name, x, t, inputs, *, sample_weight, reduction, return_grad, out, grad_out,
         n_threads, pos_weight=None, p0=0.0, p1=0.0, flag=False, check=None):
    """Validate the shared arguments, run the kernel, reduce.

    x, t: the C-contiguous input and target (t is x for entropy); inputs: the
    (name, object) pairs given by the caller, for the aliasing checks; check:
    ``(code, scan)``, a value check. When fastloss allocates the outputs and
    ``code`` is not None the kernel counts bad values in its own pass (one
    memory pass saved) and ``scan(threads)``, which raises naming the first
    bad element, runs only if it found some; otherwise ``scan`` runs before
    the kernel, so a caller's out=/grad_out= are never written on error.
    """
    per_row = name == "entropy"
    n = x.shape[0]
    n_cols = 1 if x.ndim == 1 else x.shape[1]
    return_grad = _flag(return_grad, "return_grad")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    loss_out, grad = _reduction_outputs(reduction, return_grad, out, grad_out,
                              (n,) if per_row else x.shape, x.shape, x.dtype,
                              inputs + [("sample_weight", sample_weight)])
    threads = resolve_n_threads(n_threads, x.size)
    fused = _kernels.NO_CHECK_CODE
    if check is not None:
        code, scan = check
        if code is not None and out is None and grad_out is None:
            fused = code
        else:
            scan(threads)
    weight_sum = float(np.sum(sw)) if sw is not None else float(n)
    if reduction == "mean" and not per_row:
        denominator = n_cols * weight_sum
    else:                                   # batchmean, entropy's mean, and unused for sum/none
        denominator = weight_sum
    grad_scale = _grad_scale("mean" if reduction in ("mean", "batchmean") else reduction,
                             denominator)
    total, n_bad = _kernels.elementwise_loss(
        _kernels.KINDS[name], x.reshape(n, n_cols), t.reshape(n, n_cols), pos_weight,
        p0, p1, flag, sw, grad_scale,
        loss_out.reshape(-1) if loss_out is not None else None,
        grad.reshape(-1) if grad is not None else None, threads, fused)
    if n_bad:
        scan(threads)  # raises, naming the first bad element
        raise AssertionError(f"the kernel counted {n_bad} bad values the scan did not find")
    return _finish(reduction, total, denominator, loss_out, grad)


# ---------------------------------------------------------------------------
# binary / sigmoid losses
# ---------------------------------------------------------------------------

def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None, sample_weight=None,
                                     reduction="mean", return_grad=False, out=None,
                                     grad_out=None, n_threads=None):
    r"""Binary cross-entropy on logits (sigmoid + BCE in one stable step).

    ``torch.nn.functional.binary_cross_entropy_with_logits``'s formula, with
    :math:`\sigma` the sigmoid and :math:`w_j` the ``pos_weight`` of column j:

    .. math:: l_{ij} = -w_j t_{ij} \log\sigma(x_{ij}) - (1 - t_{ij}) \log(1 - \sigma(x_{ij}))
              = (1 - t)\,x + \bigl(1 + (w_j - 1)\,t\bigr)\,\mathrm{softplus}(-x)

    computed as softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) with the linear
    parts combined exactly, so it is stable for |x| up to 1e308. The gradient
    is :math:`(1 + (w_j - 1) t)\,\sigma(x) - w_j t` (:math:`\sigma(x) - t`
    without pos_weight). As torch, x = -inf gives a nan loss.

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_labels)
        2-D is multi-label: one independent binary problem per column.
    target : array_like, logits' shape
        Targets in [0, 1] (soft targets allowed; not checked, as torch).
    pos_weight : float or array_like of shape (n_labels,), optional
        Weight of the positive term, broadcast over the last axis (torch's
        ``pos_weight``); finite, >= 0. For 1-D logits, a scalar.
    sample_weight : array_like, shape (n_samples,), optional
        Finite, >= 0; multiplies every loss of its row.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean": :math:`\sum_i s_i \sum_j l_{ij} / (k \sum_i s_i)`.
    return_grad : bool, default False
        Also return the gradient of the returned loss (of its sum for
        "none") w.r.t. logits, computed in the same pass.
    out : ndarray, logits' shape and dtype, optional
        Buffer for the per-element losses (reduction="none" only).
    grad_out : ndarray, logits' shape and dtype, optional
        Buffer for the gradient (return_grad=True only).
    n_threads : int or None, default None
        None: all usable cores; -1: all cores; k > 0: k threads. The result is
        bitwise the same for every value.

    Returns
    -------
    loss : float, or ndarray of logits' shape for reduction="none"
    grad : ndarray, logits' shape and dtype
        Only with return_grad=True.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> x, t = np.array([0.0, 2.0]), np.array([1.0, 0.0])
    >>> round(fastloss.binary_cross_entropy_with_logits(x, t), 6)  # (log 2 + 2 + log(1 + e^-2)) / 2
    1.410038
    >>> loss, grad = fastloss.binary_cross_entropy_with_logits(x, t, return_grad=True)
    >>> grad.round(6)  # (sigmoid(x) - t) / 2
    array([-0.25    ,  0.440399])
    """
    x = _input(logits, "logits")
    _, t = _target(target, x, "logits")
    pw = _pos_weight(pos_weight, 1 if x.ndim == 1 else x.shape[1])
    reduction = v.reduction(reduction)
    return _run("binary_cross_entropy_with_logits", x, t,
                [("logits", logits), ("target", target), ("pos_weight", pos_weight)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads, pos_weight=pw)


def binary_cross_entropy(probs, target, *, sample_weight=None, reduction="mean",
                         return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Binary cross-entropy on probabilities, ``torch.nn.functional.binary_cross_entropy``.

    .. math:: l_{ij} = -\bigl(t \max(\log p, -100) + (1 - t) \max(\log(1 - p), -100)\bigr)

    with the logs clamped at -100 exactly as torch (so p = 0 or 1 gives a
    finite loss), log(1 - p) computed as log1p(-p). The gradient is torch's:
    :math:`(p - t) / \max(p (1 - p), \epsilon)`, :math:`\epsilon` = 1e-12 rounded
    to float32 (9.99999996e-13, torch's constant). On logits, prefer
    :func:`binary_cross_entropy_with_logits`.

    Parameters
    ----------
    probs : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_labels)
        Probabilities in [0, 1]; any other value raises ValueError (naming the
        first bad index). nan is allowed and gives nan (torch raises).
    target : array_like, probs' shape
        Targets in [0, 1] (not checked, as torch).
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of probs' shape for reduction="none"
    grad : ndarray, probs' shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> p, t = np.array([0.5, 0.8, 0.0]), np.array([1.0, 0.0, 1.0])
    >>> fastloss.binary_cross_entropy(p, t, reduction="none").round(6)  # log 2, -log 0.2, 100
    array([  0.693147,   1.609438, 100.      ])
    """
    x = _input(probs, "probs")
    _, t = _target(target, x, "probs")
    reduction = v.reduction(reduction)
    return _run("binary_cross_entropy", x, t, [("probs", probs), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads,
                check=_probs_check(x, "probs"))


def logistic_loss(scores, target, *, sample_weight=None, reduction="mean", return_grad=False,
                  out=None, grad_out=None, n_threads=None):
    r"""Logistic loss on margins with labels in {-1, +1}.

    .. math:: l_{ij} = \log\bigl(1 + e^{-y_{ij} s_{ij}}\bigr) = \mathrm{softplus}(-y s),
              \qquad \frac{\partial l}{\partial s} = -y\,\sigma(-y s)

    computed as max(z, 0) + log1p(exp(-|z|)), z = -y s: stable for any s
    (s = +-inf gives 0 or inf). It equals
    :func:`binary_cross_entropy_with_logits` with targets (y + 1) / 2.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, scores' shape
        Labels, each -1 or +1 (any real dtype); anything else (0, nan, ...)
        raises ValueError naming the first bad index.
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of scores' shape for reduction="none"
    grad : ndarray, scores' shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> s, y = np.array([0.0, 1.0]), np.array([1, -1])
    >>> fastloss.logistic_loss(s, y, reduction="none").round(6)  # log 2, log(1 + e)
    array([0.693147, 1.313262])
    """
    x = _input(scores, "scores")
    given, y = _target(target, x, "scores")
    reduction = v.reduction(reduction)
    return _run("logistic_loss", x, y, [("scores", scores), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads,
                check=_signs_check(given, y, "target"))


def exponential_loss(scores, target, *, sample_weight=None, reduction="mean",
                     return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Exponential loss (AdaBoost's) on margins with labels in {-1, +1}.

    .. math:: l_{ij} = e^{-y_{ij} s_{ij}}, \qquad \frac{\partial l}{\partial s} = -y\,e^{-y s}

    Overflows to inf for -y s > 709.78 (float64), as the formula does.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, scores' shape
        Labels, each -1 or +1; anything else raises ValueError.
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of scores' shape for reduction="none"
    grad : ndarray, scores' shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> s, y = np.array([0.0, np.log(2.0)]), np.array([1.0, -1.0])
    >>> fastloss.exponential_loss(s, y, reduction="sum")  # 1 + 2
    3.0
    """
    x = _input(scores, "scores")
    given, y = _target(target, x, "scores")
    reduction = v.reduction(reduction)
    return _run("exponential_loss", x, y, [("scores", scores), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads,
                check=_signs_check(given, y, "target"))


def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, sample_weight=None,
                       reduction="mean", return_grad=False, out=None, grad_out=None,
                       n_threads=None):
    r"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", 2017).

    ``torchvision.ops.sigmoid_focal_loss``'s formula, with :math:`p = \sigma(x)`:

    .. math:: l = \alpha_t\,\mathrm{BCE}(x, t)\,(1 - p_t)^\gamma,\quad
              p_t = p\,t + (1 - p)(1 - t),\quad
              \alpha_t = \alpha t + (1 - \alpha)(1 - t)

    (:math:`\alpha_t = 1` when alpha < 0). :math:`1 - p_t` is computed as
    :math:`p (1 - t) + \sigma(-x)\, t`, without cancellation, so large |x| stays
    accurate (torchvision's own 1 - p_t loses it). Gradient:
    :math:`\alpha_t[(p - t)(1 - p_t)^\gamma + \mathrm{BCE}\,\gamma (1 - p_t)^{\gamma - 1}
    p (1 - p)(1 - 2t)]`. At gamma = 0 and alpha < 0 this is
    :func:`binary_cross_entropy_with_logits`.

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_labels)
    target : array_like, logits' shape
        Targets in [0, 1] (soft targets allowed).
    alpha : float, default 0.25
        Weight of the positive class; any negative value disables the weighting.
    gamma : float >= 0, default 2.0
        Focusing parameter.
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`. Note that torchvision's
        default reduction is "none"; here it is "mean" like every loss.

    Returns
    -------
    loss : float, or ndarray of logits' shape for reduction="none"
    grad : ndarray, logits' shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> x, t = np.array([0.0]), np.array([1.0])
    >>> round(fastloss.sigmoid_focal_loss(x, t, reduction="sum"), 6)  # 0.25 * log 2 * 0.5^2
    0.043322
    """
    x = _input(logits, "logits")
    _, t = _target(target, x, "logits")
    alpha = _finite(alpha, "alpha")
    gamma = _finite(gamma, "gamma", lambda g: g >= 0, " >= 0")
    reduction = v.reduction(reduction)
    return _run("sigmoid_focal_loss", x, t, [("logits", logits), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads, p0=alpha, p1=gamma)


# ---------------------------------------------------------------------------
# divergences
# ---------------------------------------------------------------------------

def kl_div(input, target, *, log_target=False, sample_weight=None, reduction="mean",
           return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Kullback-Leibler divergence, ``torch.nn.functional.kl_div``.

    ``input`` holds log-probabilities :math:`x = \log q`; per element

    .. math:: l = t\,(\log t - x)\ \ (0 \log 0 = 0), \qquad
              l = e^{t} (t - x)\ \ \text{with log\_target}

    and :math:`\sum_j l_{ij} = \mathrm{KL}(t_i \| q_i)`. Gradient w.r.t.
    input: :math:`-t` (:math:`-e^t` with log_target). As torch, a zero target
    times x = -inf is nan.

    Parameters
    ----------
    input : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_classes)
        Log-probabilities.
    target : array_like, input's shape
        Probabilities (log-probabilities with log_target=True).
    log_target : bool, default False
    sample_weight, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
        "batchmean" divides the sum by n_samples (by :math:`\sum_i s_i` with
        sample weights): the mathematical KL divergence per sample. "mean"
        divides by the number of elements, as torch (which warns about it).

    Returns
    -------
    loss : float, or ndarray of input's shape for reduction="none"
    grad : ndarray, input's shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> q, t = np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])
    >>> round(fastloss.kl_div(np.log(q), t, reduction="batchmean"), 6)  # KL(t || q) = log 2
    0.693147
    """
    x = _input(input, "input")
    _, t = _target(target, x, "input")
    flag = _flag(log_target, "log_target")
    reduction = v.reduction(reduction, _KL_REDUCTIONS)
    return _run("kl_div", x, t, [("input", input), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads, flag=flag)


def entropy(probs, *, sample_weight=None, reduction="none", return_grad=False, out=None,
            grad_out=None, n_threads=None):
    r"""Row-wise Shannon entropy in nats, ``scipy.special.entr(p).sum(axis=1)``.

    .. math:: H_i = -\sum_j p_{ij} \log p_{ij}, \qquad
              \frac{\partial H_i}{\partial p_{ij}} = -(1 + \log p_{ij})

    with entr's rules: :math:`0 \log 0 = 0`, a negative p gives -inf (its
    gradient nan), nan gives nan. The rows are not normalised.

    Parameters
    ----------
    probs : array_like of float32 or float64, shape (n_samples, n_classes)
        2-D only (for one distribution pass ``p[None, :]``).
    sample_weight : array_like, shape (n_samples,), optional
        Multiplies each row's entropy.
    reduction : {"none", "mean", "sum"}, default "none"
        "none": the weighted entropies, shape (n_samples,); "mean": their
        weighted average :math:`\sum_i s_i H_i / \sum_i s_i`.
    return_grad, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.
    out : ndarray, shape (n_samples,), optional
        Buffer for the entropies (reduction="none" only).

    Returns
    -------
    h : ndarray of shape (n_samples,), or float for "mean"/"sum"
    grad : ndarray, probs' shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.entropy(np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])).round(6)  # log 2, 0
    array([0.693147, 0.      ])
    """
    x = _input(probs, "probs", ndims=(2,))
    reduction = v.reduction(reduction)
    return _run("entropy", x, x, [("probs", probs)], sample_weight=sample_weight,
                reduction=reduction, return_grad=return_grad, out=out, grad_out=grad_out,
                n_threads=n_threads)


# ---------------------------------------------------------------------------
# regression losses
# ---------------------------------------------------------------------------

def mse_loss(input, target, *, sample_weight=None, reduction="mean", return_grad=False,
             out=None, grad_out=None, n_threads=None):
    r"""Mean squared error, ``torch.nn.functional.mse_loss``.

    .. math:: l = (x - t)^2, \qquad \frac{\partial l}{\partial x} = 2 (x - t)

    Parameters
    ----------
    input : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, input's shape
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of input's shape for reduction="none"
    grad : ndarray, input's shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 4.0]))  # (1 + 4) / 2
    2.5
    """
    x = _input(input, "input")
    _, t = _target(target, x, "input")
    reduction = v.reduction(reduction)
    return _run("mse_loss", x, t, [("input", input), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads)


def l1_loss(input, target, *, sample_weight=None, reduction="mean", return_grad=False,
            out=None, grad_out=None, n_threads=None):
    r"""Mean absolute error, ``torch.nn.functional.l1_loss``.

    .. math:: l = |x - t|, \qquad \frac{\partial l}{\partial x} = \mathrm{sign}(x - t)

    with the subgradient 0 where x = t, as torch. (torch also gives 0 where
    x - t is nan; here a nan element's gradient is nan.)

    Parameters
    ----------
    input : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, input's shape
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of input's shape for reduction="none"
    grad : ndarray, input's shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> loss, grad = fastloss.l1_loss(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 5.0]),
    ...                               reduction="sum", return_grad=True)
    >>> loss, grad
    (3.0, array([ 1.,  0., -1.]))
    """
    x = _input(input, "input")
    _, t = _target(target, x, "input")
    reduction = v.reduction(reduction)
    return _run("l1_loss", x, t, [("input", input), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads)


def huber_loss(input, target, *, delta=1.0, sample_weight=None, reduction="mean",
               return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Huber loss, ``torch.nn.functional.huber_loss``.

    .. math:: l = \begin{cases} \tfrac12 r^2 & |r| < \delta \\
                  \delta\,(|r| - \tfrac12\delta) & \text{otherwise} \end{cases},\quad r = x - t,
              \qquad \frac{\partial l}{\partial x} = \mathrm{clip}(r, -\delta, \delta)

    Parameters
    ----------
    input : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, input's shape
    delta : float > 0, default 1.0
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of input's shape for reduction="none"
    grad : ndarray, input's shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.huber_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none")  # 0.5^2/2, 3 - 1/2
    array([0.125, 2.5  ])
    """
    x = _input(input, "input")
    _, t = _target(target, x, "input")
    delta = _finite(delta, "delta", lambda d: d > 0, " > 0")
    reduction = v.reduction(reduction)
    return _run("huber_loss", x, t, [("input", input), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads, p0=delta)


def smooth_l1_loss(input, target, *, beta=1.0, sample_weight=None, reduction="mean",
                   return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Smooth L1 loss, ``torch.nn.functional.smooth_l1_loss`` (Girshick, Fast R-CNN, 2015).

    .. math:: l = \begin{cases} r^2 / (2\beta) & |r| < \beta \\
                  |r| - \tfrac12\beta & \text{otherwise} \end{cases},\quad r = x - t,
              \qquad \frac{\partial l}{\partial x} = \mathrm{clip}(r / \beta, -1, 1)

    beta = 0 is :func:`l1_loss` (gradient 0 at r = 0), as torch. Huber with
    delta equals beta times smooth L1 with beta = delta.

    Parameters
    ----------
    input : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_outputs)
    target : array_like, input's shape
    beta : float >= 0, default 1.0
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    loss : float, or ndarray of input's shape for reduction="none"
    grad : ndarray, input's shape and dtype (with return_grad=True)

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.smooth_l1_loss(np.array([0.5, 3.0]), np.zeros(2), beta=2.0, reduction="none")
    array([0.0625, 2.    ])
    """
    x = _input(input, "input")
    _, t = _target(target, x, "input")
    beta = _finite(beta, "beta", lambda b: b >= 0, " >= 0")
    reduction = v.reduction(reduction)
    return _run("smooth_l1_loss", x, t, [("input", input), ("target", target)],
                sample_weight=sample_weight, reduction=reduction, return_grad=return_grad,
                out=out, grad_out=grad_out, n_threads=n_threads, p0=beta)
