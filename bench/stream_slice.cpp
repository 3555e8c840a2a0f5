// bench_stream_slice DIR LAYERS [HIDDEN]: writes the random Llama-3-70B-shaped checkpoint
// of slice_writer.h into DIR (created; HIDDEN default 8192, the real layer shape) and
// prints its size. bench/stream.sh prunes it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "laco/core/resources.h"
#include "slice_writer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR LAYERS [HIDDEN]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t layers = std::atoll(argv[2]), hidden = argc > 3 ? std::atoll(argv[3]) : 8192;
  if (layers < 1 || hidden < 128 || hidden % 1024 != 0) {
    std::fprintf(stderr, "%s: LAYERS >= 1 and HIDDEN a multiple of 1024 expected\n", argv[0]);
    return 2;
  }
  std::filesystem::create_directories(dir);
  const double t0 = laco::wall_seconds();
  laco::bench::write_slice(dir, layers, hidden);
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") bytes += e.file_size();
  std::printf("slice %s: %lld layers, hidden %lld, %.2f GB, written in %.1f s\n", dir.c_str(),
              static_cast<long long>(layers), static_cast<long long>(hidden), static_cast<double>(bytes) / 1e9,
              laco::wall_seconds() - t0);
  return 0;
}
