// Training texts, the block stream and the sample schedule: see data.h.
#include "laco/train/data.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/strings.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::train {

std::vector<std::string> read_train_texts(const std::string& path, int64_t first, int64_t last,
                                          const std::string& what) {
  require_regular_file(path, what, uint64_t{16} << 30);
  std::ifstream f(path, std::ios::binary);
  LACO_INPUT_CHECK(f.good(), "{}: cannot open '{}': {}", what, path, std::strerror(errno));
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<std::string> texts;
  std::string line;
  int64_t n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (first > 0 && n > last) break;
    if (first > 0 && n < first) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!jsonl) {
      texts.push_back(line);
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: {}:{}: not valid JSON: {}", what, path, n, e.what()));
    }
    const auto it = j.is_object() ? j.find("text") : j.end();
    LACO_INPUT_CHECK(j.is_object() && it != j.end() && it->is_string(), "{}: {}:{}: expected an object with a "
                     "string field \"text\"", what, path, n);
    texts.push_back(it->get<std::string>());
  }
  LACO_INPUT_CHECK(first == 0 || last <= n, "data.train_lines = [{}, {}]: '{}' has only {} lines", first, last,
                   path, n);
  LACO_INPUT_CHECK(!texts.empty(), "{}: '{}' holds no non-blank samples{}", what, path,
                   first > 0 ? fmt::format(" in lines [{}, {}]", first, last) : "");
  return texts;
}

TokenBlocks::TokenBlocks(std::vector<int64_t> stream, int64_t seq_len) : stream_(std::move(stream)), seq_len_(seq_len) {
  LACO_CHECK(seq_len >= 2, "seq_len {}", seq_len);
}

TokenBlocks TokenBlocks::from_texts(const std::vector<std::string>& texts, const tokenizer::Tokenizer& tok,
                                    int64_t seq_len, bool add_bos) {
  const std::vector<std::vector<int64_t>> ids = tok.encode_batch(texts, /*add_special_tokens=*/false, 0);
  const std::optional<int64_t> bos = add_bos ? tok.bos() : std::nullopt;
  std::vector<int64_t> stream;
  for (const auto& s : ids) {
    if (bos) stream.push_back(*bos);
    stream.insert(stream.end(), s.begin(), s.end());
  }
  return TokenBlocks(std::move(stream), seq_len);
}

at::Tensor TokenBlocks::gather(const std::vector<int64_t>& indices) const {
  at::Tensor out = at::empty({static_cast<int64_t>(indices.size()), seq_len_}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  for (size_t i = 0; i < indices.size(); ++i) {
    LACO_CHECK(indices[i] >= 0 && indices[i] < num_blocks(), "block {} of {}", indices[i], num_blocks());
    std::memcpy(dst + static_cast<int64_t>(i) * seq_len_, stream_.data() + indices[i] * seq_len_,
                static_cast<size_t>(seq_len_) * sizeof(int64_t));
  }
  return out;
}

uint64_t mix_key(const std::vector<uint64_t>& parts) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t p : parts) {  // splitmix64 of (h ^ part), chained
    uint64_t z = (h ^ p) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    h = z ^ (z >> 31);
  }
  return h;
}

int64_t SampleOrder::block_of(int64_t k) {
  const int64_t epoch = k / n_;
  if (epoch != epoch_) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(mix_key({seed_, 0x5eed0da7a, static_cast<uint64_t>(epoch)}));
    const at::Tensor p = at::randperm(n_, gen, at::kLong);
    perm_.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n_);
    epoch_ = epoch;
  }
  return perm_[static_cast<size_t>(k % n_)];
}

MicroRange micro_batches_of(int64_t count, int rank, int size) {
  const int64_t base = count / size, extra = count % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace laco::train
