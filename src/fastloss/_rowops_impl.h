/* Template body of _rowops.h: included once per element type FL_T. */

/* Outside the AVX-512 clone, wide rows up to this size get the next chunk's
 * rows prefetched in a burst per row (fl_wide_rows). */
#ifndef FL_PREFETCH_ROW_BYTES
#define FL_PREFETCH_ROW_BYTES 16384
#endif

#ifdef FL_HAVE_V4
/* fl_row_max for the AVX-512 clone: four vectors at a time into four maxima
 * (one chain of dependent vmax took 2 cycles per vector), the rest of the
 * whole vectors, then a masked last one. */
FL_V4 FL_T FL_SUFFIX(fl_row_max_v4)(const FL_T *x, Py_ssize_t n)
{
    const __mmask16 tail = fl_first_lanes(n % FL_VEC_N);
    const Py_ssize_t n_main = n - n % FL_VEC_N, n_quad = n - n % (4 * FL_VEC_N);
    FL_VEC m0 = FL_V(set1)(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    Py_ssize_t j;
    for (j = 0; j < n_quad; j += 4 * FL_VEC_N) {   /* vmax returns its 2nd operand if one is nan */
        m0 = FL_V(max)(FL_V(loadu)(x + j), m0);
        m1 = FL_V(max)(FL_V(loadu)(x + j + FL_VEC_N), m1);
        m2 = FL_V(max)(FL_V(loadu)(x + j + 2 * FL_VEC_N), m2);
        m3 = FL_V(max)(FL_V(loadu)(x + j + 3 * FL_VEC_N), m3);
    }
    for (; j < n_main; j += FL_VEC_N)
        m0 = FL_V(max)(FL_V(loadu)(x + j), m0);
    m0 = FL_V(max)(FL_V(mask_loadu)(m0, tail, x + n_main), m0);
    return FL_V(reduce_max)(FL_V(max)(FL_V(max)(m0, m1), FL_V(max)(m2, m3)));
}
#endif

/* Largest element of the row, ignoring nan; -inf for an empty or all-nan row.
 * Rows of FL_BLOCK or more are walked in whole blocks, the last one ending at
 * the row's end (overlapping its neighbour: harmless for a max). gcc's own
 * remainder handling of the plain loop cost 35 % of the whole normaliser at
 * n = 100. */
FL_INLINE FL_T FL_SUFFIX(fl_row_max)(const FL_T *x, Py_ssize_t n)
{
    FL_T m = -INFINITY, acc[FL_BLOCK];
    Py_ssize_t b, l, n_blocks = (n + FL_BLOCK - 1) / FL_BLOCK;
#ifdef FL_HAVE_V4
    if (fl_v4())
        return FL_SUFFIX(fl_row_max_v4)(x, n);
#endif
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
 * m * inv_t, rounded to FL_T: like torch, the logits are scaled BEFORE the max
 * is subtracted, so x - m cannot overflow), and whether x is at the max (then
 * e is exactly 1 and is counted, not summed). "At the max" is x * inv_t
 * rounding to m_scaled, as in fl_shifted: true for x == m (the same product),
 * and it keeps -inf - -inf (a finite max whose scaled value overflows to -inf)
 * out of the sum, with or without FMA contraction. */
#define FL_NORM_TERM(xj, m_scaled, inv_t, v, at_max)   \
    FL_T z_##v = (xj) * (inv_t);                      \
    FL_T v = FL_EXP(z_##v - (m_scaled));              \
    int at_max = z_##v == (m_scaled);                 \
    v = at_max ? (FL_T)1 : v;

/* One block of a wide row, x[0..FL_BLOCK): adds exp(x_l * inv_t - m_scaled)
 * of the elements not at the max (FL_NORM_TERM) to the lane sums acc[l] (in
 * double) and counts those at the max in cnt[l], except for lanes l < skip
 * (counted by the previous block: see fl_row_sumexp). If `e` is not NULL,
 * e[l] receives every exp (1 at the max). A nan makes its lane's sum nan. */
FL_INLINE void FL_SUFFIX(fl_block_sumexp)(const FL_T *x, Py_ssize_t skip, FL_T m_scaled,
                                          FL_T inv_t, FL_T *e, double acc[FL_BLOCK],
                                          FL_UINT cnt[FL_BLOCK])
{
    Py_ssize_t l;
#pragma omp simd
    for (l = 0; l < FL_BLOCK; ++l) {
        FL_NORM_TERM(x[l], m_scaled, inv_t, v, at_max)
        if (e != NULL)
            e[l] = v;
        acc[l] += at_max || l < skip ? 0.0 : (double)v;
        cnt[l] += (FL_UINT)(at_max && l >= skip);
    }
}

/* Sums of fl_block_sumexp over a whole wide row (n >= FL_BLOCK): whole blocks,
 * then the last partial block done as the row's final FL_BLOCK elements,
 * skipping those already counted (a scalar remainder loop of exps cost 40 % at
 * n = 100). Their exps are stored twice, with the same value. Inlined with e
 * NULL or not, so the loss-only loop has no stores. */
FL_INLINE void FL_SUFFIX(fl_row_sumexp)(const FL_T *x, Py_ssize_t n, FL_T m_scaled,
                                        FL_T inv_t, FL_T *e, double acc[FL_BLOCK],
                                        FL_UINT cnt[FL_BLOCK])
{
    Py_ssize_t l, start = 0, n_main = n - n % FL_BLOCK;
    double run[FL_BLOCK];
    while (start < n_main) {   /* runs of FL_RUN blocks, each summed on its own */
        Py_ssize_t end = start + FL_RUN * FL_BLOCK < n_main ? start + FL_RUN * FL_BLOCK : n_main;
#pragma omp simd
        for (l = 0; l < FL_BLOCK; ++l)
            run[l] = 0.0;
        for (; start < end; start += FL_BLOCK)
            FL_SUFFIX(fl_block_sumexp)(x + start, 0, m_scaled, inv_t,
                                       e != NULL ? e + start : NULL, run, cnt);
#pragma omp simd
        for (l = 0; l < FL_BLOCK; ++l)
            acc[l] += run[l];
    }
    if (n_main < n)
        FL_SUFFIX(fl_block_sumexp)(x + n - FL_BLOCK, n_main - (n - FL_BLOCK), m_scaled, inv_t,
                                   e != NULL ? e + n - FL_BLOCK : NULL, acc, cnt);
}

#ifdef FL_HAVE_V4
/* One vector of fl_row_norm_v4: the lanes in `valid` of x (and e) only; ahead
 * (elements): where to prefetch from, relative to x; scaled = 0 (a constant
 * where inlined) when inv_t is 1. */
FL_V4_INLINE void FL_SUFFIX(fl_norm_step_v4)(const FL_T *x, FL_T *e, __mmask16 valid,
                                             FL_VEC m_scaled, FL_VEC inv_t, int scaled,
                                             __m512d *lo, __m512d *hi, Py_ssize_t *count,
                                             Py_ssize_t ahead)
{
    const int whole = valid == FL_ALL_LANES;   /* a constant where inlined */
    FL_VEC xv = whole ? FL_V(loadu)(x) : FL_V(maskz_loadu)(valid, x);
    FL_VEC zs = scaled ? FL_V(mul)(xv, inv_t) : xv, v;
    __builtin_prefetch((const char *)(x + ahead), 0, 3);   /* the next chunk's: see fl_wide_rows */
    /* zs <= m_scaled (inv_t > 0 and rounding is monotonic), so the argument of
       exp is <= 0 or nan */
    __mmask16 at_max = FL_V_CMP_MASK(zs, m_scaled, _CMP_EQ_OQ) & valid;
    v = FL_EXP_V4(FL_V(sub)(zs, m_scaled), 0);
    if (e != NULL)   /* exp(0) is 1 already; this is for -inf - -inf (nan) */
        v = FL_V(mask_mov)(v, at_max, FL_V(set1)(1));
    if (e != NULL && whole)
        FL_V(storeu)(e, v);
    else if (e != NULL)
        FL_V(mask_storeu)(e, valid, v);
    FL_SUM_LANES_V4(lo, hi, v, valid & ~at_max);
    *count += __builtin_popcount(at_max);
}

/* fl_row_norm in AVX-512 intrinsics, for the v4 clone: the same sums (FL_NORM_TERM
 * per element, per-lane double sums added up as a tree) but gcc's code for the
 * portable loops spent ~45 instructions per vector, and the row's last partial
 * vector is read and written through masks (masked-off lanes are not touched).
 * Compiled with and without the multiply by inv_t (scaled, a constant where
 * inlined: see fl_row_norm_v4), which is one of the loop's dozen
 * multiply-adds, and for `rows` = 1 or 2 consecutive rows (maxima m[r]) whose
 * vectors are interleaved: each row's end (last vector, lane sums, totals) is a
 * chain of dependent steps that the other row's work now overlaps (4-5 % faster
 * at 100 columns, 1-2 % at 1000 and more; four rows gained nothing more for
 * float). Each row's arithmetic is the same either way. */
FL_V4_INLINE void FL_SUFFIX(fl_row_norm_body_v4)(const FL_T *x, Py_ssize_t n, int rows,
                                                 FL_T inv_t, int scaled, const FL_T *m, FL_T *e,
                                                 double *log_arg, double *total,
                                                 Py_ssize_t ahead)
{
    const __mmask16 all = FL_ALL_LANES, tail = fl_first_lanes(n % FL_VEC_N);
    const Py_ssize_t n_main = n - n % FL_VEC_N;
    const FL_VEC iv = FL_V(set1)(inv_t);
    FL_VEC ms[2];
    __m512d lo[2], hi[2];
    Py_ssize_t j, count[2] = {0, 0};
    int r;
    for (r = 0; r < rows; ++r) {
        ms[r] = FL_V(set1)(m[r] * inv_t);
        lo[r] = hi[r] = _mm512_setzero_pd();
    }
    for (j = 0; j < n_main;) {   /* runs of FL_RUN vectors, as fl_row_sumexp */
        Py_ssize_t end = j + FL_RUN * FL_VEC_N < n_main ? j + FL_RUN * FL_VEC_N : n_main;
        __m512d run_lo[2], run_hi[2];
        for (r = 0; r < rows; ++r)
            run_lo[r] = run_hi[r] = _mm512_setzero_pd();
        if (e != NULL)
            for (; j < end; j += FL_VEC_N)
                for (r = 0; r < rows; ++r)
                    FL_SUFFIX(fl_norm_step_v4)(x + r * n + j, e + r * n + j, all, ms[r], iv,
                                               scaled, &run_lo[r], &run_hi[r], &count[r], ahead);
        else
            for (; j < end; j += FL_VEC_N)
                for (r = 0; r < rows; ++r)
                    FL_SUFFIX(fl_norm_step_v4)(x + r * n + j, NULL, all, ms[r], iv, scaled,
                                               &run_lo[r], &run_hi[r], &count[r], ahead);
        for (r = 0; r < rows; ++r) {
            lo[r] = _mm512_add_pd(lo[r], run_lo[r]);
            hi[r] = _mm512_add_pd(hi[r], run_hi[r]);
        }
    }
    for (r = 0; r < rows; ++r) {
        double rest;
        if (tail)
            FL_SUFFIX(fl_norm_step_v4)(x + r * n + j, e != NULL ? e + r * n + j : NULL, tail,
                                       ms[r], iv, scaled, &lo[r], &hi[r], &count[r], ahead);
        rest = FL_SUM_TOTAL_V4(lo[r], hi[r]);
        total[r] = rest + (double)count[r];
        log_arg[r] = rest + ((double)count[r] - 1.0);
    }
}

FL_V4 void FL_SUFFIX(fl_row_norm_v4)(const FL_T *x, Py_ssize_t n, int rows, FL_T inv_t,
                                     const FL_T *m, FL_T *e, double *log_arg, double *total,
                                     Py_ssize_t ahead)
{
    if (inv_t == (FL_T)1 && rows == 2)
        FL_SUFFIX(fl_row_norm_body_v4)(x, n, 2, inv_t, 0, m, e, log_arg, total, ahead);
    else if (rows == 2)
        FL_SUFFIX(fl_row_norm_body_v4)(x, n, 2, inv_t, 1, m, e, log_arg, total, ahead);
    else if (inv_t == (FL_T)1)
        FL_SUFFIX(fl_row_norm_body_v4)(x, n, 1, inv_t, 0, m, e, log_arg, total, ahead);
    else
        FL_SUFFIX(fl_row_norm_body_v4)(x, n, 1, inv_t, 1, m, e, log_arg, total, ahead);
}
#endif

/* The normaliser of one wide row (n >= FL_BLOCK) whose max is m (fl_row_max):
 * sets *log_arg = sum_j exp(x_j * inv_t - m * inv_t) - 1 (for a log1p:
 * accurate when the row is dominated by its max), with the max terms (each
 * exactly 1) kept out of the exps' sum, and *total = the sum. The sums are
 * kept per lane and added up once per row as a tree (in a fixed order: a sum
 * of the lanes in lane order was a serial chain of 16 dependent adds per row,
 * a third of the time at n = 100). The AVX-512 path prefetches x + ahead as it
 * goes (the same line of the next chunk: see fl_wide_rows). */
FL_INLINE void FL_SUFFIX(fl_row_norm)(const FL_T *x, Py_ssize_t n, FL_T inv_t, FL_T m, FL_T *e,
                                      double *log_arg, double *total, Py_ssize_t ahead)
{
    FL_T m_scaled = m * inv_t;
    double acc[FL_BLOCK];
    FL_UINT cnt[FL_BLOCK];
    Py_ssize_t l;
#ifdef FL_HAVE_V4
    if (fl_v4()) {
        FL_SUFFIX(fl_row_norm_v4)(x, n, 1, inv_t, &m, e, log_arg, total, ahead);
        return;
    }
#endif
    (void)ahead;
#pragma omp simd
    for (l = 0; l < FL_BLOCK; ++l) {
        acc[l] = 0.0;
        cnt[l] = 0;
    }
    if (e != NULL)
        FL_SUFFIX(fl_row_sumexp)(x, n, m_scaled, inv_t, e, acc, cnt);
    else
        FL_SUFFIX(fl_row_sumexp)(x, n, m_scaled, inv_t, NULL, acc, cnt);
    /* halving folds of constant width, so each becomes register shuffles */
#define FL_FOLD(width)                         \
    for (l = 0; l < (width); ++l) {            \
        acc[l] += acc[l + (width)];            \
        cnt[l] += cnt[l + (width)];            \
    }
    FL_FOLD(8) FL_FOLD(4) FL_FOLD(2) FL_FOLD(1)
#undef FL_FOLD
    *total = acc[0] + (double)cnt[0];
    *log_arg = acc[0] + ((double)cnt[0] - 1.0);
}

#ifdef FL_HAVE_V4
/* fl_tile_load (to_x = 0) and fl_tile_store (to_x = 1) with AVX-512: blocks
 * of FL_VEC_N rows by FL_VEC_N columns transposed in registers; masked loads
 * and stores touch only the rows' own elements (masked-off lanes load 0). The
 * tile's side moves whole vectors, plain loads and stores (all-lanes masked
 * ones were 4 % slower at 10 float columns: the tile is read back at once). */
FL_V4 void FL_SUFFIX(fl_tile_move_v4)(FL_T tile[][FL_LANES], FL_T *x, Py_ssize_t lanes,
                                      Py_ssize_t n_cols, int to_x)
{
    Py_ssize_t h, j, k;
    for (h = 0; h < FL_LANES; h += FL_VEC_N)
        for (j = 0; j < n_cols; j += FL_VEC_N) {
            __mmask16 cols = fl_first_lanes(n_cols - j < FL_VEC_N ? n_cols - j : FL_VEC_N);
            FL_VEC r[FL_VEC_N];
            for (k = 0; k < FL_VEC_N; ++k) {
                int row = h + k < lanes, col = j + k < n_cols;
                r[k] = to_x ? (col ? FL_V(loadu)(&tile[j + k][h]) : FL_V(setzero)())
                            : FL_VEC_LOAD(row ? cols : 0, row ? x + (h + k) * n_cols + j : x);
            }
            FL_SUFFIX(fl_transpose)(r);
            for (k = 0; k < FL_VEC_N; ++k) {
                if (to_x && h + k < lanes)
                    FL_VEC_STORE(x + (h + k) * n_cols + j, cols, r[k]);
                else if (!to_x && j + k < n_cols)
                    FL_V(storeu)(&tile[j + k][h], r[k]);
            }
        }
}
#endif

/* Narrow rows are processed FL_LANES at a time, one row per SIMD lane: the
 * rows are first transposed into a small tile (tile[j][l] = row l, column j),
 * so every later loop reads and writes contiguous lane vectors. The AVX-512
 * clone transposes in registers (2-3x faster than scalar moves); elsewhere
 * scalar moves, which on AMD Zen 5 beat both gather instructions (2x slower)
 * and gcc's emulated strided loads (1.6x slower). */
FL_INLINE void FL_SUFFIX(fl_tile_load)(FL_T tile[][FL_LANES], const FL_T *x,
                                           Py_ssize_t lanes, Py_ssize_t n_cols)
{
    Py_ssize_t j, l;
#ifdef FL_HAVE_V4
    if (fl_v4()) {
        FL_SUFFIX(fl_tile_move_v4)(tile, (FL_T *)x, lanes, n_cols, 0);   /* x is only read */
        return;
    }
#endif
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
#ifdef FL_HAVE_V4
    if (fl_v4()) {
        FL_SUFFIX(fl_tile_move_v4)(tile, x, lanes, n_cols, 1);
        return;
    }
#endif
    for (l = 0; l < lanes; ++l)
        for (j = 0; j < n_cols; ++j)
            x[l * n_cols + j] = tile[j][l];
}

/* The tile FL_PREFETCH_TILES ahead of the one at x (or NULL for none): out of
 * cache the in-register transposes stalled on each row's first load and store
 * (the hardware prefetcher did not keep up): 1.3-2x slower at 10 columns
 * without prefetches. A prefetch never faults, so running past the end of the
 * array is harmless. */
#define FL_PREFETCH_TILES 4
FL_INLINE const char *FL_SUFFIX(fl_tile_ahead)(const FL_T *x, Py_ssize_t n_cols)
{
    return x == NULL ? NULL
         : (const char *)x + FL_PREFETCH_TILES * FL_LANES * n_cols * (Py_ssize_t)sizeof(FL_T);
}

/* Prefetches the tiles at ahead_x and (for writing) ahead_e, each NULL for
 * none, in one burst. The AVX-512 loops spread theirs instead, a line per
 * column vector (a tile of FL_LANES rows is FL_LANES / FL_VEC_N lines per
 * column): in a burst they stalled on Zen 4 once the line fill buffers were
 * full. */
FL_INLINE void FL_SUFFIX(fl_tile_prefetch)(const char *ahead_x, const char *ahead_e,
                                           Py_ssize_t n_cols)
{
    Py_ssize_t q, span = FL_LANES * n_cols * (Py_ssize_t)sizeof(FL_T);
    for (q = 0; q < span; q += 64) {
        if (ahead_x != NULL)
            __builtin_prefetch(ahead_x + q, 0, 3);
        if (ahead_e != NULL)
            __builtin_prefetch(ahead_e + q, 1, 3);
    }
}

/* Sum of w_j * (x_j * inv_t - m_scaled) in double (w == NULL means w_j = 1);
 * x_j * inv_t is rounded to FL_T first, as m_scaled was, so the max term is 0. */
FL_INLINE double FL_SUFFIX(fl_row_wsum_shifted)(const FL_T *x, Py_ssize_t n, FL_T m_scaled,
                                                FL_T inv_t, const double *w)
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

/* One row of fl_ce_spec from its normaliser (dead: an ignored row or unused
 * lane; has_y: the row has a target, of weight v; z_y, wz: the shifted target
 * logit and sum_j w_j z_j): returns the loss and sets the gradient as
 * g_j = a e_j - c w_j - b [j == y] for the row's exps e (1/total is folded
 * into a). Written once for the lanes of narrow rows and for wide rows. */
FL_INLINE double FL_SUFFIX(fl_ce_row)(const fl_ce_spec *ce, int dead, int has_y, double s,
                                      double v, double m_scaled, double total, double log_norm,
                                      double z_y, double wz, double *a, double *b, double *c)
{
    double kv = ce->keep * v, gs = ce->scale * s;
    int finite = isfinite(m_scaled);
    *a = dead ? 0.0 : finite ? gs * (kv + ce->spread * ce->w_sum) / total : NAN;
    *b = has_y ? gs * kv : 0.0;
    *c = dead ? 0.0 : gs * ce->spread;
    return dead ? 0.0 : !finite ? NAN
         : s * (kv * (log_norm - z_y) + ce->spread * (ce->w_sum * log_norm - wz));
}

/* fl_ce_row over FL_LANES rows at once, vectorised across them: their losses,
 * the gradient coefficients a and c, and the gradient's target entries g_y,
 * from the target's exps e_y in double (p_y ~ 1 must not cancel in float).
 * state: each row's target column, FL_NO_TARGET or FL_ZERO_ROW. */
FL_INLINE void FL_SUFFIX(fl_lanes_ce)(const fl_ce_spec *ce, const Py_ssize_t state[FL_LANES],
                                      const double s[FL_LANES], const double w_y[FL_LANES],
                                      const double m_scaled[FL_LANES],
                                      const double total[FL_LANES],
                                      const double log_norm[FL_LANES],
                                      const double z_y[FL_LANES], const double wz[FL_LANES],
                                      const double e_y[FL_LANES], double loss[FL_LANES],
                                      double a[FL_LANES], double c[FL_LANES], FL_T g_y[FL_LANES])
{
    /* on a local copy of *ce and in two loops: gcc (12) vectorised neither loads
       through ce nor one loop mixing FL_T and double in the clones */
    const fl_ce_spec k = *ce;
    double b[FL_LANES], t[FL_LANES];
    Py_ssize_t l;
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        loss[l] = FL_SUFFIX(fl_ce_row)(&k, state[l] == FL_ZERO_ROW, state[l] >= 0, s[l], w_y[l],
                                       m_scaled[l], total[l], log_norm[l], z_y[l], wz[l],
                                       &a[l], &b[l], &c[l]);
        t[l] = a[l] * e_y[l] - c[l] * w_y[l] - b[l];
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l)
        g_y[l] = (FL_T)t[l];
}

#ifdef FL_HAVE_V4
/* The column loop of fl_lanes_norm in AVX-512 intrinsics: for each lane (row) l
 * and column j, tile[j][l] = its exp (FL_NORM_TERM, as fl_norm_step_v4), the
 * non-max exps summed into rest[l] in column order, the max elements counted,
 * then the target column's logit (from the rows at x) and exp (from the tile)
 * gathered (x_y, e_y: bit patterns; a blend per column cost more).
 * gcc's code for the portable loop ran 256-bit vectors with the two-step 2^n
 * scaling. Compiled with and without the multiply by inv_t (scaled: a
 * constant where inlined, as in fl_row_norm_v4). */
FL_V4_INLINE void FL_SUFFIX(fl_lanes_sumexp_body_v4)(FL_T tile[][FL_LANES], const FL_T *x,
                                                     Py_ssize_t n_cols,
                                                     const FL_INT y[FL_LANES],
                                                     const FL_T m_scaled[FL_LANES], FL_T inv_t,
                                                     int scaled,
                                                     FL_UINT x_y[FL_LANES], FL_UINT e_y[FL_LANES],
                                                     double rest[FL_LANES],
                                                     FL_UINT count[FL_LANES], const char *ahead_x)
{
    const FL_VEC iv = FL_V(set1)(inv_t), one = FL_V(set1)(1);
    FL_INT row_start[FL_VEC_N], lane[FL_VEC_N];
    Py_ssize_t h, j, k;
    for (h = 0; h < FL_LANES; h += FL_VEC_N) {
        const char *pf = ahead_x + (h / FL_VEC_N) * n_cols * 64;   /* a line per column */
        const FL_VEC ms = FL_V(loadu)(m_scaled + h);
        const __m512i yv = _mm512_loadu_si512((const void *)(y + h));
        const __mmask16 has_y = FL_VI(cmpge, _mask)(yv, _mm512_setzero_si512());
        __m512i cnt = _mm512_loadu_si512((const void *)(count + h));
        __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
        for (j = 0; j < n_cols; ++j) {
            FL_VEC xv = FL_V(loadu)(&tile[j][h]), zs = scaled ? FL_V(mul)(xv, iv) : xv, v;
            __mmask16 at_max = FL_V_CMP_MASK(zs, ms, _CMP_EQ_OQ);
            __builtin_prefetch(pf + j * 64, 0, 3);
            v = FL_V(mask_mov)(FL_EXP_V4(FL_V(sub)(zs, ms), 0), at_max, one);
            FL_V(storeu)(&tile[j][h], v);
            FL_SUM_LANES_V4(&lo, &hi, v, (__mmask16)~at_max);
            cnt = FL_VI(mask_add, )(cnt, at_max, cnt, FL_VI(set1, )(1));
        }
        FL_SUM_STORE_V4(rest + h, lo, hi);
        _mm512_storeu_si512((void *)(count + h), cnt);
        for (k = 0; k < FL_VEC_N; ++k) {   /* lanes without a target (y < 0) are not read */
            row_start[k] = (FL_INT)((h + k) * n_cols);
            lane[k] = (FL_INT)(h + k);
        }
        FL_V(storeu)((FL_T *)(x_y + h),
                     FL_GATHER_V4(FL_V(setzero)(), has_y,
                                  FL_VI(add, )(yv, _mm512_loadu_si512((const void *)row_start)), x));
        FL_V(storeu)((FL_T *)(e_y + h),
                     FL_GATHER_V4(FL_V(setzero)(), has_y,
                                  FL_VI(add, )(FL_VI(slli, )(yv, FL_LANES_LOG2),   /* y * FL_LANES */
                                               _mm512_loadu_si512((const void *)lane)), &tile[0][0]));
    }
}

FL_V4 void FL_SUFFIX(fl_lanes_sumexp_v4)(FL_T tile[][FL_LANES], const FL_T *x, Py_ssize_t n_cols,
                                         const FL_INT y[FL_LANES],
                                         const FL_T m_scaled[FL_LANES], FL_T inv_t,
                                         FL_UINT x_y[FL_LANES], FL_UINT e_y[FL_LANES],
                                         double rest[FL_LANES], FL_UINT count[FL_LANES],
                                         const char *ahead_x)
{
    if (inv_t == (FL_T)1)
        FL_SUFFIX(fl_lanes_sumexp_body_v4)(tile, x, n_cols, y, m_scaled, inv_t, 0, x_y, e_y, rest,
                                           count, ahead_x);
    else
        FL_SUFFIX(fl_lanes_sumexp_body_v4)(tile, x, n_cols, y, m_scaled, inv_t, 1, x_y, e_y, rest,
                                           count, ahead_x);
}
#endif

#ifdef FL_HAVE_V4
/* The gradient loop of fl_lanes_norm in AVX-512 intrinsics: tile[j][l] =
 * a_l tile[j][l] - c_l w_j, the target column's entry g_y[l] instead, and 0 in
 * the rows of state FL_ZERO_ROW (gcc's code for the portable loop, which mixes
 * double, FL_T and integer lanes, was a third of the time at 10 columns). */
FL_V4 void FL_SUFFIX(fl_lanes_grad_v4)(FL_T tile[][FL_LANES], Py_ssize_t n_cols,
                                       const FL_INT y[FL_LANES], const double a[FL_LANES],
                                       const double c[FL_LANES], const FL_T g_y[FL_LANES],
                                       const double *w, int no_c, const char *ahead_e)
{
    Py_ssize_t h, j;
    for (h = 0; h < FL_LANES; h += FL_VEC_N) {
        const char *pf = ahead_e + (h / FL_VEC_N) * n_cols * 64;   /* a line per column */
        const __m512i yv = _mm512_loadu_si512((const void *)(y + h));
        const __mmask16 live = FL_VI(cmpneq, _mask)(yv, FL_VI(set1, )(FL_ZERO_ROW));
        const FL_VEC gy = FL_V(loadu)(g_y + h);
        FL_VEC a_hi, a_lo;
        const int scale_only = no_c && FL_LANES_SPLIT_V4(a + h, &a_hi, &a_lo);
/* tile[j][h..] = g, with the target's entry and the dead rows' zeros */
#define FL_GRAD_COLUMN(g)                                                                 \
        g = FL_V(mask_mov)(g, FL_VI(cmpeq, _mask)(yv, FL_VI(set1, )((FL_INT)j)), gy);  \
        FL_V(storeu)(&tile[j][h], FL_V(maskz_mov)(live, g));                              \
        __builtin_prefetch(pf + j * 64, 1, 3);
        if (scale_only)   /* c = 0 (no label smoothing): a v in FL_T lanes */
            for (j = 0; j < n_cols; ++j) {
                FL_VEC g = FL_LANES_SCALE_V4(FL_V(loadu)(&tile[j][h]), a_hi, a_lo);
                FL_GRAD_COLUMN(g)
            }
        else
            for (j = 0; j < n_cols; ++j) {
                FL_VEC g = FL_LANES_AFFINE_V4(FL_V(loadu)(&tile[j][h]), a + h, c + h,
                                              w != NULL ? w[j] : 1.0);
                FL_GRAD_COLUMN(g)
            }
#undef FL_GRAD_COLUMN
    }
}
#endif

/* Normalisers of `lanes` <= FL_LANES narrow rows (see fl_rows_norm_grad); the
 * exps, or the gradient when ce is not NULL, go to e when e is not NULL.
 * Every per-lane loop is a whole vector loop over FL_LANES (unused lanes
 * compute on zeros and are not stored). */
FL_INLINE void FL_SUFFIX(fl_lanes_norm)(const FL_T *x, Py_ssize_t lanes, Py_ssize_t n_cols,
                                        FL_T inv_t, FL_T *e, const fl_ce_spec *ce,
                                        FL_T *row_max, double *log_norm, double *total)
{
    FL_T tile[FL_NARROW_MAX][FL_LANES];
    FL_T m[FL_LANES], m_scaled[FL_LANES];
    FL_UINT x_y[FL_LANES], e_y[FL_LANES], count[FL_LANES];   /* x_y, e_y: bit patterns */
    double rest[FL_LANES], m_log_norm[FL_LANES], wz[FL_LANES];
    double a[FL_LANES], c[FL_LANES], loss[FL_LANES], s[FL_LANES], w_y[FL_LANES];
    FL_INT y[FL_LANES];   /* target column, FL_NO_TARGET, or FL_ZERO_ROW (ignored, unused) */
    Py_ssize_t j, l;
    const char *ahead_x = FL_SUFFIX(fl_tile_ahead)(x, n_cols);
    const char *ahead_e = FL_SUFFIX(fl_tile_ahead)(e, n_cols);
    const int v4 = fl_v4();   /* whose loops below prefetch as they go */
    FL_SUFFIX(fl_tile_load)(tile, x, lanes, n_cols);
    if (!v4)
        FL_SUFFIX(fl_tile_prefetch)(ahead_x, ahead_e, n_cols);
    else if (ce == NULL)   /* no gradient loop to spread e's prefetches over */
        FL_SUFFIX(fl_tile_prefetch)(NULL, ahead_e, n_cols);
    if (ce != NULL && ce->y != NULL && lanes == FL_LANES) {
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l)
            y[l] = ce->y[l] == ce->ignore ? FL_ZERO_ROW : (FL_INT)ce->y[l];
    } else {
        for (l = 0; l < FL_LANES; ++l)
            y[l] = l >= lanes ? FL_ZERO_ROW : ce == NULL || ce->y == NULL ? FL_NO_TARGET
                 : ce->y[l] == ce->ignore ? FL_ZERO_ROW : (FL_INT)ce->y[l];
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        m[l] = -INFINITY;
        rest[l] = 0.0;
        count[l] = 0;
        wz[l] = 0.0;
        x_y[l] = e_y[l] = 0;
    }
    for (j = 0; j < n_cols; ++j) {
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l)
            m[l] = tile[j][l] > m[l] ? tile[j][l] : m[l];
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l)
        m_scaled[l] = m[l] * inv_t;
    if (ce != NULL && ce->spread != 0.0)
        for (j = 0; j < n_cols; ++j) {
            double w_j = ce->w != NULL ? ce->w[j] : 1.0;
#pragma omp simd
            for (l = 0; l < FL_LANES; ++l)
                wz[l] += w_j * FL_SUFFIX(fl_shifted)(tile[j][l], inv_t, m_scaled[l]);
        }
