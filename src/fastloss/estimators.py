"""scikit-learn-style estimators on fastloss's fused objectives.

* :func:`loss_function` turns a fastloss loss and a design matrix into
  ``fun(params) -> (loss, grad)`` for ``scipy.optimize.minimize(jac=True)``:
  custom linear estimators in a few lines.
* :class:`SoftmaxRegression` is multinomial logistic regression with
  scikit-learn's ``LogisticRegression(solver="lbfgs")`` objective, fitted by
  L-BFGS-B on :func:`fastloss.linear_cross_entropy`.

scikit-learn is optional: when it is installed the estimator derives from its
``ClassifierMixin``/``BaseEstimator`` (so ``clone``, pipelines, grid search and
``check_estimator`` work); without it a minimal base supplies
``get_params``/``set_params``. Validation is fastloss's own either way.
"""
import inspect
import numbers
import warnings

import numpy as np

from . import _validation as v
from ._core import log_softmax, softmax
from ._elementwise_api import (binary_cross_entropy_with_logits, exponential_loss, huber_loss,
                               l1_loss, logistic_loss, mse_loss, smooth_l1_loss)
from ._linear import linear_cross_entropy, one_blas_thread
from ._multiclass_api import hinge_loss

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
except ImportError:  # scikit-learn is an optional extra
    class BaseEstimator:
        """get_params/set_params from the constructor's signature, as scikit-learn's."""

        @classmethod
        def _get_param_names(cls):
            return sorted(p.name for p in inspect.signature(cls.__init__).parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"Invalid parameter {name!r} for estimator {self!r}. "
                                     f"Valid parameters are: {valid!r}.")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={val!r}" for k, val in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        _estimator_type = "classifier"

    class ConvergenceWarning(UserWarning):
        """The solver stopped at max_iter before meeting tol."""

    class DataConversionWarning(UserWarning):
        """The input's shape or type was changed (e.g. a column-vector y raveled)."""

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before fit."""

__all__ = ["SoftmaxRegression", "loss_function", "LinearObjective", "ConvergenceWarning"]

# Losses of a single linear output z = X @ w + b (target of shape (n_samples,)).
SCALAR_OUTPUT_LOSSES = {
    f.__name__: f for f in (binary_cross_entropy_with_logits, logistic_loss, exponential_loss,
                            mse_loss, l1_loss, huber_loss, smooth_l1_loss, hinge_loss)
}
# Losses of n_classes linear outputs Z = X @ W + b, through linear_cross_entropy.
MULTI_OUTPUT_LOSSES = ("cross_entropy",)


class LinearObjective:
    """``fun(params) -> (loss, grad)`` of a linear model, for scipy.optimize.

    Built by :func:`loss_function`. ``params`` is the flat float64 vector
    ``[coef.ravel(), intercept]`` (coef of shape (n_features, n_classes) in C
    order for "cross_entropy", (n_features,) for the one-output losses);
    :meth:`unpack` splits it.
    The objective is the loss's weighted mean plus ``l2 / 2 * ||coef||²``
    (the intercept is not penalised); grad is its float64 gradient.
    """

    def __init__(self, name, X, target, n_outputs, fit_intercept, l2, sample_weight,
                 chunk_size, n_threads, loss_kwargs):
        self.name, self.X, self.target = name, X, target
        self.n_outputs, self.fit_intercept, self.l2 = n_outputs, fit_intercept, l2
        self.sample_weight, self.chunk_size, self.n_threads = sample_weight, chunk_size, n_threads
        self.loss_kwargs = loss_kwargs
        self.coef_shape = ((X.shape[1], n_outputs) if name in MULTI_OUTPUT_LOSSES
                           else (X.shape[1],))
        self.n_params = int(np.prod(self.coef_shape)) + (n_outputs if fit_intercept else 0)

    def initial_params(self):
        """Zeros: every class equally likely / a zero prediction."""
        return np.zeros(self.n_params)

    def unpack(self, params):
        """``(coef, intercept)`` views of ``params`` (intercept None without one);
        intercept is a length-1 array for one output."""
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},), got {params.shape}")
        n_coef = int(np.prod(self.coef_shape))
        coef = params[:n_coef].reshape(self.coef_shape)
        return coef, (params[n_coef:] if self.fit_intercept else None)

    def __call__(self, params):
        coef, intercept = self.unpack(params)
        dtype = self.X.dtype
        coef_x = coef.astype(dtype, copy=False)
        b = intercept.astype(dtype, copy=False) if intercept is not None else None
        if self.name in MULTI_OUTPUT_LOSSES:
            loss, g_coef, g_b = linear_cross_entropy(
                self.X, coef_x, self.target, intercept=b, sample_weight=self.sample_weight,
                return_grad=True, chunk_size=self.chunk_size, n_threads=self.n_threads,
                **self.loss_kwargs)
        else:
            # BLAS on one thread next to the kernel's OpenMP team, as in
            # linear_cross_entropy (two pools busy-waiting on the same cores)
            with one_blas_thread():
                z = self.X @ coef_x
                if b is not None:
                    z += b[0]
                loss, g_z = SCALAR_OUTPUT_LOSSES[self.name](
                    z, self.target, sample_weight=self.sample_weight, return_grad=True,
                    n_threads=self.n_threads, **self.loss_kwargs)
                g_coef = self.X.T @ g_z
            g_b = np.array([g_z.sum(dtype=np.float64)]) if b is not None else None
        grad = np.empty(self.n_params)
        n_coef = coef.size
        grad[:n_coef] = g_coef.ravel()
        if g_b is not None:
            grad[n_coef:] = g_b
        if self.l2:
            loss += 0.5 * self.l2 * float(coef.ravel() @ coef.ravel())
            grad[:n_coef] += self.l2 * coef.ravel()
        return float(loss), grad


def loss_function(name, X, target, *, n_classes=None, fit_intercept=True, l2=0.0,
                  sample_weight=None, chunk_size=None, n_threads=None, **loss_kwargs):
    r"""The objective of a linear model under a fastloss loss, as ``fun(params)
    -> (loss, grad)`` for ``scipy.optimize.minimize(fun, x0, jac=True)``.

    .. math:: f(W, b) = \frac{\sum_i s_i\, \ell(x_i^\top W + b,\ y_i)}{\sum_i s_i}
              + \frac{l_2}{2}\lVert W\rVert^2

    Parameters
    ----------
    name : str
        ``"cross_entropy"`` (multinomial; ``n_classes`` outputs through
        :func:`fastloss.linear_cross_entropy`, any of its keyword arguments
        allowed in ``loss_kwargs``) or a loss of one output:
        ``"binary_cross_entropy_with_logits"``, ``"logistic_loss"``,
        ``"exponential_loss"``, ``"mse_loss"``, ``"l1_loss"``,
        ``"huber_loss"``, ``"smooth_l1_loss"``, ``"hinge_loss"`` (their
        keyword arguments in ``loss_kwargs``, e.g. ``delta=``).
    X : ndarray of float32 or float64, shape (n_samples, n_features)
        Used as is (not copied); the loss runs in X's dtype.
    target : array_like
        The loss's target: class indices (or probabilities) for
        ``"cross_entropy"``, shape (n_samples,) otherwise.
    n_classes : int, optional
        Outputs of ``"cross_entropy"``; default ``target.max() + 1`` (or
        ``target.shape[1]`` for probabilities).
    fit_intercept : bool, default True
    l2 : float >= 0, default 0.0
        L2 penalty strength on coef.
    sample_weight : array_like, shape (n_samples,), optional
    chunk_size, n_threads
        As in :func:`fastloss.linear_cross_entropy` (chunk_size is only used by
        "cross_entropy"; the one-output losses run their kernel on all of z).

    Returns
    -------
    LinearObjective
        Callable ``fun(params) -> (float, ndarray)``; ``fun.initial_params()``
        gives a zero start, ``fun.unpack(params)`` gives ``(coef, intercept)``.

    Examples
    --------
    Ridge-penalised Huber regression in three lines:

    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> from fastloss.estimators import loss_function
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    >>> fun = loss_function("huber_loss", X, y, l2=1e-6, delta=1.0)
    >>> res = minimize(fun, fun.initial_params(), jac=True, method="L-BFGS-B")
    >>> coef, intercept = fun.unpack(res.x)
    >>> coef.round(3), intercept.round(3)
    (array([ 1. , -2. ,  0.5]), array([0.3]))
    """
    if not isinstance(name, str) or (name not in SCALAR_OUTPUT_LOSSES
                                     and name not in MULTI_OUTPUT_LOSSES):
        raise ValueError(f"name must be one of {MULTI_OUTPUT_LOSSES + tuple(SCALAR_OUTPUT_LOSSES)}"
                         f", got {name!r}")
    if not isinstance(X, np.ndarray) or X.dtype not in v.FLOAT_DTYPES or X.ndim != 2:
        raise TypeError("X must be a 2-D float32 or float64 ndarray, got "
                        + (f"{X.dtype} array of shape {X.shape}" if isinstance(X, np.ndarray)
                           else type(X).__name__))
    l2 = v.real_scalar(l2, "l2")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be finite and >= 0, got {l2!r}")
    fit_intercept = bool(fit_intercept)
    target = np.asarray(target)
    if name in MULTI_OUTPUT_LOSSES:
        if n_classes is None:
            if target.ndim == 2:
                n_classes = target.shape[1]
            else:
                labels = target[target != loss_kwargs.get("ignore_index", -100)]
                n_classes = int(labels.max()) + 1 if labels.size else 1
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) \
                or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
        n_outputs = int(n_classes)
    else:
        if n_classes is not None:
            raise ValueError(f"n_classes is only used with name='cross_entropy', got {n_classes!r}")
        n_outputs = 1
    return LinearObjective(name, X, target, n_outputs, fit_intercept, l2, sample_weight,
                           chunk_size, n_threads, loss_kwargs)


def _feature_names(X):
    """X's column names when it is a dataframe whose columns are all strings
    (as scikit-learn records them), else None; TypeError for a mix of string
    and other names, as scikit-learn."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "__array__"):
        return None
    names = np.asarray(list(columns), dtype=object)
    kinds = sorted({type(name).__name__ for name in names})
    if len(kinds) > 1 and "str" in kinds:
        raise TypeError("Feature names are only supported if all input features have string "
                        f"names, but X has {kinds} as column name types; convert them all "
                        "to str (X.columns = X.columns.astype(str))")
    return names if kinds == ["str"] else None


