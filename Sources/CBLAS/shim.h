#ifndef STYLIZE_CBLAS_SHIM_H
#define STYLIZE_CBLAS_SHIM_H
#include <cblas.h>
// OpenBLAS extensions for thread control (declared in OpenBLAS's cblas.h; repeated
// here so other CBLAS headers still compile).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
