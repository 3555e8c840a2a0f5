// Merge rules against hand computation, for every rule x scope x norms combination:
// rdsc θ* = θ_l + s·Σ_k (θ_{l+k} − θ_l) computed element by element in float32 here;
// keep_last θ* = θ_{l+K}; out-of-scope tensors equal the base layer's.
#include <ATen/ATen.h>

#include "laco/prune/merge.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

model::ModelConfig tiny_config(int layers) {
  return model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 8}, {"intermediate_size", 12},
                                    {"num_hidden_layers", layers}, {"num_attention_heads", 2},
                                    {"num_key_value_heads", 1}, {"vocab_size", 16}}, "tiny");
}

// Element-wise reference: acc = Σ_k (x_k − b) in float32, then b + s·acc.
std::vector<float> hand_rdsc(const std::vector<at::Tensor>& layers, float s) {
  at::Tensor base = layers[0].contiguous();
  const float* b = base.data_ptr<float>();
  std::vector<float> out(static_cast<size_t>(base.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    float acc = 0;
    for (size_t k = 1; k < layers.size(); ++k) acc += layers[k].contiguous().data_ptr<float>()[i] - b[i];
    out[i] = b[i] + s * acc;
  }
  return out;
}

bool equals(const at::Tensor& t, const std::vector<float>& v) {
  at::Tensor c = t.contiguous();
  return std::equal(v.begin(), v.end(), c.data_ptr<float>());
}

TEST(Merge, EveryRuleScopeAndNormModeMatchesHandComputation) {
  model::LayerTable table = model::LayerTable::random(tiny_config(5), 7, at::kFloat);
  const int64_t base = 1, k = 3;
  int checked = 0;
  for (const char* rule : {"rdsc", "keep_last"})
    for (const char* scope : {"full", "attn", "ffn"})
      for (const char* norms : {"keep_base", "merge"}) {
        MergeSpec spec{parse_choice<MergeRule>(rule, "rule"), 1.0, parse_choice<MergeScope>(scope, "scope"),
                       parse_choice<NormMode>(norms, "norms")};
        model::LayerWeights merged = merge_layers(table, base, k, spec);
        for (const auto& s : table.arch().layer_tensors) {
          if (!s.present(table.config())) continue;
          std::vector<at::Tensor> layers;
          for (int64_t i = base; i <= base + k; ++i) layers.push_back(table.layer(i)[s.role]);
          bool in_scope = s.group == model::ParamGroup::kNorm ? std::string(norms) == "merge"
                          : s.group == model::ParamGroup::kAttention ? std::string(scope) != "ffn"
                                                                     : std::string(scope) != "attn";
          at::Tensor expected = !in_scope ? layers.front()
                                : std::string(rule) == "keep_last" ? layers.back()
                                                                   : at::Tensor();
          if (expected.defined()) {
            EXPECT_TRUE(merged[s.role].equal(expected)) << rule << "/" << scope << "/" << norms << " " << s.name;
          } else {
            EXPECT_TRUE(equals(merged[s.role], hand_rdsc(layers, 1.0f))) << rule << "/" << scope << "/" << norms << " " << s.name;
          }
          ++checked;
        }
      }
  EXPECT_EQ(checked, 12 * 9);  // q k v o gate up down + 2 norms (no biases)
}

TEST(Merge, ScaleAndBfloat16RoundOnce) {
  model::LayerTable table = model::LayerTable::random(tiny_config(4), 3, at::kFloat);
  model::LayerWeights half = merge_layers(table, 0, 2, MergeSpec{MergeRule::kRdsc, 0.5, MergeScope::kFull, NormMode::kKeepBase});
  std::vector<at::Tensor> q = {table.layer(0)[model::Role::kQ], table.layer(1)[model::Role::kQ], table.layer(2)[model::Role::kQ]};
  auto expected = hand_rdsc(q, 0.5f);
  const double diff = (half[model::Role::kQ] - at::tensor(expected).view(q[0].sizes())).abs().max().item<double>();
  std::printf("rdsc scale 0.5: max |diff| vs hand = %.3g\n", diff);
  EXPECT_LT(diff, 1e-6);
  // bf16 storage: the float32 result rounded once (round-to-nearest-even).
  model::LayerTable bf = model::LayerTable::random(tiny_config(4), 3, at::kBFloat16);
  model::LayerWeights m = merge_layers(bf, 0, 2, MergeSpec{});
  std::vector<at::Tensor> qb;
  for (int i = 0; i < 3; ++i) qb.push_back(bf.layer(i)[model::Role::kQ].to(at::kFloat));
  at::Tensor once = at::tensor(hand_rdsc(qb, 1.0f)).view(qb[0].sizes()).to(at::kBFloat16);
  EXPECT_TRUE(m[model::Role::kQ].equal(once));
}

TEST(Merge, ScratchIsReusedAndCopiesAreIndependent) {
  model::LayerTable table = model::LayerTable::random(tiny_config(5), 11, at::kFloat);
  MergeSpec spec;
  MergeScratch scratch;
  const void* first = scratch.merge(table, 0, 1, spec)[model::Role::kUp].data_ptr();
  model::LayerWeights kept = scratch.take_copy();
  at::Tensor before = kept[model::Role::kUp].clone();
  const void* second = scratch.merge(table, 2, 2, spec)[model::Role::kUp].data_ptr();
  EXPECT_EQ(first, second);  // same storage: no allocation per candidate
  EXPECT_TRUE(kept[model::Role::kUp].equal(before));
  // keep_base norms alias the base layer (no copy).
  EXPECT_TRUE(scratch.merge(table, 2, 2, spec)[model::Role::kInputNorm].is_same(table.layer(2)[model::Role::kInputNorm]));
}

TEST(Merge, CollapseRenumbersAndKeepsTheLayerMap) {
  model::LayerTable table = model::LayerTable::random(tiny_config(6), 5, at::kFloat);
  table.collapse(3, 5, merge_layers(table, 3, 2, MergeSpec{}));
  table.collapse(1, 2, merge_layers(table, 1, 1, MergeSpec{}));
  EXPECT_EQ(table.num_layers(), 3);
  EXPECT_EQ(table.layer_map(), (std::vector<std::vector<int64_t>>{{0}, {1, 2}, {3, 4, 5}}));
  auto names = table.named_tensors();
  EXPECT_EQ(names[1].first.rfind("model.layers.0.", 0), 0u);
  EXPECT_NE(std::find_if(names.begin(), names.end(), [](const auto& n) { return n.first.rfind("model.layers.2.", 0) == 0; }), names.end());
  EXPECT_EQ(std::find_if(names.begin(), names.end(), [](const auto& n) { return n.first.rfind("model.layers.3.", 0) == 0; }), names.end());
}

}  // namespace
}  // namespace laco::prune
