"""Cross-entropy of a linear model, chunked so the (n_samples, n_classes)
logits never exist at once.

Per chunk of rows: BLAS gemm (numpy's ``matmul`` with ``out=``) for
``X_chunk @ coef``, the fused cross-entropy kernel on the chunk's logits
(writing its gradient into a reused chunk buffer), then gemm again for the
gradient w.r.t. ``coef`` (and ``X``). Chunks run in parallel on a thread pool,
each on one thread with BLAS held to one thread: BLAS's own pool and an
OpenMP team alternating on the same cores busy-wait against each other (on 2
cores that measured up to 9x slower). Chunk sizes depend only on the shapes,
never on ``n_threads``, and chunk results are added in chunk order, so the
result is bitwise the same for every ``n_threads``.
"""
import collections
import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _validation as v
from ._core import _ce_kernel, _ce_target_and_weights, _finish, _flag, _grad_scale
from ._threads import resolve_n_threads

# Default chunk: its logits and its gradient together about 1 MiB, one core's
# L2 on current x86 (so the gemm output is still cached when the kernel reads
# it), but at least 256 rows so BLAS calls stay large enough to be efficient.
CHUNK_BYTES = 1 << 20
MIN_CHUNK_ROWS = 256


def default_chunk_size(n_classes, itemsize):
    """Rows per chunk when ``chunk_size=None``."""
    return max(MIN_CHUNK_ROWS, CHUNK_BYTES // (2 * max(1, n_classes) * itemsize))


def _return_grad_mode(value):
    if isinstance(value, str):
        if value != "all":
            raise ValueError(f"return_grad must be True, False or 'all', got {value!r}")
        return "all"
    return _flag(value, "return_grad")


def _chunk_rows(chunk_size, n_classes, itemsize):
    if chunk_size is None:
        return default_chunk_size(n_classes, itemsize)
    rows = v.integer(chunk_size, "chunk_size", "a positive int or None")
    if rows < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size}")
    return rows


def _linear_operands(X, coef, intercept):
    """X (any layout, float32/float64), coef (n_features, n_classes) and
    intercept (n_classes,) of X's dtype."""
    X_arr = v.float_matrix(X, "X", axes="n_samples, n_features", contiguous=False)
    coef_arr = v.as_real_array(coef, "coef")
    if coef_arr.ndim != 2 or coef_arr.shape[0] != X_arr.shape[1]:
        raise ValueError(f"coef must have shape (n_features, n_classes) = ({X_arr.shape[1]}, k), "
                         f"got shape {coef_arr.shape}")
    if coef_arr.shape[1] == 0:
        raise ValueError(f"coef must have at least one class column, got shape {coef_arr.shape}")
    if coef_arr.dtype != X_arr.dtype:
        raise TypeError(f"coef must have X's dtype {X_arr.dtype}, got {coef_arr.dtype}")
    intercept_arr = None
    if intercept is not None:
        intercept_arr = v.as_real_array(intercept, "intercept")
        if intercept_arr.shape != (coef_arr.shape[1],):
            raise ValueError(f"intercept must have shape ({coef_arr.shape[1]},) (one per class), "
                             f"got shape {intercept_arr.shape}")
        if intercept_arr.dtype != X_arr.dtype:
            raise TypeError(f"intercept must have X's dtype {X_arr.dtype}, "
                            f"got {intercept_arr.dtype}")
    return X_arr, coef_arr, intercept_arr


class _Slot:
    """A worker's chunk buffers: logits and gradient rows, and the chunk's
    gradient partials w.r.t. coef and intercept."""

    def __init__(self, rows, coef_shape, grad_mode, dtype):
        self.logits = np.empty((rows, coef_shape[1]), dtype=dtype)
        self.grad = np.empty_like(self.logits) if grad_mode else None
        self.grad_coef = np.empty(coef_shape, dtype=dtype) if grad_mode else None
        self.grad_intercept = np.empty(coef_shape[1]) if grad_mode else None


