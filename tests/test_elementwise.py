"""The element-wise losses (issue 4), driven by fastloss._registry: every
registered spec of the "elementwise" family is checked against its NumPy twin
over hostile arrays (1-D and 2-D, every dtype, layout and kind of value),
against central finite differences, against torch autograd (when torch is
importable), on special values (+-1e308, +-inf, nan, p = 0 and 1), for every
validation error, for bitwise determinism across thread counts, and for its
out=/grad_out= buffers. Inputs must never be modified.
"""
import doctest
import inspect
import zlib

import numpy as np
import pytest

import fastloss
from fastloss import _elementwise, _elementwise_api
from fastloss import _registry as registry
from checks import assert_close, assert_identical
from hostile import KINDS, SHAPES, hostile_values, with_layout

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SPECS = registry.specs("elementwise")
IDS = [s.name for s in SPECS]
DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}
LAYOUTS = ("C", "strided", "F", "reversed", "readonly", "memmap")


def spec_cases(specs=SPECS, ndims=(1, 2)):
    """pytest params (spec, case, ndim) over every case of every spec."""
    return [pytest.param(s, case, nd, id=f"{s.name}-{case}-{nd}d")
            for s in specs for case in s.cases for nd in ndims if nd in s.ndims]


def seeded(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ---------------------------------------------------------------------------
# comparison helpers
# ---------------------------------------------------------------------------

def reduced_scale(spec, x, target, kwargs, reduction):
    """Error scale of a reduced loss: sum of |weighted terms| (divided like the
    mean); "nan" when the result must be nan (a nan term, or both infinities);
    None to skip the comparison when the sum of |terms| overflows (partial sums
    may then overflow to either infinity: any summation order is right)."""
    x64 = np.asarray(x, dtype=np.float64)          # the weighted terms, in float64
    t64 = None if target is None else np.asarray(target).astype(x.dtype).astype(np.float64)
    terms = spec.call(spec.reference, x64, t64, **dict(kwargs, reduction="none"))
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isnan(terms).any() or (terms == np.inf).any() and (terms == -np.inf).any():
            return "nan"
        total = np.sum(np.abs(terms))
    if np.isinf(total) and np.isfinite(terms).all():
        return None
    if reduction == "sum":
        return total + 1.0
    sw = kwargs.get("sample_weight")
    n = terms.shape[0]
    k = 1 if (terms.ndim == 1 or spec.per_row) else terms.shape[1]
    weight = float(np.sum(sw)) if sw is not None else float(n)
    denominator = weight * (k if reduction == "mean" else 1)
    return total / denominator + 1.0 if denominator > 0 else None


def check_against_reference(spec, x, target, kwargs, reduction, msg):
    rtol = RTOL[x.dtype]
    kw = dict(kwargs, reduction=reduction)
    before = [np.array(a, copy=True) for a in (x, target, kwargs.get("sample_weight"))
              if a is not None]
    loss = spec.call(spec.fast, x, target, **kw)
    want = spec.call(spec.reference, x, target, **kw, return_grad=spec.has_grad)
    if spec.has_grad:
        both = spec.call(spec.fast, x, target, **kw, return_grad=True)
        assert_identical(loss, both[0], msg + " (return_grad changed the loss)")
        assert isinstance(both[1], np.ndarray) and both[1].dtype == x.dtype, msg
        assert_close(both[1], want[1], rtol, msg + " [grad]")
        want = want[0]
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.dtype == x.dtype, msg
        assert_close(loss, want, rtol, msg + " [loss]")
    else:
        assert type(loss) is float, f"{msg}: {type(loss)}"
        scale = reduced_scale(spec, x, target, kwargs, reduction)
        if scale == "nan":
            assert np.isnan(loss) and np.isnan(want), f"{msg}: {loss}, {want}"
        elif scale is not None:
            assert_close(loss, want, rtol, msg + " [loss]", scale)
    after = [a for a in (x, target, kwargs.get("sample_weight")) if a is not None]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(np.asarray(a), b, err_msg=f"{msg}: input modified")


# ---------------------------------------------------------------------------
# hostile data
# ---------------------------------------------------------------------------

def layout_1d(values, layout, tmpdir):
    n = values.shape[0]
    if layout == "C":
        return values.copy()
    if layout in ("strided", "F"):
        base = np.full(2 * n + 1, np.nan, dtype=values.dtype)
        base[1::2] = values
        return base[1::2]
    if layout == "reversed":
        return values[::-1].copy()[::-1]
    if layout == "readonly":
        a = values.copy()
        a.flags.writeable = False
        return a
    mm = with_layout(values.reshape(n, 1), "memmap", tmpdir)
    return values.copy() if mm is None else mm.reshape(n)


def hostile_inputs(spec, case, ndim, tmpdir, kinds=KINDS, shapes=SHAPES):
    """(desc, x, target, kwargs) for dtype x shape x kind, the layout rotating
    (every layout meets every dtype, shape and kind across the product)."""
    for di, dtype in enumerate(DTYPES):
        for si, shape in enumerate(shapes):
            for ki, kind in enumerate(kinds):
                layout = LAYOUTS[(di + 3 * si + ki) % len(LAYOUTS)]
                values = spec.input_from(hostile_values(shape, kind, dtype))
                if ndim == 1:
                    values = values.reshape(-1)
                desc = f"{np.dtype(dtype).name}-{values.shape}-{kind}-{layout}"
                rng = seeded(spec.name, case, desc)
                kwargs = spec.kwargs_for(case, values.shape, rng)
                target = spec.target_for(values, rng, kwargs)
                if ndim == 1:
                    x = layout_1d(values, layout, tmpdir)
                else:
                    x = with_layout(values, layout, tmpdir)
                    x = values.copy() if x is None else x
                if target is not None and layout == "strided" and ndim == 2:
                    target = with_layout(target, "F", tmpdir)   # a non-C target too
                yield desc, x, target, kwargs


# ---------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------

def test_registry_covers_the_elementwise_api():
    assert sorted(IDS) == sorted(_elementwise_api.__all__)
    assert sorted(IDS) == sorted(_elementwise.KINDS)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_reference_has_the_same_signature(spec):
    assert inspect.signature(spec.fast) == inspect.signature(spec.reference)
    params = inspect.signature(spec.fast).parameters
    assert params["reduction"].default == spec.default_reduction
    for name in ("sample_weight", "out", "grad_out", "n_threads", "return_grad"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY


# ---------------------------------------------------------------------------
# vs the NumPy reference over hostile arrays
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec, case, ndim", spec_cases())
def test_vs_reference_hostile(memmap_dir, spec, case, ndim):
    # the extra cases run on fewer shapes; the default case on all of them
    shapes = SHAPES if case == "default" else SHAPES[::2]
    for desc, x, target, kwargs in hostile_inputs(spec, case, ndim, memmap_dir, shapes=shapes):
        for reduction in spec.reductions:
            check_against_reference(spec, x, target, kwargs, reduction,
                                    f"{spec.name} {case} {desc} {reduction}")


# ---------------------------------------------------------------------------
# gradients: finite differences, torch autograd
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec, case, ndim", spec_cases())
def test_gradient_vs_finite_differences(spec, case, ndim):
    rng = seeded("fd", spec.name, case, ndim)
    shape = (7, 5) if ndim == 2 else (23,)
    x, target, kwargs = spec.sample(shape, np.float64, rng, case)
    kw = dict(kwargs, reduction="none")
    _, grad = spec.call(spec.fast, x, target, **kw, return_grad=True)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    fd = np.empty_like(x)
    if spec.per_row:      # a row's loss depends on all its columns: one column at a time
        for j in range(x.shape[1]):
            step = np.zeros_like(x)
            step[:, j] = h[:, j]
            up = spec.call(spec.fast, x + step, target, **kw)
            down = spec.call(spec.fast, x - step, target, **kw)
            fd[:, j] = (up - down) / (2 * h[:, j])
    else:                 # element-wise: every element at once
        up = spec.call(spec.fast, x + h, target, **kw)
        down = spec.call(spec.fast, x - h, target, **kw)
        fd = (up - down) / (2 * h)
    skip = spec.kinks(x, target, kwargs) if spec.kinks is not None else np.zeros(x.shape, bool)
    assert (~skip).sum() >= x.size // 2, "too many elements near kinks"
    assert_close(grad[~skip], fd[~skip], 1e-5, f"{spec.name} {case}")
    # the reduced gradients are the per-element one, scaled
    for reduction in ("sum", "mean"):
        _, g = spec.call(spec.fast, x, target, **dict(kwargs, reduction=reduction),
                         return_grad=True)
        _, g_ref = spec.call(spec.reference, x, target, **dict(kwargs, reduction=reduction),
                             return_grad=True)
        assert_close(g, g_ref, 1e-12, f"{spec.name} {case} {reduction}")


def torch_params():
    out = []
    for spec in SPECS:
        if spec.torch is None:
            continue
        for case, make in spec.cases.items():
            if not spec.torch_case(make((4, 3), np.random.default_rng(0))):
                continue
            for nd in spec.ndims:
                for reduction in spec.reductions:
                    out.append(pytest.param(spec, case, nd, reduction,
                                            id=f"{spec.name}-{case}-{nd}d-{reduction}"))
    return out


TORCH_KL_MEAN = "ignore:reduction. 'mean' divides the total loss"


@pytest.mark.filterwarnings(TORCH_KL_MEAN)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("spec, case, ndim, reduction", torch_params())
def test_vs_torch_autograd(spec, case, ndim, reduction, dtype):
    torch = pytest.importorskip("torch")
    rng = seeded("torch", spec.name, case, ndim)
    x, target, kwargs = spec.sample((6, 4) if ndim == 2 else (11,), dtype, rng, case)
    xt = torch.tensor(x, requires_grad=True)
    tt = None if target is None else torch.tensor(np.asarray(target).astype(dtype))
    loss_t = spec.torch(torch, xt, tt, reduction, **kwargs)
    loss_t.sum().backward()
    loss, grad = spec.call(spec.fast, x, target, **kwargs, reduction=reduction,
                           return_grad=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-11
    msg = f"{spec.name} {case} {reduction} vs torch"
    assert_close(loss, loss_t.detach().numpy(), rtol, msg + " [loss]")
    assert_close(grad, xt.grad.numpy(), rtol, msg + " [grad]")


# ---------------------------------------------------------------------------
# special values
# ---------------------------------------------------------------------------

def special_grid(spec, dtype):
    """(x, target) 2-D: every special input value against every target value."""
    big = 1e308 if dtype == np.float64 else 3e38
    if spec.input_kind == "probs":
        xs = [0.0, 1.0, 0.5, np.nan, 1e-300 if dtype == np.float64 else 1e-40, 1 - 1e-7, 1e-13]
    else:
        xs = [big, -big, np.inf, -np.inf, np.nan, 0.0, 30.0, -30.0, 800.0, -800.0]
    targets = {"soft": [0.0, 0.3, 1.0], "sign": [-1.0, 1.0], "probs": [0.0, 0.5, 1.0],
               "real": [0.0, 1.0, -big], None: [0.0]}[spec.target_kind]
    x = np.array([[v] * len(targets) for v in xs], dtype=dtype)
    t = np.array([targets] * len(xs), dtype=dtype)
    return x, t


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("spec, case, ndim", spec_cases(ndims=(2,)))
def test_special_values(spec, case, ndim, dtype):
    x, t = special_grid(spec, dtype)
    kwargs = spec.kwargs_for(case, x.shape, seeded("special", spec.name, case))
    if spec.target_kind is None:
        t = None
    elif spec.name == "kl_div" and kwargs.get("log_target"):
        with np.errstate(divide="ignore"):
            t = np.log(t)
    for reduction in spec.reductions:
        check_against_reference(spec, x, t, kwargs, reduction, f"{spec.name} {case} special")
    loss, grad = spec.call(spec.fast, x, t, **kwargs, reduction="none", return_grad=True)
    # nan input: nan loss there; the other elements are what they are alone
    nan_x = np.isnan(x)
    if spec.per_row:
        assert np.isnan(loss[nan_x.any(axis=1)]).all()
    else:
        assert np.isnan(loss[nan_x]).all()
    # finite input (and finite target): never nan (+-1e308 stays stable); a
    # zero sample weight times an infinite loss is nan, as 0 * inf
    finite = np.isfinite(x) & (np.isfinite(t) if t is not None else True)
    if "sample_weight" in kwargs:
        finite &= (kwargs["sample_weight"] > 0)[:, None]
    if not spec.per_row:
        assert not np.isnan(loss[finite]).any(), f"{spec.name}: nan from finite input"
        assert not np.isnan(grad[finite]).any(), f"{spec.name}: nan gradient from finite input"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("spec", [s for s in SPECS if s.torch is not None],
                         ids=[s.name for s in SPECS if s.torch is not None])
def test_special_values_vs_torch(spec, dtype):
    """torch's rules on +-1e308, +-inf, nan: the same losses (nan where torch's
    is nan, e.g. BCE with logits at x = -inf). Gradients agree wherever torch's
    is not nan; fastloss may be finite where torch's autograd overflows, and a
    nan input gives a nan gradient (torch's l1 gives 0 there). Tiny losses
    differ by more than rtol where torch's own formula cancels (BCE with
    logits at x = -30, focal's 1 - p_t): compared relative to max(|l|, 1)."""
    torch = pytest.importorskip("torch")
    x, t = special_grid(spec, dtype)
    if spec.name == "binary_cross_entropy":
        keep = ~np.isnan(x[:, 0])       # torch raises on nan probabilities
        x, t = x[keep], t[keep]
    t = None if spec.target_kind is None else t
    xt = torch.tensor(x, requires_grad=True)
    loss_t = spec.torch(torch, xt, None if t is None else torch.tensor(t), "none")
    loss_t.sum().backward()
    loss, grad = spec.call(spec.fast, x, t, reduction="none", return_grad=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(loss, loss_t.detach().numpy(), rtol, f"{spec.name} special vs torch [loss]")
    grad_t = xt.grad.numpy()
    compare = ~np.isnan(grad_t) & ~np.isnan(x)
    assert_close(grad[compare], grad_t[compare], rtol, f"{spec.name} special vs torch [grad]")


def test_bce_with_logits_extreme_values_exact():
    f = _elementwise_api.binary_cross_entropy_with_logits
    x = np.array([1e308, -1e308, 1e308, -1e308, 800.0, -800.0])
    t = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5])
    loss = f(x, t, reduction="none")
    np.testing.assert_array_equal(loss, [1e308, 0.0, 0.0, 1e308, 400.0, 400.0])
    _, grad = f(x, t, reduction="sum", return_grad=True)
    np.testing.assert_array_equal(grad, [1.0, 0.0, 0.0, -1.0, 0.5, -0.5])
    # pos_weight scales the positive term without overflowing first: 1e308 * 1.5
    loss = f(np.array([-1e308]), np.array([0.5]), pos_weight=3.0, reduction="sum")
    assert loss == 1e308 * 1.5
    # torch's rules at +-inf
    loss = f(np.array([np.inf, np.inf, -np.inf]), np.array([0.3, 1.0, 0.3]), reduction="none")
    assert loss[0] == np.inf and np.isnan(loss[1]) and np.isnan(loss[2])


def test_logistic_and_exponential_extremes():
    s = np.array([1e308, -1e308, np.inf, -np.inf])
    y = np.array([1, 1, 1, 1])
    np.testing.assert_array_equal(
        _elementwise_api.logistic_loss(s, y, reduction="none"), [0.0, 1e308, 0.0, np.inf])
    np.testing.assert_array_equal(
        _elementwise_api.exponential_loss(s, y, reduction="none"), [0.0, np.inf, 0.0, np.inf])


def test_probabilities_zero_and_one():
    bce = _elementwise_api.binary_cross_entropy
    p = np.array([0.0, 0.0, 1.0, 1.0])
    t = np.array([0.0, 1.0, 0.0, 1.0])
    loss, grad = bce(p, t, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, [0.0, 100.0, 100.0, 0.0])
    eps = float(np.float32(1e-12))          # torch's EPSILON, a float constant
    np.testing.assert_array_equal(grad, [0.0, -1 / eps, 1 / eps, 0.0])
    h, g = _elementwise_api.entropy(np.array([[0.0, 1.0], [0.5, 0.5]]), return_grad=True)
    np.testing.assert_allclose(h, [0.0, np.log(2)], rtol=1e-15)
    assert g[0, 0] == np.inf and g[0, 1] == -1.0


def test_focal_large_logits_stay_accurate():
    """1 - p_t without cancellation: at x = 40, t = 1 the loss is
    0.25 * log1p(e^-40) * (e^-40 / (1 + e^-40))^2, not 0."""
    x, t = np.array([40.0, -40.0]), np.array([1.0, 0.0])
    loss = _elementwise_api.sigmoid_focal_loss(x, t, reduction="none")
    e = np.exp(-40.0)
    modulated = np.log1p(e) * (e / (1 + e)) ** 2
    want = np.array([0.25 * modulated, 0.75 * modulated])
    np.testing.assert_allclose(loss, want, rtol=1e-14)


# ---------------------------------------------------------------------------
# peers: scipy, scikit-learn
# ---------------------------------------------------------------------------

def test_entropy_and_kl_div_vs_scipy():
    special = pytest.importorskip("scipy.special")
    rng = seeded("scipy")
    p = rng.random((50, 7))
    p[rng.random(p.shape) < 0.2] = 0.0
    np.testing.assert_allclose(_elementwise_api.entropy(p), special.entr(p).sum(axis=1),
                               rtol=1e-13)
    q = rng.random((50, 7)) + 0.01
    q /= q.sum(axis=1, keepdims=True)
    t = p / p.sum(axis=1, keepdims=True)
    got = _elementwise_api.kl_div(np.log(q), t, reduction="none")
    np.testing.assert_allclose(got, special.rel_entr(t, q), rtol=1e-12, atol=1e-15)


def test_binary_losses_vs_sklearn_log_loss():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = seeded("sklearn")
    y = rng.integers(0, 2, 300)
    p = rng.uniform(0.02, 0.98, 300)
    w = rng.uniform(0.0, 2.0, 300)
    for sw in (None, w):
        want = metrics.log_loss(y, p, sample_weight=sw)
        got = _elementwise_api.binary_cross_entropy(p, y, sample_weight=sw)
        assert got == pytest.approx(want, rel=1e-12)
        s = np.log(p / (1 - p))     # scores whose sigmoid is p
        got = _elementwise_api.logistic_loss(s, 2 * y - 1, sample_weight=sw)
        assert got == pytest.approx(want, rel=1e-10)
        got = _elementwise_api.binary_cross_entropy_with_logits(s, y, sample_weight=sw)
        assert got == pytest.approx(want, rel=1e-10)


def test_focal_reduces_to_bce_and_huber_to_smooth_l1():
    rng = seeded("identities")
    x = 3 * rng.standard_normal((40, 3))
    t = rng.random((40, 3))
    bce = _elementwise_api.binary_cross_entropy_with_logits(x, t, reduction="none")
    focal = _elementwise_api.sigmoid_focal_loss(x, t, alpha=-1.0, gamma=0.0, reduction="none")
    np.testing.assert_array_equal(focal, bce)
    huber = _elementwise_api.huber_loss(x, t, delta=0.7, reduction="none")
    smooth = _elementwise_api.smooth_l1_loss(x, t, beta=0.7, reduction="none")
    np.testing.assert_allclose(huber, 0.7 * smooth, rtol=1e-14)
    l1 = _elementwise_api.l1_loss(x, t, return_grad=True)
    assert_identical(_elementwise_api.smooth_l1_loss(x, t, beta=0.0, return_grad=True), l1)


# ---------------------------------------------------------------------------
# shapes, buffers, determinism
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_empty_inputs(spec):
    for shape in ([(0,), (0, 3), (4, 0)] if 1 in spec.ndims else [(0, 3), (4, 0)]):
        x = np.empty(shape)
        t = None if spec.target_kind is None else np.empty(shape)
        kwargs = ({"pos_weight": np.ones(1 if len(shape) == 1 else shape[1])}
                  if "pos_weight" in spec.cases.get("pos_weight_columns", lambda *a: {})(
                      shape, np.random.default_rng(0)) else {})
        mean = spec.call(spec.fast, x, t, reduction="mean", **kwargs)
        if spec.per_row and shape[0] > 0:
            assert mean == 0.0                  # rows of no element have entropy 0
        else:
            assert np.isnan(mean)
        assert spec.call(spec.fast, x, t, reduction="sum") == 0.0
        loss, grad = spec.call(spec.fast, x, t, reduction="none", return_grad=True, **kwargs)
        want_shape = shape[:1] if spec.per_row else shape
        assert loss.shape == want_shape and grad.shape == shape
        if spec.per_row:
            np.testing.assert_array_equal(loss, np.zeros(want_shape))   # entropy of nothing


def big_inputs(spec, case, ndim):
    shape = ((1 << 15) + 3, 2) if ndim == 2 else ((1 << 16) + 5,)
    rng = seeded("big", spec.name, case, ndim)
    return spec.sample(shape, np.float64, rng, case)


@pytest.mark.parametrize("spec, case, ndim", spec_cases())
def test_threads_bitwise_identical(spec, case, ndim):
    x, target, kwargs = big_inputs(spec, case, ndim)
    if spec.input_kind == "logits":
        x[::97] *= 1e4          # a spread of magnitudes, so the summation order matters
    for reduction in ("mean", "none"):
        kw = dict(kwargs, reduction=reduction, return_grad=True)
        one = spec.call(spec.fast, x, target, **kw, n_threads=1)
        two = spec.call(spec.fast, x, target, **kw, n_threads=2)
        assert_identical(one, two, f"{spec.name} {case} {reduction}")
        assert_identical(spec.call(spec.fast, x.astype(np.float32), target, **kw, n_threads=1),
                         spec.call(spec.fast, x.astype(np.float32), target, **kw, n_threads=2),
                         f"{spec.name} {case} {reduction} float32")


@pytest.mark.parametrize("spec, case, ndim", spec_cases(ndims=(1, 2)))
def test_out_and_grad_out_buffers(spec, case, ndim):
    rng = seeded("out", spec.name, case, ndim)
    x, target, kwargs = spec.sample((9, 4) if ndim == 2 else (17,), np.float32, rng, case)
    want_loss, want_grad = spec.call(spec.fast, x, target, **kwargs, reduction="none",
                                     return_grad=True)
    out = np.full(want_loss.shape, -7.0, dtype=np.float32)
    grad_out = np.full(x.shape, -7.0, dtype=np.float32)
    loss, grad = spec.call(spec.fast, x, target, **kwargs, reduction="none", return_grad=True,
                           out=out, grad_out=grad_out)
    assert loss is out and grad is grad_out
    assert_identical((loss, grad), (want_loss, want_grad))
    grad_out[...] = -7.0
    total, grad = spec.call(spec.fast, x, target, **kwargs, reduction="sum", return_grad=True,
                            grad_out=grad_out)
    assert grad is grad_out and type(total) is float
    # buffers sharing memory with an input or with each other are refused
    bad_buffers = [dict(grad_out=x)]
    if target is not None:
        bad_buffers.append(dict(grad_out=target) if target.dtype == x.dtype else {})
    if not spec.per_row:
        bad_buffers += [dict(out=x), dict(out=out, grad_out=out)]
    for bad in filter(None, bad_buffers):
        with pytest.raises(ValueError, match="share memory"):
            spec.call(spec.fast, x, target, **kwargs, reduction="none", return_grad=True, **bad)


# ---------------------------------------------------------------------------
# validation errors
# ---------------------------------------------------------------------------

def small_valid(spec):
    rng = seeded("valid", spec.name)
    x, target, _ = spec.sample((4, 3), np.float64, rng)
    return x, target


def generic_errors(spec, x, target):
    """(description, args, kwargs, exception, text in message) every loss must raise."""
    first = list(inspect.signature(spec.fast).parameters)[0]
    t = [] if target is None else [target]
    cases = [
        ("int input", [x.astype(np.int64)] + t, {}, TypeError, first),
        ("bool input", [x > 0] + t, {}, TypeError, first),
        ("complex input", [x.astype(complex)] + t, {}, TypeError, first),
        ("object input", [np.array([[object()]])] + ([np.zeros((1, 1))] if t else []), {},
         TypeError, first),
        ("3-D input", [x[None]] + ([target[None]] if t else []), {}, ValueError, first),
        ("reduction", [x] + t, {"reduction": "avg"}, ValueError, "reduction"),
        ("reduction type", [x] + t, {"reduction": None}, ValueError, "reduction"),
        ("return_grad", [x] + t, {"return_grad": "yes"}, TypeError, "return_grad"),
        ("sample_weight shape", [x] + t, {"sample_weight": np.ones(5)}, ValueError,
         "sample_weight"),
        ("sample_weight negative", [x] + t, {"sample_weight": np.array([1, -1, 1, 1.0])},
         ValueError, r"sample_weight\[1\]"),
        ("sample_weight nan", [x] + t, {"sample_weight": np.array([1, 1, np.nan, 1.0])},
         ValueError, r"sample_weight\[2\]"),
        ("out without none", [x] + t, {"out": np.empty(x.shape), "reduction": "sum"},
         ValueError, "out"),
        ("out shape", [x] + t, {"out": np.empty(7), "reduction": "none"}, ValueError, "out"),
        ("out dtype", [x] + t,
         {"out": np.empty(x.shape[:1] if spec.per_row else x.shape, np.float32),
          "reduction": "none"}, ValueError, "out"),
        ("out read-only", [x] + t, {"out": np.broadcast_to(
            np.zeros(1), x.shape[:1] if spec.per_row else x.shape), "reduction": "none"},
         ValueError, "out"),
        ("out type", [x] + t, {"out": [0.0] * 4, "reduction": "none"}, TypeError, "out"),
        ("grad_out without return_grad", [x] + t, {"grad_out": np.empty(x.shape)},
         ValueError, "grad_out"),
        ("grad_out strided", [x] + t,
         {"grad_out": np.empty((x.shape[0], 2 * x.shape[1]))[:, ::2], "return_grad": True},
         ValueError, "grad_out"),
        ("n_threads zero", [x] + t, {"n_threads": 0}, ValueError, "n_threads"),
        ("n_threads type", [x] + t, {"n_threads": 1.5}, TypeError, "n_threads"),
    ]
    if target is not None:
        cases += [
            ("target shape", [x, target[:, :2]], {}, ValueError, "target"),
            ("target 1-D vs 2-D", [x, target.reshape(-1)], {}, ValueError, "target"),
            ("complex target", [x, target.astype(complex)], {}, TypeError, "target"),
            ("ragged target", [x, [[1.0], [1.0, 2.0]]], {}, TypeError, "target"),
        ]
    if spec.ndims == (2,):
        cases.append(("1-D input", [x[0]], {}, ValueError, first))
    return cases


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_validation_errors(spec):
    x, target = small_valid(spec)
    for desc, args, kwargs, exc, text in generic_errors(spec, x, target):
        with pytest.raises(exc, match=text):
            spec.fast(*args, **kwargs)
    for kwargs, exc, text in spec.bad_kwargs:
        with pytest.raises(exc, match=text):
            spec.call(spec.fast, x, target, **kwargs)


def bad_value_params():
    return [pytest.param(s, arg, value, nd, id=f"{s.name}-{arg}-{value}-{nd}d")
            for s in SPECS for arg, value in s.bad_values for nd in s.ndims]


@pytest.mark.parametrize("spec, arg, value, ndim", bad_value_params())
def test_bad_values_name_the_first_bad_index(spec, arg, value, ndim):
    x, target = small_valid(spec)
    target = np.asarray(target, dtype=np.float64)
    if ndim == 1:
        x, target = x.reshape(-1), target.reshape(-1)
    first, later = ((1, 2), (3, 0)) if ndim == 2 else ((5,), (9,))
    names = list(inspect.signature(spec.fast).parameters)
    arrays = {names[0]: x.copy(), names[1]: target.copy()}
    arrays[arg][later] = value
    arrays[arg][first] = value
    out = np.full(x.shape, 5.0)
    grad_out = np.full(x.shape, 5.0)
    index = ", ".join(map(str, first))
    with pytest.raises(ValueError, match=rf"{arg}\[{index}\]"):
        spec.fast(arrays[names[0]], arrays[names[1]], reduction="none", return_grad=True,
                  out=out, grad_out=grad_out, n_threads=2)
    assert (out == 5.0).all() and (grad_out == 5.0).all(), "a kernel ran before the error"
    # the same labels in float32 input: float64 labels that round to +-1 are still refused
    if arg == "target" and value == value and value not in (0, 2, -2):
        near_one = target.copy()
        near_one[first] = 1.0 + 1e-12
        with pytest.raises(ValueError, match=rf"target\[{index}\]"):
            spec.fast(x.astype(np.float32), near_one)


@pytest.mark.parametrize("spec, arg, value, ndim", bad_value_params())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bad_values_found_in_the_kernel_pass(spec, arg, value, ndim, dtype):
    """Without out=/grad_out= the check runs inside the kernel's pass: the same
    error, naming the first bad element, however far in the array it is."""
    x, target = spec.sample((30000,) if ndim == 1 else (3000, 10), dtype,
                            np.random.default_rng(0))[:2]
    x = np.asarray(x)
    target = np.asarray(target, dtype=np.float64) if target is not None else None
    names = list(inspect.signature(spec.fast).parameters)
    arrays = {names[0]: x.copy(), names[1]: target.copy()}
    first, later = ((2900, 7), (2990, 1)) if ndim == 2 else ((29000,), (29990,))
    arrays[arg][later] = value
    arrays[arg][first] = value
    index = ", ".join(map(str, first))
    for return_grad in (False, True):
        with pytest.raises(ValueError, match=rf"{arg}\[{index}\]"):
            spec.fast(arrays[names[0]], arrays[names[1]], return_grad=return_grad,
                      n_threads=2)


def test_labels_any_real_dtype():
    s = np.array([0.5, -1.0, 2.0])
    want = _elementwise_api.logistic_loss(s, np.array([1.0, -1.0, 1.0]))
    for y in ([1, -1, 1], np.array([1, -1, 1], dtype=np.int8), np.array([1.0, -1.0, 1.0],
                                                                          np.float32)):
        assert _elementwise_api.logistic_loss(s, y) == want
    with pytest.raises(ValueError, match=r"target\[0\] = 0"):
        _elementwise_api.logistic_loss(s, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"target\[2\]"):
        _elementwise_api.exponential_loss(s.astype(np.float32), np.array([1.0, 1.0, 1.0000001]))


# ---------------------------------------------------------------------------
# vectorised log / log1p of the kernels, docstring examples
# ---------------------------------------------------------------------------

def ulps(got, want):
    return np.abs(got - want) / np.spacing(np.maximum(np.abs(want), np.finfo(float).tiny))


def test_vectorised_log_accuracy():
    rng = seeded("vlog")
    x = np.concatenate([10.0 ** rng.uniform(-323, 308, 200_000), rng.uniform(0.5, 2.0, 50_000),
                        1.0 + rng.uniform(-1e-8, 1e-8, 10_000), [5e-324, 2.2e-308, 1.0, 2.0]])
    out = np.empty_like(x)
    _elementwise.vlog(x, out)
    assert ulps(out, np.log(x)).max() <= 1.0
    special = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan])
    out = np.empty_like(special)
    _elementwise.vlog(special, out)
    np.testing.assert_array_equal(out, [-np.inf, -np.inf, np.nan, np.inf, np.nan, np.nan])


def test_vectorised_log1p_accuracy_on_minus_one_to_inf():
    rng = seeded("vlog1p")
    x = np.concatenate([-rng.random(100_000), -(10.0 ** rng.uniform(-320, 0, 50_000)),
                        10.0 ** rng.uniform(-320, 300, 50_000)])
    out = np.empty_like(x)
    _elementwise.vlog1p(x, out)
    assert ulps(out, np.log1p(x)).max() <= 1.0
    special = np.array([-1.0, 0.0, np.inf, np.nan])
    out = np.empty_like(special)
    _elementwise.vlog1p(special, out)
    np.testing.assert_array_equal(out, [-np.inf, 0.0, np.inf, np.nan])


def test_docstring_examples(monkeypatch):
    for name in _elementwise_api.__all__:      # until fastloss exports them itself
        if not hasattr(fastloss, name):
            monkeypatch.setattr(fastloss, name, getattr(_elementwise_api, name), raising=False)
    result = doctest.testmod(_elementwise_api, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= len(_elementwise_api.__all__) and result.failed == 0
