"""Resolve the ``n_threads`` argument shared by every kernel."""
import os

from . import _kernels
from ._validation import integer

# Below this many elements a parallel region costs more than it saves: one thread.
SERIAL_WORK_THRESHOLD = 1 << 15


def usable_cpu_count():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_n_threads(n_threads, work=None):
    """Number of OpenMP threads a kernel call uses.

    Parameters
    ----------
    n_threads : int or None
        None: the usable cores, i.e. ``omp_get_max_threads()`` (which honours
        ``OMP_NUM_THREADS`` and threadpoolctl limits) capped by the CPU affinity
        mask. -1: all cores of the machine. A positive int: that many.
        0, other negative values and non-integers are errors.
    work : int, optional
        Number of elements the call touches; below ``SERIAL_WORK_THRESHOLD``
        a single thread is used.
    """
    if n_threads is not None:
        n_threads = integer(n_threads, "n_threads", "an int or None")
        if n_threads == 0 or n_threads < -1:
            raise ValueError(
                f"n_threads must be a positive int, -1 (all cores) or None, got {n_threads}")
    if n_threads is None:
        n_threads = min(_kernels.omp_max_threads(), usable_cpu_count())
    elif n_threads == -1:
        n_threads = os.cpu_count() or 1
    if not _kernels.openmp_enabled():
        return 1
    if work is not None and work < SERIAL_WORK_THRESHOLD:
        return 1
    return max(1, n_threads)
