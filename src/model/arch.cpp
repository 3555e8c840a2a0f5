// The family registry and the helpers every family table uses: see arch.h. A family's
// table is built in its file under src/model/families/.
#include "laco/model/arch.h"

#include <algorithm>

#include <fmt/format.h>

#include "laco/core/error.h"
#include "model/families/families.h"

namespace laco::model {

const std::vector<Arch>& all_archs() {
  static const std::vector<Arch> archs = {families::llama("llama"), families::llama("mistral"),
                                          families::llama("qwen2"),  families::qwen3(),
                                          families::gemma(),         families::gemma2(),
                                          families::phi3(),          families::baichuan(),
                                          families::gpt2()};
  return archs;
}

const Arch* find_arch(const std::string& model_type) {
  for (const Arch& a : all_archs())
    if (a.family == model_type) return &a;
  return nullptr;
}

const Arch& arch_for(const ModelConfig& config) {
  if (const Arch* a = find_arch(config.model_type)) return *a;
  std::vector<std::string> names;
  for (const Arch& a : all_archs()) names.push_back(a.family);
  throw InputError(fmt::format("{}: model_type '{}' is not supported (supported: {})", config.source,
                               config.model_type, fmt::join(names, ", ")));
}

std::string layer_tensor_name(const Arch& arch, int64_t layer, const LayerTensorSpec& spec) {
  return fmt::format(fmt::runtime(arch.layer_prefix), layer) + spec.name;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

const char* group_name(ParamGroup group) {
  switch (group) {
    case ParamGroup::kAttention: return "attention";
    case ParamGroup::kMlp: return "mlp";
    case ParamGroup::kNorm: return "norm";
  }
  return "?";
}

namespace {
int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}
}  // namespace

int64_t layer_parameter_count(const ModelConfig& c) {
  int64_t n = 0;
  for (const LayerTensorSpec& t : arch_for(c).layer_tensors)
    if (t.present(c)) n += numel(t.shape(c));
  return n;
}

int64_t largest_layer_tensor(const ModelConfig& c) {
  int64_t n = 0;
  for (const LayerTensorSpec& t : arch_for(c).layer_tensors)
    if (t.present(c)) n = std::max(n, numel(t.shape(c)));
  return n;
}

int64_t parameter_count(const ModelConfig& c) {
  int64_t total = c.num_hidden_layers * layer_parameter_count(c);
  for (const GlobalTensorSpec& g : arch_for(c).global_tensors)
    if (!(g.tied_to_embed && c.tie_word_embeddings)) total += numel(g.shape(c));
  return total;
}

}  // namespace laco::model
