"""The one registry of fastloss's loss functions.

Every loss is one :class:`LossSpec`: its public name, the fast function, its
pure-NumPy twin in :mod:`fastloss._reference`, the kind of data it takes, the
keyword cases worth exercising, its torch equivalent (if torch has one), and
whether it returns a gradient. The registry drives the tests
(``tests/test_elementwise.py`` and any other test that iterates over it) and
the asv suite (``asv_benchmarks/bench_catalogue.py``): registering a loss adds
its tests and benchmarks.

Adding a loss
-------------
1. Write the fast function and its ``_reference`` twin (same signature).
2. If its data is of a new kind, add a function to ``INPUT_KINDS`` (maps any
   float array, including +-inf / nan / +-1e308, into the domain of the first
   argument) and/or to ``TARGET_KINDS`` (``fn(x, rng, kwargs) -> target`` for an
   input ``x``; e.g. integer class labels ``rng.integers(0, x.shape[1], n)``).
3. ``register(LossSpec(...))`` in the section of its family below. The
   ``family`` field lets a test module pick its losses (``specs("elementwise")``).

Nothing here imports torch: ``LossSpec.torch`` is a function that receives the
torch module when a test calls it.
"""
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import numpy as np

from . import _elementwise_api as _ew
from . import _reference as _ref

REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------
# kinds of data
# ---------------------------------------------------------------------------

def _identity(z):
    return z


def _to_probs(z):
    """sigmoid(z) in z's dtype: any real maps into [0, 1]; large |z| (and
    +-inf) give exactly 0 or 1, nan stays nan."""
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
    return p.astype(z.dtype)


# fn(values) -> first argument: values are arbitrary floats of any shape/dtype.
INPUT_KINDS = {
    "logits": _identity,     # any real number: logits, scores, log-probabilities, regression
    "probs": _to_probs,      # probabilities in [0, 1], exact 0 and 1 from extreme values
}


def _soft_targets(x, rng, kwargs):
    """Floats in [0, 1], about 15 % exactly 0 and 15 % exactly 1."""
    t = rng.random(x.shape)
    u = rng.random(x.shape)
    t[u < 0.15] = 0.0
    t[u > 0.85] = 1.0
    return t.astype(x.dtype)


def _sign_labels(x, rng, kwargs):
    """Labels in {-1, +1} as int64 (the API converts them)."""
    return np.where(rng.random(x.shape) < 0.5, -1, 1).astype(np.int64)


def _prob_targets(x, rng, kwargs):
    """Probabilities (rows summing to 1 for 2-D), about 20 % exact zeros; with
    log_target=True in kwargs, the logs of positive probabilities."""
    t = rng.random(x.shape)
    if not kwargs.get("log_target"):
        t[rng.random(x.shape) < 0.2] = 0.0
    else:
        t += 1e-3
    if t.ndim == 2 and t.shape[1] > 0:
        t[t.sum(axis=1) == 0, 0] = 1.0
        t /= t.sum(axis=1, keepdims=True)
    if kwargs.get("log_target"):
        t = np.log(t)
    return t.astype(x.dtype)


def _real_targets(x, rng, kwargs):
    """x plus noise of scale ~2 (finite x), with about 10 % equal to x (zero
    residual: the kink of l1 / smooth_l1)."""
    with np.errstate(invalid="ignore", over="ignore"):
        base = np.where(np.isfinite(x), x, 0.0).astype(np.float64)
        t = base + 2.0 * rng.standard_normal(x.shape)
        t = np.where(rng.random(x.shape) < 0.1, x, t)
    return t.astype(x.dtype)


# fn(x, rng, kwargs) -> target for the first argument x (kwargs: the call's keywords).
TARGET_KINDS = {
    "soft": _soft_targets,
    "sign": _sign_labels,
    "probs": _prob_targets,
    "real": _real_targets,
}


def sample_weights(n, rng):
    """Finite non-negative sample weights, some exactly 0."""
    w = rng.uniform(0.2, 3.0, n)
    if n > 2:
        w[rng.random(n) < 0.15] = 0.0
    return w


