// The enumerated settings' names (core/config.h), in enum order, and the error for a name
// that is none of them.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "laco/core/config.h"
#include "laco/core/error.h"

namespace laco {

const std::vector<std::string>& choice_names(Dtype) {
  static const std::vector<std::string> n = {"float32", "bfloat16", "float16"};
  return n;
}
const std::vector<std::string>& choice_names(OutputDtype) {
  static const std::vector<std::string> n = {"same", "float32", "bfloat16", "float16"};
  return n;
}
const std::vector<std::string>& choice_names(Device) {
  static const std::vector<std::string> n = {"cpu", "cuda"};
  return n;
}
const std::vector<std::string>& choice_names(Placement) {
  static const std::vector<std::string> n = {"auto", "resident", "stream"};
  return n;
}
const std::vector<std::string>& choice_names(MergeRule) {
  static const std::vector<std::string> n = {"rdsc", "keep_last"};
  return n;
}
const std::vector<std::string>& choice_names(MergeScope) {
  static const std::vector<std::string> n = {"full", "attn", "ffn"};
  return n;
}
const std::vector<std::string>& choice_names(NormMode) {
  static const std::vector<std::string> n = {"keep_base", "merge"};
  return n;
}
const std::vector<std::string>& choice_names(PruneMethod) {
  static const std::vector<std::string> n = {"laco", "block_influence", "angular"};
  return n;
}
const std::vector<std::string>& choice_names(Representation) {
  static const std::vector<std::string> n = {"flat", "last_token", "mean"};
  return n;
}

void throw_unknown_choice(const std::string& name, const std::string& what, const std::vector<std::string>& names) {
  throw InputError(fmt::format("{}: '{}' is not allowed; expected one of {}", what, name, fmt::join(names, " | ")));
}

}  // namespace laco