#ifdef FL_HAVE_V4
    if (fl_v4())
        FL_SUFFIX(fl_lanes_sumexp_v4)(tile, x, n_cols, y, m_scaled, inv_t, x_y, e_y, rest, count,
                                      ahead_x);
    else
#endif
    for (j = 0; j < n_cols; ++j) {
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l) {
            /* No a[l] = c ? v : a[l] or a[l] += c ? v : 0 here: gcc makes those
               masked stores behind a branch on the mask, which mispredicts (the
               target and max columns are random). The target's logit and exp
               are captured by OR-ing bits (one column matches), the max
               elements counted in integer lanes of FL_T's width. */
            FL_UINT at_y = -(FL_UINT)((FL_INT)j == y[l]);
            x_y[l] |= FL_BITS(tile[j][l]) & at_y;
            FL_NORM_TERM(tile[j][l], m_scaled[l], inv_t, v, at_max)
            FL_T v_rest = at_max ? (FL_T)0 : v;
            e_y[l] |= FL_BITS(v) & at_y;
            tile[j][l] = v;
            rest[l] += (double)v_rest;
            count[l] += (FL_UINT)at_max;
        }
    }
#pragma omp simd
    for (l = 0; l < FL_LANES; ++l) {
        m_log_norm[l] = fl_log1p_d(rest[l] + ((double)(FL_INT)count[l] - 1.0));
        rest[l] += (double)(FL_INT)count[l];
    }
    if (ce == NULL) {
        if (e != NULL)
            FL_SUFFIX(fl_tile_store)(e, tile, lanes, n_cols);
    } else {
        const double *w = ce->w;
        FL_T g_y[FL_LANES];
        double z_y[FL_LANES], m_d[FL_LANES], e_d[FL_LANES];
        Py_ssize_t state[FL_LANES];
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l) {
            s[l] = 1.0;
            w_y[l] = 1.0;
        }
        if (ce->sw != NULL && lanes == FL_LANES) {
#pragma omp simd
            for (l = 0; l < FL_LANES; ++l)
                s[l] = ce->sw[l];
        } else if (ce->sw != NULL) {
            for (l = 0; l < lanes; ++l)
                s[l] = ce->sw[l];
        }
        /* in several loops: gcc (12) vectorised no loop mixing int, FL_T and double */
