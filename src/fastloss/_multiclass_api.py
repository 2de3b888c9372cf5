"""Multi-class and margin losses: softmax_focal_loss, margin_cross_entropy,
hinge_loss, zero_one_loss. Validation and defaults only; all arithmetic
happens in the nogil kernels of ``_multiclass.pyx``.
"""
import math

import numpy as np

from . import _multiclass
from . import _validation as v
from ._core import _finish, _flag, _grad_scale, _reduction_outputs, _scan_class_targets
from ._threads import resolve_n_threads

__all__ = ["softmax_focal_loss", "margin_cross_entropy", "hinge_loss", "zero_one_loss"]

# label dtypes the 1-D kernels read as they are (fused label_t of _multiclass.pyx)
_LABEL_DTYPES = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.intc, np.int_,
                                            np.float32, np.float64))


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------

def _float_array(value, name, ndims):
    """A float32/float64 C-contiguous array with ndim in `ndims`: `value`
    itself when it already is one, else one copy."""
    arr = v.as_real_array(value, name)
    if arr.dtype not in v.FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got dtype {arr.dtype} "
            f"(convert with {name}.astype(np.float64))")
    if arr.ndim not in ndims:
        wanted = " or ".join({1: "1-D (n_samples,)", 2: "2-D (n_samples, n_classes)"}[d]
                             for d in ndims)
        raise ValueError(f"{name} must be {wanted}, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _real(value, name, *, low=None, low_open=False, high=None):
    """A finite real number within [low, high] (or (low, ...) if low_open)."""
    x = v.real_scalar(value, name)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x <= high
    if not ok:
        lo = "" if low is None else (f" > {low}" if low_open else f" >= {low}")
        hi = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be finite{lo}{hi}, got {value!r}")
    return x


def _class_targets(target, n, n_classes, ignore, cw, sw, n_threads):
    """Integer class indices as intp; returns (target, Σ sw w_y over counted rows),
    scanned on n_threads threads."""
    arr = v.as_real_array(target, "target")
    if arr.dtype.kind == "f" and arr.ndim == 2:
        raise TypeError("target must hold integer class indices (n_samples,); probability "
                        "targets are not supported by this loss")
    arr = v.class_index_target(arr, n)
    return arr, _scan_class_targets(arr, n_classes, ignore, cw, sw, n_threads)


def _plain_class_targets(target, n, n_classes):
    """Integer class indices in [0, n_classes) as intp (2-D scores; no ignore_index)."""
    arr = v.as_real_array(target, "target")
    if arr.dtype.kind == "f":
        raise TypeError(f"target must hold integer class indices for 2-D scores, got "
                        f"dtype {arr.dtype}")
    arr = v.class_index_target(arr, n)
    bad = _multiclass.first_bad_class_index(arr, n_classes)
    if bad >= 0:
        raise ValueError(f"target[{bad}] = {arr[bad]} is not a class index in [0, {n_classes})")
    return arr


def _binary_labels(target, n, zero_one_allowed, threads):
    """1-D labels in {-1, +1} (or, if zero_one_allowed, all in {0, 1}) checked
    and turned into an int8 array, 1 where the label is 1 (the positive
    class), 0 elsewhere, in one pass; common label dtypes are read as they are."""
    original = v.as_real_array(target, "target")
    if original.dtype.kind == "b":
        raise TypeError("target must hold numeric labels, got dtype bool "
                        "(convert with target.astype(np.int8))")
    if original.ndim != 1:
        raise ValueError(f"target must be 1-D (n_samples,), got shape {original.shape}")
    if original.shape[0] != n:
        raise ValueError(f"target has {original.shape[0]} labels but the input has {n} rows")
    arr = np.ascontiguousarray(original)
    if not (arr.dtype in _LABEL_DTYPES and arr.dtype.isnative):
        if arr.dtype.kind == "f" or (arr.dtype.kind == "u" and arr.dtype.itemsize >= 8):
            arr = arr.astype(np.float64)     # exact for -1, 0 and 1; other values stay bad
        else:
            arr = arr.astype(np.int_)
    neg = -1.0
    allowed = "{-1, +1}"
    if zero_one_allowed:
        allowed = "{-1, +1} or {0, 1}"
        first = _multiclass.first_label_not(arr, 1.0)
        if first >= 0 and arr[first] in (0, -1):
            neg = float(arr[first])
    positive = np.empty(n, dtype=np.int8)
    bad = _multiclass.binary_signs(arr, neg, positive, threads)
    if bad >= 0:
        value = original[bad]
        if zero_one_allowed and value in (0, -1):
            raise ValueError(
                f"target[{bad}] = {value} but earlier labels use {neg:g} for the negative "
                f"class: 1-D labels must be all in {{-1, +1}} or all in {{0, 1}}")
        raise ValueError(f"target[{bad}] = {value} is not a binary label in {allowed}")
    return positive


def _sample_weight_total(sw, n):
    return float(np.sum(sw)) if sw is not None else float(n)


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------

def softmax_focal_loss(logits, target, *, gamma=2.0, class_weight=None, sample_weight=None,
                       ignore_index=-100, reduction="mean", return_grad=False, out=None,
                       grad_out=None, n_threads=None):
    r"""Multi-class (softmax) focal loss, fused with its gradient.

    Lin, Goyal, Girshick, He, Dollár, "Focal Loss for Dense Object
    Detection" (ICCV 2017), eq. 4 with the softmax in place of the sigmoid:
    with :math:`p = \mathrm{softmax}(x_i)`, class weights :math:`w` and
    sample weights :math:`s`, for a row whose label :math:`y_i` is not
    ``ignore_index``

    .. math:: l_i = -s_i\, w_{y_i} (1 - p_{y_i})^{\gamma} \log p_{y_i}

    :math:`1 - p_{y_i}` is computed as ``-expm1(log p)``, accurate when
    :math:`p_{y_i} \to 1`. At ``gamma=0`` this is :func:`cross_entropy`
    (the loss bitwise, the gradient to rounding). ``"mean"`` is :math:`\sum_i l_i / \sum_i s_i w_{y_i}` over rows
    not ignored (torch's weighted mean, as cross_entropy). The gradient is
    the cross-entropy gradient times a per-row factor:

    .. math:: \frac{\partial l_i}{\partial x_{ik}} = s_i w_{y_i} B_i
              (p_k - [k = y_i]),\quad
              B_i = (1-p)^{\gamma} - \gamma\, p\, (1-p)^{\gamma-1} \log p,
              \ p = p_{y_i}

    Parameters
    ----------
    logits : array_like of float32 or float64, shape (n_samples, n_classes)
        Any layout. A row holding nan, or whose maximum is infinite, gets a nan
        loss and a nan gradient row (as cross_entropy).
    target : array_like of int, shape (n_samples,)
        Class indices.
    gamma : float >= 0, default 2.0
        Focusing parameter.
    class_weight : array_like, shape (n_classes,), optional
        Finite, non-negative (the paper's :math:`\alpha_t`, per class).
    sample_weight : array_like, shape (n_samples,), optional
        Finite, non-negative.
    ignore_index : int, default -100
        Rows with this label contribute 0 and get a zero gradient.
    reduction : {"mean", "sum", "none"}, default "mean"
    return_grad : bool, default False
        Also return the gradient of the returned loss (of its sum for
        "none") w.r.t. logits, computed in the same pass.
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
    grad : ndarray, logits' shape and dtype
        Only with return_grad=True.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> logits = np.array([[0.0, np.log(3.0)], [0.0, 0.0]])   # p_y = 3/4, then 1/2
    >>> fastloss.softmax_focal_loss(logits, np.array([1, 0]), reduction="none")
    array([0.01798013, 0.1732868 ])
    >>> # (1/4)^2 log(4/3) and (1/2)^2 log 2
    >>> loss, grad = fastloss.softmax_focal_loss(logits, np.array([1, 0]), gamma=0.0,
    ...                                          reduction="sum", return_grad=True)
    >>> round(loss, 6), grad.round(4)     # = cross_entropy: log(4/3) + log 2, p - onehot
    (0.980829, array([[ 0.25, -0.25],
           [-0.5 ,  0.5 ]]))
    """
    logits_arr = v.float_matrix(logits, "logits")
    n, n_classes = logits_arr.shape
    if n_classes == 0:
        raise ValueError(f"logits must have at least one class column, got shape "
                         f"{logits_arr.shape}")
    reduction = v.reduction(reduction)
    return_grad = _flag(return_grad, "return_grad")
    gamma = _real(gamma, "gamma", low=0.0)
    ignore = v.ignore_index(ignore_index)
    cw = v.weights(class_weight, n_classes, "class_weight", "one per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    threads = resolve_n_threads(n_threads, logits_arr.size)
    target_arr, denominator = _class_targets(target, n, n_classes, ignore, cw, sw, threads)
    loss_out, grad = _reduction_outputs(
        reduction, return_grad, out, grad_out, (n,), logits_arr.shape, logits_arr.dtype,
        [("logits", logits), ("target", target), ("class_weight", class_weight),
         ("sample_weight", sample_weight)])
    total = _multiclass.focal_index(logits_arr, target_arr, cw, sw, ignore, gamma,
                                    _grad_scale(reduction, denominator), loss_out, grad,
                                    threads)
    return _finish(reduction, total, denominator, loss_out, grad)


def _margin_parameters(kind, scale, margin):
    if not isinstance(kind, str) or kind not in _multiclass.KINDS:
        raise ValueError(f"kind must be one of {tuple(_multiclass.KINDS)}, got {kind!r}")
    scale = _real(scale, "scale", low=0.0, low_open=True)
    if kind == "angular":
        m = v.real_scalar(margin, "margin")
        if not (math.isfinite(m) and m == int(m) and 1 <= m <= 100):
            raise ValueError(f"kind='angular' (SphereFace) needs an integer margin in "
                             f"[1, 100] (the paper uses 4), got margin={margin!r}")
    elif kind == "arc":
        m = _real(margin, "margin", low=0.0, high=math.pi / 2)
    else:
        m = _real(margin, "margin", low=0.0)
    return _multiclass.KINDS[kind], scale, m


def margin_cross_entropy(cosine, target, *, kind="arc", scale=64.0, margin=0.5,
                         class_weight=None, sample_weight=None, ignore_index=-100,
                         reduction="mean", return_grad=False, out=None, grad_out=None,
                         n_threads=None):
    r"""Large-margin softmax cross-entropy on cosine logits (CosFace, ArcFace, SphereFace).

    The input holds cosines :math:`c_{ij} = \cos\theta_{ij}` between
    normalised features and normalised class weights. The logits are
    :math:`z_{ij} = s\, c_{ij}` except at the target, :math:`z_{iy} = s\,
    f(c_{iy})` (rounded to the input's dtype, as a model in that dtype holds
    them), and the loss is the (class- and sample-weighted) cross-entropy of
    :math:`z`, exactly as :func:`cross_entropy` would compute it on them:

    .. math:: l_i = s_i\, w_{y_i} \bigl(\log\textstyle\sum_j e^{z_{ij}} - z_{iy_i}\bigr)

    ``kind`` chooses :math:`f` (:math:`m` = ``margin``):

    * ``"additive"``: :math:`f(c) = c - m`. CosFace (Wang et al., "CosFace:
      Large Margin Cosine Loss for Deep Face Recognition", CVPR 2018) and
      AM-Softmax (Wang, Cheng, Liu, Liu, "Additive Margin Softmax for Face
      Verification", IEEE SPL 2018). Paper values: s = 30-64, m = 0.35.
    * ``"arc"``: :math:`f(c) = \cos(\theta + m)`, ArcFace (Deng, Guo, Xue,
      Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep Face
      Recognition", CVPR 2019; s = 64, m = 0.5), computed as
      :math:`c\cos m - \sin\theta \sin m` with :math:`\sin\theta =
      \sqrt{(1-c)(1+c)}`. When :math:`\theta + m > \pi` (where
      :math:`\cos(\theta + m)` would start increasing again) the fallback of the
      official insightface code (``easy_margin=False``) is used:

      .. math:: f(c) = \begin{cases} \cos(\theta + m) & c > \cos(\pi - m) \\
                c - m \sin(\pi - m) & \text{otherwise} \end{cases}

      ``margin`` must lie in [0, pi/2] (where this f decreases with theta).
    * ``"angular"``: :math:`f(c) = \psi(\theta) = (-1)^k \cos(m\theta) - 2k`
      for :math:`\theta \in [k\pi/m, (k+1)\pi/m]`, :math:`k = 0..m-1`:
      A-Softmax of SphereFace (Liu, Wen, Yu, Li, Raj, Song, "SphereFace: Deep
      Hypersphere Embedding for Face Recognition", CVPR 2017; from L-Softmax,
      Liu et al., ICML 2016) with an integer ``margin`` m >= 1 (paper: 4). The
      scale plays the role of the feature norm; the paper's annealing with
      the plain softmax, :math:`(\lambda \cos\theta + \psi)/(1 + \lambda)`,
      is not applied. :math:`\cos(m\theta)` is evaluated as the Chebyshev
      polynomial :math:`T_m(c)`.

    With ``margin=0`` ("additive", "arc") or 1 ("angular") this is
    ``cross_entropy(scale * cosine, target)``.

    The gradient is w.r.t. the cosines: :math:`s\, \partial L/\partial z_{ij}`,
    times :math:`f'(c_{iy})` at the target. For "arc",
    :math:`f'(c) = \sin(\theta + m) / \sin\theta` is infinite at
    :math:`c = 1` (:math:`\theta = 0`, m > 0): that entry of the gradient is
    then -inf, or 0 when :math:`\partial L/\partial z_{iy}` is exactly 0.

    Parameters
    ----------
    cosine : array_like of float32 or float64, shape (n_samples, n_classes)
        Values in [-1, 1] (anything else is a ValueError; clip with
        ``np.clip(cosine, -1, 1)`` if rounding pushed some just outside). nan
        is allowed and gives a nan loss and gradient row.
    target : array_like of int, shape (n_samples,)
        Class indices.
    kind : {"arc", "additive", "angular"}, default "arc"
    scale : float > 0, default 64.0
        s.
    margin : float, default 0.5
        m: >= 0 for "additive", in [0, pi/2] for "arc", an integer in [1, 100]
        for "angular".
    class_weight, sample_weight, ignore_index, reduction, return_grad, out, grad_out, n_threads
        As in :func:`cross_entropy`: "mean" is :math:`\sum_i l_i / \sum_i s_i
        w_{y_i}` over rows not ignored.

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"
    grad : ndarray, cosine's shape and dtype
        Only with return_grad=True.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> cos = np.array([[0.8, 0.6], [0.0, 1.0]])
    >>> y = np.array([0, 1])
    >>> # additive: z = [s (0.8 - 0.2), 0.6 s] = [3, 3] at s = 5: loss log 2
    >>> fastloss.margin_cross_entropy(cos[:1], y[:1], kind="additive", scale=5.0,
    ...                               margin=0.2, reduction="none")
    array([0.69314718])
    >>> # arc at m = pi/2 on cos 0.8: cos(theta + pi/2) = -sin(theta) = -0.6
    >>> loss = fastloss.margin_cross_entropy(cos[:1], y[:1], kind="arc", scale=1.0,
    ...                                      margin=np.pi / 2, reduction="sum")
    >>> round(loss, 6)        # log(e^-0.6 + e^0.6) + 0.6
    1.463282
    >>> # angular, m = 2: psi = cos(2 theta) = 2c^2 - 1 = 1 at c = 1
    >>> fastloss.margin_cross_entropy(cos[1:], y[1:], kind="angular", margin=2,
    ...                               scale=1.0, reduction="none")
    array([0.31326169])
    """
    kind_code, scale, m = _margin_parameters(kind, scale, margin)
    cos_arr = v.float_matrix(cosine, "cosine")
    n, n_classes = cos_arr.shape
    if n_classes == 0:
        raise ValueError(f"cosine must have at least one class column, got shape {cos_arr.shape}")
    reduction = v.reduction(reduction)
    return_grad = _flag(return_grad, "return_grad")
    ignore = v.ignore_index(ignore_index)
    cw = v.weights(class_weight, n_classes, "class_weight", "one per class")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    threads = resolve_n_threads(n_threads, cos_arr.size)
    target_arr, denominator = _class_targets(target, n, n_classes, ignore, cw, sw, threads)
    bad = _multiclass.first_outside_unit(cos_arr, threads)
    if bad >= 0:
        i, j = divmod(bad, n_classes)
        raise ValueError(f"cosine[{i}, {j}] = {float(cos_arr[i, j])!r} is outside [-1, 1] "
                         "(clip with np.clip(cosine, -1, 1) if it is a rounding excess)")
    loss_out, grad = _reduction_outputs(
        reduction, return_grad, out, grad_out, (n,), cos_arr.shape, cos_arr.dtype,
        [("cosine", cosine), ("target", target), ("class_weight", class_weight),
         ("sample_weight", sample_weight)])
    total = _multiclass.margin_index(cos_arr, target_arr, cw, sw, ignore, kind_code, scale, m,
                                     _grad_scale(reduction, denominator), loss_out, grad,
                                     threads)
    return _finish(reduction, total, denominator, loss_out, grad)


def hinge_loss(scores, target, *, margin=1.0, sample_weight=None, reduction="mean",
               return_grad=False, out=None, grad_out=None, n_threads=None):
    r"""Hinge loss: binary, or multi-class as Crammer and Singer.

    * 1-D ``scores`` (decision values) with labels :math:`y_i \in \{-1, +1\}`:

      .. math:: l_i = s_i \max(0,\ m - y_i\, x_i)

    * 2-D ``scores`` (n_samples, n_classes >= 2) with class indices
      :math:`y_i` (Crammer & Singer, "On the Algorithmic Implementation of
      Multiclass Kernel-based Vector Machines", JMLR 2001):

      .. math:: l_i = s_i \max\bigl(0,\ m - (x_{iy_i} - \max_{j \ne y_i} x_{ij})\bigr)

    ``"mean"`` is :math:`\sum_i l_i / \sum_i s_i` (``np.average(l,
    weights=sample_weight)``); with ``margin=1`` this is exactly
    ``sklearn.metrics.hinge_loss(target, scores, sample_weight=...)`` (whose
    binary case maps the smaller of two labels to -1, whose multi-class case
    needs every class in ``target`` or ``labels=``).

    The gradient is the subgradient that is 0 at the kink (:math:`m - y x = 0`
    exactly): :math:`-s_i y_i` where the hinge is active (binary), or
    :math:`+s_i` at the first largest competing score and :math:`-s_i` at the
    target (multi-class); 0 elsewhere.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_classes)
        nan gives a nan loss (for 2-D: anywhere in the row) and a nan gradient
        (row); infinities follow IEEE arithmetic (inf - inf = nan).
    target : array_like, shape (n_samples,)
        1-D scores: labels -1 and +1 (any integer or float dtype). 2-D scores:
        integer class indices in [0, n_classes).
    margin : float, default 1.0
        m, finite.
    sample_weight, reduction, return_grad, out, grad_out, n_threads
        As in :func:`cross_entropy`; the gradient has scores' shape.

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"
    grad : ndarray, scores' shape and dtype
        Only with return_grad=True.

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> fastloss.hinge_loss(np.array([2.0, 0.5, -0.5]), np.array([1, 1, 1]),
    ...                     reduction="none")
    array([0. , 0.5, 1.5])
    >>> scores = np.array([[2.0, 1.5, -1.0], [0.0, 3.0, 1.0]])
    >>> fastloss.hinge_loss(scores, np.array([0, 2]))    # (max(0, 1 - 0.5) + (1 - (1 - 3))) / 2
    1.75
    """
    scores_arr = _float_array(scores, "scores", (1, 2))
    n = scores_arr.shape[0]
    reduction = v.reduction(reduction)
    return_grad = _flag(return_grad, "return_grad")
    margin = _real(margin, "margin")
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    threads = resolve_n_threads(n_threads, scores_arr.size)
    if scores_arr.ndim == 2:
        n_classes = scores_arr.shape[1]
        if n_classes < 2:
            raise ValueError("2-D scores need at least two class columns (Crammer-Singer), "
                             f"got shape {scores_arr.shape}; binary scores are 1-D")
        target_arr = _plain_class_targets(target, n, n_classes)
    else:
        target_arr = _binary_labels(target, n, False, threads)
    denominator = _sample_weight_total(sw, n)
    loss_out, grad = _reduction_outputs(
        reduction, return_grad, out, grad_out, (n,), scores_arr.shape, scores_arr.dtype,
        [("scores", scores), ("target", target), ("sample_weight", sample_weight)])
    grad_scale = _grad_scale(reduction, denominator)
    if scores_arr.ndim == 2:
        total = _multiclass.hinge_crammer_singer(scores_arr, target_arr, sw, margin,
                                                 grad_scale, loss_out, grad, threads)
    else:
        total = _multiclass.hinge_binary(scores_arr, target_arr, sw, margin, grad_scale,
                                         loss_out, grad, threads)
    return _finish(reduction, total, denominator, loss_out, grad)


def zero_one_loss(scores, target, *, sample_weight=None, reduction="mean", out=None,
                  n_threads=None):
    r"""Zero-one (misclassification) loss of decision scores.

    * 2-D ``scores`` (n_samples, n_classes) with class indices: the
      prediction is the column of the row's maximum, the first one on ties
      (``np.argmax``).
    * 1-D ``scores`` with labels in {-1, +1} or in {0, 1}: the prediction is
      the positive class (label 1) where the score is > 0, the negative class
      where it is <= 0 (as scikit-learn's linear classifiers predict).

    .. math:: l_i = s_i\, [\hat y_i \ne y_i]

    ``"mean"`` is :math:`\sum_i l_i / \sum_i s_i`, ``"sum"`` the weighted
    count: exactly ``sklearn.metrics.zero_one_loss(target, predictions,
    sample_weight=..., normalize=(reduction == "mean"))``. A nan score (2-D:
    anywhere in the row) gives a nan loss. There is no gradient (the loss is
    piecewise constant): ``return_grad`` is not a parameter.

    Parameters
    ----------
    scores : array_like of float32 or float64, shape (n_samples,) or (n_samples, n_classes)
    target : array_like, shape (n_samples,)
        2-D scores: integer class indices; 1-D: labels all in {-1, +1} or all
        in {0, 1} (any integer or float dtype).
    sample_weight : array_like, shape (n_samples,), optional
    reduction : {"mean", "sum", "none"}, default "mean"
    out : ndarray, shape (n_samples,), optional
        Buffer for the per-row losses (reduction="none" only), scores' dtype.
    n_threads : int or None, default None

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> scores = np.array([[0.1, 0.9, 0.0], [2.0, 2.0, 1.0], [0.0, 0.0, 5.0]])
    >>> fastloss.zero_one_loss(scores, np.array([1, 1, 2]), reduction="none")  # argmax 1, 0, 2
    array([0., 1., 0.])
    >>> fastloss.zero_one_loss(np.array([0.3, -2.0, 0.0]), np.array([1, 0, 1]))  # 0 is negative
    0.3333333333333333
    """
    scores_arr = _float_array(scores, "scores", (1, 2))
    n = scores_arr.shape[0]
    reduction = v.reduction(reduction)
    sw = v.weights(sample_weight, n, "sample_weight", "one per sample")
    threads = resolve_n_threads(n_threads, scores_arr.size)
    if scores_arr.ndim == 2:
        n_classes = scores_arr.shape[1]
        if n_classes == 0:
            raise ValueError(f"scores must have at least one class column, got shape "
                             f"{scores_arr.shape}")
        target_arr = _plain_class_targets(target, n, n_classes)
    else:
        target_arr = _binary_labels(target, n, True, threads)
    denominator = _sample_weight_total(sw, n)
    loss_out, _ = _reduction_outputs(
        reduction, False, out, None, (n,), scores_arr.shape, scores_arr.dtype,
        [("scores", scores), ("target", target), ("sample_weight", sample_weight)])
    if scores_arr.ndim == 2:
        total = _multiclass.zero_one_argmax(scores_arr, target_arr, sw, loss_out, threads)
    else:
        total = _multiclass.zero_one_binary(scores_arr, target_arr, sw, loss_out, threads)
    return _finish(reduction, total, denominator, loss_out, None)
