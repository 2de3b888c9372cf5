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


cdef inline double sum_in_lanes(const double *values, Py_ssize_t n) noexcept nogil:
    """Sum of values[0..n) in eight interleaved partial sums (value k goes to
    sum k % 8), folded pairwise at the end: a fixed order that depends on n
    only, and eight independent chains of additions instead of one (a chain
    of 1e6 dependent adds took ~1 ms, a tenth of a 1e6x10 cross-entropy)."""
    cdef double lanes[8]
    cdef Py_ssize_t j, k = 0
    for j in range(8):
        lanes[j] = 0.0
    while k + 8 <= n:
        for j in range(8):
            lanes[j] += values[k + j]
        k += 8
    for j in range(n - k):
        lanes[j] += values[k + j]
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + \
           ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
