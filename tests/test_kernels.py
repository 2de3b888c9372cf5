"""The fast API (fastloss, Cython kernels) against the pure-NumPy oracle
(fastloss._reference) over hostile arrays, plus the properties the kernels
promise: exact return_grad losses, gradients that match finite differences,
outputs written into caller buffers, bitwise determinism across thread counts,
inputs never modified, and torch agreement when torch is importable.
"""
import inspect

import numpy as np
import pytest

import fastloss
from fastloss import _reference as ref
from checks import assert_close, assert_identical, assert_unchanged, snapshot
from hostile import (KINDS, LAYOUTS, extreme_value, hostile_arrays, labels_for,
                     probabilities_for, weights_for)

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

FUNCS = ("logsumexp", "softmax", "log_softmax", "cross_entropy", "nll_loss")
ROWWISE = ("logsumexp", "softmax", "log_softmax")
REDUCTIONS = ("none", "mean", "sum")
DTYPES = (np.float32, np.float64)
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
# memory layouts used by the (many-case) loss tests; the row-wise tests use all
LOSS_LAYOUTS = ("C", "F", "strided", "readonly", "memmap")
# kinds holding +-1e308 (float64) / +-3e38 (float32) logits
OVERFLOW_KINDS = ("extreme", "mix")


# ---------------------------------------------------------------------------
# comparison helpers
# ---------------------------------------------------------------------------

def check_result(got, want, dtype, msg, scale=None):
    """Compare a fast result (array, float, or (loss, grad)) with the reference's."""
    rtol = RTOL[np.dtype(dtype)]
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == 2, msg
        check_result(got[0], want[0], dtype, msg + " [loss]", scale)
        check_result(got[1], want[1], dtype, msg + " [grad]")
        return
    if isinstance(want, float):
        assert type(got) is float, f"{msg}: {type(got)} is not float"
    else:
        assert isinstance(got, np.ndarray), msg
        assert got.dtype == np.dtype(dtype), f"{msg}: dtype {got.dtype}"
    assert_close(got, want, rtol, msg, scale)


# ---------------------------------------------------------------------------
# cases of optional arguments
# ---------------------------------------------------------------------------

CE_CASES = {
    "plain": {},
    "class_weight": dict(cw=True),
    "sample_weight": dict(sw=True),
    "ignore": dict(ignore=-100),
    "ignore_valid_class": dict(ignore=1),
    "smoothing": dict(eps=0.1),
    "smoothing_cw_ignore": dict(eps=0.25, cw=True, ignore=-100),
    "smoothing_one": dict(eps=1.0, cw=True),
    "temperature": dict(T=2.0),
    "temperature_small": dict(T=0.5, eps=0.1, cw=True, ignore=-100),
    "everything": dict(T=1.5, eps=0.2, cw=True, sw=True, ignore=-100),
    "prob": dict(prob=True),
    "prob_everything": dict(prob=True, T=1.5, eps=0.2, cw=True, sw=True),
    "prob_float32_target": dict(prob=np.float32, eps=0.05),
}
NLL_CASES = {k: v for k, v in CE_CASES.items()
             if not ({"eps", "T", "prob"} & set(v))}


def case_arguments(case, desc, n, c):
    """(target, kwargs) for one case on an (n, c) input, deterministic per desc."""
    kw = {}
    if case.get("prob"):
        target = probabilities_for(desc, n, c, dtype=np.float64 if case["prob"] is True
                                   else case["prob"])
    else:
        ignore = case.get("ignore")
        target = labels_for(desc, n, c, ignore_index=ignore if ignore is not None and ignore < 0
                            else None)
        if ignore is not None:
            kw["ignore_index"] = ignore
    if case.get("cw"):
        kw["class_weight"] = weights_for(desc + "cw", c)
    if case.get("sw"):
        kw["sample_weight"] = weights_for(desc + "sw", n)
    if "eps" in case:
        kw["label_smoothing"] = case["eps"]
    if "T" in case:
        kw["temperature"] = case["T"]
    return target, kw


