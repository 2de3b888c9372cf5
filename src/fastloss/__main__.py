"""Command line: ``python -m fastloss demo``.

``demo`` is fastloss's main job on bundled data: it fits a softmax
(multinomial logistic) regression on the deterministic Gaussian blobs of
:mod:`fastloss.datasets` with plain full-batch gradient descent, every step
driven by ``fastloss.cross_entropy(X @ W + b, y, return_grad=True)``; it
prints the loss every few epochs, the final train/test accuracy, then the time
of one loss+gradient evaluation for fastloss and for the pure-NumPy reference
(``fastloss._reference``) on the demo's logits and on a larger
(100000, 100) float32 case. It runs in a few seconds and needs only NumPy.

``python -m fastloss`` with no or an unknown subcommand prints usage and
exits with status 2. For the full benchmark use ``python -m fastloss.bench``.
"""
import argparse
import statistics
import sys

import numpy as np


def fit_softmax_regression(X, y, n_classes, *, epochs=100, lr=1.0, log_every=10,
                           out=None, grad_buffer=None):
    """Full-batch gradient descent on the mean cross-entropy of ``X @ W + b``.

    The gradient w.r.t. the logits comes from
    ``fastloss.cross_entropy(logits, y, return_grad=True, grad_out=...)``
    (reusing one buffer across epochs); by the chain rule the gradient
    w.r.t. ``W`` is ``X.T @ grad`` and w.r.t. ``b`` is ``grad.sum(axis=0)``.
    Returns ``(W, b, losses)`` with one loss per epoch (before its step).
    """
    import fastloss

    n_samples, n_features = X.shape
    W = np.zeros((n_features, n_classes), dtype=X.dtype)
    b = np.zeros(n_classes, dtype=X.dtype)
    logits = np.empty((n_samples, n_classes), dtype=X.dtype)
    grad = grad_buffer if grad_buffer is not None else np.empty_like(logits)
    losses = []
    for epoch in range(1, epochs + 1):
        np.matmul(X, W, out=logits)
        logits += b
        loss, grad = fastloss.cross_entropy(logits, y, return_grad=True, grad_out=grad)
        losses.append(loss)
        W -= lr * (X.T @ grad)
        b -= lr * grad.sum(axis=0)
        if out is not None and (epoch == 1 or epoch % log_every == 0 or epoch == epochs):
            print(f"  epoch {epoch:4d}   loss {loss:.4f}", file=out)
    return W, b, losses


def accuracy(X, y, W, b):
    """Fraction of rows whose arg-max logit is the label."""
    return float(np.mean(np.argmax(X @ W + b, axis=1) == y))


def _time_loss_grad(logits, target, repeat):
    """Median seconds of one loss+grad call, fastloss vs the NumPy reference."""
    import fastloss
    from fastloss import _reference
    from fastloss.bench import time_calls

    times = time_calls({
        "fastloss": lambda: fastloss.cross_entropy(logits, target, return_grad=True),
        "numpy": lambda: _reference.cross_entropy(logits, target, return_grad=True),
    }, repeat)
    return {k: statistics.median(v) for k, v in times.items()}


def run_demo(*, n_samples=6000, n_features=20, n_classes=10, epochs=100, lr=1.0,
             seed=0, repeat=5, large=True, out=None):
    """Train, evaluate and time; print a report to ``out`` and return the results.

    Returns a dict with ``losses`` (per epoch), ``train_accuracy``,
    ``test_accuracy`` and ``timings`` (list of ``(label, fastloss_s, numpy_s)``).
    """
    import fastloss
    from fastloss.datasets import make_blobs_dataset

    out = sys.stdout if out is None else out
    data = make_blobs_dataset(n_samples=n_samples, n_features=n_features,
                              n_classes=n_classes, seed=seed)
    print(f"fastloss {fastloss.__version__} demo (openmp_enabled={fastloss.openmp_enabled()}): "
          "softmax regression by full-batch gradient descent", file=out)
    print(f"data: make_blobs_dataset(seed={seed}): {len(data.y_train)} train / "
          f"{len(data.y_test)} test samples, {n_features} features, {n_classes} classes",
          file=out)
    print(f"training: {epochs} epochs, learning rate {lr}, "
          "gradient from fastloss.cross_entropy(X @ W + b, y, return_grad=True)", file=out)

    W, b, losses = fit_softmax_regression(data.X_train, data.y_train, n_classes,
                                          epochs=epochs, lr=lr, out=out)
    train_acc = accuracy(data.X_train, data.y_train, W, b)
    test_acc = accuracy(data.X_test, data.y_test, W, b)
    print(f"final loss {losses[-1]:.4f}; train accuracy {train_acc:.3f}, "
          f"test accuracy {test_acc:.3f}", file=out)

    cases = [("demo logits", data.X_train @ W + b, data.y_train)]
    if large:
        rng = np.random.default_rng(seed)
        cases.append(("large", (3 * rng.standard_normal((100_000, 100))).astype(np.float32),
                      rng.integers(0, 100, size=100_000)))
    print(f"\none cross_entropy loss+grad evaluation, median of {repeat} "
          "(fastloss default n_threads vs fastloss._reference):", file=out)
    timings = []
    for label, logits, target in cases:
        t = _time_loss_grad(logits, target, repeat)
        timings.append((label, t["fastloss"], t["numpy"]))
        shape = f"{logits.shape[0]}x{logits.shape[1]}"
        print(f"  {label:<12} {shape:>10} {logits.dtype.name:<8} "
              f"fastloss {t['fastloss'] * 1e3:8.3f} ms   numpy {t['numpy'] * 1e3:8.3f} ms   "
              f"speed-up {t['numpy'] / t['fastloss']:5.1f}x", file=out)
    return {"losses": losses, "train_accuracy": train_acc, "test_accuracy": test_acc,
            "timings": timings}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m fastloss",
        description="fastloss command line. Benchmarks: python -m fastloss.bench")
    sub = parser.add_subparsers(dest="command", metavar="{demo}")
    demo = sub.add_parser(
        "demo", help="fit a softmax regression on bundled data and time loss+grad",
        description="Fit a softmax regression on bundled Gaussian blobs with plain "
                    "gradient descent driven by fastloss.cross_entropy(..., "
                    "return_grad=True), then time one loss+grad vs NumPy.")
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--n-samples", type=int, default=6000)
    demo.add_argument("--repeat", type=int, default=5, help="timing repeats (default 5)")
    demo.add_argument("--no-large", action="store_true",
                      help="skip the (100000, 100) float32 timing case")
    return parser


def main(argv=None):
    """Entry point; returns the exit status (2 for no or an unknown subcommand)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # an unknown subcommand exits 2 here
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.epochs < 1 or args.repeat < 1 or args.n_samples < 20:
        parser.error("--epochs and --repeat must be >= 1 and --n-samples >= 20")
    run_demo(n_samples=args.n_samples, epochs=args.epochs, lr=args.lr, seed=args.seed,
             repeat=args.repeat, large=not args.no_large)
    return 0


if __name__ == "__main__":
    sys.exit(main())
