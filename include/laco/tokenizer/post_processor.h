// tokenizer.json post-processors reduced to what laco needs: the special-token ids wrapped
// around a single sequence when encode(..., add_special_tokens=true). TemplateProcessing
// (its "single" template), ByteLevel (adds nothing), RobertaProcessing / BertProcessing
// (<cls> A <sep>) and Sequence (applied in order) are supported; pair templates are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace laco::tokenizer {

struct SpecialFrame {
  std::vector<int32_t> prefix, suffix;  // ids before / after the sequence
};

// Frame of the post-processor `j` (empty for JSON null); InputError naming `where` and the
// type when it is unknown or malformed.
SpecialFrame make_post_processor(const nlohmann::json& j, const std::string& where);

}  // namespace laco::tokenizer
