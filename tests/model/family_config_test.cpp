// config.json of the added families (issue 14 item 4): each family's keys are read with
// transformers' defaults (GPT-2's n_embd/n_layer names, Gemma's head_dim 256, Baichuan's two
// variants), and a key that changes the math but is not implemented is an error naming the
// file, the key and its value. The fixtures' config.json files are the starting points.
#include "laco/core/error.h"
#include "laco/model/arch.h"
#include "laco/model/model_config.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

using nlohmann::json;

json fixture_config(const std::string& name) { return test::read_json(test::family_fixture(name) + "/config.json"); }

void expect_refused(const json& j, const std::vector<std::string>& parts) {
  test::expect_input_error([&] { parse_model_config(j, "dir/config.json"); }, parts);
}

TEST(FamilyConfig, ReadsEachFamilysKeysWithItsDefaults) {
  const ModelConfig gpt2 = parse_model_config(fixture_config("gpt2"), "gpt2");
  EXPECT_EQ(gpt2.num_hidden_layers, 3);  // n_layer
  EXPECT_EQ(gpt2.head_dim, gpt2.hidden_size / gpt2.num_attention_heads);
  EXPECT_TRUE(gpt2.tie_word_embeddings);
  EXPECT_EQ(gpt2.hidden_act, Activation::kGeluTanh);  // gelu_new
  json j = fixture_config("gemma");
  j.erase("head_dim");
  EXPECT_EQ(parse_model_config(j, "gemma").head_dim, 256);  // GemmaConfig's default, not hidden / heads
  const ModelConfig gemma2 = parse_model_config(fixture_config("gemma2"), "gemma2");
  EXPECT_EQ(gemma2.sliding_layers, (std::vector<char>{1, 0, 1, 0}));
  EXPECT_EQ(gemma2.attn_softcap, 5.0);
  EXPECT_EQ(gemma2.query_pre_attn_scalar, 24.0);
  j = fixture_config("gemma2");
  j.erase("layer_types");
  j["final_logit_softcapping"] = nullptr;
  const ModelConfig g2 = parse_model_config(j, "gemma2");
  EXPECT_EQ(g2.sliding_layers, (std::vector<char>{1, 0, 1, 0}));  // the default pattern: even layers
  EXPECT_EQ(g2.final_softcap, 0.0);                                // null: no cap
  EXPECT_FALSE(parse_model_config(fixture_config("baichuan2-7b"), "b7").alibi);
  EXPECT_TRUE(parse_model_config(fixture_config("baichuan2-13b"), "b13").alibi);
  EXPECT_EQ(parse_model_config(fixture_config("baichuan2-13b"), "b13").max_position_embeddings, 64);  // model_max_length
}

TEST(FamilyConfig, UnimplementedKeysAreRefusedNamingKeyAndValue) {
  struct Case {
    const char* fixture;
    const char* key;
    json value;
  };
  const std::vector<Case> cases = {
      {"gpt2", "scale_attn_by_inverse_layer_idx", true},
      {"gpt2", "reorder_and_upcast_attn", true},
      {"gpt2", "activation_function", "relu"},
      {"gemma", "final_logit_softcapping", 30.0},
      {"qwen3", "hidden_act", "gelu"},
      {"phi3", "rope_scaling", json{{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}}},
      {"phi3", "partial_rotary_factor", 0.5},
      {"baichuan2-7b", "rope_scaling", json{{"type", "linear"}, {"factor", 2.0}}},
      {"baichuan2-13b", "num_key_value_heads", 2},
      {"mistral-window", "use_qk_norm", true},
  };
  for (const Case& c : cases) {
    json j = fixture_config(c.fixture);
    j[c.key] = c.value;
    SCOPED_TRACE(std::string(c.fixture) + " " + c.key);
    expect_refused(j, {"dir/config.json", c.key});
  }
  json j = fixture_config("gemma2");
  j["layer_types"][1] = "chunked_attention";
  expect_refused(j, {"dir/config.json", "layer_types", "chunked_attention"});
}

TEST(FamilyConfig, PrunedConfigUsesTheFamilysLayerKeyAndListsGemma2LayerKinds) {
  const std::vector<std::vector<int64_t>> map = {{0}, {1, 2}};
  const json gpt2 = pruned_config_json(parse_model_config(fixture_config("gpt2"), "gpt2"), map, "");
  EXPECT_EQ(gpt2.at("n_layer"), 2);
  EXPECT_FALSE(gpt2.contains("num_hidden_layers"));
  json g = fixture_config("gemma2");
  g.erase("layer_types");  // an older file: the pattern follows the index, so the pruned one must list it
  const std::vector<std::vector<int64_t>> map4 = {{0, 1}, {2}, {3}};
  const json pruned = pruned_config_json(parse_model_config(g, "gemma2"), map4, "");
  EXPECT_EQ(pruned.at("layer_types"), (json{"sliding_attention", "sliding_attention", "full_attention"}));
  EXPECT_EQ(pruned.at("num_hidden_layers"), 3);
}

}  // namespace
}  // namespace laco::model