# ---------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", FUNCS)
def test_reference_has_the_same_signature(name):
    assert inspect.signature(getattr(fastloss, name)) == inspect.signature(getattr(ref, name))


# ---------------------------------------------------------------------------
# kernels vs reference over the hostile generator
# ---------------------------------------------------------------------------

def hostile_for_temperature(temperature, memmap_dir, layouts=LOSS_LAYOUTS):
    """The hostile arrays; for T != 1 without the +-1e308 / 3e38 kinds, whose
    scaling overflows (those are tested on their own, see
    test_temperature_with_extreme_logits_*)."""
    kinds = KINDS if temperature == 1.0 else tuple(k for k in KINDS if k not in OVERFLOW_KINDS)
    return hostile_arrays(tmpdir=memmap_dir, layouts=layouts, kinds=kinds)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.7])
@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_vs_reference(memmap_dir, name, temperature):
    fast, slow = getattr(fastloss, name), getattr(ref, name)
    for desc, x in hostile_for_temperature(temperature, memmap_dir, LAYOUTS):
        before = snapshot(x)
        got = fast(x, temperature=temperature)
        want = slow(x, temperature=temperature)
        check_result(got, want, x.dtype, f"{name} {desc} T={temperature}")
        assert_unchanged(before, [x], desc)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case_name", list(CE_CASES))
def test_cross_entropy_vs_reference(memmap_dir, case_name, reduction):
    case = CE_CASES[case_name]
    for desc, x in hostile_for_temperature(case.get("T", 1.0), memmap_dir):
        n, c = x.shape
        target, kw = case_arguments(case, desc, n, c)
        msg = f"cross_entropy {desc} {case_name} {reduction}"
        before = snapshot(x, target, kw.get("class_weight"), kw.get("sample_weight"))
        loss = fastloss.cross_entropy(x, target, reduction=reduction, **kw)
        both = fastloss.cross_entropy(x, target, reduction=reduction, return_grad=True, **kw)
        want = ref.cross_entropy(x, target, reduction=reduction, return_grad=True, **kw)
        check_result(both, want, x.dtype, msg)
        assert_identical(loss, both[0], msg + " (return_grad changed the loss)")
        assert_unchanged(before, [x, target, kw.get("class_weight"), kw.get("sample_weight")],
                         msg)


def _nll_scale(x, target, kw, reduction):
    """Error scale of a reduced nll loss: the sum of |finite terms| (nll's terms
    have either sign, so the rounding error of their sum is relative to that,
    not to the result). "order-dependent" when that sum overflows: partial
    sums may then overflow to either infinity, so the IEEE result depends on
    the summation order (any order is right)."""
    if reduction == "none":
        return None
    terms = ref.nll_loss(x.astype(np.float64), target, **dict(kw, reduction="none"))
    with np.errstate(over="ignore"):
        total = np.sum(np.abs(terms[np.isfinite(terms)]))
    if not np.isfinite(total):
        return "order-dependent"
    want = ref.nll_loss(x, target, reduction=reduction, **kw)
    return max(1.0, abs(want) if np.isfinite(want) else 0.0, total)


