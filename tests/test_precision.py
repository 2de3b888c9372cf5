"""Ulp-level accuracy of the row kernels against an extended-precision
(np.longdouble) reference: softmax, log_softmax and the cross-entropy loss and
gradient, on narrow rows (vectorised across rows) and wide rows (along the row,
with a partial last vector), in float32 and float64.

The looser value checks elsewhere (rtol 1e-5 for float32 against max(|want|, 1))
would let a gradient entry of 1e-6 be wrong in every digit; these bound the
error in units of the result's own spacing."""
import numpy as np
import pytest

import fastloss

# narrow (<= 40 columns: across rows), wide (along the row) with and without a
# partial last vector of 16 floats / 8 doubles
SHAPES = [(301, 7), (67, 40), (53, 41), (29, 100), (9, 1000), (4, 4099), (2, 32000)]
DTYPES = [np.float32, np.float64]
MAX_ULP = 4.0


def logits(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 4
    x[::5] *= 10          # rows dominated by their max: tiny probabilities and losses
    return x.astype(dtype)


def exact_softmax(x):
    """(softmax, log_softmax) of x in long double, from the shifted logits
    z = x - max rounded to x's dtype, as every implementation computes them
    (NumPy, SciPy and torch included): exp is ill-conditioned for large |z|, so
    that rounding alone moves exp(z) by up to |z| / 2 ulp. log(total) is
    taken as log1p of the sum of the non-max terms, which long double would
    otherwise round away next to 1."""
    z = (x - x.max(axis=1, keepdims=True)).astype(np.longdouble)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    rest = np.where(z == 0, 0, e).sum(axis=1, keepdims=True)
    n_max = (z == 0).sum(axis=1, keepdims=True)
    return e / total, z - np.log1p(rest + (n_max - 1))


def ulps(got, exact, dtype, floor=None):
    """|got - exact| in units of the spacing of exact (or of `floor` where that
    is larger) rounded to dtype; subnormal results are measured against the
    smallest normal's spacing."""
    ref = np.abs(exact) if floor is None else np.maximum(np.abs(exact), np.abs(floor))
    spacing = np.spacing(np.maximum(ref.astype(dtype), np.finfo(dtype).tiny))
    return np.abs(got.astype(np.longdouble) - exact) / spacing.astype(np.longdouble)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_and_log_softmax_within_a_few_ulp(shape, dtype):
    x = logits(shape, dtype)
    p, logp = exact_softmax(x)
    assert ulps(fastloss.softmax(x), p, dtype).max() <= MAX_ULP
    # log_softmax = (x - max) - log(total): two terms <= 0, no cancellation
    assert ulps(fastloss.log_softmax(x), logp, dtype).max() <= MAX_ULP


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_loss_and_gradient_within_a_few_ulp(shape, dtype):
    x = logits(shape, dtype, seed=1)
    n, c = shape
    target = np.random.default_rng(2).integers(0, c, n)
    target[::3] = x[::3].argmax(axis=1)     # confident and correct: p_y ~ 1, tiny loss
    p, logp = exact_softmax(x)
    rows = np.arange(n)
    loss, grad = fastloss.cross_entropy(x, target, reduction="none", return_grad=True)
    assert ulps(loss, -logp[rows, target], dtype).max() <= MAX_ULP
    want = p.copy()
    want[rows, target] -= 1
    others = np.ones(shape, bool)
    others[rows, target] = False
    assert ulps(grad[others], want[others], dtype).max() <= MAX_ULP
    # the target entry p_y - 1: within a few ulp of p_y (as any method that
    # rounds p_y before subtracting), and of the result itself where p_y <= 1/2
    assert ulps(grad[rows, target], want[rows, target], dtype,
                floor=p[rows, target]).max() <= MAX_ULP


@pytest.mark.parametrize("shape", [(301, 10), (31, 100)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_weighted_and_smoothed_gradient_within_a_few_ulp(shape, dtype):
    # class weights and label smoothing take the double-precision gradient path
    x = logits(shape, dtype, seed=3)
    n, c = x.shape
    target = np.random.default_rng(4).integers(0, c, n)
    w = np.random.default_rng(5).uniform(0.5, 2.0, c)
    eps = 0.1
    p, logp = exact_softmax(x)
    rows = np.arange(n)
    wl = w.astype(np.longdouble)
    q = np.full(x.shape, eps / c, dtype=np.longdouble)
    q[rows, target] += 1 - eps
    # d/dz of sum_j q_j w_j (-log p_j) = (sum_j q_j w_j) p - q w
    want = (q * wl).sum(axis=1, keepdims=True) * p - q * wl
    _, grad = fastloss.cross_entropy(x, target, class_weight=w, label_smoothing=eps,
                                     reduction="sum", return_grad=True)
    floor = (q * wl).sum(axis=1, keepdims=True) * p
    assert ulps(grad, want, dtype, floor=floor).max() <= MAX_ULP


@pytest.mark.parametrize("shape", [(301, 10), (31, 100)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_float32_gradient_with_weights_beyond_float_range(shape):
    # sample weight x class weight overflows float32 (the gradient's row scale
    # is computed in double): entries within float's range must still come out
    # right, the others +-inf as the rounded exact value, never nan. (Where p
    # itself is below float's normal range, its float exp has lost digits
    # before any scaling, in every float32 softmax: those are not compared.)
    x = logits(shape, np.float32, seed=6)
    n, c = x.shape
    target = np.random.default_rng(7).integers(0, c, n)
    sw = np.full(n, 3e38, np.float32)
    w = np.full(c, 10.0, np.float32)
    p, _ = exact_softmax(x)
    rows = np.arange(n)
    scaled_p = p * (sw[:, None].astype(np.longdouble) * 10)
    want = scaled_p.copy()
    want[rows, target] -= sw.astype(np.longdouble) * 10
    _, grad = fastloss.cross_entropy(x, target, class_weight=w, sample_weight=sw,
                                     reduction="none", return_grad=True)
    with np.errstate(over="ignore"):
        want32 = want.astype(np.float32)
    assert not np.isnan(grad).any()
    finite = np.isfinite(want32)
    assert finite.sum() > 0 and (~finite).sum() > 0
    assert np.array_equal(grad[~finite], want32[~finite])
    with np.errstate(over="ignore"):
        scale_in_range = np.isfinite(scaled_p.astype(np.float32))
    normal = finite & scale_in_range & (p >= np.finfo(np.float32).tiny)
    # the target entries s (p_y - 1) to within a few ulp of s p_y, as in
    # test_cross_entropy_loss_and_gradient_within_a_few_ulp (so not where s p_y
    # itself is beyond float's range)
    assert ulps(grad[normal], want[normal], np.float32, floor=scaled_p[normal]).max() <= MAX_ULP
