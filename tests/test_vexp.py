"""Accuracy of the kernels' own vectorisable exp and log1p (src/fastloss/_vexp.h)
against NumPy, over dense sweeps of the whole range and at the limits."""
import numpy as np
import pytest

import fastloss
from fastloss import _kernels

MAX_ULP = 2.0


def ulp_error(got, exact, dtype):
    """|got - exact| in units of the spacing of `exact` rounded to dtype."""
    exact = np.asarray(exact, dtype=np.longdouble)
    rounded = exact.astype(dtype)
    spacing = np.spacing(np.abs(rounded)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - exact) / spacing


def vexp(x):
    out = np.empty_like(x)
    _kernels.vexp(x, out)
    return out


def vexp_v4(x):
    """The AVX-512 exp (table-driven, vscalef scaling), where it runs."""
    out = np.empty_like(x)
    if not _kernels.vexp_v4(x, out):
        pytest.skip("no AVX-512 path on this CPU or build")
    return out


both_exps = pytest.mark.parametrize("exp", [vexp, vexp_v4], ids=["portable", "avx512"])


def vlog1p(x):
    out = np.empty_like(x)
    _kernels.vlog1p(x, out)
    return out


@both_exps
@pytest.mark.parametrize("dtype, lo, hi", [(np.float64, -745.2, 709.78),
                                           (np.float32, -103.9, 88.72)])
def test_exp_within_two_ulp_over_the_normal_range(exp, dtype, lo, hi):
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(lo, hi, 400_001), rng.uniform(-2, 2, 200_000),
                        rng.uniform(lo, hi, 200_000)]).astype(dtype)
    exact = np.exp(x.astype(np.longdouble))
    got = exp(x)
    tiny = np.finfo(dtype).tiny
    normal = exact >= tiny
    assert ulp_error(got[normal], exact[normal], dtype).max() <= MAX_ULP
    # subnormal results: within 1 unit of the smallest subnormal
    smallest = np.finfo(dtype).smallest_subnormal
    sub = ~normal
    assert sub.any()
    assert (np.abs(got[sub].astype(np.longdouble) - exact[sub]) <= smallest).all()


@both_exps
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_limits(exp, dtype):
    big = 1e308 if dtype == np.float64 else 3e38
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, big, -big, 1000.0, -1000.0,
                  np.finfo(dtype).smallest_subnormal], dtype=dtype)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    np.testing.assert_array_equal(exp(x), want)
    # exactly at the overflow and underflow thresholds
    edge = np.array([709.782712893384, 709.7827128933841, -745.1332191019411,
                     -745.1332191019412] if dtype == np.float64 else
                    [88.72283, 88.72284, -103.97207, -103.97208], dtype=dtype)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(exp(edge), np.exp(edge))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_avx512_exp_within_0_7_ulp(dtype):
    # the two-part table (hi_j + lo_j): nearly correctly rounded
    x = np.linspace(-30, 10, 2_000_001).astype(dtype)
    exact = np.exp(x.astype(np.longdouble))
    assert ulp_error(vexp_v4(x), exact, dtype).max() <= 0.7


def test_log1p_within_one_ulp():
    rng = np.random.default_rng(1)
    u = np.concatenate([np.linspace(0, 50, 300_001), 10 ** rng.uniform(-320, 5, 300_000),
                        10 ** rng.uniform(5, 308, 20_000),
                        [0.0, 5e-324, 1e-300, 0.4142135623730951, 1e308, 1.7976931348623157e308]])
    exact = np.log1p(u.astype(np.longdouble))
    got = vlog1p(u)
    nonzero = exact != 0
    assert ulp_error(got[nonzero], exact[nonzero], np.float64).max() <= 1.0
    assert (got[~nonzero] == 0).all()


def test_log1p_limits():
    u = np.array([np.inf, np.nan, 0.0])
    np.testing.assert_array_equal(vlog1p(u), [np.inf, np.nan, 0.0])


def test_show_config_names_the_simd_path(capsys):
    fastloss.show_config()
    out = capsys.readouterr().out
    assert "simd:" in out
    level = _kernels.simd_level()
    assert level in (0, 128, 256, 512)
