// OpenBLAS threads and kernels: see openblas_core.h.
#include "laco/core/openblas_core.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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

void restart_with_fast_openblas() {
  const char* suited = openblas_core_for_cpu();
  if (suited == nullptr || std::getenv("OPENBLAS_CORETYPE") != nullptr || openblas_core() != "Prescott") return;
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload != nullptr && std::strstr(preload, "vgpreload") != nullptr) return;  // valgrind's exe is not ours
  // The arguments this process started with, NUL-separated.
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<char*> argv;
  for (size_t i = 0; i < cmdline.size(); i += std::strlen(&cmdline[i]) + 1)
    argv.push_back(const_cast<char*>(&cmdline[i]));
  argv.push_back(nullptr);
  setenv("OPENBLAS_CORETYPE", suited, 1);
  if (argv.size() > 1) execv("/proc/self/exe", argv.data());  // returns only on failure
  unsetenv("OPENBLAS_CORETYPE");
  std::fprintf(stderr, "laco: warning: OpenBLAS runs its slowest (Prescott) kernels on this CPU and the restart "
                       "with faster ones failed (%s); export OPENBLAS_CORETYPE=%s\n", std::strerror(errno), suited);
}

}  // namespace laco
