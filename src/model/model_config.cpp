// config.json parsing with transformers' defaults per model_type: see model_config.h.
// Three kinds of key (docs/io.md, "config.json keys"): keys read into ModelConfig (range
// checked), keys that change the math but are not implemented (refused unless at the
// value the forward computes), and everything else, which transformers' classes for these
// families do not read either and so cannot change the result.
#include "laco/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"

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

[[noreturn]] void refuse(const std::string& src, const std::string& key, const json& value,
                         const std::string& why) {
  throw InputError(fmt::format("{}: key '{}' = {} is not implemented ({})", src, key, value.dump(), why));
}

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

// Keys that change the computation in transformers (or describe a computation no class
// of these families performs) and that the forward does not implement.
void refuse_unimplemented(const json& j, const std::string& src, const ModelConfig& c) {
  if (const json* v = find(j, "hidden_act")) {
    const bool silu = v->is_string() && (v->get<std::string>() == "silu" || v->get<std::string>() == "swish");
    if (!silu) refuse(src, "hidden_act", *v, "laco_dist computes silu");
  }
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (const json* v = find(j, key)) refuse(src, key, *v, "laco_dist applies no logit soft-capping");
  for (const char* key : {"embedding_multiplier", "residual_multiplier", "attention_multiplier",
                          "logits_scaling"}) {
    const json* v = find(j, key);
    if (v && !(v->is_number() && v->get<double>() == 1.0))
      refuse(src, key, *v, "laco_dist scales nothing, as transformers' Llama, Mistral and Qwen2 do");
  }
  if (const json* v = find(j, "use_qk_norm"); v && *v != json(false))
    refuse(src, "use_qk_norm", *v, "laco_dist has no query/key norms");
  if (const json* v = find(j, "use_mrope"); v && *v != json(false))
    refuse(src, "use_mrope", *v, "laco_dist computes 1-D RoPE");
  if (const json* v = find(j, "quantization_config"))
    refuse(src, "quantization_config", *v, "laco_dist reads unquantized float weights");
  if (const json* v = find(j, "pruned_heads"); v && !v->empty())
    refuse(src, "pruned_heads", *v, "laco_dist expects every attention head");
  if (const json* v = find(j, "no_rope_layers"); v && v->is_array()) {
    for (const json& x : *v)
      if (x == json(0) || x == json(false)) refuse(src, "no_rope_layers", *v, "laco_dist applies RoPE in every layer");
  }
  // transformers' Mistral and Qwen2 ignore these keys (their biases are fixed); a file
  // that sets them describes a model neither transformers nor the arch table loads.
  if (c.model_type != "llama") {
    for (const char* key : {"attention_bias", "mlp_bias"}) {
      if (const json* v = find(j, key); v && *v != json(false))
        refuse(src, key, *v, fmt::format("transformers' {} has fixed biases: {}", c.model_type,
                                         c.model_type == "qwen2" ? "q/k/v only" : "none"));
    }
  }
}

// qwen2's per-layer attention kinds (transformers >= 4.53); llama and mistral ignore it.
// True when some layer is "sliding_attention".
bool qwen2_layer_types_slide(const json& v, const std::string& src, int64_t layers) {
  LACO_INPUT_CHECK(v.is_array() && static_cast<int64_t>(v.size()) == layers,
                   "{}: key 'layer_types' must list one entry per layer ({}), found {}", src, layers,
                   v.dump());
  bool slides = false;
  for (const json& t : v) {
    if (t == json("sliding_attention")) slides = true;
    else if (t != json("full_attention"))
      refuse(src, "layer_types", t, "laco_dist computes full_attention (and sliding_attention within its window)");
  }
  return slides;
}

// ModelConfig::sliding_window: the window of the layers that use one, 0 when none does.
// transformers' Mistral and Qwen2 default `sliding_window` to 4096 when the key is
// absent; an explicit null means no window.
int64_t effective_sliding_window(const json& j, const std::string& src, const ModelConfig& c) {
  if (c.model_type == "llama") return 0;  // transformers' Llama has no window
  const int64_t fallback = j.contains("sliding_window") ? 0 : 4096;
  const int64_t window = get_int(j, "sliding_window", src, false, fallback, 1, kMaxPositions);
  if (c.model_type == "mistral") return window;
  // qwen2: the window applies only with use_sliding_window, and then to the layers at or
  // above max_window_layers, or to those layer_types marks "sliding_attention".
  const bool use = get_bool(j, "use_sliding_window", src, false);
  const int64_t from = get_int(j, "max_window_layers", src, false, 28, 0, kMaxLayers);
  const json* types = find(j, "layer_types");
  const bool slides = types ? qwen2_layer_types_slide(*types, src, c.num_hidden_layers)
                            : from < c.num_hidden_layers;
  return use && slides ? window : 0;
}

void parse_dimensions(const json& j, const std::string& src, ModelConfig& c) {
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
  LACO_INPUT_CHECK(find(j, "head_dim") || c.hidden_size % c.num_attention_heads == 0,
                   "{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and no "
                   "head_dim is given", src, c.hidden_size, c.num_attention_heads);
  c.head_dim = get_int(j, "head_dim", src, false, c.hidden_size / c.num_attention_heads, 1, kMaxHeads);
  LACO_INPUT_CHECK(c.head_dim % 2 == 0, "{}: head_dim must be even for RoPE, found {}", src,
                   c.head_dim);
  LACO_INPUT_CHECK(c.num_attention_heads * c.head_dim <= kMaxHiddenSize,
                   "{}: num_attention_heads ({}) x head_dim ({}) must be at most {}", src,
                   c.num_attention_heads, c.head_dim, kMaxHiddenSize);
  c.max_position_embeddings =
      get_int(j, "max_position_embeddings", src, false, c.max_position_embeddings, 1, kMaxPositions);
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
  parse_dimensions(j, src, c);
  c.rms_norm_eps = get_positive(j, "rms_norm_eps", src, c.rms_norm_eps);
  parse_rope(j, src, c);
  refuse_unimplemented(j, src, c);
  c.sliding_window = effective_sliding_window(j, src, c);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", src, false);
  c.attention_bias = get_bool(j, "attention_bias", src, false);
  c.mlp_bias = get_bool(j, "mlp_bias", src, false);
  for (const char* key : {"torch_dtype", "dtype"}) {  // "dtype": transformers 5's name
    const json* d = find(j, key);
    if (!d) continue;
    LACO_INPUT_CHECK(d->is_string(), "{}: key '{}' must be a string, found {}", src, key, d->dump());
    c.torch_dtype = d->get<std::string>();
    break;
  }
  const bool llama_ids = c.model_type != "qwen2";
  c.bos_token_ids = get_ids(j, "bos_token_id", src, llama_ids ? std::vector<int64_t>{1} : std::vector<int64_t>{});
  c.eos_token_ids = get_ids(j, "eos_token_id", src, llama_ids ? std::vector<int64_t>{2} : std::vector<int64_t>{});
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
  if (c.sliding_window > 0 && longest_tokens > c.sliding_window) {
    throw InputError(fmt::format(
        "{}: key 'sliding_window' = {}{} is active and shorter than the longest sequence of this run "
        "({} tokens, {}); laco_dist attends to every earlier token and does not implement a sliding "
        "window, so use sequences of at most {} tokens",
        c.source, c.sliding_window, c.model_type == "qwen2" ? " (with use_sliding_window = true)" : "",
        longest_tokens, what, c.sliding_window));
  }
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