@pytest.mark.parametrize("log_probs", [False, True], ids=["raw", "log_softmax"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case_name", list(NLL_CASES))
def test_nll_loss_vs_reference(memmap_dir, case_name, reduction, log_probs):
    case = NLL_CASES[case_name]
    for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=LOSS_LAYOUTS):
        if log_probs:
            x = ref.log_softmax(x)
        n, c = x.shape
        target, kw = case_arguments(case, desc, n, c)
        msg = f"nll_loss {desc} {case_name} {reduction} log_probs={log_probs}"
        before = snapshot(x, target, kw.get("class_weight"), kw.get("sample_weight"))
        loss = fastloss.nll_loss(x, target, reduction=reduction, **kw)
        both = fastloss.nll_loss(x, target, reduction=reduction, return_grad=True, **kw)
        want = ref.nll_loss(x, target, reduction=reduction, return_grad=True, **kw)
        scale = _nll_scale(x, target, kw, reduction)
        if scale == "order-dependent":
            check_result(both[1], want[1], x.dtype, msg + " [grad]")
        else:
            check_result(both, want, x.dtype, msg, scale=scale)
        assert_identical(loss, both[0], msg + " (return_grad changed the loss)")
        assert_unchanged(before, [x, target, kw.get("class_weight"), kw.get("sample_weight")],
                         msg)


@pytest.mark.parametrize("tdtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                    np.uint32, np.int64, np.uint64, np.intp])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_any_integer_target_dtype(name, tdtype):
    x = np.random.default_rng(0).standard_normal((40, 6))
    y = labels_for("tdtype", 40, 6).astype(tdtype)
    signed = np.dtype(tdtype).kind == "i"
    kw = dict(ignore_index=-3) if signed else dict(ignore_index=4)
    if signed:
        y[::5] = -3
    for reduction in REDUCTIONS:
        got = getattr(fastloss, name)(x, y, reduction=reduction, return_grad=True, **kw)
        want = getattr(ref, name)(x, y.astype(np.int64), reduction=reduction, return_grad=True,
                                  **kw)
        check_result(got, want, x.dtype, f"{name} target {np.dtype(tdtype)} {reduction}")


# ---------------------------------------------------------------------------
# temperature with logits near the float max: "everything is computed on x / T"
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCS[:4])
def test_temperature_with_extreme_logits_above_one(name, dtype):
    # T > 1: x / T is finite and so is every x_j / T - max(x / T); the result must
    # not overflow through an unscaled intermediate such as x_j - max(x).
    big = extreme_value(dtype)
    x = np.array([[big, -big, 0.0], [-big, 1.0, big], [2.0, 1.0, -big]], dtype=dtype)
    for T in (2.0, 4.0):
        if name in ROWWISE:
            got = getattr(fastloss, name)(x, temperature=T)
            want = getattr(ref, name)(x, temperature=T)
            check_result(got, want, dtype, f"{name} T={T}")
            assert np.isfinite(want).all()
            continue
        for target, kw in ((np.array([1, 0, 2]), {}),
                           (np.array([1, 0, 2]), dict(label_smoothing=0.1)),
                           (np.full((3, 3), 1 / 3), dict(class_weight=[1.0, 0.0, 1.0])),
                           (np.eye(3)[[0, 2, 1]], {})):
            for reduction in REDUCTIONS:
                got = fastloss.cross_entropy(x, target, temperature=T, reduction=reduction,
                                             return_grad=True, **kw)
                want = ref.cross_entropy(x, target, temperature=T, reduction=reduction,
                                         return_grad=True, **kw)
                check_result(got, want, dtype, f"T={T} {target.tolist()} {kw} {reduction}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case_name", ["temperature", "temperature_small", "everything",
                                       "prob_everything"])
def test_temperature_with_extreme_logits_hostile(memmap_dir, case_name, reduction):
    # the hostile kinds left out of the generic tests for T != 1; with T < 1 a
    # row where x / T overflows to +inf is a row whose max is +inf: all nan.
    case = CE_CASES[case_name]
    for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=("C",), kinds=OVERFLOW_KINDS):
        n, c = x.shape
        target, kw = case_arguments(case, desc, n, c)
        got = fastloss.cross_entropy(x, target, reduction=reduction, return_grad=True, **kw)
        want = ref.cross_entropy(x, target, reduction=reduction, return_grad=True, **kw)
        check_result(got, want, x.dtype, f"{desc} {case_name} {reduction}")
    for name in ROWWISE:
        for desc, x in hostile_arrays(tmpdir=memmap_dir, layouts=("C",), kinds=OVERFLOW_KINDS):
            T = case["T"]
            want = getattr(ref, name)(x, temperature=T)
            check_result(getattr(fastloss, name)(x, temperature=T), want, x.dtype,
                         f"{name} {desc} T={T}", scale=_scaled_logit_scale(x, T, want))


