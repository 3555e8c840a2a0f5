// Calibration samples: see calibration.h.
#include "laco/prune/calibration.h"

#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"
#include "laco/core/files.h"
#include "laco/tokenizer/unicode.h"

namespace laco::prune {
namespace {

constexpr size_t kMaxLineBytes = size_t{16} << 20;

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n\v\f") == std::string::npos;
}

// std::getline with a bound: a line longer than kMaxLineBytes (a file without newlines,
// binary data) is an error naming the file and line, not unbounded growth.
bool read_line(std::istream& in, std::string& line, const std::string& path, int64_t line_no) {
  line.clear();
  for (int c; (c = in.get()) != EOF;) {
    if (c == '\n') return true;
    line += static_cast<char>(c);
    LACO_INPUT_CHECK(line.size() <= kMaxLineBytes,
                     "calibration.file {}:{}: line longer than {} MiB (expected one sample per line)", path,
                     line_no, kMaxLineBytes >> 20);
  }
  return !line.empty();
}

}  // namespace

std::vector<std::string> read_calibration_texts(const std::string& path, int samples) {
  require_regular_file(path, "calibration.file");
  std::ifstream f(path, std::ios::binary);
  LACO_INPUT_CHECK(f.good(), "calibration.file: cannot read '{}'", path);
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<std::string> texts;
  std::string line;
  int64_t line_no = 0;
  while (static_cast<int>(texts.size()) < samples && read_line(f, line, path, line_no + 1)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokenizer::check_utf8(line, fmt::format("calibration.file {}:{}", path, line_no));
    if (!jsonl) {
      if (!blank(line)) texts.push_back(line);
      continue;
    }
    if (blank(line)) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    LACO_INPUT_CHECK(!j.is_discarded() && j.is_object(), "calibration.file {}:{}: not a JSON object",
                     path, line_no);
    auto it = j.find("text");
    LACO_INPUT_CHECK(it != j.end() && it->is_string(), "calibration.file {}:{}: no string field \"text\"",
                     path, line_no);
    texts.push_back(it->get<std::string>());
  }
  LACO_INPUT_CHECK(!texts.empty(), "calibration.file: '{}' holds no usable samples (empty or blank)", path);
  if (static_cast<int>(texts.size()) < samples) {
    spdlog::warn("calibration.file: '{}' has only {} usable samples, {} requested", path, texts.size(), samples);
  }
  return texts;
}

std::vector<std::vector<int64_t>> tokenize_calibration(const std::vector<std::string>& texts,
                                                       const tokenizer::Tokenizer& tok,
                                                       const CalibrationSection& cfg) {
  std::optional<int64_t> bos = tok.bos();
  if (cfg.add_bos && !bos) spdlog::warn("calibration.add_bos: the tokenizer has no BOS token; none added");
  std::vector<std::vector<int64_t>> out;
  for (const auto& text : texts) {
    std::vector<int64_t> ids;
    if (cfg.add_bos && bos) ids.push_back(*bos);
    std::vector<int64_t> body = tok.encode(text, /*add_special_tokens=*/false);
    ids.insert(ids.end(), body.begin(), body.end());
    if (static_cast<int64_t>(ids.size()) > cfg.max_tokens) ids.resize(static_cast<size_t>(cfg.max_tokens));
    if (ids.empty()) {
      spdlog::warn("calibration: a sample encodes to no tokens and is skipped");
      continue;
    }
    out.push_back(std::move(ids));
  }
  LACO_INPUT_CHECK(!out.empty(), "calibration.file: no sample produced any token");
  return out;
}

}  // namespace laco::prune

namespace laco::prune {

void check_token_ids(const std::vector<std::vector<int64_t>>& samples, const model::ModelConfig& model,
                     const std::string& file) {
  for (size_t i = 0; i < samples.size(); ++i)
    for (int64_t id : samples[i])
      LACO_INPUT_CHECK(id >= 0 && id < model.vocab_size,
                       "calibration.file {}: sample {} encodes to token id {}, outside the model's vocabulary "
                       "[0, {}) ({} vocab_size): the tokenizer does not belong to this model", file, i, id,
                       model.vocab_size, model.source);
}

std::string calibration_digest(const std::vector<std::vector<int64_t>>& samples) {
  std::string bytes;
  for (const auto& s : samples) {
    bytes.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(int64_t));
    bytes += '\n';
  }
  return fnv1a_hex(bytes);
}

}  // namespace laco::prune