# ---------------------------------------------------------------------------
# the spec
# ---------------------------------------------------------------------------

def _no_kwargs(shape, rng):
    return {}


@dataclass(frozen=True)
class LossSpec:
    """One loss function and everything the tests and benchmarks need to know.

    Attributes
    ----------
    name : public name, ``fastloss.<name>``.
    fast, reference : the fast function and its ``_reference`` twin.
    family : group of the loss (tests pick their family with :func:`specs`).
    input_kind : key of INPUT_KINDS, the domain of the first argument.
    target_kind : key of TARGET_KINDS, or None for a loss without target.
    ndims : accepted ranks of the first argument.
    cases : {case name: fn(shape, rng) -> keyword arguments}; "default" first.
    torch : fn(torch, x, t, reduction, **kwargs) -> loss tensor with torch's
        semantics, or None. ``t`` is None for a loss without target.
    torch_kwargs : keywords the torch function takes; cases using others
        (sample_weight, ...) are not compared with torch.
    has_grad : whether the function takes return_grad.
    per_row : "none" returns one loss per row (shape (n,)), not per element.
    reductions, default_reduction : accepted reductions and the default.
    kinks : fn(x, t, kwargs) -> bool mask of elements where the loss is not
        differentiable (finite-difference checks skip them), or None.
    bad_values : (argument, value) pairs that the value checks reject (a
        ValueError naming the argument and the index).
    bad_kwargs : (kwargs, exception type, text the message contains).
    """

    name: str
    fast: Callable
    reference: Callable
    family: str
    input_kind: str
    target_kind: Optional[str]
    ndims: tuple = (1, 2)
    cases: Mapping[str, Callable] = field(default_factory=lambda: {"default": _no_kwargs})
    torch: Optional[Callable] = None
    torch_kwargs: frozenset = frozenset()
    has_grad: bool = True
    per_row: bool = False
    reductions: tuple = REDUCTIONS
    default_reduction: str = "mean"
    kinks: Optional[Callable] = None
    bad_values: tuple = ()
    bad_kwargs: tuple = ()

    def input_from(self, values):
        """Map arbitrary float values (any shape, kept dtype) into the input domain."""
        return INPUT_KINDS[self.input_kind](values)

    def target_for(self, x, rng, kwargs=None):
        """A target for the input x (None for a loss without target)."""
        if self.target_kind is None:
            return None
        return TARGET_KINDS[self.target_kind](x, rng, kwargs or {})

    def kwargs_for(self, case, shape, rng):
        return dict(self.cases[case](shape, rng))

    def sample(self, shape, dtype, rng, case="default", scale=2.0):
        """Moderate, finite data: (x, target, kwargs) for benchmarks and
        finite-difference / torch checks."""
        kwargs = self.kwargs_for(case, shape, rng)
        x = self.input_from((scale * rng.standard_normal(shape)).astype(dtype))
        return x, self.target_for(x, rng, kwargs), kwargs

    def call(self, func, x, target, **kwargs):
        """func(x, target, **kwargs), or func(x, **kwargs) without target."""
        if self.target_kind is None:
            return func(x, **kwargs)
        return func(x, target, **kwargs)

    def torch_case(self, kwargs):
        """Whether a case's keywords can be passed to the torch equivalent."""
        return self.torch is not None and set(kwargs) <= set(self.torch_kwargs)


REGISTRY = {}


def register(spec):
    if spec.name in REGISTRY:
        raise ValueError(f"loss {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def specs(family=None):
    """The registered specs (of one family), in registration order."""
    return [s for s in REGISTRY.values() if family is None or s.family == family]


# ---------------------------------------------------------------------------
# helpers for cases, torch equivalents and kinks
# ---------------------------------------------------------------------------

def _with_sample_weight(shape, rng):
    return {"sample_weight": sample_weights(shape[0], rng)}


def _torch_reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _torch_tensor(torch, value, like):
    return torch.as_tensor(np.asarray(value), dtype=like.dtype)


def _near(values, points, width):
    """|values - p| < width for any p of points (nan never counts)."""
    values = np.asarray(values, dtype=np.float64)
    mask = np.zeros(values.shape, dtype=bool)
    for p in points:
        with np.errstate(invalid="ignore"):
            mask |= np.abs(values - p) < width
    return mask


# ---------------------------------------------------------------------------
# element-wise losses (issue 4)
# ---------------------------------------------------------------------------

def _torch_bce_logits(torch, x, t, reduction, pos_weight=None):
    pw = None if pos_weight is None else _torch_tensor(torch, pos_weight, x)
    return torch.nn.functional.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                               reduction=reduction)


