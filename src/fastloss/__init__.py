"""fastloss: fast, exact CPU loss functions for NumPy.

Typed Cython kernels, nogil and parallel over rows with OpenMP, on the
caller's NumPy buffers. See README.md for the API table.
"""
import warnings

from . import _kernels
from ._core import cross_entropy, log_softmax, logsumexp, nll_loss, softmax
from ._elementwise_api import (binary_cross_entropy, binary_cross_entropy_with_logits, entropy,
                               exponential_loss, huber_loss, kl_div, l1_loss, logistic_loss,
                               mse_loss, sigmoid_focal_loss, smooth_l1_loss)
from ._linear import linear_cross_entropy
from ._multiclass_api import hinge_loss, margin_cross_entropy, softmax_focal_loss, zero_one_loss

__version__ = "0.1.0"

__all__ = [
    "cross_entropy", "log_softmax", "logsumexp", "nll_loss", "softmax",
    "binary_cross_entropy_with_logits", "binary_cross_entropy", "logistic_loss",
    "exponential_loss", "sigmoid_focal_loss", "kl_div", "entropy", "mse_loss", "l1_loss",
    "huber_loss", "smooth_l1_loss",
    "softmax_focal_loss", "margin_cross_entropy", "hinge_loss", "zero_one_loss",
    "linear_cross_entropy",
    "openmp_enabled", "show_config", "__version__",
]


def openmp_enabled():
    """True when the compiled kernels run in parallel with OpenMP.

    Examples
    --------
    >>> import fastloss
    >>> isinstance(fastloss.openmp_enabled(), bool)
    True
    """
    return _kernels.openmp_enabled()


def show_config(file=None):
    """Print how this build runs: version, OpenMP, thread counts."""
    from ._threads import resolve_n_threads, usable_cpu_count

    simd = {512: "AVX-512 (x86-64-v4 clone)", 256: "AVX2+FMA (x86-64-v3 clone)",
            128: "SSE2 (baseline clone)", 0: "compiler default (no multi-versioning)"}
    lines = [
        f"fastloss {__version__}",
        f"simd: {simd[_kernels.simd_level()]}",
        f"openmp_enabled: {openmp_enabled()}",
        f"omp_get_max_threads: {_kernels.omp_max_threads()}",
        f"usable cpus (affinity): {usable_cpu_count()}",
        f"default n_threads: {resolve_n_threads(None)}",
    ]
    print("\n".join(lines), file=file)


if not openmp_enabled():
    warnings.warn(
        "fastloss was built WITHOUT OpenMP: every kernel runs on a single thread. "
        "Rebuild with an OpenMP-capable compiler (see README).",
        RuntimeWarning,
        stacklevel=2,
    )