#pragma omp simd
        for (l = 0; l < FL_LANES; ++l) {
            z_y[l] = FL_SUFFIX(fl_shifted)(FL_FROM_BITS(x_y[l]), inv_t, m_scaled[l]);
            m_d[l] = m_scaled[l];
            e_d[l] = FL_FROM_BITS(e_y[l]);
            state[l] = y[l];
        }
        if (w != NULL) {
#pragma omp simd
            for (l = 0; l < FL_LANES; ++l) {
                double w_l = w[state[l] >= 0 ? state[l] : 0];   /* a gather, not a masked load */
                w_y[l] = state[l] >= 0 ? w_l : 1.0;
            }
        }
        FL_SUFFIX(fl_lanes_ce)(ce, state, s, w_y, m_d, rest, m_log_norm, z_y, wz, e_d, loss, a,
                               c, g_y);
        if (e != NULL) {
#ifdef FL_HAVE_V4
            if (fl_v4())
                FL_SUFFIX(fl_lanes_grad_v4)(tile, n_cols, y, a, c, g_y, w, ce->spread == 0.0,
                                            ahead_e);
            else
#endif
            for (j = 0; j < n_cols; ++j) {
                double w_j = w != NULL ? w[j] : 1.0;
#pragma omp simd
                for (l = 0; l < FL_LANES; ++l) {
                    FL_T g = (FL_T)(a[l] * (double)tile[j][l] - c[l] * w_j);
                    tile[j][l] = y[l] == FL_ZERO_ROW ? (FL_T)0 : j == y[l] ? g_y[l] : g;
                }
            }
            FL_SUFFIX(fl_tile_store)(e, tile, lanes, n_cols);
        }
        if (ce->loss != NULL)
