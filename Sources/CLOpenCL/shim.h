#ifndef STYLIZE_CLOPENCL_SHIM_H
#define STYLIZE_CLOPENCL_SHIM_H
// The OpenCL 1.2 API: every OpenCL 1.2+ driver (NVIDIA, AMD, Intel, PoCL) implements it.
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#endif
