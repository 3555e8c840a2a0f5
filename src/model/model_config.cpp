// config.json parsing with transformers' defaults per model_type: see model_config.h.
#include "laco/model/model_config.h"

#include <fstream>

#include "laco/core/error.h"

namespace laco::model {
namespace {

using nlohmann::json;

// Family defaults that differ from ModelConfig's member initialisers (transformers 4.4x).
void apply_family_defaults(ModelConfig& c) {
  if (c.model_type == "mistral") c.max_position_embeddings = 4096 * 32;
  if (c.model_type == "qwen2") c.max_position_embeddings = 32768;
}

const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  return (it == j.end() || it->is_null()) ? nullptr : &*it;
}

int64_t get_int(const json& j, const char* key, const std::string& src, bool required,
                int64_t fallback, int64_t min_value) {
  const json* v = find(j, key);
  if (!v) {
    LACO_INPUT_CHECK(!required, "{}: required key '{}' is missing", src, key);
    return fallback;
  }
  LACO_INPUT_CHECK(v->is_number_integer(), "{}: key '{}' must be an integer, found {}", src, key,
                   v->dump());
  int64_t x = v->get<int64_t>();
  LACO_INPUT_CHECK(x >= min_value, "{}: key '{}' must be >= {}, found {}", src, key, min_value, x);
  return x;
}

double get_double(const json& j, const char* key, const std::string& src, double fallback) {
  const json* v = find(j, key);
  if (!v) return fallback;
  LACO_INPUT_CHECK(v->is_number(), "{}: key '{}' must be a number, found {}", src, key, v->dump());
  return v->get<double>();
}

bool get_bool(const json& j, const char* key, const std::string& src, bool fallback) {
  const json* v = find(j, key);
  if (!v) return fallback;
  LACO_INPUT_CHECK(v->is_boolean(), "{}: key '{}' must be true or false, found {}", src, key,
                   v->dump());
  return v->get<bool>();
}

// bos_token_id / eos_token_id may be an int or a list of ints.
std::vector<int64_t> get_ids(const json& j, const char* key, const std::string& src,
                             std::vector<int64_t> fallback) {
  const json* v = find(j, key);
  if (!v) return fallback;
  std::vector<int64_t> ids;
  auto add = [&](const json& x) {
    LACO_INPUT_CHECK(x.is_number_integer(), "{}: key '{}' must hold integer token ids, found {}",
                     src, key, v->dump());
    ids.push_back(x.get<int64_t>());
  };
  if (v->is_array()) {
    for (const auto& x : *v) add(x);
  } else {
    add(*v);
  }
  return ids;
}

RopeScaling parse_rope_scaling(const json& j, const std::string& src) {
  RopeScaling r;
  const json* v = find(j, "rope_scaling");
  if (!v) return r;
  LACO_INPUT_CHECK(v->is_object(), "{}: key 'rope_scaling' must be an object or null", src);
  std::string type = v->value("rope_type", v->value("type", std::string("default")));
  if (type == "default") return r;
  r.factor = get_double(*v, "factor", src + " rope_scaling", 1.0);
  if (type == "linear") {
    r.type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    r.type = RopeScalingType::kLlama3;
    r.low_freq_factor = get_double(*v, "low_freq_factor", src, 1.0);
    r.high_freq_factor = get_double(*v, "high_freq_factor", src, 4.0);
    r.original_max_position_embeddings =
        get_int(*v, "original_max_position_embeddings", src, false, 8192, 1);
  } else {
    throw InputError(fmt::format(
        "{}: rope_scaling type '{}' is not supported (supported: default, linear, llama3)", src,
        type));
  }
  LACO_INPUT_CHECK(r.factor > 0, "{}: rope_scaling.factor must be > 0", src);
  return r;
}

}  // namespace

std::vector<std::string> supported_model_types() { return {"llama", "mistral", "qwen2"}; }