def _check_X(X, name="X"):
    """2-D finite float array (float64 unless float32/float64 already)."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported, "
                        "pass a dense array (X.toarray())")
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)  # object arrays of numbers too; TypeError otherwise
    if arr.ndim != 2:
        raise ValueError(f"Expected 2D array for {name}, got {arr.ndim}D array of shape "
                         f"{arr.shape} instead. Reshape your data either using "
                         "array.reshape(-1, 1) if your data has a single feature or "
                         "array.reshape(1, -1) if it contains a single sample.")
    if arr.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum "
                         "of 1 is required.")
    if arr.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum "
                         "of 1 is required.")
    finite = np.isfinite(arr)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise ValueError(f"Input {name} contains NaN or infinity: {name}[{i}, {j}] = "
                         f"{arr[i, j]}")
    return arr


def _check_y(y, n_samples):
    if y is None:
        raise ValueError("SoftmaxRegression requires y to be passed, but the target y is None")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; "
                      "it is raveled to shape (n_samples,).", DataConversionWarning,
                      stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"y has {arr.shape[0]} labels but X has {n_samples} rows")
    if arr.dtype.kind in "fc":
        if not np.isfinite(arr).all():
            i = int(np.argmax(~np.isfinite(arr)))
            raise ValueError(f"Input y contains NaN or infinity: y[{i}] = {arr[i]}")
        if arr.dtype.kind == "c" or not np.array_equal(arr, np.round(arr)):
            raise ValueError("Unknown label type: continuous. SoftmaxRegression is a "
                             "classifier: y must hold class labels (ints, strings, ...), "
                             "not continuous values")
    return arr


def _positive(value, name, *, integral=False, allow_zero=False):
    kinds = numbers.Integral if integral else numbers.Real
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    ok = ok and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "int" if integral else "finite number"
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"{what}, got {value!r}")
    return value


def _logistic_objective(X, y_index, n_classes, C, *, sample_weight=None, label_smoothing=0.0,
                        fit_intercept=True, n_threads=None):
    """LogisticRegression(solver="lbfgs")'s objective as a LinearObjective:
    weighted mean loss + ||coef||^2 / (2 C sum(sample_weight)); the binary
    logistic model (smoothed targets (1 - eps) y + eps / 2) for 2 classes,
    multinomial cross-entropy otherwise. y_index holds 0..n_classes-1."""
    sw_sum = float(np.sum(sample_weight)) if sample_weight is not None else float(len(y_index))
    l2 = 1.0 / (C * sw_sum)
    if n_classes == 2:
        target = y_index.astype(np.float64) * (1.0 - label_smoothing) + label_smoothing / 2
        return loss_function("binary_cross_entropy_with_logits", X, target,
                             fit_intercept=fit_intercept, l2=l2, sample_weight=sample_weight,
                             n_threads=n_threads)
    return loss_function("cross_entropy", X, y_index, n_classes=n_classes,
                         fit_intercept=fit_intercept, l2=l2, sample_weight=sample_weight,
                         label_smoothing=label_smoothing, n_threads=n_threads)


def _objective_at(X, y, coef, intercept, C, sample_weight=None):
    """LogisticRegression's objective at a solution given in scikit-learn's
    layout (coef (n_classes, n_features), or (1, n_features) for 2 classes):
    how the benchmarks, the demo and the tests compare solvers."""
    classes, y_index = np.unique(y, return_inverse=True)
    fun = _logistic_objective(np.asarray(X, dtype=np.float64), y_index, len(classes), C,
                              sample_weight=sample_weight)
    return fun(np.concatenate([np.asarray(coef).T.ravel(), np.ravel(intercept)]))[0]


def _lbfgs(fun, x0, *, max_iter, tol, callback=None):
    """scipy's L-BFGS-B with LogisticRegression's settings (gtol=tol, maxls=50,
    ftol=64 eps) on ``fun(params) -> (loss, grad)``; returns the OptimizeResult.

    BLAS runs on one thread meanwhile: L-BFGS-B's own BLAS calls are on
    vectors of n_params, and with more threads the worker pools of the
    OpenBLAS builds of numpy and scipy busy-wait against each other and the
    objective's threads (a digits fit measured 19x slower on 2 cores). The
    objective parallelises itself (chunk threads, OpenMP).
    """
    from scipy.optimize import minimize

    with one_blas_thread(rescan=True):
        return minimize(fun, x0, method="L-BFGS-B", jac=True, callback=callback,
                        options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                                 "ftol": 64 * np.finfo(float).eps})


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic regression fitted by L-BFGS-B on fastloss's fused
    linear cross-entropy.

    Minimises scikit-learn's ``LogisticRegression(solver="lbfgs")`` objective

    .. math:: \frac{\sum_i s_i\, \ell_i}{\sum_i s_i}
              + \frac{\lVert W\rVert^2}{2\, C \sum_i s_i}

    where :math:`\ell_i` is the cross-entropy of row i (with label smoothing
    when asked), :math:`s_i` the sample weight times the class weight of its
    label, and W the coefficients (the intercept is not penalised). The
    solver settings are LogisticRegression's: ``gtol=tol``, ``maxls=50``,
    ``ftol=64·eps``. The objective is computed in float64.

    With two classes the model is the binary logistic one, as scikit-learn's:
    one coefficient row (``coef_`` of shape (1, n_features)) and the
    objective on :func:`fastloss.binary_cross_entropy_with_logits`; with
    label smoothing ε its targets are (1 - ε) y + ε / 2, the two-class softmax
    smoothing.

    Parameters
    ----------
    C : float > 0, default 1.0
        Inverse L2 regularisation strength.
    fit_intercept : bool, default True
    class_weight : dict, "balanced" or None, default None
        Per-class weights multiplying the sample weights (scikit-learn's
        rule; "balanced" is ``sum(s) / (n_classes * weighted class counts)``).
    label_smoothing : float in [0, 1], default 0.0
    max_iter : int >= 0, default 1000
        L-BFGS iterations; a ConvergenceWarning is issued when they run out.
    tol : float >= 0, default 1e-6
        Stop when the largest gradient component is at most tol.
    n_threads : int or None, default None
        Passed to :func:`fastloss.linear_cross_entropy`.
    verbose : int, default 0
        1 or more: print iteration, objective and gradient norm each iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels (any orderable type).
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for 2 classes
    intercept_ : ndarray of shape (n_classes,) or (1,); zeros when fit_intercept=False
    n_iter_ : ndarray of shape (1,)
        L-BFGS iterations run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of X in fit, when X was a dataframe whose column names
        are all strings (as scikit-learn); later calls check them.
    objective_ : float
        Final value of the objective above.

    Examples
    --------
    >>> import numpy as np
    >>> from fastloss.estimators import SoftmaxRegression
    >>> from fastloss.datasets import make_blobs_dataset
    >>> data = make_blobs_dataset(n_samples=400, n_features=4, n_classes=3, seed=0)
    >>> clf = SoftmaxRegression(C=10.0).fit(data.X_train, data.y_train)
    >>> clf.coef_.shape, clf.classes_.tolist()
    ((3, 4), [0, 1, 2])
    >>> clf.predict_proba(data.X_test[:2]).sum(axis=1).round(12).tolist()
    [1.0, 1.0]
    >>> bool(clf.score(data.X_test, data.y_test) > 0.7)
    True
    """

    def __init__(self, C=1.0, fit_intercept=True, class_weight=None, label_smoothing=0.0,
                 max_iter=1000, tol=1e-6, n_threads=None, verbose=0):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.max_iter = max_iter
        self.tol = tol
        self.n_threads = n_threads
        self.verbose = verbose

    def _class_weights(self, y_index, n_classes, sw):
        cw = self.class_weight
        if cw is None:
            return None
        if isinstance(cw, str) and cw == "balanced":
            counts = np.bincount(y_index, weights=sw, minlength=n_classes)
            return counts.sum() / (n_classes * counts)
        if isinstance(cw, dict):
            unknown = [k for k in cw if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(f"class_weight has labels {unknown!r} that are not in y "
                                 f"(classes: {self.classes_.tolist()!r})")
            weights = np.array([cw.get(c, 1.0) for c in self.classes_.tolist()], dtype=float)
            bad = ~(np.isfinite(weights) & (weights >= 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"class_weight[{self.classes_.tolist()[i]!r}] = {weights[i]}: weights "
                                 "must be finite and >= 0")
            return weights
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
            Finite real values (converted to float64).
        y : array_like, shape (n_samples,)
            Class labels; at least two classes.
        sample_weight : array_like, shape (n_samples,), optional
            Finite, non-negative; with the class weights, at least two classes
            must keep a positive weight.

        Returns
        -------
        self
        """
        C = _positive(self.C, "C")
        max_iter = _positive(self.max_iter, "max_iter", integral=True, allow_zero=True)
        tol = _positive(self.tol, "tol", allow_zero=True)
        eps = v.label_smoothing(self.label_smoothing)
        verbose = _positive(self.verbose, "verbose", integral=True, allow_zero=True)
        names = _feature_names(X)
        X = _check_X(X)
        n_samples = X.shape[0]
        y = _check_y(y, n_samples)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {self.classes_[0]!r}")
        sw = v.weights(sample_weight, n_samples, "sample_weight", "one per sample")
        cw = self._class_weights(y_index, n_classes, sw)
        if cw is not None:
            sw = (sw if sw is not None else np.ones(n_samples)) * cw[y_index]
        if sw is not None:
            if not sw.any():
                raise ValueError("sample_weight (times class_weight) is zero for every "
                                 "sample: there is nothing to fit")
            kept = np.unique(y_index[sw > 0])
            if kept.size < 2:
                raise ValueError("sample_weight (times class_weight) leaves positive weight on "
                                 f"{kept.size} class(es); at least 2 classes are needed")
        fun = _logistic_objective(X, y_index, n_classes, C, sample_weight=sw,
                                  label_smoothing=eps, fit_intercept=self.fit_intercept,
                                  n_threads=self.n_threads)
        progress = _Progress(fun)
        result = _lbfgs(progress, fun.initial_params(), max_iter=max_iter, tol=tol,
                        callback=progress.callback if verbose else None)
        if result.status == 1 or (max_iter > 0 and result.nit >= max_iter):
            warnings.warn(f"L-BFGS-B stopped after max_iter={max_iter} iterations before "
                          f"reaching tol={tol}: increase max_iter or scale the data.",
                          ConvergenceWarning, stacklevel=2)
        coef, intercept = fun.unpack(result.x)
        self.coef_ = np.ascontiguousarray(coef.reshape(X.shape[1], -1).T)
        self.intercept_ = (intercept.copy() if intercept is not None
                           else np.zeros(self.coef_.shape[0]))
        self.n_iter_ = np.array([result.nit], dtype=np.int32)
        self.objective_ = float(result.fun)
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _check_fitted_X(self, X):
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call "
                                 "'fit' with appropriate arguments before using this estimator.")
        self._check_feature_names(_feature_names(X))
        X = _check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X

    def _check_feature_names(self, names):
        """scikit-learn's rule: the columns must match the names seen in fit,
        in order; a warning when only one of fit and this call had names."""
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None and names is None:
            return
        cls = type(self).__name__
        if fitted is None:
            warnings.warn(f"X has feature names, but {cls} was fitted without feature names",
                          UserWarning, stacklevel=3)
        elif names is None:
            warnings.warn(f"X does not have valid feature names, but {cls} was fitted with "
                          "feature names", UserWarning, stacklevel=3)
        elif len(names) != len(fitted) or (names != fitted).any():
            seen, given = set(fitted), set(names)
            unseen = [n for n in names if n not in seen]
            missing = [n for n in fitted if n not in given]
            detail = (f"unseen at fit time: {unseen}; seen at fit time, yet now missing: "
                      f"{missing}" if unseen or missing else "the same names in another order")
            raise ValueError(f"The feature names should match those that were passed during "
                             f"fit ({detail})")

    def decision_function(self, X):
        """Linear scores ``X @ coef_.T + intercept_``: shape (n_samples, n_classes),
        or (n_samples,) (the positive class's score) for two classes."""
        X = self._check_fitted_X(X)
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if len(self.classes_) == 2 else scores

    def _class_scores(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:  # binary: p(class 1) = sigmoid(s) = softmax([0, s])[1]
            scores = np.column_stack([np.zeros_like(scores), scores])
        return scores

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        return softmax(self._class_scores(X))

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably (log-softmax of the scores)."""
        return log_softmax(self._class_scores(X))

    def predict(self, X):
        """The label of the largest score (first one on ties)."""
        best = np.argmax(self._class_scores(X), axis=1)  # checks fitted first
        return self.classes_[best]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on (X, y), weighted by sample_weight."""
        y = np.asarray(y)
        return float(np.average(self.predict(X) == y, weights=sample_weight))


class _Progress:
    """Wraps the objective to remember the last evaluation; its callback
    prints one line per L-BFGS iteration (verbose fits)."""

    def __init__(self, fun):
        self.fun, self.iteration = fun, 0
        self.last_x = self.last = None

    def __call__(self, params):
        self.last = self.fun(params)
        self.last_x = params.copy()
        return self.last

    def callback(self, intermediate_result):
        self.iteration += 1
        x = intermediate_result.x
        loss, grad = self.last if np.array_equal(x, self.last_x) else self.fun(x)
        print(f"iter {self.iteration:5d}   objective {loss:.10g}   "
              f"|grad|_inf {np.abs(grad).max():.3e}", flush=True)
