/* Per-row inner loops shared by the Cython kernels (_kernels.pyx).
 *
 * Why C and not Cython: these are the loops Cython cannot get vectorised
 * (a nan-ignoring max reduction and a double-accumulated sum of exp), so they
 * are written as plain C loops with `#pragma omp simd` reductions. Each
 * function is defined once, in _rowops_impl.h, and instantiated here for
 * double (suffix _d) and float (suffix _f): no loop exists twice.
 *
 * Contract of every function: `x` points at one C-contiguous row of `n`
 * elements; nothing outside [x, x + n) is read or written.
 */
#ifndef FASTLOSS_ROWOPS_H
#define FASTLOSS_ROWOPS_H

#include <math.h>
#include <stddef.h>
#include <Python.h>   /* Py_ssize_t */

#define FL_T double
#define FL_SUFFIX(name) name##_d
#define FL_EXP exp
#include "_rowops_impl.h"
#undef FL_T
#undef FL_SUFFIX
#undef FL_EXP

#define FL_T float
#define FL_SUFFIX(name) name##_f
#define FL_EXP expf
#include "_rowops_impl.h"
#undef FL_T
#undef FL_SUFFIX
#undef FL_EXP

#endif
