"""fastloss.estimators: loss_function against a NumPy objective and finite
differences; SoftmaxRegression against scikit-learn's LogisticRegression
(objective, accuracy), scikit-learn's check_estimator, and a run without
scikit-learn."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastloss
from fastloss import _reference as ref
from fastloss.datasets import make_blobs_dataset
from fastloss.estimators import (ConvergenceWarning, SoftmaxRegression, _objective_at,
                                 loss_function)

pytest.importorskip("scipy")


def small_problem(n=120, n_features=5, n_classes=4, seed=0):
    data = make_blobs_dataset(n_samples=n, n_features=n_features, n_classes=n_classes,
                              seed=seed, test_fraction=0.2)
    return data.X_train, data.y_train


def numpy_objective(name, X, y, coef, intercept, l2, sw, **kw):
    """The objective from the NumPy reference losses, written out."""
    z = X @ coef + (intercept if intercept is not None else 0.0)
    if name == "cross_entropy":
        loss = ref.cross_entropy(z, y, sample_weight=sw, **kw)
    else:
        loss = getattr(ref, name)(z, y, sample_weight=sw, **kw)
    return loss + 0.5 * l2 * float(np.sum(coef ** 2))


SCALAR_CASES = [
    ("binary_cross_entropy_with_logits", lambda y: (y % 2).astype(float), {}),
    ("logistic_loss", lambda y: np.where(y % 2, 1.0, -1.0), {}),
    ("exponential_loss", lambda y: np.where(y % 2, 1.0, -1.0), {}),
    ("mse_loss", lambda y: y.astype(float), {}),
    ("huber_loss", lambda y: y.astype(float), {"delta": 0.7}),
    ("smooth_l1_loss", lambda y: y.astype(float), {"beta": 0.5}),
]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("case", ["cross_entropy"] + [c[0] for c in SCALAR_CASES])
def test_loss_function_value_and_gradient(case, fit_intercept):
    X, y = small_problem()
    rng = np.random.default_rng(1)
    sw = rng.random(len(y)) + 0.1
    if case == "cross_entropy":
        target, kw, n_out = y, {"label_smoothing": 0.1}, 4
        fun = loss_function(case, X, target, n_classes=4, fit_intercept=fit_intercept, l2=0.3,
                            sample_weight=sw, chunk_size=17, **kw)
    else:
        make_target, kw = next((t, k) for n, t, k in SCALAR_CASES if n == case)
        target, n_out = make_target(y), 1
        fun = loss_function(case, X, target, fit_intercept=fit_intercept, l2=0.3,
                            sample_weight=sw, **kw)
    params = rng.standard_normal(fun.n_params) * 0.3
    loss, grad = fun(params)
    coef, intercept = fun.unpack(params)
    b = None if intercept is None else (intercept if n_out > 1 else intercept[0])
    want = numpy_objective(case, X, target, coef, b, 0.3, sw, **kw)
    assert abs(loss - want) <= 1e-12 * max(1.0, abs(want))
    assert grad.shape == (fun.n_params,) and grad.dtype == np.float64
    h = 1e-6
    for k in range(0, fun.n_params, max(1, fun.n_params // 12)):
        e = np.zeros(fun.n_params)
        e[k] = h
        fd = (fun(params + e)[0] - fun(params - e)[0]) / (2 * h)
        assert abs(fd - grad[k]) <= 1e-6 * max(1.0, abs(fd)), (k, fd, grad[k])


def test_loss_function_float32_and_errors():
    X, y = small_problem()
    fun32 = loss_function("cross_entropy", X.astype(np.float32), y)
    fun64 = loss_function("cross_entropy", X, y)
    p = np.linspace(-0.5, 0.5, fun64.n_params)
    assert abs(fun32(p)[0] - fun64(p)[0]) < 1e-5
    with pytest.raises(ValueError, match="name must be one of"):
        loss_function("softmax", X, y)
    with pytest.raises(TypeError, match="X must be a 2-D float32 or float64 ndarray"):
        loss_function("cross_entropy", X.tolist(), y)
    with pytest.raises(ValueError, match="l2 must be finite and >= 0"):
        loss_function("cross_entropy", X, y, l2=-1.0)
    with pytest.raises(ValueError, match="n_classes must be a positive int"):
        loss_function("cross_entropy", X, y, n_classes=0)
    with pytest.raises(ValueError, match="n_classes is only used"):
        loss_function("mse_loss", X, y.astype(float), n_classes=3)
    with pytest.raises(ValueError, match=r"params must have shape \(24,\)"):
        fun64(np.zeros(3))


def digits_scaled():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.mark.parametrize("C", [1.0, 0.05])
@pytest.mark.parametrize("n_classes", [10, 2])
def test_matches_sklearn_logistic_regression_on_digits(C, n_classes):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = digits_scaled()
    if n_classes == 2:
        keep = y < 2
        X, y = X[keep], np.where(y[keep] == 1, "one", "zero")
    ours = SoftmaxRegression(C=C, tol=1e-6).fit(X, y)
    theirs = linear_model.LogisticRegression(C=C, tol=1e-6, max_iter=1000).fit(X, y)
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.intercept_.shape == theirs.intercept_.shape
    assert list(ours.classes_) == list(theirs.classes_)
    theirs_obj = _objective_at(X, y, theirs.coef_, theirs.intercept_, C)  # at its solution
    assert abs(ours.objective_ - theirs_obj) <= 1e-6 * abs(theirs_obj)
    assert round(ours.score(X, y), 3) == round(theirs.score(X, y), 3)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3)


def test_matches_sklearn_with_sample_and_class_weights():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = digits_scaled()
    X, y = X[:600], y[:600]
    sw = np.random.default_rng(0).random(len(y)) * 2
    for class_weight in ["balanced", {0: 3.0, 5: 0.5}]:
        ours = SoftmaxRegression(C=0.5, class_weight=class_weight).fit(X, y, sample_weight=sw)
        theirs = linear_model.LogisticRegression(C=0.5, tol=1e-6, max_iter=1000,
                                                 class_weight=class_weight)
        theirs.fit(X, y, sample_weight=sw)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3)
        assert (ours.predict(X) == theirs.predict(X)).mean() > 0.99


def test_synthetic_parity_with_sklearn():
    """A smaller copy of the benchmark's 200 000 x 100 x 20 problem."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    data = make_blobs_dataset(n_samples=12000, n_features=30, n_classes=20, center_scale=0.3,
                              test_fraction=0.2, seed=1)
    ours = SoftmaxRegression(C=1.0).fit(data.X_train, data.y_train)
    theirs = linear_model.LogisticRegression(C=1.0, tol=1e-6, max_iter=1000)
    theirs.fit(data.X_train, data.y_train)
    theirs_obj = _objective_at(data.X_train, data.y_train, theirs.coef_, theirs.intercept_,
                               1.0)
    assert abs(ours.objective_ - theirs_obj) <= 1e-6 * abs(theirs_obj)
    assert round(ours.score(data.X_test, data.y_test), 3) == \
        round(theirs.score(data.X_test, data.y_test), 3)


