"""Small deterministic datasets bundled with fastloss (generated, never downloaded).

>>> from fastloss.datasets import make_blobs_dataset
>>> data = make_blobs_dataset(n_samples=1000, n_features=8, n_classes=4, seed=0)
>>> data.X_train.shape, data.y_train.shape, data.X_test.shape
((750, 8), (750,), (250, 8))
>>> sorted(set(data.y_train.tolist()))
[0, 1, 2, 3]
"""
from typing import NamedTuple

import numpy as np

__all__ = ["BlobsDataset", "make_blobs_dataset"]


class BlobsDataset(NamedTuple):
    """Train/test split returned by :func:`make_blobs_dataset`.

    ``X_*`` are float arrays ``(n, n_features)``, ``y_*`` int64 labels
    ``(n,)`` in ``[0, n_classes)``; ``centers`` is ``(n_classes, n_features)``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    centers: np.ndarray


def make_blobs_dataset(n_samples=6000, n_features=20, n_classes=10, *, cluster_std=1.0,
                       center_scale=0.8, test_fraction=0.25, dtype=np.float64, seed=0):
    """Gaussian blobs for multi-class classification, split into train and test.

    Each class ``k`` has a center drawn from ``N(0, center_scale**2 I)`` in
    ``n_features`` dimensions; its points are the center plus isotropic
    ``N(0, cluster_std**2 I)`` noise. Classes get (almost) equal counts, rows
    are shuffled, and the last ``round(test_fraction * n_samples)`` rows form
    the test set. With the defaults the classes overlap: a linear model (and
    the Bayes classifier) reaches roughly 90 % accuracy, so training is
    visible but not trivial.

    The result depends only on the arguments: the generator is
    ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    n_samples : int >= 2
    n_features : int >= 1
    n_classes : int >= 2
    cluster_std : float > 0
        Standard deviation of the noise around each center.
    center_scale : float > 0
        Standard deviation of each center coordinate (larger: easier problem).
    test_fraction : float in (0, 1)
    dtype : float32 or float64
        dtype of ``X_train`` / ``X_test``.
    seed : int

    Returns
    -------
    BlobsDataset
        ``(X_train, y_train, X_test, y_test, centers)``.
    """
    n_samples, n_features, n_classes = int(n_samples), int(n_features), int(n_classes)
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2, got {n_samples}")
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    if not (cluster_std > 0 and np.isfinite(cluster_std)):
        raise ValueError(f"cluster_std must be a positive finite float, got {cluster_std}")
    if not (center_scale > 0 and np.isfinite(center_scale)):
        raise ValueError(f"center_scale must be a positive finite float, got {center_scale}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")

    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, center_scale, size=(n_classes, n_features))
    y = np.arange(n_samples, dtype=np.int64) % n_classes
    rng.shuffle(y)
    X = centers[y] + rng.normal(0.0, cluster_std, size=(n_samples, n_features))
    n_test = min(max(int(round(test_fraction * n_samples)), 1), n_samples - 1)
    n_train = n_samples - n_test
    X = X.astype(dtype)
    return BlobsDataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], centers)
