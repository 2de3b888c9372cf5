"""Generator of hostile 2-D float arrays for testing (in the style of bottleneck).

``hostile_arrays()`` yields ``(description, array)`` pairs covering:

* dtypes: float32, float64;
* memory layouts: C order, Fortran order, strided (a non-contiguous view whose
  gaps hold nan, so a kernel reading outside the view is caught), transposed
  view, negative strides, read-only, read-only ``np.memmap`` in a temp dir;
* shapes: n=0, C=1, C=2, a single row, moderate (37 x 13), both sides of the
  narrow/wide kernel switch (21 x 40, 19 x 41) and a wide row (3 x 100);
* values: normal, huge (~1e4), extreme (+-1e308 for float64, +-3e38 for
  float32, mixed with normal values), rows holding +inf, -inf entries, rows
  that are all -inf, rows holding nan, and a mix of all of these.

Everything is deterministic: each (shape, kind) uses its own fixed seed, and the
same values are produced for every layout and (up to rounding) both dtypes.
"""
import itertools
import os
import tempfile
import zlib

import numpy as np

DTYPES = (np.float32, np.float64)
LAYOUTS = ("C", "F", "strided", "transposed", "reversed", "readonly", "memmap")
# (21, 40) and (19, 41) sit on either side of the kernels' narrow/wide switch
# (FL_NARROW_MAX = 40); 41 and 100 leave partial vector blocks at the row end.
SHAPES = ((0, 5), (5, 1), (7, 2), (1, 13), (37, 13), (21, 40), (19, 41), (3, 100))
KINDS = ("normal", "huge", "extreme", "posinf", "neginf", "allneginf", "nan", "mix")
# kinds whose rows are all finite
FINITE_KINDS = ("normal", "huge", "extreme")


def extreme_value(dtype):
    """A large finite magnitude close to the dtype's max (1e308 / 3e38)."""
    return 1e308 if np.dtype(dtype) == np.float64 else 3e38


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def hostile_values(shape, kind, dtype):
    """The (C-ordered, writeable) values of one hostile array."""
    n, c = shape
    rng = _rng("values", shape, kind)
    x = rng.standard_normal((n, c)) * 3.0
    big = extreme_value(dtype)
    if kind == "normal":
        pass
    elif kind == "huge":
        x = rng.standard_normal((n, c)) * 1e4
    elif kind == "extreme":
        mask = rng.random((n, c)) < 0.4
        sign = np.where(rng.random((n, c)) < 0.5, -1.0, 1.0)
        x[mask] = (sign * big * rng.uniform(0.5, 1.0, (n, c)))[mask]
        if n > 2:
            x[0] = big          # a row whose every element is the (finite) max
            x[1] = -big
    elif kind == "posinf":
        for i in range(0, n, 3):
            x[i, rng.integers(c)] = np.inf
        if n > 1 and c > 1:
            x[1, :2] = np.inf   # two +inf in one row
    elif kind == "neginf":
        for i in range(0, n, 2):
            x[i, rng.integers(c)] = -np.inf
        if n > 3 and c > 2:
            x[3, :-1] = -np.inf  # only one finite element left
    elif kind == "allneginf":
        for i in range(0, n, 3):
            x[i] = -np.inf
    elif kind == "nan":
        for i in range(1, n, 3):
            x[i, rng.integers(c)] = np.nan
        if n > 2:
            x[2] = np.nan
    elif kind == "mix":
        mask = rng.random((n, c)) < 0.1
        x[mask] = big
        specials = [np.inf, -np.inf, np.nan]
        for i in range(n):
            r = i % 7
            if r == 1:
                x[i, rng.integers(c)] = np.inf
            elif r == 2:
                x[i] = -np.inf
            elif r == 3:
                x[i, rng.integers(c)] = np.nan
            elif r == 4:
                x[i, rng.integers(c)] = -np.inf
            elif r == 5:
                x[i, : min(c, 3)] = specials[: min(c, 3)]
            elif r == 6:
                x[i] = rng.standard_normal(c) * 1e4
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return np.ascontiguousarray(x, dtype=dtype)


