// config.json as a file: keys that change the math but are not implemented are refused
// naming the key, its value and the file; out-of-range values are refused with the bound;
// duplicate keys and syntax errors are refused (the latter with line and column); sliding
// windows say which layers they apply to, and a pruned config keeps that. Configs of real
// models (Mistral-7B-v0.1, Qwen2.5-7B, Llama-3.1-8B, the shared test models) keep loading.
#include "laco/core/error.h"
#include "laco/model/model_config.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

using nlohmann::json;

json tiny() {
  return {{"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 172},
          {"num_hidden_layers", 5}, {"num_attention_heads", 8}, {"vocab_size", 512}};
}

// Published config.json files (values as shipped on the Hugging Face Hub).
json mistral_7b_v01() {
  return json::parse(R"({
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})");
}

json qwen25_7b() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 3584, "initializer_range": 0.02,
    "intermediate_size": 18944, "max_position_embeddings": 131072, "max_window_layers": 28,
    "model_type": "qwen2", "num_attention_heads": 28, "num_hidden_layers": 28,
    "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 131072, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.1", "use_cache": true, "use_mrope": false,
    "use_sliding_window": false, "vocab_size": 152064})");
}

json llama31_8b() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
    "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0,
    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// Writes `text` as DIR/config.json and loads it.
