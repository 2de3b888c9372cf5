# Shared by every kernel module (cimport fastloss._common): the fused element
# type and the fixed row blocking that makes reductions independent of the
# thread count.

ctypedef fused floating:
    float
    double


cdef inline Py_ssize_t rows_per_block(Py_ssize_t n_cols) noexcept nogil:
    """Rows per prange work item: about 16k elements. Depends on the shape only
    (never on the thread count), which fixes the summation order."""
    if n_cols < 1:
        n_cols = 1
    return max(<Py_ssize_t>1, <Py_ssize_t>16384 // n_cols)


cdef inline double sum_in_order(const double[::1] partial) noexcept nogil:
    """Sum of the per-block partial sums, always in block order."""
    cdef double total = 0.0
    cdef Py_ssize_t b
    for b in range(partial.shape[0]):
        total += partial[b]
    return total
