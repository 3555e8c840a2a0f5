// config.json parsing: the typed getters (config_keys.h), the dispatch to the family's
// parser (src/model/families/), the checks every family shares, and writing a pruned
// config.json back. Three kinds of key (docs/io.md, "config.json keys"): keys read into
// ModelConfig (range checked), keys that change the math but are not implemented (refused
// unless at the value the forward computes), and everything else, which transformers'
// classes for these families do not read either and so cannot change the result.
#include "laco/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"
#include "laco/model/arch.h"
#include "model/config_keys.h"

namespace laco::model {

using nlohmann::json;

namespace keys {

const json* find(const json& j, const char* key) {
  auto it = j.find(key);
  return (it == j.end() || it->is_null()) ? nullptr : &*it;
}

// An integer in [lo, hi]; values beyond int64 (stored unsigned by nlohmann) are out of range.
int64_t get_int(const json& j, const char* key, const std::string& src, bool required,
                int64_t fallback, int64_t lo, int64_t hi) {
  const json* v = find(j, key);
  if (!v) {
    LACO_INPUT_CHECK(!required, "{}: required key '{}' is missing", src, key);
    return fallback;
  }
  LACO_INPUT_CHECK(v->is_number_integer(), "{}: key '{}' must be an integer, found {}", src, key,
                   v->dump());
  const bool too_big = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi);
  const int64_t x = too_big ? hi : v->get<int64_t>();
  LACO_INPUT_CHECK(!too_big && x >= lo && x <= hi, "{}: key '{}' must be in [{}, {}], found {}", src,
                   key, lo, hi, v->dump());
  return x;
}

double get_double(const json& j, const char* key, const std::string& src, double fallback) {
  const json* v = find(j, key);
  if (!v) return fallback;
  LACO_INPUT_CHECK(v->is_number(), "{}: key '{}' must be a number, found {}", src, key, v->dump());
  return v->get<double>();
}

// A number that must be finite and > 0 (eps, rope_theta, scaling factors).
double get_positive(const json& j, const char* key, const std::string& src, double fallback) {
  const double x = get_double(j, key, src, fallback);
  LACO_INPUT_CHECK(std::isfinite(x) && x > 0, "{}: key '{}' must be a finite number > 0, found {}",
                   src, key, find(j, key) ? find(j, key)->dump() : std::to_string(x));
  return x;
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

void refuse(const std::string& src, const std::string& key, const json& value, const std::string& why) {
  throw InputError(fmt::format("{}: key '{}' = {} is not implemented ({})", src, key, value.dump(), why));
}

namespace {

// `rope_scaling` (transformers 4.x) or `rope_parameters` (5.x); `obj_key` names it.
RopeScaling parse_rope_object(const json& v, const std::string& obj_key, const std::string& src) {
  RopeScaling r;
  LACO_INPUT_CHECK(v.is_object(), "{}: key '{}' must be an object or null, found {}", src, obj_key, v.dump());
  const json* t = find(v, "rope_type");
  const char* type_key = "rope_type";
  if (!t) t = find(v, "type"), type_key = "type";
  const std::string where = src + " " + obj_key;  // "…/config.json rope_scaling: key 'factor' …"
  std::string type = "default";
  if (t) {
    LACO_INPUT_CHECK(t->is_string(), "{}: key '{}' must be a string, found {}", where, type_key, t->dump());
    type = t->get<std::string>();
  }
  if (type == "default") return r;
  if (type == "linear") {
    r.type = RopeScalingType::kLinear;
  } else if (type == "llama3") {
    r.type = RopeScalingType::kLlama3;
    r.low_freq_factor = get_positive(v, "low_freq_factor", where, 1.0);
    r.high_freq_factor = get_positive(v, "high_freq_factor", where, 4.0);
    LACO_INPUT_CHECK(r.high_freq_factor > r.low_freq_factor,
                     "{}: key 'high_freq_factor' = {} must be greater than 'low_freq_factor' = {}", where,
                     r.high_freq_factor, r.low_freq_factor);
    r.original_max_position_embeddings =
        get_int(v, "original_max_position_embeddings", where, false, 8192, 1, kMaxPositions);
  } else {
    throw InputError(fmt::format(
        "{}: key '{}.{}' = \"{}\" is not implemented (supported: default, linear, llama3)", src, obj_key,
        type_key, type));
  }
  r.factor = get_positive(v, "factor", where, 1.0);
  return r;
}

bool same_rope(const RopeScaling& a, const RopeScaling& b) {
  return a.type == b.type && a.factor == b.factor && a.low_freq_factor == b.low_freq_factor &&
         a.high_freq_factor == b.high_freq_factor &&
         a.original_max_position_embeddings == b.original_max_position_embeddings;
}

}  // namespace

// rope_theta, rope scaling and partial_rotary_factor, from either config format.
void parse_rope(const json& j, const std::string& src, ModelConfig& c) {
  const json* legacy = find(j, "rope_scaling");
  const json* params = find(j, "rope_parameters");
  if (legacy) c.rope_scaling = parse_rope_object(*legacy, "rope_scaling", src);
  c.rope_theta = get_positive(j, "rope_theta", src, c.rope_theta);
  if (params) {
    RopeScaling r = parse_rope_object(*params, "rope_parameters", src);
    LACO_INPUT_CHECK(!legacy || same_rope(r, c.rope_scaling),
                     "{}: keys 'rope_scaling' = {} and 'rope_parameters' = {} describe different RoPE "
                     "scalings; keep one", src, legacy ? legacy->dump() : "", params->dump());
    c.rope_scaling = r;
    if (find(*params, "rope_theta")) {
      const double theta = get_positive(*params, "rope_theta", src + " rope_parameters", 0);
      LACO_INPUT_CHECK(!find(j, "rope_theta") || theta == c.rope_theta,
                       "{}: key 'rope_theta' = {} differs from 'rope_parameters.rope_theta' = {}", src,
                       c.rope_theta, theta);
      c.rope_theta = theta;
    }
  }
  for (const json* holder : {&j, params}) {
    const json* f = holder ? find(*holder, "partial_rotary_factor") : nullptr;
    if (f && !(f->is_number() && f->get<double>() == 1.0))
      refuse(src, "partial_rotary_factor", *f, "laco_dist rotates the whole head, factor 1.0");
  }
}


std::string get_string(const json& j, const char* key, const std::string& src, const std::string& fallback) {
  const json* v = find(j, key);
  if (!v) return fallback;
  LACO_INPUT_CHECK(v->is_string(), "{}: key '{}' must be a string, found {}", src, key, v->dump());
  return v->get<std::string>();
}

void refuse_unless(const json& j, const char* key, const json& ok, const std::string& src, const std::string& why) {
  if (const json* v = find(j, key); v && *v != ok) refuse(src, key, *v, why);
}

void refuse_common(const json& j, const std::string& src) {
  if (const json* v = find(j, "quantization_config"))
    refuse(src, "quantization_config", *v, "laco_dist reads unquantized float weights");
  if (const json* v = find(j, "pruned_heads"); v && !v->empty())
    refuse(src, "pruned_heads", *v, "laco_dist expects every attention head");
  refuse_unless(j, "use_mrope", false, src, "laco_dist computes 1-D RoPE");
}

Activation parse_activation(const json& j, const char* key, const std::string& src, const std::string& fallback) {
  const std::string a = get_string(j, key, src, fallback);
  if (a == "silu" || a == "swish") return Activation::kSilu;
  if (a == "gelu_pytorch_tanh" || a == "gelu_new") return Activation::kGeluTanh;
  if (a == "gelu") return Activation::kGelu;
  refuse(src, key, json(a), "laco_dist computes silu, gelu, gelu_new and gelu_pytorch_tanh");
}

void parse_dimensions(const json& j, const std::string& src, ModelConfig& c, int64_t head_dim_default) {
  c.hidden_size = get_int(j, "hidden_size", src, true, 0, 1, kMaxHiddenSize);
  c.intermediate_size = get_int(j, "intermediate_size", src, true, 0, 1, kMaxIntermediateSize);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", src, true, 0, 1, kMaxLayers);
  c.num_attention_heads = get_int(j, "num_attention_heads", src, true, 0, 1, kMaxHeads);
  c.vocab_size = get_int(j, "vocab_size", src, true, 0, 1, kMaxVocabSize);
  c.num_key_value_heads =
      get_int(j, "num_key_value_heads", src, false, c.num_attention_heads, 1, kMaxHeads);
  LACO_INPUT_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
                   "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                   src, c.num_attention_heads, c.num_key_value_heads);
  LACO_INPUT_CHECK(find(j, "head_dim") || head_dim_default > 0 || c.hidden_size % c.num_attention_heads == 0,
                   "{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and no "
                   "head_dim is given", src, c.hidden_size, c.num_attention_heads);
  c.head_dim = get_int(j, "head_dim", src, false,
                       head_dim_default > 0 ? head_dim_default : c.hidden_size / c.num_attention_heads, 1, kMaxHeads);
  LACO_INPUT_CHECK(c.head_dim % 2 == 0, "{}: head_dim must be even for RoPE, found {}", src,
                   c.head_dim);
  LACO_INPUT_CHECK(c.num_attention_heads * c.head_dim <= kMaxHiddenSize,
                   "{}: num_attention_heads ({}) x head_dim ({}) must be at most {}", src,
                   c.num_attention_heads, c.head_dim, kMaxHiddenSize);
  c.max_position_embeddings =
      get_int(j, "max_position_embeddings", src, false, c.max_position_embeddings, 1, kMaxPositions);
}

}  // namespace keys

std::vector<std::string> supported_model_types() {
  std::vector<std::string> types;
  for (const Arch& a : all_archs()) types.push_back(a.family);
  return types;
}

ModelConfig parse_model_config(const json& j, const std::string& src) {
  LACO_INPUT_CHECK(j.is_object(), "{}: expected a JSON object", src);
  ModelConfig c;
  c.raw = j;
  c.source = src;
  const json* type = keys::find(j, "model_type");
  LACO_INPUT_CHECK(type, "{}: required key 'model_type' is missing", src);
  LACO_INPUT_CHECK(type->is_string(), "{}: key 'model_type' must be a string", src);
  c.model_type = type->get<std::string>();
  const Arch* arch = find_arch(c.model_type);
  LACO_INPUT_CHECK(arch, "{}: model_type '{}' is not supported (supported: {})", src, c.model_type,
                   fmt::join(supported_model_types(), ", "));
  keys::refuse_common(j, src);
  arch->parse(j, src, c);
  for (const char* key : {"torch_dtype", "dtype"}) {  // "dtype": transformers 5's name
    if (!keys::find(j, key)) continue;
    c.torch_dtype = keys::get_string(j, key, src, "");
    break;
  }
  return c;
}

ModelConfig load_model_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  std::error_code ec;
  LACO_INPUT_CHECK(std::filesystem::exists(path, ec), "'{}' is not a model directory: {} is {} (expected a "
                   "HuggingFace checkpoint with config.json and model.safetensors)", dir, path,
                   ec ? "unreadable: " + ec.message() : std::string("missing"));
  return parse_model_config(io::read_json_file(path), path);
}