#pragma omp simd
            for (l = 0; l < lanes; ++l)
                ce->loss[l] = loss[l];
    }
#pragma omp simd
    for (l = 0; l < lanes; ++l) {
        row_max[l] = m_scaled[l];
        log_norm[l] = m_log_norm[l];
        total[l] = rest[l];
    }
}

#ifdef FL_HAVE_V4
FL_V4 void FL_SUFFIX(fl_row_affine_v4)(FL_T *g, Py_ssize_t n, double a, double c,
                                       const double *w)
{
    const __mmask16 all = FL_ALL_LANES, tail = fl_first_lanes(n % FL_VEC_N);
    Py_ssize_t j, n_main = n - n % FL_VEC_N;
    for (j = 0; j < n_main; j += FL_VEC_N)
        FL_V(storeu)(g + j, FL_AFFINE_V4(FL_V(loadu)(g + j), a, c, w != NULL ? w + j : NULL, all));
    if (tail)
        FL_V(mask_storeu)(g + j, tail, FL_AFFINE_V4(FL_V(maskz_loadu)(tail, g + j), a, c,
                                                    w != NULL ? w + j : NULL, tail));
}
#endif

/* g_j = a g_j - c w_j over one row (w == NULL means w_j = 1), rounded once from
 * double precision. */
