#ifndef STYLIZE_CBLAS_SHIM_H
#define STYLIZE_CBLAS_SHIM_H
#include <cblas.h>
#include <stdlib.h>
// OpenBLAS extensions for thread control (declared in OpenBLAS's cblas.h; repeated
// here so other CBLAS headers still compile).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// Kernel selection of a DYNAMIC_ARCH OpenBLAS. Weak, so a BLAS without them still links;
// the helpers below then report "unsupported".
char *openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

/// The name of the kernel set OpenBLAS chose ("SkylakeX", "Haswell", "Prescott"...), or NULL.
static inline const char *stylize_openblas_corename(void) {
    return openblas_get_corename ? openblas_get_corename() : NULL;
}

/// Makes OpenBLAS choose its kernels again as if OPENBLAS_CORETYPE=`core` had been set at load
/// time (the variable is removed again: only called when the user did not set it). Returns 1
/// when done, 0 when this BLAS cannot switch. No BLAS call may run meanwhile.
static inline int stylize_openblas_force_core(const char *core) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return 0;
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0) return 0;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return 1;
}

/// What the CPU and the OS support: 2 = AVX-512F, 1 = AVX2 with FMA, 0 = neither (or not x86-64).
static inline int stylize_cpu_vector_level(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}
#endif
