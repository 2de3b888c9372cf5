"""The multi-class and margin losses (softmax_focal_loss, margin_cross_entropy,
hinge_loss, zero_one_loss) against their pure-NumPy twins over hostile arrays,
plus finite differences, scikit-learn (hinge, zero-one), torch autograd (focal,
margin), special values, every validation error, determinism across thread
counts, caller buffers and untouched inputs.

The functions are imported from fastloss when exported there, else from
fastloss._multiclass_api (where they live).
"""
import doctest
import inspect

import numpy as np
import pytest

import fastloss
from fastloss import _multiclass_api as api
from fastloss import _reference as ref
from checks import assert_close, assert_identical, assert_unchanged, snapshot
from hostile import (DTYPES, KINDS, SHAPES, hostile_values, labels_for, weights_for,
                     with_layout)

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

NAMES = ("softmax_focal_loss", "margin_cross_entropy", "hinge_loss", "zero_one_loss")
REDUCTIONS = ("none", "mean", "sum")
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
LAYOUTS = ("C", "F", "strided", "readonly", "memmap")


def fast(name):
    return getattr(fastloss, name, None) or getattr(api, name)


# ---------------------------------------------------------------------------
# comparison helpers (as tests/test_kernels.py)
# ---------------------------------------------------------------------------

def check_result(got, want, dtype, msg):
    rtol = RTOL[np.dtype(dtype)]
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == 2, msg
        check_result(got[0], want[0], dtype, msg + " [loss]")
        check_result(got[1], want[1], dtype, msg + " [grad]")
        return
    if isinstance(want, float):
        assert type(got) is float, f"{msg}: {type(got)} is not float"
    else:
        assert isinstance(got, np.ndarray) and got.dtype == np.dtype(dtype), msg
    assert_close(got, want, rtol, msg)


# ---------------------------------------------------------------------------
# hostile inputs of each loss
# ---------------------------------------------------------------------------