FL_INLINE void FL_SUFFIX(fl_row_affine)(FL_T *g, Py_ssize_t n, double a, double c,
                                        const double *w)
{
    Py_ssize_t j;
#ifdef FL_HAVE_V4
    if (fl_v4()) {
        FL_SUFFIX(fl_row_affine_v4)(g, n, a, c, w);
        return;
    }
#endif
    if (w == NULL) {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c);
    } else {
#pragma omp simd
        for (j = 0; j < n; ++j)
            g[j] = (FL_T)(a * (double)g[j] - c * w[j]);
    }
}

#ifdef FL_HAVE_V4
/* The per-row inputs of fl_lanes_ce for rows i0 .. i0 + lanes - 1 of
 * fl_rows_ce, eight rows per vector: contiguous loads, and gathers for the
 * target's class weight, logit and exp (the scalar loop of fl_rows_ce took ~27
 * cycles a row, 14 % of a 100-column float loss). Lanes past `lanes` get state
 * FL_ZERO_ROW and read nothing. */
FL_V4 void FL_SUFFIX(fl_rows_ce_inputs_v4)(const fl_ce_spec *ce, const FL_T *x, const FL_T *g,
                                           Py_ssize_t i0, Py_ssize_t lanes, Py_ssize_t n,
                                           FL_T inv_t, const FL_T *row_max,
                                           const double *log_norm, const double *total,
                                           Py_ssize_t state[FL_LANES], double s[FL_LANES],
                                           double w_y[FL_LANES], double m_d[FL_LANES],
                                           double tot[FL_LANES], double ln[FL_LANES],
                                           double z_y[FL_LANES], double e_y[FL_LANES])
{
    const __m512i lane_start = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),
                                                  _mm512_set1_epi64(n));
    const __m512d one = _mm512_set1_pd(1.0);
    const FL_HALF iv = FL_H(set1)(inv_t);
    Py_ssize_t h;
    for (h = 0; h < FL_LANES; h += 8) {
        const Py_ssize_t i = i0 + h, left = lanes - h;
        const __mmask8 live = left >= 8 ? 0xff : left > 0 ? (__mmask8)((1u << left) - 1) : 0;
        __m512i yv = _mm512_set1_epi64(FL_NO_TARGET), at;
        __mmask8 has_y;
        FL_HALF m, z;
        if (ce->y != NULL) {
            yv = _mm512_maskz_loadu_epi64(live, ce->y + i);
            yv = _mm512_mask_mov_epi64(yv, _mm512_cmpeq_epi64_mask(yv, _mm512_set1_epi64(ce->ignore)),
                                       _mm512_set1_epi64(FL_ZERO_ROW));
        }
        yv = _mm512_mask_mov_epi64(_mm512_set1_epi64(FL_ZERO_ROW), live, yv);
        has_y = _mm512_cmpge_epi64_mask(yv, _mm512_setzero_si512());
        at = _mm512_add_epi64(_mm512_add_epi64(lane_start, _mm512_set1_epi64(i * n)), yv);
        _mm512_storeu_si512((void *)(state + h), yv);
        _mm512_storeu_pd(s + h, ce->sw != NULL ? _mm512_mask_loadu_pd(one, live, ce->sw + i) : one);
        _mm512_storeu_pd(w_y + h, ce->w != NULL ? _mm512_mask_i64gather_pd(one, has_y, yv, ce->w, 8)
                                                : one);
        m = FL_H(maskz_loadu)(live, row_max + i);
        _mm512_storeu_pd(m_d + h, FL_H_TO_D(m));
        _mm512_storeu_pd(tot + h, _mm512_maskz_loadu_pd(live, total + i));
        _mm512_storeu_pd(ln + h, _mm512_maskz_loadu_pd(live, log_norm + i));
        /* fl_shifted, whose test for z == m is not needed here: no multiply is
           fused into the subtraction, and m = -inf makes the loss nan anyway */
        z = FL_H(mul)(FL_H_GATHER(FL_H(setzero)(), has_y, at, x), iv);
        _mm512_storeu_pd(z_y + h, _mm512_maskz_sub_pd(has_y, FL_H_TO_D(z), FL_H_TO_D(m)));
        _mm512_storeu_pd(e_y + h, g != NULL ? FL_H_TO_D(FL_H_GATHER(FL_H(setzero)(), has_y, at, g))
                                            : _mm512_setzero_pd());
    }
}
#endif