struct ConfigFile {
  test::TempDir dir;
  std::string path() const { return dir.file("config.json"); }
  ModelConfig load(const std::string& text) {
    test::write_file(path(), text);
    return load_model_config(dir.path());
  }
  ModelConfig load(const json& j) { return load(j.dump(2)); }
  // The InputError's message ("" when it loads): of a JSON value, or of raw text.
  std::string error(const json& j) { return error(j.dump(2)); }
  std::string error(const std::string& text) {
    try {
      load(text);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
};

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << "'" << (part) << "' not in: " << (text)

TEST(ModelConfigFile, RefusesEachUnimplementedKeyNamingKeyValueAndFile) {
  struct Case {
    std::string model_type, key;
    json value;
    std::string shown;  // how the value appears in the message
  };
  const std::vector<Case> cases = {
      {"llama", "hidden_act", "gelu", R"("gelu")"},
      {"qwen2", "hidden_act", "gelu_pytorch_tanh", R"("gelu_pytorch_tanh")"},
      {"mistral", "hidden_act", "relu", R"("relu")"},
      {"llama", "partial_rotary_factor", 0.5, "0.5"},
      {"llama", "attn_logit_softcapping", 50.0, "50.0"},
      {"llama", "final_logit_softcapping", 30.0, "30.0"},
      {"llama", "quantization_config", {{"quant_method", "gptq"}, {"bits", 4}}, "gptq"},
      {"llama", "pruned_heads", {{"0", {1, 2}}}, "[1,2]"},
      {"llama", "no_rope_layers", {1, 1, 1, 0, 1}, "[1,1,1,0,1]"},
      {"llama", "embedding_multiplier", 12.0, "12.0"},
      {"llama", "logits_scaling", 8.0, "8.0"},
      {"llama", "use_qk_norm", true, "true"},
      {"qwen2", "use_mrope", true, "true"},
      {"mistral", "attention_bias", true, "true"},
      {"mistral", "mlp_bias", true, "true"},
      {"qwen2", "attention_bias", true, "true"},
      {"qwen2", "layer_types", {"full_attention", "chunked_attention", "full_attention",
                                "full_attention", "full_attention"}, R"("chunked_attention")"},
  };
  for (const Case& c : cases) {
    ConfigFile f;
    json j = tiny();
    j["model_type"] = c.model_type;
    j[c.key] = c.value;
    const std::string e = f.error(j);
    SCOPED_TRACE(c.model_type + " " + c.key);
    EXPECT_HAS(e, f.path());
    EXPECT_HAS(e, "key '" + c.key + "' = ");
    EXPECT_HAS(e, c.shown);
    EXPECT_HAS(e, "not implemented");
  }
  ConfigFile f;
  json j = tiny();
  j["hidden_act"] = "gelu";
  EXPECT_EQ(f.error(j), f.path() + R"(: key 'hidden_act' = "gelu" is not implemented (laco_dist computes silu for llama))");
  j["hidden_act"] = "relu";  // not an activation laco_dist has at all
  EXPECT_EQ(f.error(j), f.path() + R"(: key 'hidden_act' = "relu" is not implemented (laco_dist computes silu, gelu, gelu_new and gelu_pytorch_tanh))");
}

TEST(ModelConfigFile, RefusesUnimplementedRopeTypes) {
  for (const char* type : {"dynamic", "yarn", "longrope", "su"}) {
    ConfigFile f;
    json j = tiny();
    j["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}};
    const std::string e = f.error(j);
    EXPECT_HAS(e, f.path());
    EXPECT_HAS(e, "'rope_scaling.rope_type' = \"" + std::string(type) + "\" is not implemented");
    j.erase("rope_scaling");
    j["rope_parameters"] = {{"rope_type", type}, {"rope_theta", 1e4}, {"factor", 4.0}};
    EXPECT_HAS(f.error(j), "'rope_parameters.rope_type' = \"" + std::string(type) + "\"");
  }
  ConfigFile f;
  json j = tiny();
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};  // the older spelling
  EXPECT_HAS(f.error(j), "'rope_scaling.type' = \"dynamic\"");
}

TEST(ModelConfigFile, AcceptsKeysAtTheImplementedValueAndHarmlessKeys) {
  ConfigFile f;
  json j = tiny();
  j.update({{"hidden_act", "swish"}, {"partial_rotary_factor", 1.0}, {"attn_logit_softcapping", nullptr},
            {"quantization_config", nullptr}, {"pruned_heads", json::object()}, {"embedding_multiplier", 1.0},
            {"use_qk_norm", false}, {"no_rope_layers", {1, 1, 1, 1, 1}}, {"pretraining_tp", 2},
            {"attention_dropout", 0.1}, {"initializer_range", 0.02}, {"use_cache", false},
            {"pad_token_id", 0}, {"transformers_version", "4.45.0"}, {"architectures", {"LlamaForCausalLM"}},
            {"layer_types", {"x", "y", "z", "w", "v"}},  // not read by transformers' Llama
            {"sliding_window", 16},                       // idem
            {"attention_bias", true}, {"mlp_bias", true}}); // implemented for llama
  const ModelConfig c = f.load(j);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.mlp_bias);
  EXPECT_EQ(c.sliding_window, 0);
  j["model_type"] = "qwen2";
  j.erase("layer_types");
  j.erase("attention_bias");
  j["mlp_bias"] = false;
  EXPECT_EQ(f.error(j), "");
}

TEST(ModelConfigFile, ReadsTransformers5RopeParameters) {
  ConfigFile f;
  json j = tiny();
  j["rope_parameters"] = {{"rope_type", "linear"}, {"rope_theta", 5e5}, {"factor", 2.0}};
  ModelConfig c = f.load(j);
  EXPECT_DOUBLE_EQ(c.rope_theta, 5e5);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);
  j["rope_theta"] = 1e4;
  EXPECT_HAS(f.error(j), "'rope_theta' = 10000 differs from 'rope_parameters.rope_theta' = 500000");
  j.erase("rope_theta");
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  EXPECT_HAS(f.error(j), "keys 'rope_scaling'");
  j["rope_scaling"]["factor"] = 2.0;  // the same scaling in both spellings
  EXPECT_EQ(f.error(j), "");
}