def to_cosine(values):
    """Hostile values mapped into [-1, 1] (nan kept; +-inf and huge go to +-1)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.clip(values / values.dtype.type(3), -1, 1).astype(values.dtype)


def hostile(memmap_dir, transform=None, layouts=LAYOUTS, kinds=KINDS, shapes=SHAPES,
            vector=False):
    """(desc, array) over dtype x shape x kind x layout, as hostile.hostile_arrays,
    with the values passed through `transform` first; vector=True gives 1-D
    arrays (the n * c values of each shape as one column, in the layout's
    strides)."""
    state = {"dir": str(memmap_dir)}
    for dtype in DTYPES:
        for shape in shapes:
            for kind in kinds:
                values = hostile_values(shape, kind, dtype)
                if transform is not None:
                    values = transform(values)
                if vector:
                    values = np.ascontiguousarray(values.reshape(-1, 1))
                for layout in layouts:
                    arr = with_layout(values, layout, None, state)
                    if arr is None:
                        continue
                    if vector:
                        arr = arr[:, 0]
                    yield f"{np.dtype(dtype).name}-{shape}-{kind}-{layout}", arr


def signs_for(desc, n, dtype=np.int64, zero_one=False):
    y = np.where(labels_for(desc, n, 2) == 1, 1, 0 if zero_one else -1)
    return y.astype(dtype)


# One entry per case: function name, case label, keyword arguments, label kind
# ("class" = class indices, "class+ignore" = with ignore_index rows, "sign" =
# {-1, +1}, "binary01" = {0, 1}) and the input transform. This is the form a
# registry entry takes (see fastloss._registry once it exists).
CASES = [
    ("softmax_focal_loss", "gamma2", dict(gamma=2.0), "class", None),
    ("softmax_focal_loss", "gamma0", dict(gamma=0.0), "class", None),
    ("softmax_focal_loss", "gamma0.5_cw_sw_ignore", dict(gamma=0.5, cw=True, sw=True),
     "class+ignore", None),
    ("softmax_focal_loss", "gamma3.3_ignore_valid_class", dict(gamma=3.3, ignore_index=1),
     "class", None),
    ("margin_cross_entropy", "arc", dict(kind="arc", scale=64.0, margin=0.5), "class",
     to_cosine),
    ("margin_cross_entropy", "arc0_cw_ignore", dict(kind="arc", scale=30.0, margin=0.0, cw=True),
     "class+ignore", to_cosine),
    ("margin_cross_entropy", "arc_pi2_sw", dict(kind="arc", scale=10.0, margin=np.pi / 2, sw=True),
     "class", to_cosine),
    ("margin_cross_entropy", "additive", dict(kind="additive", scale=30.0, margin=0.35), "class",
     to_cosine),
    ("margin_cross_entropy", "angular4_cw_sw_ignore",
     dict(kind="angular", scale=8.0, margin=4, cw=True, sw=True), "class+ignore", to_cosine),
    ("margin_cross_entropy", "angular3", dict(kind="angular", scale=16.0, margin=3), "class",
     to_cosine),
    ("hinge_loss", "cs", dict(), "class", None),
    ("hinge_loss", "cs_margin_sw", dict(margin=0.5, sw=True), "class", None),
    ("hinge_loss", "binary", dict(), "sign", None),
    ("hinge_loss", "binary_margin2_sw", dict(margin=2.0, sw=True), "sign", None),
    ("zero_one_loss", "argmax", dict(), "class", None),
    ("zero_one_loss", "argmax_sw", dict(sw=True), "class", None),
    ("zero_one_loss", "sign", dict(), "sign", None),
    ("zero_one_loss", "binary01_sw", dict(sw=True), "binary01", None),
]
CASE_IDS = [f"{c[0]}-{c[1]}" for c in CASES]


def case_arguments(case, desc, x):
    """(target, kwargs) of one case for input x, deterministic per desc."""
    name, _, options, labels, _ = case
    kw = {k: val for k, val in options.items() if k not in ("cw", "sw")}
    n = x.shape[0]
    if labels.startswith("class"):
        c = x.shape[1]
        ignore = -100 if labels == "class+ignore" else None
        target = labels_for(desc, n, c, ignore_index=ignore)
    else:
        target = signs_for(desc, n, zero_one=labels == "binary01")
    if options.get("cw"):
        kw["class_weight"] = weights_for(desc + "cw", x.shape[1])
    if options.get("sw"):
        kw["sample_weight"] = weights_for(desc + "sw", n)
    return target, kw


def case_inputs(case, memmap_dir, layouts=LAYOUTS):
    name, _, _, labels, transform = case
    vector = labels in ("sign", "binary01")
    for desc, x in hostile(memmap_dir, transform, layouts=layouts, vector=vector):
        if name == "hinge_loss" and not vector and x.shape[1] < 2:
            continue          # Crammer-Singer needs two classes
        yield desc, x


def has_grad(name):
    return name != "zero_one_loss"


# ---------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_reference_has_the_same_signature(name):
    assert inspect.signature(fast(name)) == inspect.signature(getattr(ref, name))


def test_docstring_examples(monkeypatch):
    for name in NAMES:   # the examples call fastloss.<name>: until it is exported there
        if not hasattr(fastloss, name):
            monkeypatch.setattr(fastloss, name, getattr(api, name), raising=False)
    result = doctest.testmod(api, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0


# ---------------------------------------------------------------------------
# kernels vs reference over hostile arrays
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vs_reference(memmap_dir, case):
    name = case[0]
    func, twin = fast(name), getattr(ref, name)
    # every layout for the first case of each function, C order for the others
    first = next(c for c in CASES if c[0] == name) is case
    for desc, x in case_inputs(case, memmap_dir, LAYOUTS if first else ("C",)):
        target, kw = case_arguments(case, desc, x)
        before = snapshot(x, target, kw.get("class_weight"), kw.get("sample_weight"))
        for reduction in REDUCTIONS:
            msg = f"{name} {case[1]} {desc} {reduction}"
            want = twin(x, target, reduction=reduction,
                        **(dict(kw, return_grad=True) if has_grad(name) else kw))
            loss = func(x, target, reduction=reduction, **kw)
            if has_grad(name):
                both = func(x, target, reduction=reduction, return_grad=True, **kw)
                check_result(both, want, x.dtype, msg)
                assert_identical(loss, both[0], msg + " (return_grad changed the loss)")
            else:
                check_result(loss, want, x.dtype, msg)
        assert_unchanged(before, [x, target, kw.get("class_weight"), kw.get("sample_weight")],
                         desc)


# ---------------------------------------------------------------------------
# focal at gamma = 0 is cross_entropy; margin 0 is cross_entropy on s * cos
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_at_gamma_zero_is_cross_entropy(memmap_dir, dtype):
    for desc, x in hostile(memmap_dir, layouts=("C",), kinds=KINDS):
        if x.dtype != dtype:
            continue
        n, c = x.shape
        y = labels_for(desc, n, c, ignore_index=-100)
        kw = dict(class_weight=weights_for(desc, c), sample_weight=weights_for(desc + "s", n))
        for reduction in REDUCTIONS:
            got = fast("softmax_focal_loss")(x, y, gamma=0.0, reduction=reduction,
                                             return_grad=True, **kw)
            want = fastloss.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
            assert_identical(got[0], want[0], f"{desc} {reduction} loss")
            assert_close(got[1], want[1], RTOL[np.dtype(dtype)], f"{desc} {reduction} grad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, margin", [("additive", 0.0), ("arc", 0.0), ("angular", 1)])
def test_zero_margin_is_cross_entropy_of_scaled_cosines(kind, margin, dtype):
    rng = np.random.default_rng(3)
    cos = rng.uniform(-1, 1, (200, 9)).astype(dtype)
    cos[::17, 2] = 1.0
    cos[::13, 4] = -1.0
    y = labels_for("m0", 200, 9, ignore_index=-100)
    cw = weights_for("m0", 9)
    s = 16.0
    for reduction in REDUCTIONS:
        got = fast("margin_cross_entropy")(cos, y, kind=kind, margin=margin, scale=s,
                                           class_weight=cw, reduction=reduction,
                                           return_grad=True)
        loss, grad = fastloss.cross_entropy((s * cos.astype(np.float64)).astype(dtype), y,
                                            class_weight=cw, reduction=reduction,
                                            return_grad=True)
        rtol = RTOL[np.dtype(dtype)]
        assert_close(got[0], loss, rtol, f"{kind} {reduction}")
        assert_close(got[1], s * grad.astype(np.float64), rtol * s, f"{kind} {reduction}")


# ---------------------------------------------------------------------------
# scikit-learn: hinge_loss and zero_one_loss
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_hinge_equals_sklearn(dtype, weighted):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(11)
    n = 500
    sw = rng.uniform(0, 3, n) if weighted else None
    # binary: {-1, +1} labels
    scores = (rng.standard_normal(n) * 2).astype(dtype)
    y = np.where(rng.random(n) < 0.4, -1, 1)
    scores[:5] = y[:5] * 1.0   # exactly at the kink
    want = metrics.hinge_loss(y, scores, sample_weight=sw)
    assert_close(fast("hinge_loss")(scores, y, sample_weight=sw), want, RTOL[np.dtype(dtype)])
    # multi-class, Crammer-Singer (every class present, as sklearn requires)
    for c in (3, 7, 50):
        scores = (rng.standard_normal((n, c)) * 2).astype(dtype)
        y = np.arange(n) % c
        want = metrics.hinge_loss(y, scores, sample_weight=sw)
        got = fast("hinge_loss")(scores, y, sample_weight=sw)
        assert_close(got, want, RTOL[np.dtype(dtype)], f"C={c}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_zero_one_equals_sklearn(dtype, weighted):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(12)
    n = 400
    sw = rng.uniform(0, 3, n) if weighted else None
    for c in (2, 3, 10, 33, 47, 100):
        scores = rng.integers(-2, 3, (n, c)).astype(dtype)     # many ties
        y = rng.integers(0, c, n)
        pred = np.argmax(scores, axis=1)
        for reduction, normalize in (("mean", True), ("sum", False)):
            want = metrics.zero_one_loss(y, pred, sample_weight=sw, normalize=normalize)
            got = fast("zero_one_loss")(scores, y, sample_weight=sw, reduction=reduction)
            assert_close(got, want, 1e-12, f"C={c} {reduction}")
    scores = rng.integers(-2, 3, n).astype(dtype)                # score 0 is negative
    for neg in (-1, 0):
        y = np.where(rng.random(n) < 0.5, neg, 1)
        pred = np.where(scores > 0, 1, neg)
        for reduction, normalize in (("mean", True), ("sum", False)):
            want = metrics.zero_one_loss(y, pred, sample_weight=sw, normalize=normalize)
            got = fast("zero_one_loss")(scores, y, sample_weight=sw, reduction=reduction)
            assert_close(got, want, 1e-12, f"binary neg={neg} {reduction}")


# ---------------------------------------------------------------------------
# torch autograd: focal and the margin family written with torch ops
# ---------------------------------------------------------------------------

def _torch_focal(torch, x, y, gamma, w, reduction):
    lp = torch.log_softmax(x, dim=1)
    keep = y != -100
    yk = torch.where(keep, y, torch.zeros_like(y))
    lp_y = lp.gather(1, yk[:, None])[:, 0]
    p_y = lp_y.exp()
    w_y = w[yk] * keep
    loss = -w_y * (1 - p_y) ** gamma * lp_y
    if reduction == "none":
        return loss
    return loss.sum() / (w_y.sum() if reduction == "mean" else 1)


def _torch_margin(torch, cos, y, kind, s, m, w, reduction):
    """The insightface / SphereFace formulas in torch (autograd does the gradient)."""
    rows = torch.arange(cos.shape[0])
    c_y = cos[rows, y]
    if kind == "additive":
        f = c_y - m
    elif kind == "arc":
        sin_t = torch.sqrt(1 - c_y * c_y)
        phi = c_y * np.cos(m) - sin_t * np.sin(m)
        f = torch.where(c_y > np.cos(np.pi - m), phi, c_y - np.sin(np.pi - m) * m)
    else:
        theta = torch.acos(c_y)
        k = torch.floor(m * theta / np.pi).detach()
        f = (-1.0) ** k * torch.cos(m * theta) - 2 * k
    onehot = torch.nn.functional.one_hot(y, cos.shape[1]).to(cos.dtype)
    z = s * (cos * (1 - onehot) + f[:, None] * onehot)
    return torch.nn.functional.cross_entropy(z, y, weight=w, reduction=reduction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_against_torch(reduction, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((64, 9)) * 3).astype(dtype)
    y = labels_for("tf", 64, 9, ignore_index=-100)
    w = weights_for("tf", 9)
    for gamma in (0.0, 0.5, 2.0, 3.0):
        xt = torch.tensor(x, requires_grad=True)
        loss = _torch_focal(torch, xt, torch.tensor(y), gamma, torch.tensor(w.astype(dtype)),
                            reduction)
        loss.sum().backward()
        want_loss = loss.detach().numpy().astype(np.float64)
        want = (want_loss if reduction == "none" else float(want_loss), xt.grad.numpy())
        got = fast("softmax_focal_loss")(x, y, gamma=gamma, class_weight=w, reduction=reduction,
                                         return_grad=True)
        check_result(got, want, dtype, f"gamma={gamma}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind, scale, margin", [("additive", 30.0, 0.35), ("arc", 64.0, 0.5),
                                                 ("arc", 30.0, 1.2), ("angular", 4.0, 4),
                                                 ("angular", 8.0, 2)])
def test_margin_against_torch(kind, scale, margin, reduction, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(22)
    cos = rng.uniform(-0.999, 0.999, (64, 7)).astype(dtype)   # f' is singular at +-1
    y = rng.integers(0, 7, 64)
    w = weights_for("tm", 7)
    ct = torch.tensor(cos, requires_grad=True)
    loss = _torch_margin(torch, ct, torch.tensor(y), kind, scale, margin,
                         torch.tensor(w.astype(dtype)), reduction)
    loss.sum().backward()
    want_loss = loss.detach().numpy().astype(np.float64)
    got = fast("margin_cross_entropy")(cos, y, kind=kind, scale=scale, margin=margin,
                                       class_weight=w, reduction=reduction, return_grad=True)
    # torch rounds z = s * f in the input dtype too, but evaluates f by other formulas
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_close(got[0], want_loss if reduction == "none" else float(want_loss), rtol)
    assert_close(got[1], ct.grad.numpy(), rtol * scale * max(1.0, margin ** 2))


# ---------------------------------------------------------------------------
# gradients vs central finite differences (away from kinks)
# ---------------------------------------------------------------------------

def _hinge_argument(x, target, margin):
    """t of max(0, t), and (2-D) the gap between the two largest competing scores."""
    if x.ndim == 1:
        return margin - target * x
    rows = np.arange(x.shape[0])
    others = x.copy()
    others[rows, target] = -np.inf
    top2 = np.sort(others, axis=1)[:, -2:]
    return np.concatenate([margin - (x[rows, target] - top2[:, 1]), top2[:, 1] - top2[:, 0]])


def _numerical_grad(f, x, h):
    g = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


FD_CASES = [
    ("softmax_focal_loss", dict(gamma=2.0)),
    ("softmax_focal_loss", dict(gamma=0.5, cw=True, sw=True, ignore=True)),
    ("softmax_focal_loss", dict(gamma=3.7, cw=True)),
    ("margin_cross_entropy", dict(kind="arc", scale=8.0, margin=0.5, cw=True, ignore=True)),
    ("margin_cross_entropy", dict(kind="arc", scale=4.0, margin=1.5, sw=True)),
    ("margin_cross_entropy", dict(kind="additive", scale=10.0, margin=0.35, sw=True)),
    ("margin_cross_entropy", dict(kind="angular", scale=2.0, margin=4, cw=True, ignore=True)),
    ("margin_cross_entropy", dict(kind="angular", scale=3.0, margin=3)),
    ("hinge_loss", dict(sw=True)),
    ("hinge_loss", dict(margin=0.3)),
    ("hinge_loss", dict(binary=True, sw=True)),
    ("hinge_loss", dict(binary=True, margin=2.5)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, options", FD_CASES, ids=[f"{c[0]}-{i}"
                                                         for i, c in enumerate(FD_CASES)])
def test_gradient_matches_finite_differences(name, options, reduction):
    rng = np.random.default_rng(5)
    n, c = 9, 5
    opts = dict(options)
    kw = {k: opts.pop(k) for k in ("gamma", "kind", "scale", "margin") if k in opts}
    kw["reduction"] = reduction
    if opts.pop("binary", False):
        x = rng.standard_normal(n) * 3
        target = signs_for("fd", n)
    else:
        x = rng.standard_normal((n, c)) * 2
        target = labels_for("fd", n, c, ignore_index=-100 if opts.pop("ignore", False) else None)
    if name == "margin_cross_entropy":
        x = np.tanh(x / 2) * 0.98      # cosines away from +-1
    if opts.pop("cw", False):
        kw["class_weight"] = weights_for("fdc", c)
    if opts.pop("sw", False):
        kw["sample_weight"] = weights_for("fds", n)
    assert not opts
    func = fast(name)
    if name == "hinge_loss":         # stay away from the kinks
        assert np.abs(_hinge_argument(x, target, kw.get("margin", 1.0))).min() > 1e-3
    _, grad = func(x, target, return_grad=True, **kw)
    num = _numerical_grad(lambda z: float(np.sum(func(z, target, **kw))), x, 1e-6)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n in NAMES if has_grad(n)])
def test_gradient_of_none_is_gradient_of_its_sum(name, dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((40, 6)).astype(dtype)
    if name == "margin_cross_entropy":
        x = np.tanh(x).astype(dtype)
    y = labels_for("sum", 40, 6)
    kw = dict(sample_weight=weights_for("s", 40))
    _, g_none = fast(name)(x, y, reduction="none", return_grad=True, **kw)
    _, g_sum = fast(name)(x, y, reduction="sum", return_grad=True, **kw)
    assert_identical(g_none, g_sum)


# ---------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_special_values(dtype):
    big = 1e308 if dtype == np.float64 else 3e38
    x = np.array([[1000.0, 0.0, 0.0],         # p_y = 1: loss 0, gradient 0 (gamma > 0)
                  [0.0, 0.0, -np.inf],         # -inf target logit: loss inf
                  [big, -big, 0.0],            # target 0.0: loss = big, p_y = 0
                  [np.nan, 0.0, 0.0],
                  [np.inf, 0.0, 0.0],
                  [-np.inf, -np.inf, -np.inf],
                  [0.0, 1.0, 2.0]], dtype=dtype)
    y = np.array([0, 2, 2, 1, 1, 0, 2])
    loss, grad = fast("softmax_focal_loss")(x, y, reduction="none", return_grad=True)
    assert loss[0] == 0 and (grad[0] == 0).all()
    assert loss[1] == np.inf and np.isfinite(grad[1]).all()
    np.testing.assert_allclose(grad[1], [1 / 2, 1 / 2, -1], rtol=1e-6)   # B = 1 at p_y = 0
    assert np.isfinite(loss[2]) and np.isfinite(grad[2]).all()
    assert np.isnan(loss[3:6]).all() and np.isnan(grad[3:6]).all()
    assert np.isfinite(loss[6]) and np.isfinite(grad[6]).all()
    want = ref.softmax_focal_loss(x, y, reduction="none", return_grad=True)
    check_result((loss, grad), want, dtype, "focal specials")
    # gamma = 0 at p_y = 1: cross_entropy's gradient (0 up to e^-1000)
    _, g0 = fast("softmax_focal_loss")(x[:1], y[:1], gamma=0.0, reduction="sum",
                                       return_grad=True)
    assert (g0 == 0).all()
    # 0 < gamma < 1 at p_y -> 1 (q^(gamma-1) is huge, its product with log p_y is not)
    x2 = np.array([[40.0, 0.0], [700.0, 0.0]], dtype=np.float64)
    loss, grad = fast("softmax_focal_loss")(x2, np.array([0, 0]), gamma=0.3, reduction="none",
                                            return_grad=True)
    assert np.isfinite(grad).all() and np.isfinite(loss).all()
    check_result((loss, grad), ref.softmax_focal_loss(x2, np.array([0, 0]), gamma=0.3,
                                                      reduction="none", return_grad=True),
                 np.float64, "gamma 0.3")


@pytest.mark.parametrize("dtype", DTYPES)
def test_margin_special_values(dtype):
    cos = np.array([[1.0, -1.0, 0.0],       # arc at c_y = 1: f' = +inf -> -inf entry
                    [-1.0, 0.5, 0.2],       # c_y = -1: arc fallback / psi at theta = pi
                    [np.nan, 0.1, 0.2],     # nan row
                    [0.3, 1.0, 1.0],
                    [1.0, -1.0, -1.0]], dtype=dtype)
    y = np.array([0, 0, 1, 0, 0])
    for kind, margin in (("arc", 0.5), ("additive", 0.35), ("angular", 4), ("angular", 3)):
        loss, grad = fast("margin_cross_entropy")(cos, y, kind=kind, margin=margin, scale=4.0,
                                                  reduction="none", return_grad=True)
        want = ref.margin_cross_entropy(cos, y, kind=kind, margin=margin, scale=4.0,
                                        reduction="none", return_grad=True)
        check_result((loss, grad), want, dtype, kind)
        assert np.isnan(loss[2]) and np.isnan(grad[2]).all()
        assert np.isfinite(np.delete(loss, 2)).all()
        finite_grad = np.delete(grad, 2, axis=0)
        if kind == "arc":
            assert grad[0, 0] == -np.inf and grad[4, 0] == -np.inf
            finite_grad = np.delete(grad, [0, 2, 4], axis=0)
        assert np.isfinite(finite_grad).all()
    # arc at c_y = 1 with dL/dz_y == 0 exactly (p_y rounds to 1): the entry is 0, not nan
    cos = np.array([[1.0, -1.0, -1.0]], dtype=dtype)
    loss, grad = fast("margin_cross_entropy")(cos, np.array([0]), kind="arc", margin=0.5,
                                              scale=64.0, reduction="sum", return_grad=True)
    assert grad[0, 0] == 0 and np.isfinite(grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_hinge_and_zero_one_special_values(dtype):
    big = 1e308 if dtype == np.float64 else 3e38
    s = np.array([np.inf, -np.inf, np.nan, big, -big, 1.0, 0.0], dtype=dtype)
    y = np.array([1, 1, 1, -1, 1, 1, -1])
    loss, grad = fast("hinge_loss")(s, y, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, np.array([0, np.inf, np.nan, big + 1, big + 1, 0, 1],
                                                 dtype=dtype))
    np.testing.assert_array_equal(grad, np.array([0, -1, np.nan, 1, -1, 0, 1], dtype=dtype))
    z = fast("zero_one_loss")(s, y, reduction="none")
    np.testing.assert_array_equal(z, np.array([0, 1, np.nan, 1, 1, 0, 0], dtype=dtype))
    x = np.array([[np.inf, 0.0, 0.0],          # t = 1 - inf: 0
                  [0.0, np.inf, 0.0],          # t = inf
                  [np.inf, np.inf, 0.0],       # inf - inf: nan
                  [-np.inf, -np.inf, -np.inf],  # nan (-inf - -inf)
                  [1.0, np.nan, 0.0],
                  [2.0, 2.0, 0.0]], dtype=dtype)  # tie: runner-up is the first max
    y = np.array([0, 0, 0, 0, 0, 1])
    loss, grad = fast("hinge_loss")(x, y, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, np.array([0, np.inf, np.nan, np.nan, np.nan, 1],
                                                 dtype=dtype))
    np.testing.assert_array_equal(grad[:2], [[0, 0, 0], [-1, 1, 0]])
    assert np.isnan(grad[2:5]).all()
    np.testing.assert_array_equal(grad[5], [1, -1, 0])
    z = fast("zero_one_loss")(x, y, reduction="none")
    np.testing.assert_array_equal(z, np.array([0, 1, 0, 0, np.nan, 1], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [2, 5, 31, 32, 33, 47, 100, 1000])
def test_argmax_ties_first_wins(c, dtype):
    # integer scores: many ties for the max, on both sides of the narrow/wide
    # switch (32 columns) and of the wide path's 16-lane blocks
    rng = np.random.default_rng(c)
    x = rng.integers(-3, 2, (300, c)).astype(dtype)
    x[::7] = -np.inf
    x[1::11, -1] = 5                       # the max in the last (partial) block
    y = rng.integers(0, c, 300)
    got = fast("zero_one_loss")(x, y, reduction="none")
    assert_identical(got, (np.argmax(x, axis=1) != y).astype(dtype))
    got = fast("hinge_loss")(x, y, reduction="none", return_grad=True)
    check_result(got, ref.hinge_loss(x, y, reduction="none", return_grad=True), dtype, "ties")


def test_hinge_subgradient_is_zero_at_the_kink():
    s = np.array([1.0, -1.0, 0.5, 0.0])
    loss, grad = fast("hinge_loss")(s, np.array([1, -1, 1, 1]), margin=1.0, reduction="none",
                                    return_grad=True)
    np.testing.assert_array_equal(loss, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(grad, [0, 0, -1, -1])
    x = np.array([[2.0, 1.0, 0.0], [1.5, 1.0, 1.0]])
    loss, grad = fast("hinge_loss")(x, np.array([0, 0]), reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, [0, 0.5])
    np.testing.assert_array_equal(grad, [[0, 0, 0], [-1, 1, 0]])


@pytest.mark.parametrize("name", NAMES)
def test_empty_input(name):
    for shape in ((0,), (0, 4)):
        if name in ("softmax_focal_loss", "margin_cross_entropy") and len(shape) == 1:
            continue
        x = np.empty(shape)
        t = np.empty(0, dtype=np.int64)
        loss = fast(name)(x, t)
        assert type(loss) is float and np.isnan(loss)
        assert fast(name)(x, t, reduction="sum") == 0.0
        assert fast(name)(x, t, reduction="none").shape == (0,)
        if has_grad(name):
            loss, grad = fast(name)(x, t, return_grad=True)
            assert grad.shape == shape


@pytest.mark.parametrize("name", NAMES)
def test_zero_total_weight_mean_is_nan(name):
    x = np.tanh(np.random.default_rng(4).standard_normal((5, 3)))
    y = np.array([0, 0, 2, 1, 0])
    kw = dict(sample_weight=np.zeros(5))
    if has_grad(name):
        loss, grad = fast(name)(x, y, return_grad=True, **kw)
        assert np.isnan(loss) and np.isnan(grad).all()
        check_result((loss, grad), getattr(ref, name)(x, y, return_grad=True, **kw),
                     np.float64, name)
    else:
        assert np.isnan(fast(name)(x, y, **kw))


@pytest.mark.parametrize("name", ["softmax_focal_loss", "margin_cross_entropy"])
def test_all_rows_ignored(name):
    x = np.tanh(np.random.default_rng(3).standard_normal((9, 4)))
    x[2] = np.nan
    y = np.full(9, -100)
    loss, grad = fast(name)(x, y, return_grad=True)
    assert np.isnan(loss) and (grad == 0).all()
    loss, grad = fast(name)(x, y, reduction="sum", return_grad=True)
    assert loss == 0.0 and (grad == 0).all()


@pytest.mark.parametrize("ldtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                    np.int64, np.longlong, np.uint64, np.float16, np.float32,
                                    np.float64])
def test_binary_label_dtypes(ldtype):
    rng = np.random.default_rng(6)
    s = rng.standard_normal(300)
    unsigned = np.dtype(ldtype).kind == "u"
    y = signs_for("ld", 300, zero_one=unsigned)
    for name in ("hinge_loss", "zero_one_loss"):
        if name == "hinge_loss" and unsigned:
            continue
        got = fast(name)(s, y.astype(ldtype), reduction="none")
        want = getattr(ref, name)(s, y, reduction="none")
        assert_identical(got, want, f"{name} {np.dtype(ldtype)}")


# ---------------------------------------------------------------------------
# validation: every error, raised before any kernel runs
# ---------------------------------------------------------------------------

X = np.random.default_rng(7).normal(size=(6, 4)) * 0.5
COS = np.tanh(X)
LABELS = np.array([0, 1, 2, 3, 1, 0])
SIGNS = np.array([1, -1, 1, 1, -1, -1])
FIRST_ARG = {"softmax_focal_loss": "logits", "margin_cross_entropy": "cosine",
             "hinge_loss": "scores", "zero_one_loss": "scores"}


def call(name, x=None, target=None, **kw):
    x = (COS if name == "margin_cross_entropy" else X) if x is None else x
    return fast(name)(x, LABELS if target is None else target, **kw)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [X.astype(complex), X.astype(object), X.astype(np.int64),
                                 X.astype(np.float16), X > 0, X.astype(str)])
def test_non_float_inputs_are_type_errors(name, bad):
    with pytest.raises(TypeError, match=FIRST_ARG[name]):
        call(name, bad)


@pytest.mark.parametrize("name", NAMES)
def test_bad_shapes(name):
    first = FIRST_ARG[name]
    with pytest.raises(ValueError, match=rf"{first} must be .*got shape \(2, 3, 4\)"):
        call(name, np.zeros((2, 3, 4)))
    if name in ("softmax_focal_loss", "margin_cross_entropy"):
        with pytest.raises(ValueError, match=rf"{first} must be 2-D .*got shape \(6,\)"):
            call(name, X[:, 0])
        with pytest.raises(ValueError, match="at least one class column"):
            call(name, np.empty((6, 0)))
    with pytest.raises(ValueError, match="target has 5 labels but the input has 6 rows"):
        call(name, target=LABELS[:5])
    with pytest.raises(ValueError, match=r"target must be 1-D"):
        call(name, target=LABELS.reshape(3, 2))
    if name == "hinge_loss":
        with pytest.raises(ValueError, match="at least two class columns"):
            call(name, X[:, :1])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad_label, row", [(4, 2), (-1, 5), (99, 0)])
def test_class_label_out_of_range_names_first_bad_row(name, bad_label, row):
    labels = LABELS.copy()
    labels[row] = bad_label
    labels[-1] = bad_label
    with pytest.raises(ValueError, match=rf"target\[{row}\] = {bad_label}\b"):
        call(name, target=labels)


@pytest.mark.parametrize("name", NAMES)
def test_class_label_types(name):
    with pytest.raises(TypeError, match="integer class indices"):
        call(name, target=LABELS.astype(np.float64))
    with pytest.raises(TypeError, match="bool"):
        call(name, target=LABELS.astype(bool))
    with pytest.raises(TypeError, match="target must hold real numbers"):
        call(name, target=LABELS.astype(complex))


@pytest.mark.parametrize("name", ["softmax_focal_loss", "margin_cross_entropy"])
def test_ignore_index(name):
    labels = LABELS.copy()
    labels[1] = -7
    assert np.isfinite(call(name, target=labels, ignore_index=-7))
    with pytest.raises(ValueError, match=r"target\[1\] = -7"):
        call(name, target=labels)
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        call(name, ignore_index=1.5)


@pytest.mark.parametrize("name", ["hinge_loss", "zero_one_loss"])
def test_binary_labels(name):
    s = X[:, 0]
    for bad, row in (([1, -1, 2, 1, 1, 1], 2), ([1, 1, 1, 1, 1, 0.5], 5),
                     ([1, 1, np.nan, 1, 1, 1], 2), ([-2, 1, 1, 1, 1, 1], 0)):
        with pytest.raises(ValueError, match=rf"target\[{row}\] = .* is not a binary label"):
            fast(name)(s, np.array(bad))
    with pytest.raises(TypeError, match="bool"):
        fast(name)(s, SIGNS > 0)
    if name == "hinge_loss":
        with pytest.raises(ValueError, match=r"target\[1\] = 0 is not a binary label in "
                                             r"\{-1, \+1\}"):
            fast(name)(s, np.array([1, 0, 1, 0, 0, 1]))
    else:
        with pytest.raises(ValueError, match=r"target\[4\] = 0 but earlier labels use -1"):
            fast(name)(s, np.array([1, -1, 1, 1, 0, 1]))
        with pytest.raises(ValueError, match=r"target\[3\] = -1 but earlier labels use 0"):
            fast(name)(s, np.array([1, 1, 0, -1, 0, 1]))
        assert fast(name)(s, np.array([1, 1, 1, 1, 1, 1])) >= 0
        assert fast(name)(s, np.array([0, 0, 0, 0, 0, 0])) >= 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("arg, value, message", [
    ("sample_weight", np.ones(5), r"sample_weight must have shape \(6,\)"),
    ("sample_weight", np.array([1, 1, 1, 1, np.inf, 1.0]), r"sample_weight\[4\] = inf"),
    ("sample_weight", np.array([1, -1, 1, 1, 1, 1.0]), r"sample_weight\[1\] = -1.0"),
    ("class_weight", np.ones(3), r"class_weight must have shape \(4,\)"),
    ("class_weight", np.array([1.0, 1.0, np.nan, 1.0]), r"class_weight\[2\] = nan"),
])
def test_bad_weights(name, arg, value, message):
    if arg == "class_weight" and name in ("hinge_loss", "zero_one_loss"):
        with pytest.raises(TypeError, match="class_weight"):
            call(name, **{arg: value})
        return
    with pytest.raises(ValueError, match=message):
        call(name, **{arg: value})


@pytest.mark.parametrize("name, kw, exc, message", [
    ("softmax_focal_loss", dict(gamma=-0.5), ValueError, r"gamma must be finite >= 0.0, got -0.5"),
    ("softmax_focal_loss", dict(gamma=np.inf), ValueError, "gamma must be finite"),
    ("softmax_focal_loss", dict(gamma="2"), TypeError, "gamma must be a real number"),
    ("margin_cross_entropy", dict(kind="cos"), ValueError, r"kind must be one of \('additive', "
                                                          r"'arc', 'angular'\), got 'cos'"),
    ("margin_cross_entropy", dict(scale=0.0), ValueError, "scale must be finite > 0.0, got 0.0"),
    ("margin_cross_entropy", dict(scale=np.nan), ValueError, "scale must be finite"),
    ("margin_cross_entropy", dict(kind="arc", margin=2.0), ValueError,
     r"margin must be finite >= 0.0 and <= 1.57"),
    ("margin_cross_entropy", dict(kind="additive", margin=-0.1), ValueError,
     "margin must be finite >= 0.0, got -0.1"),
    ("margin_cross_entropy", dict(kind="angular", margin=0.5), ValueError,
     r"kind='angular' \(SphereFace\) needs an integer margin in \[1, 100\].*got margin=0.5"),
    ("margin_cross_entropy", dict(kind="angular", margin=0), ValueError, "integer margin"),
    ("margin_cross_entropy", dict(kind="angular", margin=101), ValueError, "integer margin"),
    ("margin_cross_entropy", dict(margin=None), TypeError, "margin must be a real number"),
    ("hinge_loss", dict(margin=np.nan), ValueError, "margin must be finite, got nan"),
    ("hinge_loss", dict(margin=True), TypeError, "margin must be a real number"),
    ("zero_one_loss", dict(return_grad=True), TypeError, "return_grad"),
    ("zero_one_loss", dict(grad_out=np.empty((6, 4))), TypeError, "grad_out"),
])
def test_bad_parameters(name, kw, exc, message):
    with pytest.raises(exc, match=message):
        call(name, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosines_outside_unit_interval(dtype):
    for value, pos in ((1.0001, (3, 2)), (-np.inf, (0, 0)), (np.inf, (4, 3)), (-2.0, (2, 1))):
        cos = COS.astype(dtype)
        cos[pos] = value
        cos[5, 1] = 7.0                 # a later bad value must not be the one reported
        out = np.full(6, 7.0, dtype=dtype)
        with pytest.raises(ValueError, match=rf"cosine\[{pos[0]}, {pos[1]}\] = .* is outside "
                                             r"\[-1, 1\]"):
            fast("margin_cross_entropy")(cos, LABELS, reduction="none", out=out)
        assert (out == 7.0).all()      # no kernel ran
    cos = COS.copy()
    cos[1, 1] = np.nan                   # nan is not a range error: it propagates
    loss = fast("margin_cross_entropy")(cos, LABELS, reduction="none")
    assert np.isnan(loss[1]) and np.isfinite(np.delete(loss, 1)).all()


@pytest.mark.parametrize("name", NAMES)
def test_common_argument_errors(name):
    with pytest.raises(ValueError, match="reduction must be one of"):
        call(name, reduction="avg")
    with pytest.raises(ValueError, match=r"out must have shape \(6,\)"):
        call(name, reduction="none", out=np.empty(5))
    with pytest.raises(ValueError, match="out must have dtype float64"):
        call(name, reduction="none", out=np.empty(6, dtype=np.float32))
    with pytest.raises(ValueError, match="out= is only used with reduction='none'"):
        call(name, out=np.empty(6))
    with pytest.raises(ValueError, match="n_threads must be a positive int"):
        call(name, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an int or None"):
        call(name, n_threads=1.5)
    if has_grad(name):
        with pytest.raises(TypeError, match="return_grad must be True or False"):
            call(name, return_grad="yes")
        with pytest.raises(ValueError, match="grad_out= is only used with return_grad=True"):
            call(name, grad_out=np.empty((6, 4)))
        with pytest.raises(ValueError, match=r"grad_out must have shape \(6, 4\)"):
            call(name, return_grad=True, grad_out=np.empty((6, 3)))
        with pytest.raises(ValueError, match="grad_out must be C-contiguous"):
            call(name, return_grad=True, grad_out=np.empty((4, 6)).T)
        x = (COS if name == "margin_cross_entropy" else X).copy()
        with pytest.raises(ValueError,
                           match=f"grad_out must not share memory with {FIRST_ARG[name]}"):
            call(name, x, return_grad=True, grad_out=x)
    readonly = np.empty(6)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        call(name, reduction="none", out=readonly)


def test_errors_leave_inputs_and_outputs_untouched():
    labels = LABELS.copy()
    labels[0] = 42
    for name in NAMES:
        x = (COS if name == "margin_cross_entropy" else X).copy()
        out = np.full(6, 7.0)
        kw = dict(reduction="none", out=out)
        if has_grad(name):
            kw.update(return_grad=True, grad_out=np.full((6, 4), 7.0))
        with pytest.raises(ValueError):
            fast(name)(x, labels, **kw)
        np.testing.assert_array_equal(x, COS if name == "margin_cross_entropy" else X)
        assert (out == 7.0).all() and (kw.get("grad_out", out) == 7.0).all()


# ---------------------------------------------------------------------------
# out= / grad_out=, determinism across thread counts
# ---------------------------------------------------------------------------

def _inputs(name, n, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    binary = name in ("hinge_loss", "zero_one_loss") and c == 0
    x = rng.standard_normal(n if binary else (n, c)) * 4
    if name == "margin_cross_entropy":
        x = np.tanh(x / 4)
    x = x.astype(dtype)
    if binary:
        x[5] = np.nan
        x[7] = np.inf
        return x, signs_for(f"in{n}", n)
    x[5, 1] = np.nan
    x[n // 2, 0] = 1.0 if name == "margin_cross_entropy" else np.inf
    y = labels_for(f"in{n}", n, c, ignore_index=-100 if name in (
        "softmax_focal_loss", "margin_cross_entropy") else None)
    return x, y


def _options(name, x):
    n = x.shape[0]
    kw = dict(sample_weight=weights_for("o", n))
    if name in ("softmax_focal_loss", "margin_cross_entropy"):
        kw["class_weight"] = weights_for("oc", x.shape[1])
    return kw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_out_and_grad_out_share_memory(name, dtype):
    for c in ((0, 13) if name in ("hinge_loss", "zero_one_loss") else (13,)):
        x, y = _inputs(name, 37, c, dtype)
        kw = _options(name, x)
        for reduction in REDUCTIONS:
            grad_kw = dict(return_grad=True) if has_grad(name) else {}
            plain = fast(name)(x, y, reduction=reduction, **grad_kw, **kw)
            buffers = {}
            if reduction == "none":
                buffers["out"] = np.full(37, 7.0, dtype=dtype)
            if has_grad(name):
                buffers["grad_out"] = np.full(x.shape, 7.0, dtype=dtype)
            if not buffers:
                continue
            got = fast(name)(x, y, reduction=reduction, **grad_kw, **buffers, **kw)
            assert_identical(got, plain, f"{name} {reduction}")
            results = got if isinstance(got, tuple) else (got,)
            if "out" in buffers:
                assert results[0] is buffers["out"]
            if "grad_out" in buffers:
                assert results[-1] is buffers["grad_out"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_results_bitwise_identical_for_every_n_threads(name, dtype):
    from fastloss._threads import resolve_n_threads

    shapes = [(3000, 50), (40000, 10)]
    if name in ("hinge_loss", "zero_one_loss"):
        shapes.append((300000, 0))
    for n, c in shapes:
        x, y = _inputs(name, n, c, dtype, seed=n)
        if fastloss.openmp_enabled():
            assert resolve_n_threads(2, x.size) == 2
        kw = _options(name, x)
        grad_kw = dict(return_grad=True) if has_grad(name) else {}
        one = {r: fast(name)(x, y, reduction=r, n_threads=1, **grad_kw, **kw)
               for r in REDUCTIONS}
        for threads in (2, 3, None):
            for r in REDUCTIONS:
                other = fast(name)(x, y, reduction=r, n_threads=threads, **grad_kw, **kw)
                assert_identical(other, one[r], f"{name} {n}x{c} {r} n_threads={threads}")
        want = getattr(ref, name)(x, y, reduction="none", **grad_kw, **kw)
        check_result(one["none"], want, dtype, f"{name} parallel vs reference")


# ---------------------------------------------------------------------------
# the registry's "multiclass" entries (what the asv catalogue benchmarks):
# every case and rank against the twin, torch and finite differences; their
# declared bad values and keywords
# ---------------------------------------------------------------------------

def _registry_specs():
    try:
        from fastloss import _registry
    except ImportError:        # the registry is optional for this module's tests
        return []
    return _registry.specs("multiclass")


REGISTRY_PARAMS = [pytest.param(s, case, nd, id=f"{s.name}-{case}-{nd}d")
                   for s in _registry_specs() for case in s.cases for nd in s.ndims]


def test_registry_lists_every_function():
    specs = _registry_specs()
    if not specs:
        pytest.skip("fastloss._registry is not there")
    assert sorted(s.name for s in specs) == sorted(NAMES)
    for s in specs:
        assert s.fast is getattr(api, s.name) and s.reference is getattr(ref, s.name)
        assert s.has_grad == has_grad(s.name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec, case, ndim", REGISTRY_PARAMS)
def test_registry_cases(spec, case, ndim, dtype):
    rng = np.random.default_rng(31)
    shape = (60,) if ndim == 1 else (60, 7)
    x, target, kw = spec.sample(shape, dtype, rng, case)
    grad_kw = dict(return_grad=True) if spec.has_grad else {}
    for reduction in spec.reductions:
        got = spec.call(spec.fast, x, target, reduction=reduction, **grad_kw, **kw)
        want = spec.call(spec.reference, x, target, reduction=reduction, **grad_kw, **kw)
        check_result(got, want, dtype, f"{spec.name} {case} {reduction}")
        if spec.torch_case(kw) and dtype == np.float64:
            torch = pytest.importorskip("torch")
            xt = torch.tensor(x, requires_grad=True)
            loss = spec.torch(torch, xt, torch.as_tensor(target), reduction, **kw)
            loss.sum().backward()
            value = loss.detach().numpy().astype(np.float64)
            assert_close(got[0], value if reduction == "none" else float(value), 1e-10,
                         f"{spec.name} {case} {reduction} vs torch")
            keep = ~(spec.kinks(x, target, kw) if spec.kinks else np.zeros(x.shape, bool))
            assert_close(got[1][keep], xt.grad.numpy()[keep], 1e-10 * kw.get("scale", 1.0),
                         f"{spec.name} {case} {reduction} grad vs torch")
    if spec.has_grad and dtype == np.float64:
        kw = dict(kw, reduction="sum")
        _, grad = spec.call(spec.fast, x, target, return_grad=True, **kw)
        skip = spec.kinks(x, target, kw) if spec.kinks else np.zeros(x.shape, bool)
        for idx in list(np.ndindex(*x.shape))[:: max(1, x.size // 60)]:
            if skip[idx]:
                continue
            xp, xm = x.copy(), x.copy()
            xp[idx] += 1e-6
            xm[idx] -= 1e-6
            num = (spec.call(spec.fast, xp, target, **kw) -
                   spec.call(spec.fast, xm, target, **kw)) / 2e-6
            assert abs(grad[idx] - num) <= 1e-5 * max(1.0, abs(num)), (spec.name, case, idx)


@pytest.mark.parametrize("spec, case, ndim", [p for p in REGISTRY_PARAMS
                                              if p.values[1] == "default"])
def test_registry_bad_values_and_keywords(spec, case, ndim):
    rng = np.random.default_rng(32)
    shape = (12,) if ndim == 1 else (12, 5)
    x, target, _ = spec.sample(shape, np.float64, rng)
    for arg, value in spec.bad_values:
        if arg == "target":
            t = target.copy()
            t[7] = value
            with pytest.raises(ValueError, match=rf"target\[7\] = {value}\b"):
                spec.call(spec.fast, x, t)
        else:
            xb = x.copy()
            xb[(7, 3)[:ndim]] = value
            where = "7, 3" if ndim == 2 else "7"
            with pytest.raises(ValueError, match=rf"{arg}\[{where}\] = "):
                spec.call(spec.fast, xb, target)
    for kwargs, exc, text in spec.bad_kwargs:
        with pytest.raises(exc, match=text):
            spec.call(spec.fast, x, target, **kwargs)
