"""Shared parameters and seeded data for the asv suites (no benchmarks here)."""
import numpy as np

# (n_samples, n_classes), as one parameter: ~1e6 elements each, narrow to wide rows.
SHAPES = ["100000x10", "10000x100", "1000x1000"]
DTYPES = ["float32", "float64"]
N_THREADS = [1, 2]
IMPLEMENTATIONS = ["fastloss", "numpy"]

PARAMS = [SHAPES, DTYPES, N_THREADS, IMPLEMENTATIONS]
PARAM_NAMES = ["shape", "dtype", "n_threads", "implementation"]


class Suite:
    """Parameter sweep shared by every suite: shape x dtype x n_threads x implementation."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 120


def parse_shape(shape):
    """'100000x10' -> (100000, 10)."""
    n_samples, n_classes = shape.split("x")
    return int(n_samples), int(n_classes)


def get_module(implementation, n_threads):
    """The module implementing the public API for ``implementation``.

    Raises NotImplementedError (asv's "skip") for the single-threaded NumPy
    reference with ``n_threads > 1``.
    """
    if implementation == "fastloss":
        import fastloss

        return fastloss
    if implementation == "numpy":
        if n_threads != 1:
            raise NotImplementedError("the NumPy reference is single-threaded")
        from fastloss import _reference

        return _reference
    raise ValueError(f"unknown implementation {implementation!r}")


def make_logits(shape, dtype, seed=0):
    """Seeded logits (3 * standard normal) of the given shape and dtype."""
    rng = np.random.default_rng(seed)
    return (3.0 * rng.standard_normal(shape)).astype(dtype)


def make_labels(n_samples, n_classes, seed=1):
    """Seeded int64 class labels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_classes, size=n_samples, dtype=np.int64)