/* fl_ce_spec for n_rows wide rows, FL_LANES at a time: each row's values
 * gathered (fl_rows_ce_inputs_v4, or scalar loads), fl_lanes_ce across the
 * rows (as a per-row scalar computation it was 10 % of a 100-column loss),
 * then each row's gradient from the exps held in g (if g is not NULL). */
FL_INLINE void FL_SUFFIX(fl_rows_ce)(const FL_T *x, FL_T *g, Py_ssize_t n_rows, Py_ssize_t n,
                                     FL_T inv_t, const FL_T *row_max, const double *log_norm,
                                     const double *total, const fl_ce_spec *ce)
{
    Py_ssize_t i0, l;
    for (i0 = 0; i0 < n_rows; i0 += FL_LANES) {
        Py_ssize_t lanes = n_rows - i0 < FL_LANES ? n_rows - i0 : FL_LANES, state[FL_LANES];
        double s[FL_LANES], w_y[FL_LANES], m_d[FL_LANES], tot[FL_LANES], ln[FL_LANES];
        double z_y[FL_LANES], wz[FL_LANES], e_y[FL_LANES], loss[FL_LANES], a[FL_LANES];
        double c[FL_LANES];
        FL_T g_y[FL_LANES];
#ifdef FL_HAVE_V4
        if (fl_v4())
            FL_SUFFIX(fl_rows_ce_inputs_v4)(ce, x, g, i0, lanes, n, inv_t, row_max, log_norm,
                                            total, state, s, w_y, m_d, tot, ln, z_y, e_y);
        else
#endif
        for (l = 0; l < FL_LANES; ++l) {   /* unused lanes: copies of row i0, never stored */
            Py_ssize_t i = i0 + (l < lanes ? l : 0);
            Py_ssize_t y = ce->y == NULL ? FL_NO_TARGET
                         : ce->y[i] == ce->ignore ? FL_ZERO_ROW : ce->y[i];
            state[l] = y;
            s[l] = ce->sw != NULL ? ce->sw[i] : 1.0;
            w_y[l] = y >= 0 && ce->w != NULL ? ce->w[y] : 1.0;
            m_d[l] = row_max[i];
            tot[l] = total[i];
            ln[l] = log_norm[i];
            z_y[l] = y >= 0 ? FL_SUFFIX(fl_shifted)(x[i * n + y], inv_t, row_max[i]) : 0.0;
            e_y[l] = y >= 0 && g != NULL ? (double)g[i * n + y] : 0.0;
        }
        for (l = 0; l < FL_LANES; ++l)   /* sum_j w_j z_j: label smoothing only */
            wz[l] = ce->spread != 0.0 && l < lanes && state[l] != FL_ZERO_ROW
                  ? FL_SUFFIX(fl_row_wsum_shifted)(x + (i0 + l) * n, n, row_max[i0 + l], inv_t,
                                                   ce->w) : 0.0;
        FL_SUFFIX(fl_lanes_ce)(ce, state, s, w_y, m_d, tot, ln, z_y, wz, e_y, loss, a, c, g_y);
        for (l = 0; l < lanes; ++l) {
            FL_T *g_i = g != NULL ? g + (i0 + l) * n : NULL;
            if (ce->loss != NULL)
                ce->loss[i0 + l] = loss[l];
            if (g_i == NULL)
                continue;
            if (state[l] == FL_ZERO_ROW) {
                memset(g_i, 0, n * sizeof(FL_T));
                continue;
            }
            FL_SUFFIX(fl_row_affine)(g_i, n, a[l], c[l], ce->w);
            if (state[l] >= 0)
                g_i[state[l]] = g_y[l];
        }
    }
}

