/* Template body of _rowops.h: included once per element type FL_T. */

/* Largest element of the row, ignoring nan; -inf for an empty or all-nan row.
 * Rows of FL_BLOCK or more are walked in whole blocks, the last one ending at
 * the row's end (overlapping its neighbour: harmless for a max). gcc's own
 * remainder handling of the plain loop cost 35 % of the whole normaliser at
 * n = 100. */
FL_INLINE FL_T FL_SUFFIX(fl_row_max)(const FL_T *x, Py_ssize_t n)
{
    FL_T m = -INFINITY, acc[FL_BLOCK];
    Py_ssize_t b, l, n_blocks = (n + FL_BLOCK - 1) / FL_BLOCK;
    if (n < FL_BLOCK) {
        for (l = 0; l < n; ++l)
            m = x[l] > m ? x[l] : m;
        return m;
    }
#pragma omp simd
    for (l = 0; l < FL_BLOCK; ++l)
        acc[l] = -INFINITY;
    for (b = 0; b < n_blocks; ++b) {
        Py_ssize_t start = b * FL_BLOCK < n - FL_BLOCK ? b * FL_BLOCK : n - FL_BLOCK;
#pragma omp simd
        for (l = 0; l < FL_BLOCK; ++l)
            acc[l] = x[start + l] > acc[l] ? x[start + l] : acc[l];
    }
    for (l = 0; l < FL_BLOCK; ++l)
        m = acc[l] > m ? acc[l] : m;
    return m;
}

/* x * inv_t - m_scaled in double, exactly 0 when x * inv_t rounds to m_scaled
 * (the row's max: gcc may fuse the multiply into the subtraction, which would
 * otherwise leave the product's rounding error there instead of 0). */
FL_INLINE double FL_SUFFIX(fl_shifted)(FL_T x, FL_T inv_t, FL_T m_scaled)
{
    FL_T z = x * inv_t;
    return z == m_scaled ? 0.0 : (double)z - (double)m_scaled;
}

/* One term of a row's normaliser: e = exp(x * inv_t - m * inv_t) (m_scaled =
 * m * inv_t: like torch, the logits are scaled BEFORE the max is subtracted, so
 * x - m cannot overflow), and whether x is the max (then e is exactly 1 and is
 * counted, not summed). */
#define FL_NORM_TERM(xj, m, m_scaled, inv_t, v, at_max) \
    FL_T v = FL_EXP((xj) * (inv_t) - (m_scaled));      \
    int at_max = (xj) == (m);                          \
    v = at_max ? (FL_T)1 : v;

/* Adds exp(x_j * inv_t - m_scaled) over the elements NOT equal to m to *rest
 * (in double) and the number equal to m to *count, for skip <= j < n. If `e`
 * is not NULL, e[j] receives every exp (1 at the max) for all j < n, so a
 * gradient needs no second exp. A nan in x makes *rest nan. */
FL_INLINE void FL_SUFFIX(fl_span_sumexp)(const FL_T *x, Py_ssize_t n, Py_ssize_t skip, FL_T m,
                                         FL_T m_scaled, FL_T inv_t, FL_T *e,
                                         double *rest, Py_ssize_t *count)
{
    double r = 0.0;
    Py_ssize_t k = 0, j;
    if (e != NULL) {
#pragma omp simd reduction(+:r, k)
        for (j = 0; j < n; ++j) {
            FL_NORM_TERM(x[j], m, m_scaled, inv_t, v, at_max)
            e[j] = v;
            r += at_max || j < skip ? 0.0 : (double)v;
            k += at_max && j >= skip;
        }
    } else {
#pragma omp simd reduction(+:r, k)
        for (j = 0; j < n; ++j) {
            FL_NORM_TERM(x[j], m, m_scaled, inv_t, v, at_max)
            r += at_max || j < skip ? 0.0 : (double)v;
            k += at_max && j >= skip;
        }
    }
    *rest += r;
    *count += k;
}

/* The normaliser of one wide row (n > FL_BLOCK): returns m_scaled = inv_t *
 * max_j x_j and sets *log_norm = log sum_j exp(x_j * inv_t - m_scaled),
 * computed as log1p(rest + n_at_max - 1) with the max terms (each exactly 1)
 * kept out of `rest` (accurate when the row is dominated by its max), and
 * *total = the sum. The row is walked in whole blocks of FL_BLOCK elements; the
 * last partial block is done as the row's final FL_BLOCK elements, skipping in
 * the sums those already counted (a scalar remainder loop of exps cost 40 % at
 * n = 100). Their exps are stored twice, with the same value. */
