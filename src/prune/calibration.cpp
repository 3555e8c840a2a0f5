// Calibration samples: see calibration.h.
#include "laco/prune/calibration.h"

#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/strings.h"

namespace laco::prune {
namespace {

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n\v\f") == std::string::npos;
}

}  // namespace

std::vector<std::string> read_calibration_texts(const std::string& path, int samples) {
  std::ifstream f(path, std::ios::binary);
  LACO_INPUT_CHECK(f.good(), "calibration.file: cannot read '{}'", path);
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<std::string> texts;
  std::string line;
  int64_t line_no = 0;
  while (static_cast<int>(texts.size()) < samples && std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
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
