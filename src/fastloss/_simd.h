/* Which instruction sets the kernels are compiled for: one place for the three
 * extension modules (_kernels, _multiclass, _elementwise).
 *
 * On x86-64 Linux with gcc, every function marked FL_CLONES is compiled three
 * times (target_clones: x86-64-v4 = AVX-512, x86-64-v3 = AVX2+FMA, baseline
 * SSE2) and the loader picks the best clone for the CPU, so one portable
 * build runs at full width everywhere. fl_simd_level() reports which clone
 * runs. The AVX-512 clone also reaches hand-written intrinsics (FL_V4
 * functions) through fl_v4(): target_clones does not define __AVX512F__ per
 * clone, so those are compiled for x86-64-v4 alone and the clones test
 * fl_v4() at run time (always true in the v4 clone, where they are inlined,
 * false in the others; one predictable branch).
 *
 * Test builds (CFLAGS): -DFASTLOSS_NO_CLONES compiles the compiler's default
 * (baseline) code only; -DFASTLOSS_NO_AVX512 leaves out the AVX-512 clone and
 * the intrinsics, so an AVX-512 CPU runs the AVX2 clone. CI tests both.
 */
#ifndef FASTLOSS_SIMD_H
#define FASTLOSS_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTLOSS_NO_CLONES)
#ifdef FASTLOSS_NO_AVX512
#define FL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FL_HAVE_V4 1
#endif
/* Which clone the loader picks: the same order gcc's resolver uses. */
static inline int fl_simd_level(void)
{
    __builtin_cpu_init();
#ifdef FL_HAVE_V4
    if (__builtin_cpu_supports("x86-64-v4")) return 512;
#endif
    if (__builtin_cpu_supports("x86-64-v3")) return 256;
    return 128;
}
#else
#define FL_CLONES
static inline int fl_simd_level(void) { return 0; }   /* compiler default only */
#endif

#ifdef FL_HAVE_V4
#include <immintrin.h>
#define FL_V4 static inline __attribute__((target("arch=x86-64-v4")))
#define FL_V4_INLINE static inline __attribute__((always_inline, target("arch=x86-64-v4")))
#define fl_v4() __builtin_cpu_supports("x86-64-v4")
#else
#define fl_v4() 0   /* no AVX-512 clone: callers that reach no FL_V4 function need no #ifdef */
#endif

#endif
