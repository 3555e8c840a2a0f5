// Tokenizer throughput on WikiText-2 test (LACO_ASSETS, default ../shared): encodes the file
// single-threaded with the Llama 3 and Llama 2 tokenizers, line by line and as one string,
// and prints MB/s and tokens/s. Usage: bench_tokenize [repeats=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "laco/core/error.h"
#include "laco/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU time of this thread: unlike wall time it does not count waits for a busy machine's cores.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw laco::InputError("bench_tokenize: cannot open " + path + " (set LACO_ASSETS)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file's lines, without their newline (what `laco_dist tokenize --file` encodes).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Times `run` (which returns the number of tokens it produced) `repeats` times and prints
// the first (cold word cache) and the best pass, by wall time and by thread CPU time.
template <typename F>
void report(const char* name, const char* mode, size_t bytes, int repeats, F run) {
  std::pair<double, double> best{1e30, 1e30}, first{0, 0};  // {wall, cpu} seconds
  size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    tokens = run();
    const double cpu = thread_cpu_seconds() - c0;
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r == 0) first = {wall, cpu};
    best = {std::min(best.first, wall), std::min(best.second, cpu)};
  }
  for (auto [label, t] :
       {std::pair<const char*, std::pair<double, double>>{"cold", first}, {"best", best}}) {
    std::printf(
        "%-7s %-11s %-5s %8zu tokens | wall %6.3f s %6.2f MB/s %9.0f tok/s | cpu %6.3f s %6.2f "
        "MB/s %9.0f tok/s\n",
        name, mode, label, tokens, t.first, bytes / t.first / 1e6, tokens / t.first, t.second,
        bytes / t.second / 1e6, tokens / t.second);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
    const char* env = std::getenv("LACO_ASSETS");
    const std::string assets = env && *env ? env : "../shared";
    const std::string text = read_all(assets + "/data/wikitext2/wiki.test.raw");
    const std::vector<std::string> lines = lines_of(text);
    std::printf(
        "WikiText-2 test: %zu bytes, %zu lines; single thread; %d passes: cold = first pass (empty "
        "word "
        "cache), best = fastest pass\n",
        text.size(), lines.size(), repeats);
    for (const char* name : {"llama3", "llama2"}) {
      auto t0 = Clock::now();
      const auto tok = laco::tokenizer::Tokenizer::load(assets + "/tokenizers/" + name);
      std::printf("%-8s load %.2f s: %s\n", name,
                  std::chrono::duration<double>(Clock::now() - t0).count(), tok.describe().c_str());
      report(name, "per-line", text.size(), repeats, [&]() {
        size_t n = 0;
        for (const std::string& line : lines) n += tok.encode(line, false).size();
        return n;
      });
      report(name, "whole-file", text.size(), repeats,
             [&]() { return tok.encode(text, false).size(); });
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
    return 2;
  }
}
