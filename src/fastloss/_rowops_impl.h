/* Template body of _rowops.h: included once per element type FL_T. */

/* Largest element of the row, ignoring nan; -inf for an empty or all-nan row. */
static inline FL_T FL_SUFFIX(fl_row_max)(const FL_T *x, Py_ssize_t n)
{
    FL_T m = -INFINITY;
    Py_ssize_t j;
#pragma omp simd reduction(max:m)
    for (j = 0; j < n; ++j)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* Sum of exp((x_j - m) * inv_t) over the elements that are NOT equal to m,
 * accumulated in double; *n_at_max receives how many elements equal m.
 * Keeping the max terms (each exactly 1) out of the sum lets the caller use
 * log1p(rest + n_at_max - 1), accurate when the row is dominated by its max.
 * If `e` is not NULL, e[j] = exp((x_j - m) * inv_t) is stored for every j
 * (1 at the max), so a gradient can be formed without a second exp.
 * A nan anywhere in the row makes the returned sum nan. */
static inline double FL_SUFFIX(fl_row_sumexp)(const FL_T *x, Py_ssize_t n, FL_T m,
                                               FL_T inv_t, FL_T *e, Py_ssize_t *n_at_max)
{
    double rest = 0.0;
    Py_ssize_t count = 0, j;
    if (e != NULL) {
#pragma omp simd reduction(+:rest, count)
        for (j = 0; j < n; ++j) {
            FL_T v = FL_EXP((x[j] - m) * inv_t);
            int at_max = x[j] == m;
            e[j] = at_max ? (FL_T)1 : v;
            rest += at_max ? 0.0 : (double)v;
            count += at_max;
        }
    } else {
#pragma omp simd reduction(+:rest, count)
        for (j = 0; j < n; ++j) {
            FL_T v = FL_EXP((x[j] - m) * inv_t);
            int at_max = x[j] == m;
            rest += at_max ? 0.0 : (double)v;
            count += at_max;
        }
    }
    *n_at_max = count;
    return rest;
}

/* g_j = a * g_j - c   (c_w == NULL)   or   g_j = a * g_j - c * c_w[j]. */
static inline void FL_SUFFIX(fl_row_affine)(FL_T *g, Py_ssize_t n, double a, double c,
                                            const double *c_w)
{
    Py_ssize_t j;
    if (c_w == NULL) {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c);
    } else {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c * c_w[j]);
    }
}

/* Sum of w_j * (x_j - m) in double (w == NULL means w_j = 1). */
static inline double FL_SUFFIX(fl_row_wsum_shifted)(const FL_T *x, Py_ssize_t n, FL_T m,
                                                    const double *w)
{
    double s = 0.0;
    Py_ssize_t j;
    if (w == NULL) {
#pragma omp simd reduction(+:s)
        for (j = 0; j < n; ++j)
            s += (double)x[j] - (double)m;
    } else {
#pragma omp simd reduction(+:s)
        for (j = 0; j < n; ++j)
            s += w[j] * ((double)x[j] - (double)m);
    }
    return s;
}
