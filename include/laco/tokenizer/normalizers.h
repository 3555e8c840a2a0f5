// tokenizer.json normalizers: Sequence, Prepend, Append, Replace, NFC, NFD, NFKC, NFKD,
// Strip and Lowercase, applied to the text between added tokens before pre-tokenization.
// Each works on whole valid-UTF-8 strings (laco keeps ids only, not offset alignments).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace laco::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described by `j` (nullptr for JSON null). Unknown types are an
// InputError naming `where` and the type.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);

}  // namespace laco::tokenizer
