"""Every bad input named by the API contract raises a clear error before any kernel runs."""
import os

import numpy as np
import pytest

import fastloss
from fastloss._threads import resolve_n_threads

RNG = np.random.default_rng(7)
LOGITS = RNG.normal(size=(6, 4))
LABELS = np.array([0, 1, 2, 3, 1, 0])


def ce(**kw):
    args = {"logits": LOGITS, "target": LABELS}
    args.update(kw)
    return fastloss.cross_entropy(args.pop("logits"), args.pop("target"), **args)


@pytest.mark.parametrize("func", [fastloss.cross_entropy, fastloss.nll_loss])
@pytest.mark.parametrize("bad_label, row", [(4, 2), (-1, 5), (99, 0)])
def test_label_out_of_range_names_first_bad_row(func, bad_label, row):
    labels = LABELS.copy()
    labels[row] = bad_label
    labels[-1] = bad_label  # a later bad row must not be the one reported
    with pytest.raises(ValueError, match=rf"target\[{row}\] = {bad_label}\b"):
        func(LOGITS, labels)


def test_ignore_index_is_not_a_bad_label():
    labels = LABELS.copy()
    labels[1] = -7
    assert np.isfinite(ce(target=labels, ignore_index=-7))
    with pytest.raises(ValueError, match=r"target\[1\] = -7"):
        ce(target=labels)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32,
                                   np.int64, np.uint64])
def test_any_integer_label_dtype(dtype):
    assert ce(target=LABELS.astype(dtype)) == ce()


def test_huge_unsigned_label():
    labels = LABELS.astype(np.uint64)
    labels[3] = np.iinfo(np.uint64).max
    with pytest.raises(ValueError, match=r"target\[3\] = 18446744073709551615"):
        ce(target=labels)


def test_length_mismatch():
    with pytest.raises(ValueError, match="target has 5 labels but the input has 6 rows"):
        ce(target=LABELS[:5])


@pytest.mark.parametrize("func", [fastloss.cross_entropy, fastloss.nll_loss])
def test_one_dimensional_logits(func):
    with pytest.raises(ValueError, match=r"must be 2-D \(n_samples, n_classes\), got shape \(6,\)"):
        func(LOGITS[:, 0], LABELS)


def test_zero_classes():
    with pytest.raises(ValueError, match="at least one class"):
        ce(logits=np.empty((6, 0)))


@pytest.mark.parametrize("name, value, message", [
    ("class_weight", np.ones(3), r"class_weight must have shape \(4,\)"),
    ("class_weight", np.ones((4, 1)), r"class_weight must have shape \(4,\)"),
    ("sample_weight", np.ones(5), r"sample_weight must have shape \(6,\)"),
    ("class_weight", np.array([1.0, -0.5, 1.0, 1.0]), r"class_weight\[1\] = -0.5"),
    ("class_weight", np.array([1.0, 1.0, np.nan, 1.0]), r"class_weight\[2\] = nan"),
    ("sample_weight", np.array([1, 1, 1, 1, np.inf, 1.0]), r"sample_weight\[4\] = inf"),
])
def test_bad_weights(name, value, message):
    with pytest.raises(ValueError, match=message):
        ce(**{name: value})
    if name == "class_weight" or value.shape == (6,):
        with pytest.raises(ValueError, match=message):
            fastloss.nll_loss(LOGITS, LABELS, **{name: value})


def test_bool_and_complex_weights_are_type_errors():
    with pytest.raises(TypeError, match="class_weight"):
        ce(class_weight=np.ones(4, dtype=bool))
    with pytest.raises(TypeError, match="sample_weight"):
        ce(sample_weight=np.ones(6, dtype=complex))


@pytest.mark.parametrize("eps", [-0.1, 1.5, np.nan])
def test_label_smoothing_range(eps):
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        ce(label_smoothing=eps)


@pytest.mark.parametrize("temperature", [0.0, -1.0, np.inf, np.nan, 1e-320])
@pytest.mark.parametrize("func", ["cross_entropy", "logsumexp", "softmax", "log_softmax"])
def test_bad_temperature(func, temperature):
    f = getattr(fastloss, func)
    args = (LOGITS, LABELS) if func == "cross_entropy" else (LOGITS,)
    with pytest.raises(ValueError, match="temperature"):
        f(*args, temperature=temperature)


@pytest.mark.parametrize("func", ["cross_entropy", "logsumexp", "softmax", "log_softmax"])
def test_temperature_too_small_for_float32(func):
    # 1/1e-39 is finite in float64 but not in float32, where the kernels scale
    f = getattr(fastloss, func)
    args = (LABELS,) if func == "cross_entropy" else ()
    with pytest.raises(ValueError, match="temperature=1e-39 is too small for float32"):
        f(np.asarray(LOGITS, dtype=np.float32), *args, temperature=1e-39)
    f(np.asarray(LOGITS, dtype=np.float64), *args, temperature=1e-39)   # float64: accepted


def test_temperature_must_be_a_number():
    with pytest.raises(TypeError, match="temperature must be a real number"):
        fastloss.softmax(LOGITS, temperature="2")


@pytest.mark.parametrize("reduction", ["avg", "", None, "MEAN"])
def test_unknown_reduction(reduction):
    with pytest.raises(ValueError, match="reduction must be one of"):
        ce(reduction=reduction)
    with pytest.raises(ValueError, match="reduction must be one of"):
        fastloss.nll_loss(LOGITS, LABELS, reduction=reduction)


