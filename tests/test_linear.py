"""linear_cross_entropy: against the materialised NumPy form (fastloss._reference),
finite differences, determinism, memory and every validation error."""
import tracemalloc

import numpy as np
import pytest

import fastloss
from fastloss import _reference as ref
from checks import assert_close, assert_identical

RTOL = {np.float64: 1e-12, np.float32: 2e-5}


def problem(n=53, n_features=7, n_classes=5, dtype=np.float64, seed=0, proba=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features)).astype(dtype)
    coef = (rng.standard_normal((n_features, n_classes)) * 0.7).astype(dtype)
    intercept = rng.standard_normal(n_classes).astype(dtype)
    if proba:
        t = rng.random((n, n_classes))
        target = (t / t.sum(axis=1, keepdims=True)).astype(dtype)
    else:
        target = rng.integers(0, n_classes, n)
    return X, coef, intercept, target


def compare(got, want, rtol, what):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"{what}[{i}]"
            continue
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype and g.shape == w.shape, f"{what}[{i}]"
        assert_close(g, w, rtol, f"{what}[{i}]")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("chunk_size", [1, 8, None, 1000])
def test_equals_materialised_reference(dtype, proba, reduction, chunk_size):
    X, coef, intercept, target = problem(dtype=dtype, proba=proba)
    rng = np.random.default_rng(1)
    kw = dict(intercept=intercept, class_weight=rng.random(coef.shape[1]) + 0.5,
              sample_weight=rng.random(X.shape[0]), label_smoothing=0.1, reduction=reduction)
    if not proba:
        target = target.copy()
        target[::9] = -100  # ignored rows
    got = fastloss.linear_cross_entropy(X, coef, target, return_grad="all",
                                        chunk_size=chunk_size, **kw)
    want = ref.linear_cross_entropy(X, coef, target, return_grad="all", **kw)
    compare(got, want, RTOL[dtype], f"{dtype.__name__} {reduction}")
    # return_grad=True drops grad_X; False returns the loss alone
    got_true = fastloss.linear_cross_entropy(X, coef, target, return_grad=True,
                                             chunk_size=chunk_size, **kw)
    compare(got_true, (want[0],) + want[2:], RTOL[dtype], "return_grad=True")
    loss_only = fastloss.linear_cross_entropy(X, coef, target, chunk_size=chunk_size, **kw)
    assert_close(loss_only, want[0], RTOL[dtype], "loss only")


def test_without_intercept_and_equal_to_cross_entropy():
    X, coef, _, target = problem(n=300, n_classes=12)
    loss, g_coef, g_int = fastloss.linear_cross_entropy(X, coef, target, return_grad=True,
                                                        chunk_size=64)
    assert g_int is None
    ce_loss, ce_grad = fastloss.cross_entropy(X @ coef, target, return_grad=True)
    assert_close(loss, ce_loss, 1e-13)
    assert_close(g_coef, X.T @ ce_grad, 1e-12)


def test_finite_differences():
    X, coef, intercept, target = problem(n=40, n_features=4, n_classes=3, seed=3)
    sw = np.random.default_rng(2).random(40)

    def f(X_, coef_, b_):
        return fastloss.linear_cross_entropy(X_, coef_, target, intercept=b_, sample_weight=sw,
                                             label_smoothing=0.05, chunk_size=7)

    _, g_X, g_coef, g_b = fastloss.linear_cross_entropy(
        X, coef, target, intercept=intercept, sample_weight=sw, label_smoothing=0.05,
        return_grad="all", chunk_size=7)
    h = 1e-6
    for arr, grad, name in [(coef, g_coef, "coef"), (intercept, g_b, "intercept"),
                            (X, g_X, "X")]:
        for idx in list(np.ndindex(arr.shape))[:25]:
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += h
            minus[idx] -= h
            args_p = {"coef": (X, plus, intercept), "intercept": (X, coef, plus),
                      "X": (plus, coef, intercept)}[name]
            args_m = {"coef": (X, minus, intercept), "intercept": (X, coef, minus),
                      "X": (minus, coef, intercept)}[name]
            fd = (f(*args_p) - f(*args_m)) / (2 * h)
            assert abs(fd - grad[idx]) <= 1e-7 + 1e-6 * abs(fd), (name, idx, fd, grad[idx])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_independent_of_n_threads(dtype):
    X, coef, intercept, target = problem(n=20000, n_features=9, n_classes=30, dtype=dtype)
    results = [fastloss.linear_cross_entropy(X, coef, target, intercept=intercept,
                                             return_grad="all", n_threads=t)
               for t in (1, 2, 3, -1, None)]
    for r in results[1:]:
        assert_identical(results[0], r)


