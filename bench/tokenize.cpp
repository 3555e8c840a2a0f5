// Tokenizer throughput on WikiText-2 test (LACO_ASSETS, default ../shared): encodes the file
// single-threaded with the Llama 3 and Llama 2 tokenizers, line by line and as one string,
// and prints MB/s and tokens/s. Usage: bench_tokenize [repeats=3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "laco/core/error.h"
#include "laco/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw laco::InputError("bench_tokenize: cannot open " + path + " (set LACO_ASSETS)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// Best of `repeats` timings of `run`, which returns the number of tokens it produced.
template <typename F>
void report(const char* name, const char* mode, size_t bytes, int repeats, F run) {
  double best = 1e30;
  size_t tokens = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    tokens = run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf("%-8s %-12s %10zu bytes %9zu tokens %8.3f s %8.2f MB/s %11.0f tokens/s\n", name, mode, bytes, tokens, best,
              bytes / best / 1e6, tokens / best);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
    const char* env = std::getenv("LACO_ASSETS");
    const std::string assets = env && *env ? env : "../shared";
    const std::string text = read_all(assets + "/data/wikitext2/wiki.test.raw");
    const std::vector<std::string> lines = split_lines(text);
    std::printf("WikiText-2 test: %zu bytes, %zu lines; single thread, best of %d (first pass fills the word cache)\n",
                text.size(), lines.size(), repeats);
    for (const char* name : {"llama3", "llama2"}) {
      auto t0 = Clock::now();
      const auto tok = laco::tokenizer::Tokenizer::load(assets + "/tokenizers/" + name);
      std::printf("%-8s load %.2f s: %s\n", name, std::chrono::duration<double>(Clock::now() - t0).count(),
                  tok.describe().c_str());
      report(name, "per-line", text.size(), repeats, [&]() {
        size_t n = 0;
        for (const std::string& line : lines) n += tok.encode(line, false).size();
        return n;
      });
      report(name, "whole-file", text.size(), repeats, [&]() { return tok.encode(text, false).size(); });
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
    return 2;
  }
}