register(LossSpec(
    name="binary_cross_entropy_with_logits",
    fast=_ew.binary_cross_entropy_with_logits,
    reference=_ref.binary_cross_entropy_with_logits,
    family="elementwise",
    input_kind="logits",
    target_kind="soft",
    cases={
        "default": _no_kwargs,
        "pos_weight_scalar": lambda shape, rng: {"pos_weight": 2.5},
        "pos_weight_columns": lambda shape, rng: {
            "pos_weight": rng.uniform(0.2, 3.0, shape[1] if len(shape) == 2 else 1)},
        "sample_weight": _with_sample_weight,
    },
    torch=_torch_bce_logits,
    torch_kwargs=frozenset({"pos_weight"}),
    bad_kwargs=(
        ({"pos_weight": -1.0}, ValueError, "pos_weight"),
        ({"pos_weight": np.array([1.0, np.nan, 1.0])}, ValueError, "pos_weight"),
        ({"pos_weight": np.ones(7)}, ValueError, "pos_weight"),
        ({"pos_weight": "2"}, TypeError, "pos_weight"),
    ),
))


register(LossSpec(
    name="binary_cross_entropy",
    fast=_ew.binary_cross_entropy,
    reference=_ref.binary_cross_entropy,
    family="elementwise",
    input_kind="probs",
    target_kind="soft",
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: torch.nn.functional.binary_cross_entropy(
        x, t, reduction=reduction),
    # the clamps: log p = -100 below p = e^-100, and the gradient's p (1 - p) >= 1e-12
    kinks=lambda x, t, kw: (x < 1e-6) | (x > 1 - 1e-6),
    bad_values=(("probs", 1.5), ("probs", -0.25), ("probs", np.inf), ("probs", -np.inf)),
))


register(LossSpec(
    name="logistic_loss",
    fast=_ew.logistic_loss,
    reference=_ref.logistic_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="sign",
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: _torch_reduce(
        torch.nn.functional.softplus(-t * x), reduction),
    bad_values=(("target", 0), ("target", 2), ("target", np.nan), ("target", 0.5)),
))


register(LossSpec(
    name="exponential_loss",
    fast=_ew.exponential_loss,
    reference=_ref.exponential_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="sign",
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: _torch_reduce(torch.exp(-t * x), reduction),
    bad_values=(("target", 0), ("target", -2), ("target", np.nan)),
))