def _scaled_logit_scale(x, T, want):
    """Error scale of x / T - max(x / T) - lse: each of x / T and its max is
    rounded in x's dtype (by the kernel as x * (1/T), by the oracle as x / T),
    so the error is relative to the larger of |result| and the row's largest
    finite |x / T|, not to the result alone (cancellation)."""
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.abs(x / x.dtype.type(T)).astype(np.float64)
    z[~np.isfinite(z)] = 0.0
    row = z.max(axis=1, keepdims=True) if z.size else z
    want = np.abs(np.asarray(want, dtype=np.float64))
    return np.maximum(np.maximum(want, 1.0), row if want.ndim == 2 else row[:, 0])


# ---------------------------------------------------------------------------
# nan / inf stay in their rows
# ---------------------------------------------------------------------------

def _poisoned(dtype):
    rng = np.random.default_rng(42)
    x = rng.standard_normal((40, 7)).astype(dtype)
    x[3, 2] = np.nan
    x[7, 0] = np.inf
    x[11] = -np.inf
    x[15, :] = np.nan
    x[20, 4] = -np.inf            # a -inf entry: the row is still a valid row
    return x, [3, 7, 11, 15]


@pytest.mark.parametrize("n_cols", [7, 100, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_sums_keep_nan_of_either_sign_and_tiny_exps(dtype, n_cols):
    # The AVX-512 kernels sum float exps as rescaled bit patterns (_rowops.h):
    # a nan must still make its row nan, also when nans of both signs meet in
    # one row, and exps below float's normal range must still be summed.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, n_cols)).astype(dtype)
    x[2, 1] = np.nan
    x[5, 0], x[5, n_cols - 1] = np.nan, -np.nan
    x[5 + 16, :3] = np.copysign(np.nan, -1), np.nan, -np.nan   # the other half of a tile
    x[9, :] = -100.0                   # exp(-100 - 0) is subnormal in float32
    x[9, 3] = 0.0
    x[30, :] = -np.inf
    x[30, 4] = 1.0
    bad = [2, 5, 21]
    good = np.setdiff1d(np.arange(40), bad)
    y = np.arange(40) % n_cols
    y[9], y[30] = 3, 4
    loss = fastloss.cross_entropy(x, y, reduction="none")
    lse = fastloss.logsumexp(x)
    assert np.isnan(loss[bad]).all() and np.isnan(lse[bad]).all()
    rtol = RTOL[np.dtype(dtype)]
    assert_close(loss[good], ref.cross_entropy(x[good], y[good], reduction="none"), rtol)
    assert_close(lse[good], ref.logsumexp(x[good]), rtol)
    # row 9's loss is log(1 + (n_cols - 1) exp(-100)): tiny but not 0
    want_9 = (n_cols - 1) * np.exp(-100.0)
    np.testing.assert_allclose(loss[9], want_9, rtol=0.05 if dtype == np.float32 else 1e-12)
    assert loss[30] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCS)
def test_nan_and_inf_stay_in_their_rows(name, dtype):
    x, bad = _poisoned(dtype)
    good = np.setdiff1d(np.arange(x.shape[0]), bad)
    y = labels_for("poison", x.shape[0], x.shape[1])
    y[20] = (4 + 1) % x.shape[1]  # not the -inf column
    rtol = RTOL[np.dtype(dtype)]
    func = getattr(fastloss, name)
    if name in ROWWISE:
        got = func(x)
        want_good = getattr(ref, name)(x[good])      # computed without the bad rows at all
        assert_close(got[good], want_good, rtol, name)
        if name != "logsumexp":
            assert np.isnan(got[bad]).all()
        return
    x_in = x if name == "cross_entropy" else ref.log_softmax(x)
    for kw in (dict(), dict(class_weight=weights_for("p", 7, zeros=False), label_smoothing=0.1)):
        if name == "nll_loss":
            kw.pop("label_smoothing", None)
        loss, grad = func(x_in, y, reduction="none", return_grad=True, **kw)
        want_loss, want_grad = getattr(ref, name)(x_in[good], y[good], reduction="none",
                                                  return_grad=True, **kw)
        assert_close(loss[good], want_loss, rtol, name)
        assert_close(grad[good], want_grad, rtol, name)
        assert np.isfinite(grad[good]).all()
        # a -inf entry (row 20) makes the smoothing term, hence the loss, +inf
        finite_rows = good if "label_smoothing" not in kw else np.setdiff1d(good, [20])
        assert np.isfinite(loss[finite_rows]).all()
        if name == "cross_entropy":
            assert np.isnan(loss[bad]).all() and np.isnan(grad[bad]).all()
        for reduction in ("mean", "sum"):
            assert np.isnan(func(x_in, y, reduction=reduction, **kw))
    # the same bad rows, ignored, poison nothing
    if name == "cross_entropy":
        y_ign = y.copy()
        y_ign[bad] = -100
        for reduction in REDUCTIONS:
            loss, grad = func(x, y_ign, reduction=reduction, return_grad=True,
                              label_smoothing=0.2)
            assert np.isfinite(grad).all() and (grad[bad] == 0).all()
            if reduction == "none":
                assert (loss[bad] == 0).all()
                assert np.isfinite(np.delete(loss, 20)).all()  # row 20: -inf entry, smoothed
            want = ref.cross_entropy(x, y_ign, reduction=reduction, return_grad=True,
                                     label_smoothing=0.2)
            check_result((loss, grad), want, dtype, f"ignored bad rows {reduction}")


# ---------------------------------------------------------------------------
# gradients vs central finite differences of the fast loss
# ---------------------------------------------------------------------------

FD_CASES = ["plain", "class_weight", "sample_weight", "ignore", "smoothing_cw_ignore",
            "temperature_small", "everything", "prob", "prob_everything"]


def _numerical_grad(f, x, h=1e-6):
    g = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case_name", FD_CASES + ["nll"])
def test_gradient_matches_finite_differences(case_name, reduction):
    n, c = 7, 5
    x = np.random.default_rng(5).standard_normal((n, c)) * 2.0
    if case_name == "nll":
        func = fastloss.nll_loss
        target, kw = case_arguments(CE_CASES["everything"], "fd", n, c)
        kw.pop("label_smoothing")
        kw.pop("temperature")
    else:
        func = fastloss.cross_entropy
        target, kw = case_arguments(CE_CASES[case_name], "fd", n, c)
    kw["reduction"] = reduction
    _, grad = func(x, target, return_grad=True, **kw)
    num = _numerical_grad(lambda z: float(np.sum(func(z, target, **kw))), x)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_of_none_is_gradient_of_its_sum(dtype):
    x = np.random.default_rng(9).standard_normal((30, 6)).astype(dtype)
    y = labels_for("sum", 30, 6, ignore_index=-100)
    kw = dict(class_weight=weights_for("c", 6), sample_weight=weights_for("s", 30),
              label_smoothing=0.1, temperature=1.3)
    _, g_none = fastloss.cross_entropy(x, y, reduction="none", return_grad=True, **kw)
    _, g_sum = fastloss.cross_entropy(x, y, reduction="sum", return_grad=True, **kw)
    assert_identical(g_none, g_sum)


# ---------------------------------------------------------------------------
# out= / grad_out=
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCS)
def test_out_and_grad_out_share_memory(memmap_dir, name, dtype, layout):
    for desc, x in hostile_arrays(dtypes=(dtype,), layouts=(layout,), shapes=((37, 13), (0, 5)),
                                  kinds=("normal", "mix"), tmpdir=memmap_dir):
        func = getattr(fastloss, name)
        n, c = x.shape
        if name in ROWWISE:
            plain = func(x, temperature=1.5)
            buf = np.full(plain.shape, 7.0, dtype=dtype)
            got = func(x, temperature=1.5, out=buf)
            assert got is buf or np.shares_memory(got, buf), desc
            assert got.shape == buf.shape, desc
            assert_identical(got, plain, desc)
            continue
        target, kw = case_arguments(CE_CASES["ignore"], desc, n, c)
        for reduction in REDUCTIONS:
            plain = func(x, target, reduction=reduction, return_grad=True, **kw)
            gbuf = np.full((n, c), 7.0, dtype=dtype)
            if reduction == "none":
                lbuf = np.full(n, 7.0, dtype=dtype)
                got = func(x, target, reduction=reduction, return_grad=True, out=lbuf,
                           grad_out=gbuf, **kw)
                assert got[0] is lbuf or np.shares_memory(got[0], lbuf), desc
                assert got[0].shape == (n,)
                only_out = func(x, target, reduction=reduction, out=np.full(n, 7.0, dtype),
                                **kw)
                assert_identical(only_out, plain[0], desc)
            else:
                got = func(x, target, reduction=reduction, return_grad=True, grad_out=gbuf,
                           **kw)
            assert got[1] is gbuf or np.shares_memory(got[1], gbuf), desc
            assert got[1].shape == (n, c)
            assert_identical(got, plain, f"{desc} {reduction}")