def test_labels_predictions_and_probabilities():
    X, y = small_problem(n=200, n_classes=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = SoftmaxRegression(C=5.0).fit(X, labels)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X).tolist()) <= {"cat", "dog", "emu"}
    scores = clf.decision_function(X)
    np.testing.assert_allclose(scores, X @ clf.coef_.T + clf.intercept_)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, ref.softmax(scores), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-10)
    assert (clf.predict(X) == clf.classes_[np.argmax(scores, axis=1)]).all()
    assert clf.n_iter_.shape == (1,) and clf.n_iter_[0] >= 1
    # the same fit with integer labels with gaps gives the same model
    gapped = SoftmaxRegression(C=5.0).fit(X, np.array([-7, 3, 40])[y])
    np.testing.assert_array_equal(gapped.coef_, clf.coef_)


def test_binary_model_and_label_smoothing():
    X, y = small_problem(n=200, n_classes=2)
    clf = SoftmaxRegression(C=2.0, label_smoothing=0.2).fit(X, y)
    assert clf.coef_.shape == (1, X.shape[1]) and clf.intercept_.shape == (1,)
    s = clf.decision_function(X)
    assert s.shape == (len(y),)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-s)), rtol=1e-12)
    # binary smoothing is the two-class softmax smoothing: objective at the
    # solution equals cross_entropy(label_smoothing=0.2) of the logits [0, s]
    two_class = np.column_stack([np.zeros_like(s), s])
    ce = ref.cross_entropy(two_class, y, label_smoothing=0.2)
    penalty = 0.5 * np.sum(clf.coef_ ** 2) / (2.0 * len(y))
    assert abs(clf.objective_ - (ce + penalty)) <= 1e-12
    plain = SoftmaxRegression(C=2.0).fit(X, y)
    assert np.linalg.norm(clf.coef_) < np.linalg.norm(plain.coef_)  # smoothing shrinks


