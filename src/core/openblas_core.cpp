// OpenBLAS threads and kernels: see openblas_core.h.
#include "laco/core/openblas_core.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace laco {

const char* openblas_core_for_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512cd")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

void set_openblas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);
}

std::string openblas_core() {
  using CoreName = char* (*)();
  auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn ? fn() : "";
}

void use_suited_openblas_kernels() {
  const char* suited = openblas_core_for_cpu();
  if (suited == nullptr || std::getenv("OPENBLAS_CORETYPE") != nullptr || openblas_core() != "Prescott") return;
  using Fn = void (*)();
  auto quit = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  auto init = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  if (quit == nullptr || init == nullptr) {
    std::fprintf(stderr, "laco: warning: OpenBLAS runs its slowest (Prescott) kernels on this CPU and cannot switch "
                         "them; start with OPENBLAS_CORETYPE=%s exported\n", suited);
    return;
  }
  setenv("OPENBLAS_CORETYPE", suited, 1);
  quit();  // forgets the kernel table; init reads OPENBLAS_CORETYPE and installs the named one
  init();
}

}  // namespace laco
