"""Command line: ``python -m fastloss demo``.

``demo`` is fastloss's main job on bundled data: it fits
:class:`fastloss.estimators.SoftmaxRegression` (L-BFGS-B on
``fastloss.linear_cross_entropy``) to 8x8 digit images, printing the
objective and gradient norm at each iteration, then the test accuracy, and
times the fit side by side with scikit-learn's
``LogisticRegression(solver="lbfgs")`` on the same problem when scikit-learn
is installed, or with the same L-BFGS-B driven by the pure-NumPy reference
objective (``fastloss._reference.linear_cross_entropy``) otherwise.

The images are scikit-learn's bundled digits when scikit-learn is installed,
else :func:`fastloss.datasets.make_digits_like` (generated, same shape);
``--bundled`` forces the latter and the NumPy comparison. It runs in seconds.

``python -m fastloss`` with no or an unknown subcommand prints usage and
exits with status 2. For the benchmarks use ``python -m fastloss.bench``.
"""
import argparse
import contextlib
import statistics
import sys
import time
import warnings

import numpy as np


def numpy_reference_fit(X, y, C, tol, max_iter):
    """The same L-BFGS-B fit as SoftmaxRegression (multinomial, n_classes > 2),
    its objective computed by the NumPy reference (materialised logits): the
    no-scikit-learn comparison. Returns ``(coef, intercept, n_iter)`` with
    coef of shape (n_classes, n_features), as scikit-learn's."""
    from fastloss import _reference
    from fastloss.estimators import _lbfgs

    classes, y_index = np.unique(y, return_inverse=True)
    n_features, n_classes = X.shape[1], len(classes)
    l2 = 1.0 / (C * len(y))

    def objective(params):
        coef = params[:n_features * n_classes].reshape(n_features, n_classes)
        intercept = params[n_features * n_classes:]
        loss, g_coef, g_b = _reference.linear_cross_entropy(X, coef, y_index,
                                                            intercept=intercept,
                                                            return_grad=True)
        loss += 0.5 * l2 * float(np.sum(coef ** 2))
        return loss, np.concatenate([(g_coef + l2 * coef).ravel(), g_b])

    res = _lbfgs(objective, np.zeros((n_features + 1) * n_classes), max_iter=max_iter, tol=tol)
    coef = res.x[:n_features * n_classes].reshape(n_features, n_classes).T
    return coef, res.x[n_features * n_classes:], int(res.nit)