/* fl_rows_norm_grad for wide rows (n_cols > FL_NARROW_MAX). */
FL_INLINE void FL_SUFFIX(fl_wide_rows)(const FL_T *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                       FL_T inv_t, FL_T *e, const fl_ce_spec *ce, FL_T *row_max,
                                       double *log_norm, double *total)
{
    const Py_ssize_t row_bytes = n_cols * (Py_ssize_t)sizeof(FL_T), ahead = n_rows * n_cols;
    Py_ssize_t i, q;
    const int v4 = fl_v4();
    /* All the maxima first: the rows' exp loops then depend on nothing in
       flight. The same rows of the next chunk (the callers walk consecutive
       chunks) are prefetched: the hardware prefetcher alone left each chunk's
       first pass waiting on memory. The AVX-512 normaliser fetches them line
       by line as it goes (`ahead`, into L1: 7-9 % faster float loss at 100-32000
       columns on Zen 4 than into L2 only, float64 0-7 %); the other clones here, in one burst per
       row (5-16 % faster at 100-1000 columns; the non-temporal hint measured
       best; rows over 16 KB, one per chunk, gained nothing). The burst stalled
       on Zen 4 once the line fill buffers were full: 8-13 % of a 1000-column
       loss. */
    for (i = 0; i < n_rows; ++i) {
        const char *next = (const char *)(x + ahead + i * n_cols);
        for (q = 0; !v4 && row_bytes <= FL_PREFETCH_ROW_BYTES && q < row_bytes; q += 64)
            __builtin_prefetch(next + q, 0, 0);
        row_max[i] = FL_SUFFIX(fl_row_max)(x + i * n_cols, n_cols);
    }
    for (i = 0; i < n_rows;) {
#ifdef FL_HAVE_V4
        if (v4) {
            const int rows = n_rows - i >= 2 ? 2 : 1;
            FL_SUFFIX(fl_row_norm_v4)(x + i * n_cols, n_cols, rows, inv_t, row_max + i,
                                      e != NULL ? e + i * n_cols : NULL, log_norm + i, total + i,
                                      ahead);
            i += rows;
            continue;
        }
#endif
        FL_SUFFIX(fl_row_norm)(x + i * n_cols, n_cols, inv_t, row_max[i],
                               e != NULL ? e + i * n_cols : NULL, log_norm + i, total + i, ahead);
        ++i;
    }
    for (i = 0; i < n_rows; ++i)
        row_max[i] *= inv_t;
#pragma omp simd
    for (i = 0; i < n_rows; ++i)   /* vectorised across the chunk's rows */
        log_norm[i] = fl_log1p_d(log_norm[i]);
    if (ce != NULL)
        FL_SUFFIX(fl_rows_ce)(x, e, n_rows, n_cols, inv_t, row_max, log_norm, total, ce);
}