TEST(ModelConfigFile, RefusesOutOfRangeValuesNamingKeyAndBound) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases = {
      {"eps 0", [](json& j) { j["rms_norm_eps"] = 0.0; }, {"'rms_norm_eps'", "finite number > 0", "0.0"}},
      {"eps < 0", [](json& j) { j["rms_norm_eps"] = -1e-6; }, {"'rms_norm_eps'", "> 0"}},
      {"theta 0", [](json& j) { j["rope_theta"] = 0; }, {"'rope_theta'", "> 0"}},
      {"theta < 0", [](json& j) { j["rope_theta"] = -10000.0; }, {"'rope_theta'", "> 0", "-10000.0"}},
      {"layers 10^12", [](json& j) { j["num_hidden_layers"] = 1000000000000LL; },
       {"'num_hidden_layers'", "[1, 100000]", "1000000000000"}},
      {"layers 2^64-1", [](json& j) { j["num_hidden_layers"] = UINT64_MAX; },
       {"'num_hidden_layers'", "[1, 100000]", "18446744073709551615"}},
      {"layers 0", [](json& j) { j["num_hidden_layers"] = 0; }, {"'num_hidden_layers'", "[1, 100000]"}},
      {"layers < 0", [](json& j) { j["num_hidden_layers"] = -3; }, {"'num_hidden_layers'", "-3"}},
      {"hidden", [](json& j) { j["hidden_size"] = int64_t{1} << 40; }, {"'hidden_size'", "[1, 1048576]"}},
      {"intermediate", [](json& j) { j["intermediate_size"] = int64_t{1} << 40; },
       {"'intermediate_size'", "[1, 4194304]"}},
      {"vocab", [](json& j) { j["vocab_size"] = int64_t{1} << 40; }, {"'vocab_size'", "[1, 67108864]"}},
      {"heads", [](json& j) { j["num_attention_heads"] = 0; }, {"'num_attention_heads'", "[1, 65536]"}},
      {"kv heads", [](json& j) { j["num_key_value_heads"] = 3; }, {"num_key_value_heads (3)", "multiple"}},
      {"heads x head_dim", [](json& j) { j["head_dim"] = 65536; j["num_attention_heads"] = 64; },
       {"num_attention_heads (64) x head_dim (65536)", "at most 1048576"}},
      {"hidden % heads", [](json& j) { j["num_attention_heads"] = 7; }, {"hidden_size (64)", "num_attention_heads (7)"}},
      {"positions", [](json& j) { j["max_position_embeddings"] = 0; }, {"'max_position_embeddings'", "[1, "}},
      {"rope factor", [](json& j) { j["rope_scaling"] = {{"type", "linear"}, {"factor", 0.0}}; },
       {"rope_scaling", "'factor'", "> 0"}},
      {"llama3 bands", [](json& j) { j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0},
                                                         {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}}; },
       {"'high_freq_factor' = 4 must be greater than 'low_freq_factor' = 4"}},
      {"window", [](json& j) { j["model_type"] = "mistral"; j["sliding_window"] = 0; }, {"'sliding_window'", "[1, "}},
  };
  for (const Case& c : cases) {
    ConfigFile f;
    json j = tiny();
    c.edit(j);
    const std::string e = f.error(j);
    SCOPED_TRACE(c.what);
    EXPECT_HAS(e, f.path());
    for (const auto& part : c.expect) EXPECT_HAS(e, part);
  }
  // JSON has no infinity; an overflowing literal is refused by the parser itself.
  ConfigFile f;
  const std::string e = f.error(std::string(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
    "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512, "rope_theta": 1e999})"));
  EXPECT_HAS(e, f.path());
  EXPECT_HAS(e, "1e999");
}

TEST(ModelConfigFile, RefusesDuplicateKeysAndReportsSyntaxErrorPositions) {
  ConfigFile f;
  std::string e = f.error(std::string(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
  "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512, "num_hidden_layers": 4})"));
  EXPECT_HAS(e, f.path());
  EXPECT_HAS(e, "key 'num_hidden_layers' appears twice at the top level");
  e = f.error(std::string(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
  "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512,
  "rope_scaling": {"type": "linear", "factor": 2.0, "factor": 4.0}})"));
  EXPECT_HAS(e, f.path());
  EXPECT_HAS(e, "key 'factor' appears twice in 'rope_scaling'");
  // Line 3 lacks the comma after 8: the parser stops on line 4 after reading the unexpected
  // token, so the column is that of its last character: 2 spaces + "vocab_size" (12) = 14.
  e = f.error(std::string("{\"model_type\": \"llama\",\n  \"hidden_size\": 64,\n  \"num_attention_heads\": 8\n"
                          "  \"vocab_size\": 512}"));
  EXPECT_HAS(e, f.path());
  EXPECT_HAS(e, "is not valid JSON");
  EXPECT_HAS(e, "line 4, column 14");
  e = f.error(std::string("{\"model_type\": \"llama\",\n  \"hidden_size\": 64,,\n}"));
  EXPECT_HAS(e, "line 2, column 21");  // the second comma: 2 + 13 + 2 + 2 + 1 + 1
  test::TempDir empty;
  try {
    load_model_config(empty.path());
    ADD_FAILURE() << "an empty directory loaded";
  } catch (const InputError& err) {
    EXPECT_HAS(std::string(err.what()), "not a model directory");
    EXPECT_HAS(std::string(err.what()), "config.json");
  }
}