def _in_chunk_order(run_chunk, starts, threads, new_slot):
    """Yield ``(run_chunk(start, slot), slot)`` for every start, in order.

    With threads > 1 the chunks run on a thread pool (numpy's matmul and the
    kernel release the GIL), at most 2 * threads at once, each in a slot of
    buffers of its own; results still come back in chunk order, and a slot
    is reused only after its result was consumed, so sums taken by the
    caller are the same for any number of threads.
    """
    if threads <= 1:
        slot = new_slot()
        for start in starts:
            yield run_chunk(start, slot), slot
        return
    free = [new_slot() for _ in range(2 * threads)]
    pending = collections.deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for start in starts:
            if not free:
                future, slot = pending.popleft()
                yield future.result(), slot
                free.append(slot)
            slot = free.pop()
            pending.append((pool.submit(run_chunk, start, slot), slot))
        while pending:
            future, slot = pending.popleft()
            yield future.result(), slot
            free.append(slot)


_BLAS_CONTROLLER = None


def one_blas_thread(rescan=False):
    """Context manager: BLAS on one thread for its duration (threadpoolctl).

    linear_cross_entropy runs each chunk's gemms single-threaded on the
    worker that owns the chunk: BLAS's own pool would busy-wait between the
    many small calls, competing with the workers for the cores. The BLAS
    libraries are found once (numpy's is loaded before fastloss);
    ``rescan=True`` looks again, to catch ones loaded since (scipy's, for
    L-BFGS-B in the estimators).
    """
    global _BLAS_CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a dependency; without it BLAS keeps its own threads
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None or rescan:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def linear_cross_entropy(X, coef, target, *, intercept=None, class_weight=None,
                         sample_weight=None, ignore_index=-100, label_smoothing=0.0,
                         reduction="mean", return_grad=False, chunk_size=None, n_threads=None):
    r"""Cross-entropy of the linear logits ``X @ coef + intercept``, without
    ever holding all of them.

    Equal to ``cross_entropy(X @ coef + intercept, target, ...)`` (same
    semantics for weights, ``ignore_index``, smoothing, probability targets,
    nan/inf and reductions), computed chunk by chunk: per chunk of rows,
    BLAS gemm for the logits, the fused cross-entropy kernel, and gemm for the
    gradients. Extra memory is O(chunk_size × n_classes), not
    O(n_samples × n_classes).

    With :math:`G = \partial L / \partial Z` the gradient of the loss w.r.t.
    the logits :math:`Z = X W + b`:

    .. math:: \nabla_W L = X^\top G,\quad \nabla_b L = \mathbf 1^\top G,\quad
              \nabla_X L = G W^\top

    Parameters
    ----------
    X : array_like of float32 or float64, shape (n_samples, n_features)
        Any layout (read in place; BLAS handles the strides).
    coef : array_like, shape (n_features, n_classes), X's dtype
    target : array_like, shape (n_samples,) of int or (n_samples, n_classes) of float
        Class indices or class probabilities, as in :func:`cross_entropy`.
    intercept : array_like, shape (n_classes,), X's dtype, optional
    class_weight, sample_weight, ignore_index, label_smoothing, reduction
        As in :func:`cross_entropy`.
    return_grad : bool or "all", default False
        True: also return the gradients w.r.t. ``coef`` and ``intercept``;
        "all": also w.r.t. ``X``. Gradients are of the returned loss (of its
        sum for reduction="none").
    chunk_size : int, optional
        Rows per chunk. Default: about 1 MiB of logits plus gradient per
        chunk (at least 256 rows). It never depends on ``n_threads``.
    n_threads : int or None, default None
        Chunks run on this many threads at once (None: the usable cores, -1:
        all, as in :func:`cross_entropy`), each chunk's gemms and kernel on
        one thread; BLAS is held to one thread during the call (threadpoolctl).
        The result is bitwise the same for every value.

    Returns
    -------
    loss : float, or ndarray of shape (n_samples,) for reduction="none"
    grad_X : ndarray, shape (n_samples, n_features)
        Only with return_grad="all".
    grad_coef : ndarray, shape (n_features, n_classes)
        With return_grad=True or "all". Accumulated over chunks in float64,
        returned in X's dtype.
    grad_intercept : ndarray of shape (n_classes,), or None without intercept
        With return_grad=True or "all".

    Examples
    --------
    >>> import numpy as np, fastloss
    >>> X = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 1.0]])
    >>> W = np.array([[0.1, -0.2, 0.0], [0.3, 0.0, -0.1]])
    >>> y = np.array([0, 1, 2])
    >>> loss, g_coef, g_int = fastloss.linear_cross_entropy(
    ...     X, W, y, intercept=np.zeros(3), return_grad=True, chunk_size=2)
    >>> bool(np.isclose(loss, fastloss.cross_entropy(X @ W, y)))
    True
    >>> g_coef.shape, g_int.shape
    ((2, 3), (3,))
    """
    X_arr, coef_arr, intercept_arr = _linear_operands(X, coef, intercept)
    n, n_classes = X_arr.shape[0], coef_arr.shape[1]
    dtype = X_arr.dtype
    reduction = v.reduction(reduction)
    grad_mode = _return_grad_mode(return_grad)
    eps = v.label_smoothing(label_smoothing)
    ignore = v.ignore_index(ignore_index)
    target_arr, is_proba, cw, sw, denominator = _ce_target_and_weights(
        target, class_weight, sample_weight, ignore, (n, n_classes))
    rows = min(_chunk_rows(chunk_size, n_classes, dtype.itemsize), max(n, 1))
    n_chunks = -(-n // rows)
    threads = min(resolve_n_threads(n_threads, n * n_classes * (X_arr.shape[1] + 1)),
                  max(n_chunks, 1))
    scale = _grad_scale(reduction, denominator)
    loss_out = np.empty(n, dtype=dtype) if reduction == "none" else None
    grad_X = np.empty(X_arr.shape, dtype=dtype) if grad_mode == "all" else None
    coef_t = coef_arr.T

    def run_chunk(start, slot):
        """One chunk in its worker's buffers; returns its loss sum (and fills
        the slot's gradient partials)."""
        stop = min(n, start + rows)
        X_chunk, z = X_arr[start:stop], slot.logits[:stop - start]
        np.matmul(X_chunk, coef_arr, out=z)
        if intercept_arr is not None:
            z += intercept_arr
        g = slot.grad[:stop - start] if grad_mode else None
        total = _ce_kernel(z, target_arr[start:stop], is_proba, cw,
                           sw[start:stop] if sw is not None else None, ignore, eps, 1.0, scale,
                           loss_out[start:stop] if loss_out is not None else None, g, 1)
        if grad_mode:
            np.matmul(X_chunk.T, g, out=slot.grad_coef)
            np.sum(g, axis=0, dtype=np.float64, out=slot.grad_intercept)
            if grad_X is not None:
                np.matmul(g, coef_t, out=grad_X[start:stop])
        return total

    total = 0.0
    if grad_mode:
        grad_coef = np.zeros(coef_arr.shape, dtype=np.float64)
        grad_intercept = np.zeros(n_classes, dtype=np.float64)
    with one_blas_thread():
        for chunk_total, slot in _in_chunk_order(run_chunk, range(0, n, rows), threads,
                                                 lambda: _Slot(rows, coef_arr.shape, grad_mode,
                                                               dtype)):
            total += chunk_total
            if grad_mode:
                grad_coef += slot.grad_coef
                grad_intercept += slot.grad_intercept
    loss = _finish(reduction, total, denominator, loss_out, None)
    if not grad_mode:
        return loss
    grads = (grad_coef.astype(dtype, copy=False),
             grad_intercept.astype(dtype, copy=False) if intercept_arr is not None else None)
    return (loss, grad_X) + grads if grad_mode == "all" else (loss,) + grads