def _torch_sigmoid_focal(torch, x, t, reduction, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss's formula, with torch ops."""
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return _torch_reduce(loss, reduction)


register(LossSpec(
    name="sigmoid_focal_loss",
    fast=_ew.sigmoid_focal_loss,
    reference=_ref.sigmoid_focal_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="soft",
    cases={
        "default": _no_kwargs,
        "no_alpha_gamma_half": lambda shape, rng: {"alpha": -1.0, "gamma": 0.5},
        "gamma_zero": lambda shape, rng: {"alpha": 0.75, "gamma": 0.0},
        "gamma_3_sample_weight": lambda shape, rng: {
            "gamma": 3.0, "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=_torch_sigmoid_focal,
    torch_kwargs=frozenset({"alpha", "gamma"}),
    bad_kwargs=(
        ({"gamma": -1.0}, ValueError, "gamma"),
        ({"gamma": np.inf}, ValueError, "gamma"),
        ({"alpha": np.nan}, ValueError, "alpha"),
        ({"alpha": "0.5"}, TypeError, "alpha"),
    ),
))


register(LossSpec(
    name="kl_div",
    fast=_ew.kl_div,
    reference=_ref.kl_div,
    family="elementwise",
    input_kind="logits",
    target_kind="probs",
    cases={
        "default": _no_kwargs,
        "log_target": lambda shape, rng: {"log_target": True},
        "sample_weight": _with_sample_weight,
    },
    torch=lambda torch, x, t, reduction, log_target=False: torch.nn.functional.kl_div(
        x, t, reduction=reduction, log_target=log_target),
    torch_kwargs=frozenset({"log_target"}),
    reductions=REDUCTIONS + ("batchmean",),
    bad_kwargs=(({"log_target": 1}, TypeError, "log_target"),
                ({"reduction": "batch"}, ValueError, "reduction")),
))


register(LossSpec(
    name="entropy",
    fast=_ew.entropy,
    reference=_ref.entropy,
    family="elementwise",
    input_kind="probs",
    target_kind=None,
    ndims=(2,),
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: _torch_reduce(
        torch.special.entr(x).sum(dim=1), reduction),
    per_row=True,
    default_reduction="none",
    kinks=lambda x, t, kw: x < 1e-6,
))


register(LossSpec(
    name="mse_loss",
    fast=_ew.mse_loss,
    reference=_ref.mse_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="real",
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: torch.nn.functional.mse_loss(x, t, reduction=reduction),
))


register(LossSpec(
    name="l1_loss",
    fast=_ew.l1_loss,
    reference=_ref.l1_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="real",
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    torch=lambda torch, x, t, reduction: torch.nn.functional.l1_loss(x, t, reduction=reduction),
    kinks=lambda x, t, kw: _near(x - t, [0.0], 1e-4),
))


register(LossSpec(
    name="huber_loss",
    fast=_ew.huber_loss,
    reference=_ref.huber_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="real",
    cases={
        "default": _no_kwargs,
        "delta_half": lambda shape, rng: {"delta": 0.5},
        "delta_large_sample_weight": lambda shape, rng: {
            "delta": 2.5, "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=lambda torch, x, t, reduction, delta=1.0: torch.nn.functional.huber_loss(
        x, t, reduction=reduction, delta=delta),
    torch_kwargs=frozenset({"delta"}),
    kinks=lambda x, t, kw: _near(x - t, [-kw.get("delta", 1.0), kw.get("delta", 1.0)], 1e-4),
    bad_kwargs=(({"delta": 0.0}, ValueError, "delta"), ({"delta": -1.0}, ValueError, "delta"),
                ({"delta": np.nan}, ValueError, "delta"), ({"delta": None}, TypeError, "delta")),
))


def _smooth_l1_kinks(x, t, kw):
    beta = kw.get("beta", 1.0)
    return _near(x - t, [0.0] if beta == 0 else [-beta, beta], 1e-4)


register(LossSpec(
    name="smooth_l1_loss",
    fast=_ew.smooth_l1_loss,
    reference=_ref.smooth_l1_loss,
    family="elementwise",
    input_kind="logits",
    target_kind="real",
    cases={
        "default": _no_kwargs,
        "beta_zero": lambda shape, rng: {"beta": 0.0},
        "beta_small_sample_weight": lambda shape, rng: {
            "beta": 0.3, "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=lambda torch, x, t, reduction, beta=1.0: torch.nn.functional.smooth_l1_loss(
        x, t, reduction=reduction, beta=beta),
    torch_kwargs=frozenset({"beta"}),
    kinks=_smooth_l1_kinks,
    bad_kwargs=(({"beta": -0.5}, ValueError, "beta"), ({"beta": np.inf}, ValueError, "beta")),
))


# ---------------------------------------------------------------------------
# multi-class and margin losses (issue 4): register them here, family "multiclass".
# ---------------------------------------------------------------------------

from . import _multiclass_api as _mc  # noqa: E402  (the multi-class family's fast functions)


def _to_cosine(z):
    """tanh(z / 3) in z's dtype: any real maps into [-1, 1], +-inf and huge
    values to exactly +-1, nan stays nan."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.tanh(z.astype(np.float64) / 3.0).astype(z.dtype)


def _class_or_sign_labels(x, rng, kwargs):
    """2-D x: int64 class indices in [0, n_classes); 1-D x: labels in {-1, +1}."""
    if x.ndim == 1:
        return np.where(rng.random(x.shape) < 0.5, -1, 1).astype(np.int64)
    return rng.integers(0, max(x.shape[1], 1), x.shape[0]).astype(np.int64)


INPUT_KINDS["cosine"] = _to_cosine
TARGET_KINDS["class_or_sign"] = _class_or_sign_labels


def _class_weights(shape, rng):
    return rng.uniform(0.2, 3.0, shape[1])


def _torch_class_weight(torch, class_weight, x):
    return None if class_weight is None else _torch_tensor(torch, class_weight, x)


def _torch_softmax_focal(torch, x, t, reduction, gamma=2.0, class_weight=None):
    """-w_y (1 - p_y)^gamma log p_y with torch ops; "mean" divides by sum w_y."""
    lp_y = torch.log_softmax(x, dim=1).gather(1, t[:, None])[:, 0]
    w = _torch_class_weight(torch, class_weight, x)
    w_y = torch.ones_like(lp_y) if w is None else w[t]
    loss = -w_y * (1 - lp_y.exp()) ** gamma * lp_y
    if reduction == "mean":
        return loss.sum() / w_y.sum()
    return _torch_reduce(loss, reduction)


def _torch_margin_ce(torch, x, t, reduction, kind="arc", scale=64.0, margin=0.5,
                     class_weight=None):
    """The insightface ArcFace (easy_margin=False) / CosFace / SphereFace target
    logit with torch ops, then torch's cross_entropy."""
    c_y = x.gather(1, t[:, None])[:, 0]
    if kind == "additive":
        f = c_y - margin
    elif kind == "arc":
        phi = c_y * np.cos(margin) - torch.sqrt(1 - c_y * c_y) * np.sin(margin)
        f = torch.where(c_y > np.cos(np.pi - margin), phi,
                        c_y - np.sin(np.pi - margin) * margin)
    else:
        theta = torch.acos(c_y)
        k = torch.floor(margin * theta / np.pi).detach()
        f = (-1.0) ** k * torch.cos(margin * theta) - 2 * k
    onehot = torch.nn.functional.one_hot(t, x.shape[1]).to(x.dtype)
    z = scale * (x * (1 - onehot) + f[:, None] * onehot)
    return torch.nn.functional.cross_entropy(
        z, t, weight=_torch_class_weight(torch, class_weight, x), reduction=reduction)


def _torch_hinge(torch, x, t, reduction, margin=1.0):
    """max(0, margin - y x) (1-D) or Crammer-Singer (2-D) with torch ops."""
    if x.dim() == 1:
        return _torch_reduce(torch.clamp(margin - t.to(x.dtype) * x, min=0), reduction)
    onehot = torch.nn.functional.one_hot(t, x.shape[1]).bool()
    runner_up = x.masked_fill(onehot, -float("inf")).max(dim=1).values
    loss = torch.clamp(margin - (x.gather(1, t[:, None])[:, 0] - runner_up), min=0)
    return _torch_reduce(loss, reduction)


def _hinge_kinks(x, t, kw):
    """Rows (elements, 1-D) at the hinge's kink, or whose two largest competing
    scores tie (the subgradient switches there)."""
    margin = kw.get("margin", 1.0)
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t)
    if x.ndim == 1:
        return _near(margin - t * x, [0.0], 1e-4)
    rows = np.arange(x.shape[0])
    others = x.copy()
    others[rows, t] = -np.inf
    top = np.sort(others, axis=1)
    arg = margin - (x[rows, t] - top[:, -1])
    row = _near(arg, [0.0], 1e-4) | (_near(top[:, -1] - top[:, -2], [0.0], 1e-4)
                                     if x.shape[1] > 2 else False)
    return np.broadcast_to(row[:, None], x.shape).copy()


def _margin_kinks(x, t, kw):
    """Cosines near +-1 (arc: f' is infinite at 1) or at the arc fallback's jump."""
    mask = np.abs(np.asarray(x, dtype=np.float64)) > 0.999
    if kw.get("kind", "arc") == "arc":
        m = kw.get("margin", 0.5)
        mask |= _near(x, [np.cos(np.pi - m)], 1e-4)
    return mask


register(LossSpec(
    name="softmax_focal_loss",
    fast=_mc.softmax_focal_loss,
    reference=_ref.softmax_focal_loss,
    family="multiclass",
    input_kind="logits",
    target_kind="class_or_sign",
    ndims=(2,),
    cases={
        "default": _no_kwargs,
        "gamma_half_class_weight": lambda shape, rng: {
            "gamma": 0.5, "class_weight": _class_weights(shape, rng)},
        "gamma_zero_sample_weight": lambda shape, rng: {
            "gamma": 0.0, "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=_torch_softmax_focal,
    torch_kwargs=frozenset({"gamma", "class_weight"}),
    per_row=True,
    bad_values=(("target", -5), ("target", 99)),
    bad_kwargs=(({"gamma": -1.0}, ValueError, "gamma"), ({"gamma": np.nan}, ValueError, "gamma"),
                ({"gamma": "2"}, TypeError, "gamma"),
                ({"ignore_index": 1.5}, TypeError, "ignore_index")),
))


register(LossSpec(
    name="margin_cross_entropy",
    fast=_mc.margin_cross_entropy,
    reference=_ref.margin_cross_entropy,
    family="multiclass",
    input_kind="cosine",
    target_kind="class_or_sign",
    ndims=(2,),
    cases={
        "default": _no_kwargs,
        "additive": lambda shape, rng: {"kind": "additive", "scale": 30.0, "margin": 0.35},
        "angular": lambda shape, rng: {"kind": "angular", "scale": 8.0, "margin": 4},
        "arc_weighted": lambda shape, rng: {
            "kind": "arc", "scale": 16.0, "margin": 0.3,
            "class_weight": _class_weights(shape, rng),
            "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=_torch_margin_ce,
    torch_kwargs=frozenset({"kind", "scale", "margin", "class_weight"}),
    per_row=True,
    kinks=_margin_kinks,
    bad_values=(("cosine", 1.5), ("cosine", -np.inf), ("cosine", np.inf), ("target", -5),
                ("target", 99)),
    bad_kwargs=(({"kind": "cos"}, ValueError, "kind"), ({"scale": 0.0}, ValueError, "scale"),
                ({"kind": "arc", "margin": 2.0}, ValueError, "margin"),
                ({"kind": "angular", "margin": 0.5}, ValueError, "margin"),
                ({"margin": "0.5"}, TypeError, "margin")),
))


register(LossSpec(
    name="hinge_loss",
    fast=_mc.hinge_loss,
    reference=_ref.hinge_loss,
    family="multiclass",
    input_kind="logits",
    target_kind="class_or_sign",
    ndims=(1, 2),
    cases={
        "default": _no_kwargs,
        "margin_sample_weight": lambda shape, rng: {
            "margin": 0.5, "sample_weight": sample_weights(shape[0], rng)},
    },
    torch=_torch_hinge,
    torch_kwargs=frozenset({"margin"}),
    per_row=True,
    kinks=_hinge_kinks,
    bad_values=(("target", -5), ("target", 99)),
    bad_kwargs=(({"margin": np.inf}, ValueError, "margin"), ({"margin": None}, TypeError,
                                                             "margin")),
))


register(LossSpec(
    name="zero_one_loss",
    fast=_mc.zero_one_loss,
    reference=_ref.zero_one_loss,
    family="multiclass",
    input_kind="logits",
    target_kind="class_or_sign",
    ndims=(1, 2),
    cases={"default": _no_kwargs, "sample_weight": _with_sample_weight},
    has_grad=False,
    per_row=True,
    bad_values=(("target", -5), ("target", 99)),
    bad_kwargs=(({"return_grad": True}, TypeError, "return_grad"),
                ({"reduction": "avg"}, ValueError, "reduction")),
))
