"""Argument checks shared by the public functions.

Every check runs before any kernel and raises TypeError (wrong kind of
object or dtype) or ValueError (wrong shape or value) naming the argument and
the offending value or first bad index.
"""
import math
import numbers
import operator

import numpy as np

REDUCTIONS = ("none", "mean", "sum")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_real_array(value, name):
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like, got {type(value).__name__}: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def float_matrix(value, name, *, axes="n_samples, n_classes", contiguous=True):
    """A 2-D float32/float64 array: C-contiguous (`value` itself when it
    already is, else one copy) unless contiguous=False (any layout, no copy)."""
    arr = as_real_array(value, name)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got dtype {arr.dtype} "
            f"(convert with {name}.astype(np.float64))")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D ({axes}), got shape {arr.shape}")
    return np.ascontiguousarray(arr) if contiguous else arr


def class_index_target(target, n_samples, name="target"):
    """Integer class labels as a C-contiguous intp array of length n_samples
    (range checks against n_classes happen in the kernel scan)."""
    arr = as_real_array(target, name)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must hold integer class indices, got dtype bool")
    if arr.dtype.kind == "f":
        raise TypeError(
            f"{name} must hold integer class indices, got dtype {arr.dtype}"
            + (" (fractional labels are not class indices; probability targets must be "
               "2-D (n_samples, n_classes))" if arr.ndim == 1 else ""))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} labels but the input has {n_samples} rows")
    intp_max = np.iinfo(np.intp).max
    if arr.dtype.kind == "u" and arr.size and arr.max() > intp_max:
        row = int(np.argmax(arr > intp_max))
        raise ValueError(f"{name}[{row}] = {arr[row]} is not a valid class index")
    return np.ascontiguousarray(arr, dtype=np.intp)


def check_label_scan(first_bad_row, target, n_classes, ignore_index, name="target"):
    if first_bad_row >= 0:
        raise ValueError(
            f"{name}[{first_bad_row}] = {target[first_bad_row]} is not a class index in "
            f"[0, {n_classes}) nor ignore_index={ignore_index}")


def weights(value, length, name, what):
    """Non-negative finite weights as float64 of shape (length,), or None."""
    if value is None:
        return None
    arr = as_real_array(value, name)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must hold real numbers, got dtype bool")
    if arr.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},) ({what}), got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {float(arr[i])}: weights must be finite and >= 0")
    return arr


def integer(value, name, what):
    """``operator.index(value)``; TypeError "<name> must be <what>" for bools
    and non-integers."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {what}, got {value!r}") from None


def real_scalar(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def inverse_temperature(temperature, dtype=np.float64):
    """1 / temperature, checked to be finite in `dtype` (the kernels scale float32
    logits by it in float32: an infinite scale would turn 0 * inf into nan)."""
    t = real_scalar(temperature, "temperature")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
    inv_t = 1.0 / t
    if not inv_t <= float(np.finfo(dtype).max):
        raise ValueError(f"temperature={temperature!r} is too small for {np.dtype(dtype).name} "
                         f"logits: 1/temperature overflows")
    return inv_t


def label_smoothing(value):
    eps = real_scalar(value, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {value!r}")
    return eps


def ignore_index(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"ignore_index must be an int, got {value!r}")
    value = int(value)
    info = np.iinfo(np.intp)
    if not info.min <= value <= info.max:
        raise ValueError(f"ignore_index={value} does not fit in a C index")
    return value


def reduction(value, allowed=REDUCTIONS):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {value!r}")
    return value


def output_buffer(buf, shape, dtype, name, inputs):
    """Check a caller-provided output array, or allocate one when buf is None."""
    if buf is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(buf).__name__}")
    if buf.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {buf.shape}")
    if buf.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype)}, got {buf.dtype}")
    if not buf.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not buf.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    for other_name, other in inputs:
        if other is not None and np.may_share_memory(buf, other):
            raise ValueError(f"{name} must not share memory with {other_name} "
                             "(inputs are never modified)")
    return buf