def _memmap_dir(state):
    if state.get("dir") is None:
        state["dir"] = tempfile.mkdtemp(prefix="fastloss-hostile-")
    return state["dir"]


def with_layout(values, layout, tmpdir=None, _state=None):
    """A new array holding ``values`` (2-D) in the requested memory layout."""
    n, c = values.shape
    dtype = values.dtype
    if layout == "C":
        return values.copy()
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "strided":
        base = np.full((2 * n + 1, 3 * c + 2), np.nan, dtype=dtype)
        view = base[1::2, 2::3]
        view[...] = values
        assert not view.flags.c_contiguous or view.size <= 1 or c == 0
        return view
    if layout == "transposed":
        base = np.ascontiguousarray(values.T)
        return base.T
    if layout == "reversed":
        base = values[::-1, ::-1].copy()
        return base[::-1, ::-1]
    if layout == "readonly":
        a = values.copy()
        a.flags.writeable = False
        return a
    if layout == "memmap":
        if values.size == 0:
            return None  # an empty file cannot be memory-mapped
        if tmpdir is None:
            tmpdir = _memmap_dir(_state if _state is not None else {})
        name = f"{dtype.name}-{n}x{c}-{zlib.crc32(values.tobytes())}.dat"
        path = os.path.join(str(tmpdir), name)
        if not os.path.exists(path):  # the name encodes the content: reuse the file
            tmp = path + ".tmp"
            mm = np.memmap(tmp, dtype=dtype, mode="w+", shape=(n, c))
            mm[...] = values
            mm.flush()
            del mm
            os.replace(tmp, path)
        return np.memmap(path, dtype=dtype, mode="r", shape=(n, c))
    raise ValueError(f"unknown layout {layout!r}")


def hostile_arrays(dtypes=DTYPES, layouts=LAYOUTS, shapes=SHAPES, kinds=KINDS, tmpdir=None):
    """Yield ``(description, array)`` for every dtype x shape x kind x layout.

    ``tmpdir`` is where memmap files go (a fresh temporary directory if None).
    Combinations that do not exist (an empty memmap) are skipped.
    """
    state = {}
    for dtype, shape, kind, layout in itertools.product(dtypes, shapes, kinds, layouts):
        values = hostile_values(shape, kind, dtype)
        arr = with_layout(values, layout, tmpdir, state)
        if arr is None:
            continue
        desc = f"{np.dtype(dtype).name}-{shape[0]}x{shape[1]}-{kind}-{layout}"
        yield desc, arr


def labels_for(desc, n, c, ignore_index=None, ignore_fraction=0.25):
    """Deterministic int64 labels in [0, c), some rows set to ``ignore_index``."""
    rng = _rng("labels", desc, n, c)
    y = rng.integers(0, max(c, 1), size=n).astype(np.int64)
    if ignore_index is not None and n:
        y[rng.random(n) < ignore_fraction] = ignore_index
    return y


def probabilities_for(desc, n, c, dtype=np.float64, with_zeros=True):
    """Deterministic probability targets (rows sum to 1), some entries exactly 0."""
    rng = _rng("probs", desc, n, c)
    t = rng.random((n, c))
    if with_zeros and c > 1:
        t[rng.random((n, c)) < 0.3] = 0.0
    t[t.sum(axis=1) == 0, 0] = 1.0
    t /= t.sum(axis=1, keepdims=True)
    return t.astype(dtype)


def weights_for(desc, size, zeros=True):
    """Deterministic non-negative weights, some exactly 0 when ``zeros``."""
    rng = _rng("weights", desc, size)
    w = rng.uniform(0.2, 3.0, size)
    if zeros and size > 2:
        w[rng.random(size) < 0.15] = 0.0
    return w