def _median_seconds(fit, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_demo(*, C=1.0, tol=1e-6, max_iter=1000, seed=0, repeat=3, bundled=False,
             verbose=True, out=None):
    """Fit, evaluate and time; print a report to ``out`` and return the results.

    Returns a dict with ``source`` (the data), ``n_iter``, ``objective``,
    ``train_accuracy``, ``test_accuracy``, ``peer`` ("sklearn" or "numpy"),
    ``peer_test_accuracy``, ``peer_objective``, ``fit_seconds`` and
    ``peer_fit_seconds`` (medians of ``repeat`` fits), and
    ``peer_one_blas_thread_seconds`` (scikit-learn fitted under
    ``threadpool_limits(1, "blas")``; None for the NumPy peer).
    """
    import fastloss
    from fastloss.datasets import digits_train_test
    from fastloss.estimators import SoftmaxRegression, _objective_at

    out = sys.stdout if out is None else out
    X_train, y_train, X_test, y_test, source = digits_train_test(prefer_sklearn=not bundled,
                                                                 seed=seed)
    classes = np.unique(y_train)
    n_classes = len(classes)
    print(f"fastloss {fastloss.__version__} demo (openmp_enabled={fastloss.openmp_enabled()}): "
          "SoftmaxRegression, L-BFGS-B on fastloss.linear_cross_entropy", file=out)
    print(f"data: {source}: {len(y_train)} train / {len(y_test)} test images, "
          f"{X_train.shape[1]} pixels, {n_classes} classes; C={C}, tol={tol}", file=out)

    model = SoftmaxRegression(C=C, tol=tol, max_iter=max_iter, verbose=int(verbose))
    with contextlib.redirect_stdout(out):
        model.fit(X_train, y_train)
    train_acc = model.score(X_train, y_train)
    test_acc = model.score(X_test, y_test)
    print(f"converged in {model.n_iter_[0]} iterations: objective {model.objective_:.10g}; "
          f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}", file=out)

    quiet = SoftmaxRegression(C=C, tol=tol, max_iter=max_iter)
    fit_s, _ = _median_seconds(lambda: quiet.fit(X_train, y_train), repeat)
    peer = "numpy"
    if not bundled:
        try:
            from sklearn.linear_model import LogisticRegression
            peer = "sklearn"
        except ImportError:
            pass
    extra = None
    if peer == "sklearn":
        from threadpoolctl import threadpool_limits

        sk = LogisticRegression(C=C, tol=tol, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its ConvergenceWarning, if any, shows in n_iter_
            peer_s, sk = _median_seconds(lambda: sk.fit(X_train, y_train), repeat)
            with threadpool_limits(1, user_api="blas"):
                extra = _median_seconds(lambda: sk.fit(X_train, y_train), repeat)[0]
        coef, intercept, peer_iter = sk.coef_, sk.intercept_, int(sk.n_iter_[0])
        label = "sklearn LogisticRegression"
    else:
        peer_s, (coef, intercept, peer_iter) = _median_seconds(
            lambda: numpy_reference_fit(X_train, y_train, C, tol, max_iter), repeat)
        label = "same L-BFGS-B on the NumPy reference objective"
    peer_test_acc = float(np.mean(classes[np.argmax(X_test @ coef.T + intercept, axis=1)]
                                  == y_test))
    peer_obj = _objective_at(X_train, y_train, coef, intercept, C)
    print(f"\nfit time, median of {repeat} (same C, tol; default threads):", file=out)
    print(f"  {'fastloss SoftmaxRegression':<48} {fit_s * 1e3:9.1f} ms   "
          f"{model.n_iter_[0]:4d} iter   objective {model.objective_:.10g}   "
          f"test accuracy {test_acc:.4f}", file=out)
    print(f"  {label:<48} {peer_s * 1e3:9.1f} ms   {peer_iter:4d} iter   "
          f"objective {peer_obj:.10g}   test accuracy {peer_test_acc:.4f}", file=out)
    if extra is not None:
        print(f"  {'sklearn LogisticRegression, BLAS on 1 thread':<48} {extra * 1e3:9.1f} ms   "
              "(threadpoolctl.threadpool_limits(1, 'blas'): spares it the BLAS pools' "
              "busy-waiting)", file=out)
    print(f"  fastloss fit time / {peer} fit time: {fit_s / peer_s:.2f}"
          + (f" ({fit_s / extra:.2f} vs its 1-BLAS-thread run)" if extra else ""), file=out)
    return {"source": source, "n_iter": int(model.n_iter_[0]), "objective": model.objective_,
            "train_accuracy": train_acc, "test_accuracy": test_acc, "peer": peer,
            "peer_test_accuracy": peer_test_acc, "peer_objective": peer_obj,
            "fit_seconds": fit_s, "peer_fit_seconds": peer_s,
            "peer_one_blas_thread_seconds": extra}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastloss",
        description="fastloss command line. Benchmarks: python -m fastloss.bench")
    sub = parser.add_subparsers(dest="command", metavar="{demo}")
    demo = sub.add_parser(
        "demo", help="fit SoftmaxRegression on digit images and time it against a peer",
        description="Fit fastloss.estimators.SoftmaxRegression on 8x8 digit images with "
                    "per-iteration progress, report test accuracy, and time the fit against "
                    "scikit-learn's LogisticRegression (or the NumPy reference objective).")
    demo.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (default 1.0)")
    demo.add_argument("--tol", type=float, default=1e-6, help="gradient tolerance (1e-6)")
    demo.add_argument("--seed", type=int, default=0, help="train/test split seed")
    demo.add_argument("--repeat", type=int, default=3, help="timing repeats (default 3)")
    demo.add_argument("--bundled", action="store_true",
                      help="use fastloss's generated digits and the NumPy comparison even "
                           "when scikit-learn is installed")
    demo.add_argument("--quiet", action="store_true", help="no per-iteration lines")
    return parser


def main(argv=None):
    """Entry point; returns the exit status (2 for no or an unknown subcommand)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # an unknown subcommand exits 2 here
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.repeat < 1 or not args.C > 0 or not args.tol >= 0:
        parser.error("--repeat must be >= 1, --C > 0 and --tol >= 0")
    run_demo(C=args.C, tol=args.tol, seed=args.seed, repeat=args.repeat, bundled=args.bundled,
             verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
