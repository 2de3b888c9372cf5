"""Validate the oracle (fastloss._reference) itself against independent references.

* scipy.special.logsumexp / softmax / log_softmax;
* torch.nn.functional.cross_entropy / nll_loss with autograd (skipped when torch
  is not importable);
* central finite differences of the reference loss for its closed-form gradient;
* the semantic rules of sample_weight, class_weight, ignore_index, empty input.
"""
import numpy as np
import pytest
import scipy.special

from fastloss import _reference as ref
from hostile import FINITE_KINDS, hostile_arrays, probabilities_for, weights_for

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

REDUCTIONS = ("none", "mean", "sum")
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}


def assert_close(got, want, rtol, err_msg=""):
    """|got - want| <= rtol * max(|want|, 1) elementwise (roughly), nan/inf positions equal."""
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(want, dtype=np.float64),
                               rtol=rtol, atol=rtol, equal_nan=True, err_msg=err_msg)


def scipy_rowwise(func, x, temperature=1.0):
    # x / T is rounded in x's dtype, as torch (and fastloss) scale logits
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return func((x / x.dtype.type(temperature)).astype(np.float64), axis=1)


def _random(shape, seed, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# ---------------------------------------------------------------------------
# against scipy
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [1.0, 0.7, 2.0])
def test_logsumexp_matches_scipy_on_every_hostile_array(memmap_dir, temperature):
    # logsumexp follows scipy exactly, including +inf / all -inf / nan rows
    n_checked = 0
    for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=("C", "strided")):
        got = ref.logsumexp(x, temperature=temperature)
        want = scipy_rowwise(scipy.special.logsumexp, x, temperature)
        assert got.dtype == x.dtype and got.shape == (x.shape[0],)
        assert_close(got, want.astype(x.dtype), RTOL[x.dtype], desc)
        n_checked += 1
    assert n_checked > 100


def test_logsumexp_no_columns_is_minus_inf():
    got = ref.logsumexp(np.empty((3, 0)))
    np.testing.assert_array_equal(got, scipy.special.logsumexp(np.empty((3, 0)), axis=1))
    np.testing.assert_array_equal(got, [-np.inf] * 3)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 2.0])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_matches_scipy_on_finite_arrays(memmap_dir, name, temperature):
    for desc, x in hostile_arrays(tmpdir=memmap_dir, kinds=FINITE_KINDS):
        with np.errstate(over="ignore"):
            if not np.isfinite(x / x.dtype.type(temperature)).all():
                continue  # x / T overflows (in x's dtype, as torch): no longer a finite row
        got = getattr(ref, name)(x, temperature=temperature)
        want = scipy_rowwise(getattr(scipy.special, name), x, temperature)
        assert got.dtype == x.dtype and got.shape == x.shape
        assert_close(got, want.astype(x.dtype), RTOL[x.dtype], desc)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_special_rows(memmap_dir, name):
    # rows with nan or an infinite max are all nan (torch); rows with a finite
    # max equal scipy (-inf entries give 0 / -inf)
    func = getattr(ref, name)
    for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=("C",), dtypes=(np.float64,)):
        if x.shape[0] == 0:
            continue
        got = func(x)
        x64 = x.astype(np.float64)
        bad = np.isnan(x64).any(axis=1) | ~np.isfinite(np.max(x64, axis=1))
        assert np.isnan(got[bad]).all(), desc
        want = scipy_rowwise(getattr(scipy.special, name), x64[~bad])
        assert_close(got[~bad], want, 1e-13, desc)


def test_softmax_rows_sum_to_one_and_match_exp_log_softmax(memmap_dir):
    for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=("C",), dtypes=(np.float64,)):
        p = ref.softmax(x)
        lp = ref.log_softmax(x)
        ok = ~np.isnan(p).any(axis=1)
        assert_close(p[ok].sum(axis=1), np.ones(ok.sum()), 1e-14, desc)
        assert_close(np.exp(lp), p, 1e-14, desc)


# ---------------------------------------------------------------------------
# against torch
# ---------------------------------------------------------------------------