FL_INLINE FL_T FL_SUFFIX(fl_row_norm)(const FL_T *x, Py_ssize_t n, FL_T inv_t, FL_T *e,
                                      double *log_arg, double *total)
{
    FL_T m = FL_SUFFIX(fl_row_max)(x, n), m_scaled = m * inv_t;
    double rest = 0.0;
    Py_ssize_t count = 0, n_main = n - n % FL_BLOCK;
    FL_SUFFIX(fl_span_sumexp)(x, n_main, 0, m, m_scaled, inv_t, e, &rest, &count);
    if (n_main < n)
        FL_SUFFIX(fl_span_sumexp)(x + n - FL_BLOCK, FL_BLOCK, n_main - (n - FL_BLOCK), m,
                                  m_scaled, inv_t, e != NULL ? e + n - FL_BLOCK : NULL,
                                  &rest, &count);
    *total = rest + (double)count;
    *log_arg = rest + (double)(count - 1);
    return m_scaled;
}

/* Narrow rows are processed FL_LANES at a time, one row per SIMD lane: the
 * rows are first transposed into a small tile (tile[j][l] = row l, column j),
 * so every later loop reads and writes contiguous lane vectors. On the AMD
 * Zen 5 machine this was written on, the scalar transpose beat both gather
 * instructions (2x slower) and gcc's emulated strided loads (1.6x slower). */
FL_INLINE void FL_SUFFIX(fl_tile_load)(FL_T tile[][FL_LANES], const FL_T *x,
                                           Py_ssize_t lanes, Py_ssize_t n_cols)
{
    Py_ssize_t j, l;
    if (lanes < FL_LANES)   /* the unused lanes still get computed on: make them 0 */
        memset(tile, 0, sizeof(FL_T) * FL_NARROW_MAX * FL_LANES);
    for (l = 0; l < lanes; ++l)
        for (j = 0; j < n_cols; ++j)
            tile[j][l] = x[l * n_cols + j];
}

FL_INLINE void FL_SUFFIX(fl_tile_store)(FL_T *x, FL_T tile[][FL_LANES],
                                            Py_ssize_t lanes, Py_ssize_t n_cols)
{
    Py_ssize_t j, l;
    for (l = 0; l < lanes; ++l)
        for (j = 0; j < n_cols; ++j)
            x[l * n_cols + j] = tile[j][l];
}

/* Normalisers of `lanes` <= FL_LANES narrow rows (see fl_rows_norm); exps
 * are stored to e when e is not NULL. */
FL_INLINE void FL_SUFFIX(fl_lanes_norm)(const FL_T *x, Py_ssize_t lanes, Py_ssize_t n_cols,
                                        FL_T inv_t, FL_T *e, const fl_grad_spec *grad,
                                        FL_T *row_max, double *log_norm, double *total)
{
    FL_T tile[FL_NARROW_MAX][FL_LANES];
    FL_T m[FL_LANES], m_scaled[FL_LANES];
    double rest[FL_LANES], count[FL_LANES], m_log_norm[FL_LANES];
    Py_ssize_t j, l;
    FL_SUFFIX(fl_tile_load)(tile, x, lanes, n_cols);
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        m[l] = -INFINITY;
        rest[l] = 0.0;
        count[l] = 0.0;
    }
    for (j = 0; j < n_cols; ++j) {
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l)
            m[l] = tile[j][l] > m[l] ? tile[j][l] : m[l];
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l)
        m_scaled[l] = m[l] * inv_t;
    for (j = 0; j < n_cols; ++j) {
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l) {
            FL_NORM_TERM(tile[j][l], m[l], m_scaled[l], inv_t, v, at_max)
            tile[j][l] = v;
            rest[l] += at_max ? 0.0 : (double)v;
            count[l] += at_max;
        }
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        m_log_norm[l] = fl_log1p_d(rest[l] + (count[l] - 1.0));
        rest[l] += count[l];
    }
    if (grad != NULL) {
        double a[FL_LANES], c[FL_LANES], b[FL_LANES];
        Py_ssize_t y[FL_LANES];
        for (l = 0; l < FL_LANES; ++l) {   /* unused lanes: zero rows */
            int live = l < lanes;
            y[l] = live ? grad->y[l] : FL_ZERO_ROW;
            a[l] = !live ? 0.0 : isfinite(m_scaled[l]) ? grad->a[l] / rest[l] : NAN;
            c[l] = live ? grad->c[l] : 0.0;
            b[l] = live ? grad->b[l] : 0.0;
        }
        for (j = 0; j < n_cols; ++j) {
            double w_j = grad->w != NULL ? grad->w[j] : 1.0;
#pragma omp simd
            for (l = 0; l < FL_LANES; ++l) {
                double g = a[l] * (double)tile[j][l] - c[l] * w_j - (j == y[l] ? b[l] : 0.0);
                tile[j][l] = y[l] == FL_ZERO_ROW ? (FL_T)0 : (FL_T)g;
            }
        }
    }
    if (e != NULL)
        FL_SUFFIX(fl_tile_store)(e, tile, lanes, n_cols);
    for (l = 0; l < lanes; ++l) {
        row_max[l] = m_scaled[l];
        log_norm[l] = m_log_norm[l];
        total[l] = rest[l];
    }
}