#ifdef FL_HAVE_V4
/* fl_wide_rows compiled for AVX-512 with every call inlined (flatten): its
 * per-row helpers in intrinsics are too big for gcc to inline on its own, and
 * their out-of-line calls cost ~5 % at 100 columns. */
FL_V4 __attribute__((flatten)) void FL_SUFFIX(fl_wide_rows_v4)(
    const FL_T *x, Py_ssize_t n_rows, Py_ssize_t n_cols, FL_T inv_t, FL_T *e,
    const fl_ce_spec *ce, FL_T *row_max, double *log_norm, double *total)
{
    FL_SUFFIX(fl_wide_rows)(x, n_rows, n_cols, inv_t, e, ce, row_max, log_norm, total);
}
#endif

/* Softmax normalisers of n_rows consecutive rows of n_cols: row_max[i] =
 * inv_t * max_j x_ij (the SCALED max, nan ignored), log_norm[i] =
 * log sum_j exp(x_ij * inv_t - row_max[i]) and total[i] = that sum (nan if the
 * row holds nan). If `ce` is not NULL, the cross-entropy it describes: its
 * per-row losses and, when `e` is not NULL, its gradient into `e` (computed
 * while the exps are still in registers or cache: no second pass over memory);
 * otherwise `e` (if not NULL) receives the exps. Narrow rows (n_cols <=
 * FL_NARROW_MAX) are vectorised across rows, wide ones along the row. Rows
 * whose max is not finite get a meaningless log_norm (callers test row_max),
 * but total is still nan iff the row holds nan. */
FL_CLONES static void FL_SUFFIX(fl_rows_norm_grad)(const FL_T *x, Py_ssize_t n_rows,
                                                   Py_ssize_t n_cols, FL_T inv_t, FL_T *e,
                                                   const fl_ce_spec *ce, FL_T *row_max,
                                                   double *log_norm, double *total)
{
    fl_ce_spec shifted;
    Py_ssize_t i = 0;
    if (n_cols > FL_NARROW_MAX) {
#ifdef FL_HAVE_V4
        if (fl_v4()) {
            FL_SUFFIX(fl_wide_rows_v4)(x, n_rows, n_cols, inv_t, e, ce, row_max, log_norm, total);
            return;
        }
#endif
        FL_SUFFIX(fl_wide_rows)(x, n_rows, n_cols, inv_t, e, ce, row_max, log_norm, total);
        return;
    }
    for (; i < n_rows; i += FL_LANES) {
        if (ce != NULL) {
            shifted = *ce;
            shifted.y = ce->y != NULL ? ce->y + i : NULL;
            shifted.sw = ce->sw != NULL ? ce->sw + i : NULL;
            shifted.loss = ce->loss != NULL ? ce->loss + i : NULL;
        }
        FL_SUFFIX(fl_lanes_norm)(x + i * n_cols, n_rows - i < FL_LANES ? n_rows - i : FL_LANES,
                                 n_cols, inv_t, e != NULL ? e + i * n_cols : NULL,
                                 ce != NULL ? &shifted : NULL,
                                 row_max + i, log_norm + i, total + i);
    }
}

/* fl_rows_norm_grad without a loss: `e` (if not NULL) receives the exps. */
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
    Py_ssize_t i;
    if (n_cols <= FL_NARROW_MAX) {
        for (i = 0; i + FL_LANES <= n_rows; i += FL_LANES)
            FL_SUFFIX(fl_lanes_affine)(g + i * n_cols, FL_LANES, n_cols, a + i, c + i, w);
        if (i < n_rows)
            FL_SUFFIX(fl_lanes_affine)(g + i * n_cols, n_rows - i, n_cols, a + i, c + i, w);
        return;
    }
    for (i = 0; i < n_rows; ++i)
        FL_SUFFIX(fl_row_affine)(g + i * n_cols, n_cols, a[i], c[i], w);
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

/* Test hook (tests/test_vexp.py): out = FL_EXP_V4(x), returning 1, when the
 * AVX-512 path runs on this CPU; else returns 0, out untouched. */
#ifdef FL_HAVE_V4
FL_V4 void FL_SUFFIX(fl_vexp_v4_run)(const FL_T *x, FL_T *out, Py_ssize_t n)
{
    Py_ssize_t j;
    for (j = 0; j < n; j += FL_VEC_N) {
        __mmask16 valid = fl_first_lanes(n - j < FL_VEC_N ? n - j : FL_VEC_N);
        FL_V(mask_storeu)(out + j, valid, FL_EXP_V4(FL_V(maskz_loadu)(valid, x + j), 1));
    }
}
#endif

static int FL_SUFFIX(fl_vexp_v4)(const FL_T *x, FL_T *out, Py_ssize_t n)
{
#ifdef FL_HAVE_V4
    if (fl_v4()) {
        FL_SUFFIX(fl_vexp_v4_run)(x, out, n);
        return 1;
    }
#endif
    (void)x, (void)out, (void)n;
    return 0;
}

/* The template's parameters, for the next instantiation. */
#undef FL_T
#undef FL_SUFFIX
#undef FL_EXP
#undef FL_INT
#undef FL_UINT
#undef FL_BITS
#undef FL_FROM_BITS
#undef FL_VEC
#undef FL_VEC_N
#undef FL_VEC_LOAD
#undef FL_VEC_STORE
#undef FL_V
#undef FL_V_CMP_MASK
#undef FL_VI
#undef FL_EXP_V4
#undef FL_SUM_LANES_V4
#undef FL_SUM_TOTAL_V4
#undef FL_SUM_STORE_V4
#undef FL_GATHER_V4
#undef FL_HALF
#undef FL_H
#undef FL_H_TO_D
#undef FL_H_GATHER
#undef FL_AFFINE_V4
#undef FL_LANES_AFFINE_V4
#undef FL_LANES_SPLIT_V4
#undef FL_LANES_SCALE_V4