def torch_ce(x, target, *, weight=None, sample_weight=None, ignore_index=-100,
             label_smoothing=0.0, temperature=1.0, reduction="mean", fn="cross_entropy"):
    """(loss, grad) from torch autograd; sample_weight applied as a per-row factor."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    t = torch.tensor(target)
    kw = dict(ignore_index=ignore_index)
    if weight is not None:
        kw["weight"] = torch.tensor(np.asarray(weight, dtype=np.float64))
    if fn == "cross_entropy":
        kw["label_smoothing"] = label_smoothing
        func = F.cross_entropy
        z = xt / temperature
    else:
        func = F.nll_loss
        z = xt
    if sample_weight is None:
        loss = func(z, t, reduction=reduction, **kw)
    else:
        sw = torch.tensor(np.asarray(sample_weight, dtype=np.float64))
        per = func(z, t, reduction="none", **kw) * sw
        if reduction == "none":
            loss = per
        elif reduction == "sum":
            loss = per.sum()
        else:  # our documented extension of torch's weighted mean
            if t.ndim == 2:
                den = sw.sum()
            else:
                keep = t != ignore_index
                w = kw.get("weight", torch.ones(x.shape[1], dtype=torch.float64))
                den = (sw * w[torch.where(keep, t, 0)] * keep).sum()
            loss = per.sum() / den
    loss.sum().backward()
    value = loss.detach().numpy()
    return (value if reduction == "none" else float(value)), xt.grad.numpy()


def _check_loss_grad(got, want, rtol=1e-12, msg=""):
    (l1, g1), (l2, g2) = got, want
    if isinstance(l2, float):
        assert isinstance(l1, float), type(l1)
    assert_close(l1, l2, rtol, msg)
    assert_close(g1, g2, rtol, msg)


CE_CASES = [
    dict(),
    dict(class_weight=True),
    dict(ignore=True),
    dict(label_smoothing=0.1),
    dict(label_smoothing=0.3, class_weight=True),
    dict(label_smoothing=0.2, class_weight=True, ignore=True),
    dict(label_smoothing=1.0, class_weight=True, ignore=True),
    dict(temperature=2.5),
    dict(temperature=0.4, label_smoothing=0.1, class_weight=True, ignore=True),
    dict(sample_weight=True),
    dict(sample_weight=True, class_weight=True, ignore=True, label_smoothing=0.15),
]


def _case_args(case, n, c, seed):
    rng = np.random.default_rng(seed)
    ignore_index = -100 if seed % 2 else 3
    y = rng.integers(0, c, n)
    if case.get("ignore"):
        y[rng.random(n) < 0.3] = ignore_index
        y[0] = ignore_index
    w = rng.uniform(0.1, 3.0, c) if case.get("class_weight") else None
    sw = rng.uniform(0.0, 2.0, n) if case.get("sample_weight") else None
    return y, w, sw, ignore_index


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: "-".join(c) or "plain")
def test_cross_entropy_matches_torch(case, reduction):
    n, c = 23, 7
    x = _random((n, c), seed=len(case) + 3)
    y, w, sw, ignore_index = _case_args(case, n, c, seed=len(str(case)))
    eps = case.get("label_smoothing", 0.0)
    T = case.get("temperature", 1.0)
    got = ref.cross_entropy(x, y, class_weight=w, sample_weight=sw, ignore_index=ignore_index,
                            label_smoothing=eps, temperature=T, reduction=reduction,
                            return_grad=True)
    want = torch_ce(x, y, weight=w, sample_weight=sw, ignore_index=ignore_index,
                    label_smoothing=eps, temperature=T, reduction=reduction)
    _check_loss_grad(got, want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", [dict(), dict(label_smoothing=0.2), dict(class_weight=True),
                                  dict(class_weight=True, label_smoothing=0.1, temperature=1.7),
                                  dict(sample_weight=True, class_weight=True)],
                         ids=lambda c: "-".join(c) or "plain")
def test_cross_entropy_probability_targets_match_torch(case, reduction):
    n, c = 19, 6
    x = _random((n, c), seed=11)
    t = probabilities_for("torch-prob", n, c)
    _, w, sw, _ = _case_args(case, n, c, seed=5)
    eps = case.get("label_smoothing", 0.0)
    T = case.get("temperature", 1.0)
    got = ref.cross_entropy(x, t, class_weight=w, sample_weight=sw, label_smoothing=eps,
                            temperature=T, reduction=reduction, return_grad=True)
    want = torch_ce(x, t, weight=w, sample_weight=sw, label_smoothing=eps, temperature=T,
                    reduction=reduction)
    _check_loss_grad(got, want)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", [dict(), dict(class_weight=True), dict(ignore=True),
                                  dict(class_weight=True, ignore=True),
                                  dict(sample_weight=True, class_weight=True, ignore=True)],
                         ids=lambda c: "-".join(c) or "plain")
def test_nll_loss_matches_torch(case, reduction):
    n, c = 21, 5
    lp = ref.log_softmax(_random((n, c), seed=2))
    y, w, sw, ignore_index = _case_args(case, n, c, seed=9)
    got = ref.nll_loss(lp, y, class_weight=w, sample_weight=sw, ignore_index=ignore_index,
                       reduction=reduction, return_grad=True)
    want = torch_ce(lp, y, weight=w, sample_weight=sw, ignore_index=ignore_index,
                    reduction=reduction, fn="nll_loss")
    _check_loss_grad(got, want)


def test_nll_loss_arbitrary_values_match_torch():
    x = _random((12, 4), seed=4, scale=50.0)   # not log-probabilities: still legal
    y = np.random.default_rng(1).integers(0, 4, 12)
    for reduction in REDUCTIONS:
        _check_loss_grad(ref.nll_loss(x, y, reduction=reduction, return_grad=True),
                         torch_ce(x, y, reduction=reduction, fn="nll_loss"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_special_rows_match_torch(reduction, label_smoothing, weighted):
    # nan, +inf, all -inf rows and -inf entries, in non-ignored rows: torch's
    # values (nan loss and nan gradient row; a -inf entry gives inf loss, or nan
    # when multiplied by a zero weight, and a finite gradient).
    inf, nan = np.inf, np.nan
    x = np.array([[1.0, 2.0, 0.5],
                  [nan, 1.0, 0.0],
                  [inf, 1.0, 0.0],
                  [-inf, -inf, -inf],
                  [-inf, 1.0, 2.0],
                  [0.3, -inf, 2.0],
                  [3.0, 1.0, -2.0],
                  [inf, -inf, 1.0]])
    y = np.array([0, 1, 2, 0, 0, 2, 1, 2])
    w = np.array([1.5, 0.0, 2.0]) if weighted else None
    got = ref.cross_entropy(x, y, class_weight=w, label_smoothing=label_smoothing,
                            reduction=reduction, return_grad=True)
    want = torch_ce(x, y, weight=w, label_smoothing=label_smoothing, reduction=reduction)
    _check_loss_grad(got, want)
    if reduction == "none":  # explicit statement of the rules
        loss, grad = got
        assert np.isnan(loss[1:4]).all() and np.isnan(grad[1:4]).all()
        assert np.isnan(grad[7]).all()
        assert np.isfinite(grad[[0, 4, 5, 6]]).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probability_targets_with_minus_inf_match_torch(reduction):
    # 0 * (-inf) = nan in the loss, as torch; its gradient stays finite
    x = np.array([[1.0, -np.inf, 0.0], [2.0, 1.0, 0.0], [0.0, -np.inf, 1.0]])
    t = np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    got = ref.cross_entropy(x, t, reduction=reduction, return_grad=True)
    _check_loss_grad(got, torch_ce(x, t, reduction=reduction))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_degenerate_inputs_match_torch(fn, reduction):
    func = getattr(ref, fn)
    x = _random((4, 3), seed=8)
    # every row ignored: "mean" is nan with a zero gradient
    y = np.full(4, -100)
    _check_loss_grad(func(x, y, reduction=reduction, return_grad=True),
                     torch_ce(x, y, reduction=reduction, fn=fn))
    # kept rows whose class weights are all 0: 0 / 0
    y = np.array([0, 0, -100, 1])
    w = np.array([0.0, 0.0, 1.0])
    _check_loss_grad(func(x, y, class_weight=w, reduction=reduction, return_grad=True),
                     torch_ce(x, y, weight=w, reduction=reduction, fn=fn))
    # empty input
    e = np.empty((0, 3))
    _check_loss_grad(func(e, np.empty(0, dtype=np.int64), reduction=reduction,
                          return_grad=True),
                     torch_ce(e, np.empty(0, dtype=np.int64), reduction=reduction, fn=fn))


def test_degenerate_smoothing_zero_weight_matches_torch():
    # with label smoothing, kept rows of zero weight give nan "mean" (not inf)
    x = _random((4, 3), seed=8)
    y = np.array([0, 0, 2, 1])
    w = np.array([0.0, 0.0, 1.0])
    y[2] = -100
    _check_loss_grad(ref.cross_entropy(x, y, class_weight=w, label_smoothing=0.3,
                                       return_grad=True),
                     torch_ce(x, y, weight=w, label_smoothing=0.3))


# ---------------------------------------------------------------------------
# closed-form gradient vs central finite differences of the reference loss
# ---------------------------------------------------------------------------

def numerical_grad(f, x, h=1e-6):
    g = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


def _scalar(loss):
    return float(np.sum(loss))


FD_CASES = [
    dict(),
    dict(class_weight=True, ignore=True),
    dict(label_smoothing=0.2, class_weight=True, ignore=True, temperature=0.6),
    dict(sample_weight=True, class_weight=True, label_smoothing=0.1, temperature=1.9),
    dict(prob=True),
    dict(prob=True, label_smoothing=0.3, class_weight=True, sample_weight=True, temperature=1.4),
    dict(nll=True, class_weight=True, sample_weight=True, ignore=True),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", FD_CASES, ids=lambda c: "-".join(c) or "plain")
def test_reference_gradient_matches_finite_differences(case, reduction):
    n, c = 6, 4
    x = _random((n, c), seed=21, scale=2.0)
    y, w, sw, ignore_index = _case_args(case, n, c, seed=13)
    if case.get("prob"):
        y = probabilities_for("fd", n, c)
    kw = dict(class_weight=w, sample_weight=sw, ignore_index=ignore_index, reduction=reduction)
    if case.get("nll"):
        func = ref.nll_loss
    else:
        func = ref.cross_entropy
        kw.update(label_smoothing=case.get("label_smoothing", 0.0),
                  temperature=case.get("temperature", 1.0))
    loss, grad = func(x, y, return_grad=True, **kw)
    assert_close(_scalar(loss), _scalar(func(x, y, **kw)), 0.0)
    num = numerical_grad(lambda z: _scalar(func(z, y, **kw)), x)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["logsumexp", "log_softmax"])
def test_rowwise_consistency(name):
    # d logsumexp / dx = softmax (finite differences), log_softmax = x/T - logsumexp
    x = _random((5, 4), seed=3)
    T = 1.3
    if name == "logsumexp":
        num = numerical_grad(lambda z: float(ref.logsumexp(z, temperature=T).sum()), x)
        np.testing.assert_allclose(num, ref.softmax(x, temperature=T) / T, rtol=1e-6, atol=1e-9)
    else:
        want = x / T - ref.logsumexp(x, temperature=T)[:, None]
        assert_close(ref.log_softmax(x, temperature=T), want, 1e-14)


# ---------------------------------------------------------------------------
# semantic rules, dtypes, buffers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_and_buffers(dtype):
    x = _random((9, 4), seed=1).astype(dtype)
    y = np.arange(9) % 4
    x0 = x.copy()
    for name in ("logsumexp", "softmax", "log_softmax"):
        r = getattr(ref, name)(x)
        assert r.dtype == dtype
        buf = np.empty_like(r)
        assert getattr(ref, name)(x, out=buf, n_threads=2) is buf
        np.testing.assert_array_equal(buf, r)
    for func in (ref.cross_entropy, ref.nll_loss):
        loss, grad = func(x, y, reduction="none", return_grad=True)
        assert loss.dtype == dtype and grad.dtype == dtype and grad.shape == x.shape
        out, gout = np.empty(9, dtype), np.empty_like(x)
        l2, g2 = func(x, y, reduction="none", return_grad=True, out=out, grad_out=gout)
        assert l2 is out and g2 is gout
        np.testing.assert_array_equal(out, loss)
        np.testing.assert_array_equal(gout, grad)
        for reduction in ("mean", "sum"):
            assert type(func(x, y, reduction=reduction)) is float
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("prob", [False, True])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_sample_weight_semantics(fn, prob):
    if prob and fn == "nll_loss":
        pytest.skip("nll_loss has no probability targets")
    func = getattr(ref, fn)
    n, c = 15, 4
    x = _random((n, c), seed=6)
    y = probabilities_for("sw", n, c) if prob else np.random.default_rng(2).integers(0, c, n)
    sw = weights_for("sw", n)
    base = func(x, y, reduction="none")
    assert_close(func(x, y, sample_weight=sw, reduction="none"), sw * base, 1e-15)
    assert_close(func(x, y, sample_weight=sw, reduction="sum"), np.sum(sw * base), 1e-14)
    assert_close(func(x, y, sample_weight=sw), np.average(base, weights=sw), 1e-14)
    assert_close(func(x, y, sample_weight=np.ones(n)), func(x, y), 1e-15)


def test_class_weight_mean_formula():
    n, c = 20, 5
    x = _random((n, c), seed=7)
    y = np.random.default_rng(3).integers(0, c, n)
    y[::4] = -100
    w = weights_for("cw", c, zeros=False)
    per = ref.cross_entropy(x, y, class_weight=w, reduction="none")
    keep = y != -100
    want = per.sum() / w[y[keep]].sum()
    assert_close(ref.cross_entropy(x, y, class_weight=w), want, 1e-14)
    per_plain = ref.cross_entropy(x, y, reduction="none")
    assert_close(per[keep], w[y[keep]] * per_plain[keep], 1e-14)
    assert (per[~keep] == 0).all()


def test_empty_and_all_ignored():
    for func in (ref.cross_entropy, ref.nll_loss):
        e = np.empty((0, 3))
        t = np.empty(0, dtype=np.int64)
        assert np.isnan(func(e, t))
        assert func(e, t, reduction="sum") == 0.0
        assert func(e, t, reduction="none").shape == (0,)
        loss, grad = func(np.ones((3, 2)), np.full(3, -100), return_grad=True)
        assert np.isnan(loss) and (grad == 0).all()
    assert np.isnan(ref.cross_entropy(np.empty((0, 3)), np.empty((0, 3))))
    assert ref.cross_entropy(np.empty((0, 3)), np.empty((0, 3)), reduction="sum") == 0.0


def test_ignored_rows_are_exactly_zero_whatever_they_hold():
    x = np.array([[np.nan, 1.0], [np.inf, 0.0], [-np.inf, -np.inf], [1.0, 2.0]])
    y = np.array([-100, -100, -100, 1])
    for kw in (dict(), dict(label_smoothing=0.3, class_weight=[1.0, 2.0])):
        for reduction in REDUCTIONS:
            loss, grad = ref.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
            assert np.isfinite(loss).all()
            assert (grad[:3] == 0).all() and np.isfinite(grad).all()
        loss, grad = ref.nll_loss(x, y, reduction="none", return_grad=True)
        assert (loss[:3] == 0).all() and (grad[:3] == 0).all()


def test_nll_reads_only_the_target_column():
    x = np.array([[np.nan, -1.0, np.inf], [-2.0, np.nan, -np.inf]])
    y = np.array([1, 0])
    loss, grad = ref.nll_loss(x, y, reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss, [1.0, 2.0])
    np.testing.assert_array_equal(grad, [[0, -1, 0], [-1, 0, 0]])
