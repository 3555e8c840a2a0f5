// OpenBLAS, reached through dlsym (it is LibTorch's BLAS only when libblas.so.3 is
// OpenBLAS): its thread pool, and kernels that suit the CPU.
//
// OpenBLAS picks its kernels once, when it loads, from the CPU model. A model newer than
// the library (Debian 12's OpenBLAS 0.3.21 on Sapphire or Emerald Rapids) falls back to
// "Prescott", SSE3 kernels that run float32 GEMM about 4x slower than the AVX-512 ones
// (measured 32 vs 145 GFLOP/s on one core). OpenBLAS reads OPENBLAS_CORETYPE when it loads;
// its DYNAMIC_ARCH builds (the only ones that choose kernels at run time) export the
// functions that make that choice, so it can be made again inside the process.
#pragma once

#include <string>

namespace laco {

// The OpenBLAS core name for this CPU's instruction set: "SkylakeX" (AVX-512 F/BW/VL/DQ/CD),
// "Haswell" (AVX2 + FMA), else null.
const char* openblas_core_for_cpu();

// openblas_set_num_threads(threads) (the pthread build keeps its own pool); a no-op when
// OpenBLAS is not the loaded BLAS.
void set_openblas_threads(int threads);

// OpenBLAS's openblas_get_corename(), or "" when OpenBLAS is not the loaded BLAS.
std::string openblas_core();

// When OpenBLAS fell back to Prescott on a CPU that has a better core and OPENBLAS_CORETYPE
// is unset: sets it (child processes inherit it) and makes OpenBLAS choose its kernels again
// (gotoblas_dynamic_quit + gotoblas_dynamic_init, exported by DYNAMIC_ARCH builds). Takes
// microseconds. Call at the start of main, before any thread or BLAS call. Warns when
// OpenBLAS lacks those functions.
void use_suited_openblas_kernels();

}  // namespace laco