def test_layouts_and_read_only():
    X, coef, intercept, target = problem(n=101)
    want = ref.linear_cross_entropy(X, coef, target, intercept=intercept, return_grad="all")
    big = np.zeros((202, 14))
    big[::2, ::2] = X
    X_ro = X.copy()
    X_ro.flags.writeable = False
    coef_ro = coef.copy()
    coef_ro.flags.writeable = False
    for name, X_in, coef_in in [("fortran", np.asfortranarray(X), np.asfortranarray(coef)),
                                ("strided", big[::2, ::2], coef),
                                ("read-only", X_ro, coef_ro)]:
        got = fastloss.linear_cross_entropy(X_in, coef_in, target, intercept=intercept,
                                            return_grad="all", chunk_size=10)
        compare(got, want, 1e-12, name)


def test_inputs_unchanged():
    X, coef, intercept, target = problem()
    copies = [a.copy() for a in (X, coef, intercept, target)]
    fastloss.linear_cross_entropy(X, coef, target, intercept=intercept, return_grad="all",
                                  chunk_size=5)
    for a, b in zip((X, coef, intercept, target), copies):
        assert_identical(a, b)


def test_empty_and_nonfinite():
    X, coef, intercept, target = problem(n=0)
    assert np.isnan(fastloss.linear_cross_entropy(X, coef, target))
    loss, g_coef, g_b = fastloss.linear_cross_entropy(X, coef, target, intercept=intercept,
                                                      reduction="sum", return_grad=True)
    assert loss == 0.0 and not g_coef.any() and not g_b.any()
    X, coef, intercept, target = problem(n=6)
    X[2, 1] = np.nan
    X[4, 0] = np.inf
    per_row = fastloss.linear_cross_entropy(X, coef, target, reduction="none")
    want = ref.linear_cross_entropy(X, coef, target, reduction="none")
    assert_close(per_row, want, 1e-12)
    assert np.isnan(per_row[2]) and np.isfinite(per_row[[0, 1, 3, 5]]).all()


def test_peak_memory_is_per_chunk_not_per_sample():
    n, n_features, n_classes = 40000, 8, 64
    X, coef, intercept, target = problem(n=n, n_features=n_features, n_classes=n_classes)
    logits_bytes = n * n_classes * 8
    tracemalloc.start()
    try:
        fastloss.linear_cross_entropy(X, coef, target, intercept=intercept, return_grad=True)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        ref.linear_cross_entropy(X, coef, target, intercept=intercept, return_grad=True)
        _, naive_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert naive_peak > logits_bytes  # the check can see an (n, C) array when there is one
    assert peak < logits_bytes / 4, (peak, logits_bytes)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(X=np.ones((3, 2), dtype=np.int64)), TypeError, "X must be float32 or float64"),
    (dict(X=np.ones(3)), ValueError, r"X must be 2-D"),
    (dict(coef=np.ones((3, 4))), ValueError, r"coef must have shape \(n_features, n_classes\)"),
    (dict(coef=np.ones((2, 0))), ValueError, "at least one class column"),
    (dict(coef=np.ones((2, 4), dtype=np.float32)), TypeError, "coef must have X's dtype"),
    (dict(intercept=np.ones(3)), ValueError, r"intercept must have shape \(4,\)"),
    (dict(intercept=np.ones(4, dtype=np.float32)), TypeError, "intercept must have X's dtype"),
    (dict(chunk_size=0), ValueError, "chunk_size must be a positive int"),
    (dict(chunk_size=2.5), TypeError, "chunk_size must be a positive int"),
    (dict(chunk_size=True), TypeError, "chunk_size must be a positive int"),
    (dict(return_grad="some"), ValueError, "return_grad must be True, False or 'all'"),
    (dict(target=np.array([0, 4, 1])), ValueError, r"target\[1\] = 4 is not a class index"),
    (dict(sample_weight=np.array([1.0, -1.0, 1.0])), ValueError, r"sample_weight\[1\]"),
    (dict(reduction="avg"), ValueError, "reduction must be one of"),
    (dict(n_threads=0), ValueError, "n_threads must be a positive int"),
])
def test_validation_errors(kwargs, exc, match):
    args = dict(X=np.ones((3, 2)), coef=np.ones((2, 4)), target=np.array([0, 1, 3]))
    args.update(kwargs)
    X, coef, target = args.pop("X"), args.pop("coef"), args.pop("target")
    with pytest.raises(exc, match=match):
        fastloss.linear_cross_entropy(X, coef, target, **args)


def test_blas_threads_restored_after_the_call():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [(d["filepath"], d["num_threads"]) for d in threadpoolctl.threadpool_info()
              if d["user_api"] == "blas"]
    X, coef, intercept, target = problem(n=5000)
    fastloss.linear_cross_entropy(X, coef, target, return_grad=True, chunk_size=100,
                                  n_threads=2)
    after = [(d["filepath"], d["num_threads"]) for d in threadpoolctl.threadpool_info()
             if d["user_api"] == "blas"]
    assert before == after
