"""Comparison helpers shared by the test modules (not a test module itself)."""
import numpy as np


def assert_close(got, want, rtol, msg="", scale=None):
    """|got - want| <= rtol * max(|want|, 1) (or rtol * scale), nan/inf positions equal."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{msg}: shape {got.shape} != {want.shape}"
    fin = np.isfinite(want)
    bound = rtol * (np.maximum(np.abs(want), 1.0) if scale is None else scale)
    with np.errstate(invalid="ignore"):
        ok = np.where(fin, np.abs(got - want) <= bound,   # False when got is inf or nan
                      (got == want) | (np.isnan(got) & np.isnan(want)))
    if not ok.all():
        pos = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(f"{msg}: at {pos} got {got[pos]!r}, want {want[pos]!r} "
                             f"(rtol {rtol}, {int((~ok).sum())} of {ok.size} differ)")


def assert_identical(a, b, msg=""):
    """Bitwise-equal results (same nan positions); used for exactness claims."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            assert_identical(u, v, msg)
        return
    if isinstance(a, float):
        assert type(b) is float and (a == b or (np.isnan(a) and np.isnan(b))), \
            f"{msg}: {a!r} != {b!r}"
        return
    assert a.dtype == b.dtype and a.shape == b.shape, msg
    np.testing.assert_array_equal(a, b, err_msg=msg)  # nan == nan here
    # ... and same bits for the non-nan values (catches -0.0 vs 0.0 too)
    nan = np.isnan(a)
    assert (a[~nan].view(np.uint8) == b[~nan].view(np.uint8)).all(), msg


def snapshot(*arrays):
    return [None if a is None else np.array(a, copy=True) for a in arrays]


def assert_unchanged(before, after, msg=""):
    for b, a in zip(before, after):
        if b is not None:
            np.testing.assert_array_equal(np.asarray(a), b, err_msg=f"{msg}: input modified")