void check_sequence_length(const ModelConfig& c, int64_t longest_tokens, const std::string& what) {
  LACO_INPUT_CHECK(longest_tokens <= c.max_position_embeddings,
                   "{}: key 'max_position_embeddings' = {} is shorter than the longest sequence of this "
                   "run ({} tokens, {}); use sequences of at most {} tokens",
                   c.source, c.max_position_embeddings, longest_tokens, what, c.max_position_embeddings);
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
  const Arch& arch = arch_for(c);
  if (!arch.layer_kinds_key.empty()) {
    json kinds = json::array();
    for (const auto& group : layer_map)
      kinds.push_back(c.sliding_layers[static_cast<size_t>(group.front())] ? "sliding_attention" : "full_attention");
    out[arch.layer_kinds_key] = kinds;
  }
  // qwen2/qwen3 without layer_types: the layers at or above max_window_layers slide; the
  // pruned model's first sliding layer is the first whose first original layer slid.
  if (!out.contains("layer_types") && c.sliding_window > 0 && out.contains("max_window_layers")) {
    int64_t from = 0;
    while (from < static_cast<int64_t>(layer_map.size()) &&
           !c.sliding_layers[static_cast<size_t>(layer_map[static_cast<size_t>(from)].front())])
      ++from;
    out["max_window_layers"] = from;
  }
  out[arch.layers_key] = static_cast<int64_t>(layer_map.size());
  if (!torch_dtype.empty()) out["torch_dtype"] = torch_dtype;
  return out;
}

}  // namespace laco::model