@pytest.mark.parametrize("bad", [LOGITS.astype(complex), LOGITS.astype(str),
                                 LOGITS.astype(object), LOGITS.astype(np.int64),
                                 LOGITS.astype(np.float16), LOGITS > 0])
@pytest.mark.parametrize("func", ["cross_entropy", "nll_loss", "logsumexp", "softmax",
                                  "log_softmax"])
def test_non_float_inputs_are_type_errors(func, bad):
    f = getattr(fastloss, func)
    args = (bad, LABELS) if func in ("cross_entropy", "nll_loss") else (bad,)
    with pytest.raises(TypeError, match="logits|log_probs|x"):
        f(*args)


@pytest.mark.parametrize("target, exc, message", [
    (LABELS.astype(np.float64), TypeError, "fractional labels"),
    (LABELS.astype(bool), TypeError, "bool"),
    (LABELS.astype(complex), TypeError, "real numbers"),
    (LABELS.reshape(3, 2), ValueError, r"target must be 1-D"),
    (np.full((6, 3), 1 / 3), ValueError, r"probability target must have logits' shape \(6, 4\)"),
    (np.full((5, 4), 1 / 4), ValueError, r"probability target must have logits' shape"),
])
def test_bad_targets(target, exc, message):
    with pytest.raises(exc, match=message):
        ce(target=target)


def test_nll_rejects_probability_targets():
    with pytest.raises(TypeError, match="integer class indices"):
        fastloss.nll_loss(LOGITS, np.full((6, 4), 0.25))


@pytest.mark.parametrize("kw, exc, message", [
    ({"out": np.empty(5)}, ValueError, r"out must have shape \(6,\)"),
    ({"out": np.empty(6, dtype=np.float32)}, ValueError, "out must have dtype float64"),
    ({"out": np.empty(12)[::2]}, ValueError, "out must be C-contiguous"),
    ({"out": [0.0] * 6}, TypeError, "out must be a numpy.ndarray"),
    ({"grad_out": np.empty((6, 3))}, ValueError, r"grad_out must have shape \(6, 4\)"),
    ({"grad_out": np.empty((6, 4), dtype=np.float32)}, ValueError, "grad_out must have dtype"),
    ({"grad_out": np.empty((4, 6)).T}, ValueError, "grad_out must be C-contiguous"),
])
def test_bad_output_buffers(kw, exc, message):
    with pytest.raises(exc, match=message):
        ce(reduction="none", return_grad=True, **kw)


def test_read_only_output_buffers():
    out = np.empty(6)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        ce(reduction="none", out=out)
    grad = np.empty((6, 4))
    grad.flags.writeable = False
    with pytest.raises(ValueError, match="grad_out must be writeable"):
        ce(return_grad=True, grad_out=grad)


def test_out_without_none_reduction_and_grad_out_without_return_grad():
    with pytest.raises(ValueError, match="out= is only used with reduction='none'"):
        ce(out=np.empty(6))
    with pytest.raises(ValueError, match="grad_out= is only used with return_grad=True"):
        ce(grad_out=np.empty((6, 4)))


def test_output_may_not_alias_an_input():
    logits = LOGITS.copy()
    with pytest.raises(ValueError, match="grad_out must not share memory with logits"):
        fastloss.cross_entropy(logits, LABELS, return_grad=True, grad_out=logits)
    with pytest.raises(ValueError, match="out must not share memory with x"):
        fastloss.softmax(logits, out=logits)
    np.testing.assert_array_equal(logits, LOGITS)


def test_return_grad_must_be_bool():
    with pytest.raises(TypeError, match="return_grad must be True or False"):
        ce(return_grad="yes")


def test_ignore_index_must_be_int():
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        ce(ignore_index=1.5)


@pytest.mark.parametrize("n_threads", [0, -2, -100])
def test_bad_n_threads_value(n_threads):
    with pytest.raises(ValueError, match=f"n_threads must be a positive int, -1 .*got {n_threads}"):
        ce(n_threads=n_threads)


@pytest.mark.parametrize("n_threads", [1.5, "2", True])
def test_bad_n_threads_type(n_threads):
    with pytest.raises(TypeError, match="n_threads must be an int or None"):
        fastloss.logsumexp(LOGITS, n_threads=n_threads)


def test_n_threads_resolution():
    big = 1 << 20
    assert resolve_n_threads(3, big) == (3 if fastloss.openmp_enabled() else 1)
    assert resolve_n_threads(-1, big) == (os.cpu_count() if fastloss.openmp_enabled() else 1)
    assert resolve_n_threads(None, big) <= len(os.sched_getaffinity(0))
    assert resolve_n_threads(8, work=10) == 1  # tiny inputs run on one thread


def test_n_threads_none_honours_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastloss.openmp_enabled():
        pytest.skip("serial build")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert resolve_n_threads(None, 1 << 20) == 1


def test_openmp_required_in_ci():
    if os.environ.get("FASTLOSS_REQUIRE_OPENMP") == "1":
        assert fastloss.openmp_enabled()
    else:
        assert isinstance(fastloss.openmp_enabled(), bool)


def test_errors_leave_inputs_untouched():
    logits = LOGITS.copy()
    labels = LABELS.copy()
    labels[0] = 42
    with pytest.raises(ValueError):
        fastloss.cross_entropy(logits, labels, return_grad=True)
    np.testing.assert_array_equal(logits, LOGITS)


def test_out_and_grad_out_may_not_overlap():
    buffer = np.empty(6 * 4 + 6)
    with pytest.raises(ValueError, match="grad_out must not share memory with out"):
        ce(reduction="none", return_grad=True, out=buffer[:6],
           grad_out=buffer[:24].reshape(6, 4))