/* The gradient row of fl_grad_spec from a wide row's exps (held in g). */
FL_INLINE void FL_SUFFIX(fl_row_grad)(FL_T *g, Py_ssize_t n, FL_T m_scaled, double total,
                                      const fl_grad_spec *grad, Py_ssize_t i)
{
    Py_ssize_t j, y = grad->y[i];
    double a = isfinite(m_scaled) ? grad->a[i] / total : NAN, c = grad->c[i], e_y;
    const double *w = grad->w;
    if (y == FL_ZERO_ROW) {
        memset(g, 0, n * sizeof(FL_T));
        return;
    }
    e_y = y >= 0 ? (double)g[y] : 0.0;
    if (w == NULL) {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c);
    } else {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c * w[j]);
    }
    /* the target entry again in double from e_y, so p_y ~ 1 does not cancel in float32 */
    if (y >= 0)
        g[y] = (FL_T)(a * e_y - c * (w != NULL ? w[y] : 1.0) - grad->b[i]);
}

/* Softmax normalisers of n_rows consecutive rows of n_cols: row_max[i] =
 * inv_t * max_j x_ij (the SCALED max, nan ignored), log_norm[i] =
 * log sum_j exp(x_ij * inv_t - row_max[i]) and total[i] = that sum (nan if the
 * row holds nan). If `e` is not NULL it receives, row by row, every exp or,
 * when `grad` is not NULL, the gradient that spec describes (computed while
 * the exps are still in registers or cache: no second pass over memory).
 * Narrow rows (n_cols <= FL_NARROW_MAX) are vectorised across rows, wide ones
 * along the row. Rows whose max is not finite get a meaningless log_norm
 * (callers test row_max), but total is still nan iff the row holds nan. */
FL_CLONES static void FL_SUFFIX(fl_rows_norm_grad)(const FL_T *x, Py_ssize_t n_rows,
                                                   Py_ssize_t n_cols, FL_T inv_t, FL_T *e,
                                                   const fl_grad_spec *grad, FL_T *row_max,
                                                   double *log_norm, double *total)
{
    FL_T scratch[FL_LANES * FL_NARROW_MAX];   /* exps go here when the caller wants none */
    fl_grad_spec shifted;
    Py_ssize_t i = 0;
    if (n_cols > FL_NARROW_MAX) {
        for (i = 0; i < n_rows; ++i)
            row_max[i] = FL_SUFFIX(fl_row_norm)(x + i * n_cols, n_cols, inv_t,
                                                e != NULL ? e + i * n_cols : NULL,
                                                log_norm + i, total + i);
        if (grad != NULL && e != NULL)
            for (i = 0; i < n_rows; ++i)
                FL_SUFFIX(fl_row_grad)(e + i * n_cols, n_cols, row_max[i], total[i], grad, i);
#pragma omp simd
        for (i = 0; i < n_rows; ++i)   /* vectorised across the chunk's rows */
            log_norm[i] = fl_log1p_d(log_norm[i]);
        return;
    }
    for (; i < n_rows; i += FL_LANES) {
        if (grad != NULL) {
            shifted = *grad;
            shifted.a += i;
            shifted.b += i;
            shifted.c += i;
            shifted.y += i;
        }
        FL_SUFFIX(fl_lanes_norm)(x + i * n_cols, n_rows - i < FL_LANES ? n_rows - i : FL_LANES,
                                 n_cols, inv_t, e != NULL ? e + i * n_cols : scratch,
                                 grad != NULL ? &shifted : NULL,
                                 row_max + i, log_norm + i, total + i);
    }
}

