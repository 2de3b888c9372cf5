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

__all__ = ["BlobsDataset", "make_blobs_dataset", "make_digits_like", "load_digits_data",
           "digits_train_test"]


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


# 5 x 7 glyphs of the digits 0-9 ("#" = ink), drawn for this module.
_GLYPHS = [
    [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    ["..#..", ".##..", "#.#..", "..#..", "..#..", "..#..", "#####"],
    [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
    ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
]


def make_digits_like(n_samples=1800, *, seed=0):
    """Handwriting-like 8x8 digit images, like scikit-learn's ``load_digits``.

    Each sample draws one of ten 5x7 glyphs at 4x scale on a 32x32 bitmap,
    at a random offset, with a random stroke width (the glyph's ink is
    dilated by 0 or 1 pixel), then flips 10 % of the bitmap's pixels at random
    and counts the ink in each 4x4 block: 64 integer features in [0, 16], as
    in the UCI optical digits data set. Labels cycle through 0-9, shuffled.

    Parameters
    ----------
    n_samples : int >= 10
    seed : int
        ``numpy.random.default_rng(seed)`` drives everything.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 64)
    y : ndarray of int64, shape (n_samples,)

    Examples
    --------
    >>> from fastloss.datasets import make_digits_like
    >>> X, y = make_digits_like(100, seed=0)
    >>> X.shape, int(X.min()), int(X.max()) <= 16, sorted(set(y.tolist())) == list(range(10))
    ((100, 64), 0, True, True)
    """
    n_samples = int(n_samples)
    if n_samples < 10:
        raise ValueError(f"n_samples must be >= 10, got {n_samples}")
    rng = np.random.default_rng(seed)
    glyphs = np.array([[[c == "#" for c in row] for row in g] for g in _GLYPHS])
    big = np.kron(glyphs, np.ones((4, 4), dtype=bool))        # (10, 28, 20)
    y = np.arange(n_samples, dtype=np.int64) % 10
    rng.shuffle(y)
    X = np.empty((n_samples, 64))
    for i, label in enumerate(y):
        canvas = np.zeros((34, 34), dtype=bool)  # 1-pixel margin for the dilation
        top, left = rng.integers(0, 7), rng.integers(1, 15)
        canvas[top:top + 28, left:left + 20] = big[label]
        if rng.random() < 0.5:
            canvas[1:-1, 1:-1] |= canvas[:-2, 1:-1] | canvas[1:-1, :-2]
        bitmap = canvas[1:33, 1:33] ^ (rng.random((32, 32)) < 0.1)
        X[i] = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).ravel()
    return X, y


def load_digits_data(*, prefer_sklearn=True, seed=0):
    """The demo's data: scikit-learn's bundled digits when scikit-learn is
    installed (and prefer_sklearn), else :func:`make_digits_like` (1797 samples).

    Returns
    -------
    X : ndarray of float64, shape (n_samples, 64), pixel counts in [0, 16]
    y : ndarray of int, shape (n_samples,)
    source : str
        "sklearn.datasets.load_digits" or "fastloss.datasets.make_digits_like".
    """
    if prefer_sklearn:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            pass
        else:
            X, y = load_digits(return_X_y=True)
            return X.astype(np.float64), y, "sklearn.datasets.load_digits"
    X, y = make_digits_like(1797, seed=seed)
    return X, y, "fastloss.datasets.make_digits_like"


def digits_train_test(*, prefer_sklearn=True, seed=0, train_fraction=0.75):
    """:func:`load_digits_data` scaled to [0, 1] (pixels / 16) and split at
    random (``default_rng(seed)``): the demo's and the benchmarks' problem.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarrays
    source : str
        As in :func:`load_digits_data`.
    """
    X, y, source = load_digits_data(prefer_sklearn=prefer_sklearn, seed=seed)
    X = X / 16.0
    order = np.random.default_rng(seed).permutation(len(y))
    n_train = int(train_fraction * len(y))
    train, test = order[:n_train], order[n_train:]
    return X[train], y[train], X[test], y[test], source