# ---------------------------------------------------------------------------
# determinism across thread counts
# ---------------------------------------------------------------------------

def _big(shape, dtype):
    rng = np.random.default_rng(shape[0])
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    x[5, 1] = np.nan
    x[17] = -np.inf
    x[shape[0] // 2, 0] = np.inf
    x[shape[0] - 3, 2] = -np.inf
    return x


def _all_calls(x, threads):
    """Every function and option set on x, for one n_threads."""
    n, c = x.shape
    y = labels_for(f"det{n}", n, c, ignore_index=-100)
    probs = probabilities_for(f"det{n}", n, c, dtype=x.dtype)
    cw, sw = weights_for("dcw", c), weights_for("dsw", n)
    results = {}
    for name in ROWWISE:
        results[name] = getattr(fastloss, name)(x, temperature=1.3, n_threads=threads)
    lp = results["log_softmax"]
    for reduction in REDUCTIONS:
        results["ce", reduction] = fastloss.cross_entropy(
            x, y, reduction=reduction, return_grad=True, n_threads=threads)
        results["ce-all", reduction] = fastloss.cross_entropy(
            x, y, class_weight=cw, sample_weight=sw, label_smoothing=0.1, temperature=0.8,
            reduction=reduction, return_grad=True, n_threads=threads)
        results["ce-loss-only", reduction] = fastloss.cross_entropy(
            x, y, class_weight=cw, reduction=reduction, n_threads=threads)
        results["prob", reduction] = fastloss.cross_entropy(
            x, probs, class_weight=cw, sample_weight=sw, label_smoothing=0.1,
            reduction=reduction, return_grad=True, n_threads=threads)
        results["nll", reduction] = fastloss.nll_loss(
            lp, y, class_weight=cw, sample_weight=sw, reduction=reduction, return_grad=True,
            n_threads=threads)
    return results


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3000, 50), (50000, 10)])
def test_results_bitwise_identical_for_every_n_threads(shape, dtype):
    x = _big(shape, dtype)
    if fastloss.openmp_enabled():  # the inputs are big enough to really run in parallel
        from fastloss._threads import resolve_n_threads
        assert resolve_n_threads(2, x.size) == 2
    one = _all_calls(x, 1)
    for threads in (2, 3, None, -1):
        other = _all_calls(x, threads)
        for key in one:
            assert_identical(other[key], one[key], f"{key} n_threads={threads} vs 1")
    # and the parallel result is the right one, the nan/inf rows being the only non-finite rows
    loss, grad = one["ce-all", "none"]
    want = ref.cross_entropy(x, labels_for(f"det{shape[0]}", *shape, ignore_index=-100),
                             class_weight=weights_for("dcw", shape[1]),
                             sample_weight=weights_for("dsw", shape[0]), label_smoothing=0.1,
                             temperature=0.8, reduction="none", return_grad=True)
    check_result((loss, grad), want, dtype, "parallel vs reference")