def test_fit_is_independent_of_n_threads():
    X, y = small_problem(n=3000, n_features=8, n_classes=6)
    fits = [SoftmaxRegression(n_threads=t).fit(X, y) for t in (1, 2)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert fits[0].n_iter_[0] == fits[1].n_iter_[0]


def test_verbose_progress_and_convergence_warning(capsys):
    X, y = small_problem()
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SoftmaxRegression(max_iter=2, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("iter     1   objective ")
    assert "|grad|_inf" in lines[1]


def test_fit_does_not_modify_inputs():
    X, y = small_problem()
    sw = np.ones(len(y))
    copies = X.copy(), y.copy(), sw.copy()
    SoftmaxRegression().fit(X, y, sample_weight=sw)
    for a, b in zip((X, y, sw), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("params, fit_args, exc, match", [
    (dict(C=0.0), {}, ValueError, "C must be a positive finite number"),
    (dict(C="1"), {}, ValueError, "C must be a positive"),
    (dict(max_iter=-1), {}, ValueError, "max_iter must be a non-negative int"),
    (dict(tol=-1e-3), {}, ValueError, "tol must be a non-negative"),
    (dict(label_smoothing=1.5), {}, ValueError, "label_smoothing must be in"),
    (dict(class_weight="equal"), {}, ValueError, "class_weight must be None, 'balanced'"),
    (dict(class_weight={9: 1.0}), {}, ValueError, r"class_weight has labels \[9\]"),
    (dict(class_weight={0: -1.0}), {}, ValueError, r"class_weight\[0\] = -1.0"),
    ({}, dict(y="one"), ValueError, "only one class"),
    ({}, dict(y="float"), ValueError, "Unknown label type: continuous"),
    ({}, dict(X="nan"), ValueError, r"Input X contains NaN or infinity: X\[3, 1\]"),
    ({}, dict(X="1d"), ValueError, "Expected 2D array"),
    ({}, dict(sample_weight="neg"), ValueError, r"sample_weight\[2\] = -1.0"),
    ({}, dict(sample_weight="one class"), ValueError, "at least 2 classes"),
])
def test_fit_errors(params, fit_args, exc, match):
    X, y = small_problem(n=60, n_classes=3)
    sw = None
    if fit_args.get("y") == "one":
        y = np.zeros_like(y)
    elif fit_args.get("y") == "float":
        y = y + 0.5
    if fit_args.get("X") == "nan":
        X = X.copy()
        X[3, 1] = np.nan
    elif fit_args.get("X") == "1d":
        X = X[:, 0]
    if fit_args.get("sample_weight") == "neg":
        sw = np.ones(len(y))
        sw[2] = -1.0
    elif fit_args.get("sample_weight") == "one class":
        sw = (y == 0).astype(float)
    with pytest.raises(exc, match=match):
        SoftmaxRegression(**params).fit(X, y, sample_weight=sw)


def test_predict_errors():
    X, y = small_problem(n=60, n_classes=3)
    with pytest.raises(AttributeError, match="not fitted yet"):
        SoftmaxRegression().predict(X)
    clf = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but SoftmaxRegression is expecting 5"):
        clf.predict(X[:, :4])


def test_sklearn_check_estimator():
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    results = estimator_checks.check_estimator(SoftmaxRegression(), on_fail=None, on_skip=None)
    failed = [(r["check_name"], repr(r["exception"])) for r in results
              if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) > 50


def test_works_without_sklearn():
    """The estimator's fallback base classes, with scikit-learn made unimportable."""
    code = """
import sys
sys.modules["sklearn"] = None
import numpy as np
from fastloss.estimators import SoftmaxRegression, ConvergenceWarning
from fastloss.datasets import make_blobs_dataset
d = make_blobs_dataset(n_samples=300, n_features=4, n_classes=3, center_scale=2.0, seed=0)
clf = SoftmaxRegression(C=2.0)
assert clf.get_params()["C"] == 2.0 and "n_threads" in clf.get_params()
clf.set_params(C=3.0)
assert clf.C == 3.0 and repr(clf).startswith("SoftmaxRegression(C=3.0")
try:
    clf.set_params(alpha=1)
except ValueError as e:
    assert "Invalid parameter 'alpha'" in str(e)
else:
    raise AssertionError("set_params accepted an unknown parameter")
try:
    clf.predict(d.X_test)
except AttributeError as e:
    assert "not fitted" in str(e)
clf.fit(d.X_train, d.y_train)
assert clf.score(d.X_test, d.y_test) > 0.8
assert issubclass(ConvergenceWarning, UserWarning)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_loss_function_single_class_cross_entropy():
    """n_classes=1 keeps a 2-D coef: the loss is 0 (log softmax of one logit)."""
    X, _ = small_problem()
    fun = loss_function("cross_entropy", X, np.zeros(len(X), dtype=int), n_classes=1)
    coef, intercept = fun.unpack(np.arange(fun.n_params, dtype=float))
    assert coef.shape == (X.shape[1], 1) and intercept.shape == (1,)
    loss, grad = fun(np.arange(fun.n_params, dtype=float))
    assert loss == 0.0 and not grad.any()


def test_loss_function_propagates_nan_in_X():
    """A nan feature makes its row's loss nan, as cross_entropy does (fitting
    rejects it earlier: SoftmaxRegression checks X)."""
    X, y = small_problem()
    X = X.copy()
    X[4, 2] = np.nan
    for name, target in [("cross_entropy", y), ("mse_loss", y.astype(float))]:
        fun = loss_function(name, X, target)
        loss, grad = fun(np.full(fun.n_params, 0.1))
        assert np.isnan(loss) and np.isnan(grad).any(), name


class _Frame:
    """The two things scikit-learn reads of a dataframe: columns and __array__."""

    def __init__(self, data, columns):
        self.data, self.columns = np.asarray(data), list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


def test_feature_names_recorded_and_checked():
    data = make_blobs_dataset(n_samples=200, n_features=3, n_classes=3, seed=1)
    X, y = data.X_train, data.y_train
    model = SoftmaxRegression().fit(_Frame(X, ["a", "b", "c"]), y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = model.predict(_Frame(X, ["a", "b", "c"]))
    np.testing.assert_array_equal(same, SoftmaxRegression().fit(X, y).predict(X))
    with pytest.raises(ValueError, match=r"unseen at fit time: \['d'\].*missing: \['c'\]"):
        model.predict(_Frame(X, ["a", "b", "d"]))
    with pytest.raises(ValueError, match="another order"):
        model.predict(_Frame(X, ["b", "a", "c"]))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X)
    # non-string columns are not names; refitting on a plain array drops them
    assert not hasattr(SoftmaxRegression().fit(_Frame(X, [0, 1, 2]), y), "feature_names_in_")
    model.fit(X, y)
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        model.predict(_Frame(X, ["a", "b", "c"]))
    with pytest.raises(TypeError, match=r"\['int', 'str'\] as column name types"):
        SoftmaxRegression().fit(_Frame(X, ["a", 1, "c"]), y)


def test_feature_names_match_sklearn_on_a_dataframe():
    pd = pytest.importorskip("pandas")
    linear_model = pytest.importorskip("sklearn.linear_model")
    data = make_blobs_dataset(n_samples=200, n_features=3, n_classes=3, seed=2)
    frame = pd.DataFrame(data.X_train, columns=["x0", "x1", "x2"])
    ours = SoftmaxRegression().fit(frame, data.y_train)
    theirs = linear_model.LogisticRegression().fit(frame, data.y_train)
    np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    mixed = frame.set_axis(["x0", 1, "x2"], axis=1)
    with pytest.raises(TypeError):
        linear_model.LogisticRegression().fit(mixed, data.y_train)
    with pytest.raises(TypeError):
        SoftmaxRegression().fit(mixed, data.y_train)