/* fl_rows_norm_grad without a gradient: `e` (if not NULL) receives the exps. */
FL_CLONES static void FL_SUFFIX(fl_rows_norm)(const FL_T *x, Py_ssize_t n_rows,
                                              Py_ssize_t n_cols, FL_T inv_t, FL_T *e,
                                              FL_T *row_max, double *log_norm, double *total)
{
    FL_SUFFIX(fl_rows_norm_grad)(x, n_rows, n_cols, inv_t, e, NULL, row_max, log_norm, total);
}

/* g_ij = a_i * g_ij - c_i * w_j for up to FL_LANES narrow rows, one per lane. */
FL_INLINE void FL_SUFFIX(fl_lanes_affine)(FL_T *g, Py_ssize_t lanes, Py_ssize_t n_cols,
                                              const double *a, const double *c, const double *w)
{
    FL_T tile[FL_NARROW_MAX][FL_LANES];
    double a_l[FL_LANES], c_l[FL_LANES];
    Py_ssize_t j, l;
    FL_SUFFIX(fl_tile_load)(tile, g, lanes, n_cols);
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        a_l[l] = l < lanes ? a[l] : 0.0;
        c_l[l] = l < lanes ? c[l] : 0.0;
    }
    for (j = 0; j < n_cols; ++j) {
        double w_j = w != NULL ? w[j] : 1.0;
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l)
            tile[j][l] = (FL_T)(a_l[l] * (double)tile[j][l] - c_l[l] * w_j);
    }
    FL_SUFFIX(fl_tile_store)(g, tile, lanes, n_cols);
}

/* g_ij = a_i * g_ij - c_i * w_j over n_rows rows (w == NULL means w_j = 1),
 * in double: across rows for narrow rows, along each row for wide ones. */
FL_CLONES static void FL_SUFFIX(fl_rows_affine)(FL_T *g, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                                const double *a, const double *c,
                                                const double *w)
{
    Py_ssize_t i, j;
    if (n_cols <= FL_NARROW_MAX) {
        for (i = 0; i + FL_LANES <= n_rows; i += FL_LANES)
            FL_SUFFIX(fl_lanes_affine)(g + i * n_cols, FL_LANES, n_cols, a + i, c + i, w);
        if (i < n_rows)
            FL_SUFFIX(fl_lanes_affine)(g + i * n_cols, n_rows - i, n_cols, a + i, c + i, w);
        return;
    }
    for (i = 0; i < n_rows; ++i) {
        FL_T *row = g + i * n_cols;
        double a_i = a[i], c_i = c[i];
        if (w == NULL) {
#pragma omp simd
            for (j = 0; j < n_cols; ++j)
                row[j] = (FL_T)(a_i * (double)row[j] - c_i);
        } else {
#pragma omp simd
            for (j = 0; j < n_cols; ++j)
                row[j] = (FL_T)(a_i * (double)row[j] - c_i * w[j]);
        }
    }
}

/* Sum of w_j * (x_j * inv_t - m_scaled) in double (w == NULL means w_j = 1);
 * x_j * inv_t is rounded to FL_T first, as m_scaled was, so the max term is 0. */
FL_CLONES static double FL_SUFFIX(fl_row_wsum_shifted)(const FL_T *x, Py_ssize_t n,
                                                       FL_T m_scaled, FL_T inv_t,
                                                       const double *w)
{
    double s = 0.0;
    Py_ssize_t j;
    if (w == NULL) {
#pragma omp simd reduction(+:s)
        for (j = 0; j < n; ++j)
            s += FL_SUFFIX(fl_shifted)(x[j], inv_t, m_scaled);
    } else {
#pragma omp simd reduction(+:s)
        for (j = 0; j < n; ++j)
            s += w[j] * FL_SUFFIX(fl_shifted)(x[j], inv_t, m_scaled);
    }
    return s;
}

/* out_j = (x_j * inv_t - m_scaled) - log_norm, the difference in double. */
FL_CLONES static void FL_SUFFIX(fl_row_log_softmax)(const FL_T *x, Py_ssize_t n, FL_T m_scaled,
                                                    FL_T inv_t, double log_norm, FL_T *out)
{
    Py_ssize_t j;
#pragma omp simd
    for (j = 0; j < n; ++j)
        out[j] = (FL_T)(FL_SUFFIX(fl_shifted)(x[j], inv_t, m_scaled) - log_norm);
}