TEST(ModelConfigFile, MistralWindowAppliesToEveryLayerAndAnyLength) {
  ConfigFile f;
  ModelConfig c = f.load(mistral_7b_v01());
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.sliding_layers, std::vector<char>(32, 1));
  EXPECT_NO_THROW(check_sequence_length(c, 8192, "calibration.max_tokens = 8192"));  // the window is computed
  json j = mistral_7b_v01();
  j["sliding_window"] = nullptr;  // Mistral-7B-v0.2 and later: no window
  EXPECT_EQ(f.load(j).sliding_window, 0);
  EXPECT_EQ(f.load(j).sliding_layers, std::vector<char>(32, 0));
  j.erase("sliding_window");      // transformers' MistralConfig default
  EXPECT_EQ(f.load(j).sliding_window, 4096);
}

TEST(ModelConfigFile, Qwen2WindowFollowsUseSlidingWindowAndMaxWindowLayers) {
  ConfigFile f;
  ModelConfig c = f.load(qwen25_7b());  // use_sliding_window: false
  EXPECT_EQ(c.sliding_window, 0);
  json j = qwen25_7b();
  j["use_sliding_window"] = true;  // but max_window_layers 28 = num_hidden_layers: no layer slides
  EXPECT_EQ(f.load(j).sliding_window, 0);
  j["max_window_layers"] = 20;
  j["sliding_window"] = 4096;
  c = f.load(j);
  EXPECT_EQ(c.sliding_window, 4096);
  std::vector<char> expected(28, 0);
  for (int i = 20; i < 28; ++i) expected[static_cast<size_t>(i)] = 1;  // layers >= max_window_layers
  EXPECT_EQ(c.sliding_layers, expected);
  // A pruned config keeps each new layer's kind: layers 18-19 and 20-21 merged -> 26 layers,
  // the merged 20-21 at index 19 is the first sliding one.
  std::vector<std::vector<int64_t>> map;
  for (int64_t l = 0; l < 28; ++l) {
    if (l == 19 || l == 21) continue;
    map.push_back(l == 18 || l == 20 ? std::vector<int64_t>{l, l + 1} : std::vector<int64_t>{l});
  }
  EXPECT_EQ(pruned_config_json(c, map, "").at("max_window_layers"), 19);
  j["max_window_layers"] = 28;  // layer_types, when given, decides instead
  j["layer_types"] = json::array();
  for (int i = 0; i < 28; ++i) j["layer_types"].push_back(i < 27 ? "full_attention" : "sliding_attention");
  c = f.load(j);
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.sliding_layers.back(), 1);
  EXPECT_EQ(c.sliding_layers.front(), 0);
}

TEST(ModelConfigFile, SequencesLongerThanMaxPositionEmbeddingsAreRefused) {
  ConfigFile f;
  json j = tiny();
  j["max_position_embeddings"] = 512;
  ModelConfig c = f.load(j);
  EXPECT_NO_THROW(check_sequence_length(c, 512, "--max-length 512"));
  try {
    check_sequence_length(c, 513, "--max-length 513");
    ADD_FAILURE() << "513 tokens accepted with 512 positions";
  } catch (const InputError& e) {
    EXPECT_HAS(std::string(e.what()), f.path());
    EXPECT_HAS(std::string(e.what()), "key 'max_position_embeddings' = 512");
    EXPECT_HAS(std::string(e.what()), "--max-length 513");
  }
}

TEST(ModelConfigFile, PublishedAndSharedConfigsLoad) {
  ConfigFile f;
  const ModelConfig llama = f.load(llama31_8b());
  EXPECT_EQ(llama.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(llama.num_hidden_layers, 32);
  EXPECT_EQ(llama.sliding_window, 0);
  EXPECT_NO_THROW(check_sequence_length(llama, 8192, "calibration.max_tokens = 8192"));
  for (const char* model : {"models/kjv-16L", "models/stories260K-hf"}) {
    if (!test::exists(test::asset(model))) continue;
    const ModelConfig c = load_model_config(test::asset(model));
    EXPECT_EQ(c.sliding_window, 0) << model;
    EXPECT_NO_THROW(check_sequence_length(c, 128, "calibration.max_tokens = 128")) << model;
  }
}

}  // namespace
}  // namespace laco::model