# ---------------------------------------------------------------------------
# semantic rules
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("prob", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_sample_weight_is_a_row_factor(name, dtype, prob):
    if prob and name == "nll_loss":
        pytest.skip("nll_loss takes class indices only")
    func = getattr(fastloss, name)
    n, c = 33, 5
    x = np.random.default_rng(1).standard_normal((n, c)).astype(dtype)
    if name == "nll_loss":
        x = ref.log_softmax(x)
    target = probabilities_for("sw", n, c) if prob else labels_for("sw", n, c)
    sw = weights_for("sw", n)
    rtol = RTOL[np.dtype(dtype)]
    base = func(x, target, reduction="none").astype(np.float64)
    assert_close(func(x, target, sample_weight=sw, reduction="none"), sw * base, rtol)
    assert_close(func(x, target, sample_weight=sw, reduction="sum"), np.sum(sw * base), rtol)
    assert_close(func(x, target, sample_weight=sw), np.average(base, weights=sw), rtol)
    # weight 2 == the row twice
    sw2 = np.ones(n)
    sw2[4] = 2.0
    twice = np.vstack([x, x[4:5]])
    t2 = np.concatenate([target, target[4:5]])
    assert_close(func(x, target, sample_weight=sw2), func(twice, t2), rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_weight_mean_is_weighted_average(name, dtype):
    func = getattr(fastloss, name)
    n, c = 31, 6
    x = np.random.default_rng(2).standard_normal((n, c)).astype(dtype)
    y = labels_for("cwm", n, c, ignore_index=-100)
    w = weights_for("cwm", c)
    keep = y != -100
    plain = func(x, y, reduction="none").astype(np.float64)
    wy = w[y[keep]]
    rtol = RTOL[np.dtype(dtype)]
    assert_close(func(x, y, class_weight=w), np.sum(wy * plain[keep]) / np.sum(wy), rtol)
    assert_close(func(x, y, class_weight=w, reduction="sum"), np.sum(wy * plain[keep]), rtol)
    assert (func(x, y, class_weight=w, reduction="none")[~keep] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_all_rows_ignored(name, dtype):
    func = getattr(fastloss, name)
    x = np.random.default_rng(3).standard_normal((9, 4)).astype(dtype)
    x[2] = np.nan
    y = np.full(9, -100)
    kw = dict(label_smoothing=0.3) if name == "cross_entropy" else {}
    loss, grad = func(x, y, return_grad=True, **kw)
    assert type(loss) is float and np.isnan(loss)
    assert grad.dtype == dtype and (grad == 0).all()
    loss, grad = func(x, y, reduction="sum", return_grad=True, **kw)
    assert loss == 0.0 and (grad == 0).all()
    loss, grad = func(x, y, reduction="none", return_grad=True, **kw)
    assert (loss == 0).all() and (grad == 0).all()


@pytest.mark.parametrize("prob", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_empty_input(name, dtype, prob):
    if prob and name == "nll_loss":
        pytest.skip("nll_loss takes class indices only")
    func = getattr(fastloss, name)
    x = np.empty((0, 4), dtype=dtype)
    t = np.empty((0, 4)) if prob else np.empty(0, dtype=np.int64)
    loss, grad = func(x, t, return_grad=True)
    assert type(loss) is float and np.isnan(loss)
    assert grad.shape == (0, 4) and grad.dtype == dtype
    loss = func(x, t, reduction="sum")
    assert type(loss) is float and loss == 0.0
    loss = func(x, t, reduction="none")
    assert loss.shape == (0,) and loss.dtype == dtype
    for rowwise in ROWWISE:
        r = getattr(fastloss, rowwise)(x)
        assert r.dtype == dtype and r.shape == ((0,) if rowwise == "logsumexp" else (0, 4))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_zero_total_weight_mean_is_nan(name):
    # kept rows whose weights are all 0: "mean" is 0/0 = nan, with nan gradient
    # rows (torch); ignored rows keep a zero gradient.
    func = getattr(fastloss, name)
    x = np.random.default_rng(4).standard_normal((5, 3))
    y = np.array([0, 0, -100, 1, 0])
    for kw in (dict(class_weight=[0.0, 0.0, 1.0]), dict(sample_weight=[0.0] * 5)):
        loss, grad = func(x, y, return_grad=True, **kw)
        want = getattr(ref, name)(x, y, return_grad=True, **kw)
        check_result((loss, grad), want, np.float64, f"{name} {kw}")
        assert np.isnan(loss) and (grad[2] == 0).all()
    if name == "cross_entropy":  # probability targets, sample weights all 0
        t = probabilities_for("zero", 5, 3)
        got = func(x, t, sample_weight=np.zeros(5), return_grad=True)
        want = ref.cross_entropy(x, t, sample_weight=np.zeros(5), return_grad=True)
        check_result(got, want, np.float64, "prob targets, zero sample weights")


# ---------------------------------------------------------------------------
# torch, when importable
# ---------------------------------------------------------------------------

def _torch_loss_grad(fn, x, target, kw, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xt = torch.tensor(np.asarray(x), requires_grad=True)
    dtype = np.asarray(x).dtype
    tkw = dict(reduction=reduction, ignore_index=kw.get("ignore_index", -100))
    if "class_weight" in kw:
        tkw["weight"] = torch.tensor(np.asarray(kw["class_weight"], dtype=dtype))
    if fn == "cross_entropy":
        tkw["label_smoothing"] = kw.get("label_smoothing", 0.0)
        t = torch.tensor(target.astype(dtype) if target.ndim == 2 else target)
        loss = F.cross_entropy(xt / kw.get("temperature", 1.0), t, **tkw)
    else:
        loss = F.nll_loss(xt, torch.tensor(target), **tkw)
    loss.sum().backward()
    value = loss.detach().numpy().astype(np.float64)
    return (value if reduction == "none" else float(value)), xt.grad.numpy()


TORCH_CASES = ["plain", "class_weight", "ignore", "ignore_valid_class", "smoothing",
               "smoothing_cw_ignore", "smoothing_one", "temperature_small", "prob",
               "prob_smoothing_cw"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case_name", TORCH_CASES + ["nll", "nll_cw_ignore"])
def test_against_torch(case_name, reduction, dtype):
    n, c = 64, 9
    x = np.random.default_rng(8).standard_normal((n, c)).astype(dtype) * 3
    if case_name.startswith("nll"):
        fn = "nll_loss"
        x = ref.log_softmax(x)
        case = dict(cw=True, ignore=-100) if case_name == "nll_cw_ignore" else {}
    else:
        fn = "cross_entropy"
        case = (dict(prob=True, eps=0.2, cw=True) if case_name == "prob_smoothing_cw"
                else CE_CASES[case_name])
    target, kw = case_arguments(case, "torch" + case_name, n, c)
    got = getattr(fastloss, fn)(x, target, reduction=reduction, return_grad=True, **kw)
    want = _torch_loss_grad(fn, x, target, kw, reduction)
    check_result(got, want, dtype, f"{fn} vs torch {case_name} {reduction}")


# ---------------------------------------------------------------------------
# the parallel target scan (blocks of 65536 rows)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_first_bad_label_found_across_scan_blocks(name):
    n = 200_000   # four scan blocks
    x = np.zeros((n, 3))
    target = np.zeros(n, dtype=np.int64)
    target[190_000] = 7        # a later block's bad label must not win
    target[150_000] = -5
    target[100] = -100         # ignore_index: valid
    for threads in (1, 2):
        with pytest.raises(ValueError, match=r"target\[150000\] = -5 is not a class index"):
            getattr(fastloss, name)(x, target, n_threads=threads)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_denominator_across_scan_blocks(name, weighted):
    # "mean" divides by the scan's weight sum: check it against NumPy on
    # several blocks, with ignored rows, and for every thread count
    n, c = 200_003, 4
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, c))
    target = rng.integers(0, c, n)
    target[rng.random(n) < 0.1] = -100
    cw = rng.uniform(0.5, 2, c) if weighted else None
    sw = rng.uniform(0.5, 2, n) if weighted else None
    f = getattr(fastloss, name)
    per_row = f(x, target, class_weight=cw, sample_weight=sw, reduction="none")
    kept = target != -100
    weight = (sw if weighted else np.ones(n))[kept] * (cw[target[kept]] if weighted else 1.0)
    want = per_row.sum() / weight.sum()
    one = f(x, target, class_weight=cw, sample_weight=sw, n_threads=1)
    np.testing.assert_allclose(one, want, rtol=1e-12)
    assert f(x, target, class_weight=cw, sample_weight=sw, n_threads=2) == one