ModelConfig parse_model_config(const json& j, const std::string& src) {
  LACO_INPUT_CHECK(j.is_object(), "{}: expected a JSON object", src);
  ModelConfig c;
  c.raw = j;
  c.source = src;
  const json* type = find(j, "model_type");
  LACO_INPUT_CHECK(type, "{}: required key 'model_type' is missing", src);
  LACO_INPUT_CHECK(type->is_string(), "{}: key 'model_type' must be a string", src);
  c.model_type = type->get<std::string>();
  auto types = supported_model_types();
  LACO_INPUT_CHECK(std::find(types.begin(), types.end(), c.model_type) != types.end(),
                   "{}: model_type '{}' is not supported (supported: {})", src, c.model_type,
                   fmt::join(types, ", "));
  apply_family_defaults(c);
  c.hidden_size = get_int(j, "hidden_size", src, true, 0, 1);
  c.intermediate_size = get_int(j, "intermediate_size", src, true, 0, 1);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", src, true, 0, 1);
  c.num_attention_heads = get_int(j, "num_attention_heads", src, true, 0, 1);
  c.vocab_size = get_int(j, "vocab_size", src, true, 0, 1);
  c.num_key_value_heads = get_int(j, "num_key_value_heads", src, false, c.num_attention_heads, 1);
  LACO_INPUT_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
                   "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                   src, c.num_attention_heads, c.num_key_value_heads);
  LACO_INPUT_CHECK(find(j, "head_dim") || c.hidden_size % c.num_attention_heads == 0,
                   "{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and no "
                   "head_dim is given", src, c.hidden_size, c.num_attention_heads);
  c.head_dim = get_int(j, "head_dim", src, false, c.hidden_size / c.num_attention_heads, 1);
  LACO_INPUT_CHECK(c.head_dim % 2 == 0, "{}: head_dim must be even for RoPE, found {}", src,
                   c.head_dim);
  c.max_position_embeddings =
      get_int(j, "max_position_embeddings", src, false, c.max_position_embeddings, 1);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", src, c.rms_norm_eps);
  c.rope_theta = get_double(j, "rope_theta", src, c.rope_theta);
  c.rope_scaling = parse_rope_scaling(j, src);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", src, false);
  c.attention_bias = get_bool(j, "attention_bias", src, false);
  c.mlp_bias = get_bool(j, "mlp_bias", src, false);
  if (const json* d = find(j, "torch_dtype")) {
    LACO_INPUT_CHECK(d->is_string(), "{}: key 'torch_dtype' must be a string", src);
    c.torch_dtype = d->get<std::string>();
  }
  const bool llama_ids = c.model_type != "qwen2";
  c.bos_token_ids = get_ids(j, "bos_token_id", src, llama_ids ? std::vector<int64_t>{1} : std::vector<int64_t>{});
  c.eos_token_ids = get_ids(j, "eos_token_id", src, llama_ids ? std::vector<int64_t>{2} : std::vector<int64_t>{});
  return c;
}

ModelConfig load_model_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::ifstream f(path);
  LACO_INPUT_CHECK(f.good(), "'{}' is not a model directory: {} is missing (expected a "
                   "HuggingFace checkpoint with config.json and model.safetensors)", dir, path);
  json j = json::parse(f, nullptr, /*allow_exceptions=*/false);
  LACO_INPUT_CHECK(!j.is_discarded(), "{}: invalid JSON", path);
  return parse_model_config(j, path);
}

json pruned_config_json(const ModelConfig& c, const std::vector<std::vector<int64_t>>& layer_map,
                        const std::string& torch_dtype) {
  json out = c.raw;
  const auto n_old = static_cast<size_t>(c.num_hidden_layers);
  for (const char* key : {"layer_types", "no_rope_layers"}) {
    auto it = out.find(key);
    if (it == out.end() || !it->is_array() || it->size() != n_old) continue;
    json pruned = json::array();
    for (const auto& group : layer_map) pruned.push_back((*it)[static_cast<size_t>(group.front())]);
    *it = pruned;
  }
  out["num_hidden_layers"] = static_cast<int64_t>(layer_map.size());
  if (!torch_dtype.empty()) out["torch_dtype"] = torch_dtype;
  return out;
}

int64_t parameter_count(const ModelConfig& c) {
  const int64_t d = c.hidden_size, hd = c.head_dim;
  const int64_t q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  int64_t attn = d * q + 2 * d * kv + q * d;
  if (c.attention_bias) attn += q + 2 * kv + d;
  else if (c.model_type == "qwen2") attn += q + 2 * kv;
  int64_t mlp = 3 * d * c.intermediate_size;
  if (c.mlp_bias) mlp += 2 * c.intermediate_size + d;
  const int64_t layer = attn + mlp + 2 * d;
  const int64_t embed = c.vocab_size * d;
  return embed * (c.tie_word_embeddings ? 1 : 2) + d + c.num_hidden_layers * layer;
}

}  // namespace laco::model
