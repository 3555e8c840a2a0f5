// Tokenizer: loading tokenizer.json / tokenizer_config.json and the encode/decode pipelines
// (see include/laco/tokenizer/tokenizer.h). The order of steps mirrors HF tokenizers'
// encode_single_sequence: added tokens on raw text, normalize each remainder, added tokens
// with normalized=true, pre-tokenize, BPE per piece, then the post-processor frame.
#include "laco/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <thread>

#include "laco/core/files.h"
#include "laco/tokenizer/added_vocabulary.h"
#include "laco/tokenizer/bpe.h"
#include "laco/tokenizer/decoders.h"
#include "laco/tokenizer/json_fields.h"
#include "laco/tokenizer/normalizers.h"
#include "laco/tokenizer/post_processor.h"
#include "laco/tokenizer/pre_tokenizers.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

namespace fs = std::filesystem;

struct Tokenizer::Impl {
  std::string path;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::vector<int64_t> prefix, suffix;
  std::optional<int64_t> bos, eos;
  int64_t vocab_size = 0;
  std::string description;

  void encode_into(std::string_view text, bool add_special_tokens, std::vector<int32_t>& ids) const;
  void encode_plain(std::string_view raw, bool at_start, std::vector<int32_t>& ids) const;
  int32_t lookup(std::string_view token) const {
    int32_t id = added.token_to_id(token);
    return id >= 0 ? id : model->token_to_id(token);
  }
  // Applies tokenizer_config.json (when present next to tokenizer.json) to bos/eos and the frame.
  void apply_config(const std::filesystem::path& config_path);
};

namespace {

std::string read_text_file(const std::string& path) {
  std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "{}: cannot open file", path);
  return *text;
}

// Bounds on what a tokenizer file may make us read. Real files are far below both (Llama 3's
// tokenizer.json: 9 MB, 6 levels deep); nlohmann's dump() and comparisons recurse once per
// level, so an unbounded depth would be a stack overflow in an error message.
constexpr uintmax_t kMaxJsonBytes = uintmax_t{1} << 30;
constexpr int kMaxJsonDepth = 256;

// InputError naming `path` and the byte offset where arrays/objects nest too deeply.
void check_json_depth(const std::string& text, const std::string& path) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // skip the escaped character
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      LACO_INPUT_CHECK(++depth <= kMaxJsonDepth,
                       "{}: JSON nested more than {} levels deep at byte {} (not a tokenizer file)",
                       path, kMaxJsonDepth, i);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

nlohmann::json parse_json_file(const std::string& path) {
  std::error_code ec;
  const uintmax_t bytes = fs::file_size(path, ec);
  LACO_INPUT_CHECK(ec || bytes <= kMaxJsonBytes,
                   "{}: {} bytes, more than the {} MiB limit for a tokenizer file", path, bytes,
                   kMaxJsonBytes >> 20);
  const std::string text = read_text_file(path);
  check_json_depth(text, path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1E400
    throw InputError(fmt::format("{}: invalid JSON: {}", path, e.what()));
  }
}

std::string component_type(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "none";
  return j[key].is_object() && j[key].contains("type") && j[key]["type"].is_string()
             ? j[key]["type"].get<std::string>()
             : "?";
}

std::unique_ptr<BpeModel> load_model(const nlohmann::json& root, const std::string& file) {
  const std::string where = file + ": model";
  LACO_INPUT_CHECK(root.contains("model") && root["model"].is_object(),
                   "{}: missing object \"model\"", file);
  const nlohmann::json& model = root["model"];
  // Files written by old HF versions omit the model type; a BPE model is told by its merges.
  const std::string type = model.contains("type") ? json_fields::type_of(model, where)
                                                  : (model.contains("merges") ? "BPE" : "?");
  if (type != "BPE") {
    throw InputError(
        fmt::format("{}: model type '{}' is not supported (laco implements BPE only; WordPiece, "
                    "Unigram and WordLevel tokenizers cannot be loaded)",
                    where, type));
  }
  return BpeModel::from_json(model, where);
}

// `model_ids`: the size of the model's id table; added ids may go beyond it, but only so far
// (they index a dense table too).
std::vector<AddedToken> load_added_tokens(const nlohmann::json& root, const std::string& file,
                                          int64_t model_ids) {
  std::vector<AddedToken> tokens;
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return tokens;
  const auto& list = json_fields::get_array(root, "added_tokens", file);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = fmt::format("{}: added_tokens[{}]", file, i);
    const auto& t = list[i];
    LACO_INPUT_CHECK(t.is_object(), "{}: expected an object, got {}", where, t.dump());
    AddedToken a;
    a.content = json_fields::get_string(t, "content", where);
    const int64_t id = json_fields::get_int(t, "id", -1, where);
    LACO_INPUT_CHECK(id >= 0 && id < (int64_t{1} << 31), "{}: needs a non-negative 32-bit \"id\"",
                     where);
    const int64_t limit =
        model_ids + static_cast<int64_t>(list.size()) + json_fields::kMaxUnusedIds;
    LACO_INPUT_CHECK(id < limit,
                     "{}: id {} is far beyond the vocabulary ({} model ids, {} added tokens; at "
                     "most {} ids may be unused)",
                     where, id, model_ids, list.size(), json_fields::kMaxUnusedIds);
    a.id = static_cast<int32_t>(id);
    a.single_word = json_fields::get_bool(t, "single_word", false, where);
    a.lstrip = json_fields::get_bool(t, "lstrip", false, where);
    a.rstrip = json_fields::get_bool(t, "rstrip", false, where);
    a.special = json_fields::get_bool(t, "special", false, where);
    a.normalized = json_fields::get_bool(t, "normalized", !a.special, where);
    if (!a.content.empty()) tokens.push_back(std::move(a));
  }
  return tokens;
}

// bos_token / eos_token of tokenizer_config.json: a string, {"content": ...} or null.
std::optional<std::string> config_token(const nlohmann::json& config, const char* key,
                                        const std::string& file) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  LACO_INPUT_CHECK(v.is_object() && v.contains("content") && v["content"].is_string(),
                   "{}: {} must be a string or {{\"content\": ...}}, got {}", file, key, v.dump());
  return v["content"].get<std::string>();
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& dir_or_file) {
  LACO_INPUT_CHECK(!dir_or_file.empty(), "tokenizer: empty path");
  fs::path file = dir_or_file;
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    file /= "tokenizer.json";
    LACO_INPUT_CHECK(fs::exists(file, ec), "tokenizer: directory '{}' has no tokenizer.json",
                     dir_or_file);
  } else {
    LACO_INPUT_CHECK(fs::exists(file, ec), "tokenizer: '{}' does not exist", dir_or_file);
  }
  auto impl = std::make_shared<Impl>();
  impl->path = file.string();
  const nlohmann::json root = parse_json_file(impl->path);
  LACO_INPUT_CHECK(root.is_object(), "{}: expected a JSON object at the top level", impl->path);
  impl->model = load_model(root, impl->path);
  const nlohmann::json null_json;
  auto field = [&](const char* key) -> const nlohmann::json& {
    return root.contains(key) ? root[key] : null_json;
  };
  impl->normalizer = make_normalizer(field("normalizer"), impl->path + ": normalizer");
  impl->pre_tokenizer = make_pre_tokenizer(field("pre_tokenizer"), impl->path + ": pre_tokenizer");
  impl->decoder = make_decoder(field("decoder"), impl->path + ": decoder");
  SpecialFrame frame =
      make_post_processor(field("post_processor"), impl->path + ": post_processor");
  impl->prefix.assign(frame.prefix.begin(), frame.prefix.end());
  impl->suffix.assign(frame.suffix.begin(), frame.suffix.end());
  impl->added.build(load_added_tokens(root, impl->path, impl->model->max_id() + 1),
                    impl->normalizer.get());

  int64_t max_id = impl->model->max_id();
  for (const AddedToken& t : impl->added.tokens()) max_id = std::max<int64_t>(max_id, t.id);
  impl->vocab_size = max_id + 1;
  for (int64_t id : impl->prefix)
    LACO_INPUT_CHECK(id < impl->vocab_size, "{}: post_processor adds id {} outside the vocabulary",
                     impl->path, id);
  for (int64_t id : impl->suffix)
    LACO_INPUT_CHECK(id < impl->vocab_size, "{}: post_processor adds id {} outside the vocabulary",
                     impl->path, id);
  if (!impl->prefix.empty()) impl->bos = impl->prefix.front();
  if (!impl->suffix.empty()) impl->eos = impl->suffix.back();
  impl->description = fmt::format(
      "BPE ({} tokens, {} merges), {} added tokens, normalizer {}, pre_tokenizer {}, "
      "post_processor {}, decoder {}",
      impl->model->vocab_size(), impl->model->merge_count(), impl->added.tokens().size(),
      component_type(root, "normalizer"), component_type(root, "pre_tokenizer"),
      component_type(root, "post_processor"), component_type(root, "decoder"));

  impl->apply_config(file.parent_path() / "tokenizer_config.json");
  return Tokenizer(impl);
}

void Tokenizer::Impl::apply_config(const fs::path& config_path) {
  std::error_code ec;
  if (!fs::exists(config_path, ec)) return;
  const std::string file = config_path.string();
  const nlohmann::json config = parse_json_file(file);
  LACO_INPUT_CHECK(config.is_object(), "{}: expected a JSON object at the top level", file);
  auto resolve = [&](const char* key) -> std::optional<int64_t> {
    std::optional<std::string> token = config_token(config, key, file);
    if (!token) return std::nullopt;
    const int32_t id = lookup(*token);
    LACO_INPUT_CHECK(id >= 0, "{}: {} '{}' is not a token of {}", file, key, *token, path);
    return id;
  };
  if (config.contains("bos_token")) bos = resolve("bos_token");
  if (config.contains("eos_token")) eos = resolve("eos_token");
  const bool has_add_bos = config.contains("add_bos_token") && !config["add_bos_token"].is_null();
  const bool has_add_eos = config.contains("add_eos_token") && !config["add_eos_token"].is_null();
  if (!has_add_bos && !has_add_eos) return;
  // transformers' LlamaTokenizerFast rebuilds the template from these flags.
  const bool add_bos = json_fields::get_bool(config, "add_bos_token", false, file);
  const bool add_eos = json_fields::get_bool(config, "add_eos_token", false, file);
  LACO_INPUT_CHECK(!add_bos || bos, "{}: add_bos_token is true but bos_token is not set", file);
  LACO_INPUT_CHECK(!add_eos || eos, "{}: add_eos_token is true but eos_token is not set", file);
  prefix.clear();
  suffix.clear();
  if (add_bos) prefix.push_back(*bos);
  if (add_eos) suffix.push_back(*eos);
}

void Tokenizer::Impl::encode_plain(std::string_view raw, bool at_start,
                                   std::vector<int32_t>& ids) const {
  std::string text(raw);
  if (normalizer) normalizer->normalize(text);
  if (text.empty()) return;
  std::vector<Segment> segments;
  added.split(text, true, segments);
  std::vector<Piece> pieces;
  for (const Segment& s : segments) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    pieces.clear();
    pieces.push_back({text.substr(s.begin, s.end - s.begin), at_start && s.begin == 0});
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
    for (const Piece& p : pieces) model->tokenize(p.text, ids);
  }
}

void Tokenizer::Impl::encode_into(std::string_view text, bool add_special_tokens,
                                  std::vector<int32_t>& ids) const {
  check_utf8(text, "input text");
  if (add_special_tokens) ids.insert(ids.end(), prefix.begin(), prefix.end());
  std::vector<Segment> segments;
  added.split(text, false, segments);
  for (const Segment& s : segments) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_plain(text.substr(s.begin, s.end - s.begin), s.begin == 0, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), suffix.begin(), suffix.end());
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode_into(text, add_special_tokens, ids);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<std::vector<int64_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens,
                                                          int threads) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  std::vector<std::exception_ptr> errors(texts.size());
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next++; i < texts.size(); i = next++) {
      try {
        out[i] = encode(texts[i], add_special_tokens);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  size_t n = threads > 0 ? static_cast<size_t>(threads)
                         : std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, texts.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < errors.size(); ++i) {
    if (!errors[i]) continue;
    try {
      std::rethrow_exception(errors[i]);
    } catch (const InputError& e) {
      throw InputError(fmt::format("texts[{}]: {}", i, e.what()));
    }
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    LACO_INPUT_CHECK(id >= 0 && id < impl_->vocab_size,
                     "decode: id {} is outside the vocabulary of {} (0..{})", id, impl_->path,
                     impl_->vocab_size - 1);
    const auto id32 = static_cast<int32_t>(id);
    if (const AddedToken* a = impl_->added.by_id(id32)) {
      if (!(skip_special_tokens && a->special)) tokens.push_back(a->content);
    } else if (const std::string* t = impl_->model->id_to_token(id32)) {
      tokens.push_back(*t);
    } else {
      throw InputError(
          fmt::format("decode: id {} is not assigned to any token in {}", id, impl_->path));
    }
  }
  if (!impl_->decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  impl_->decoder->decode_chain(tokens);
  std::string text;
  for (const std::string& t : tokens) text += t;
  return text;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  const int32_t id = impl_->lookup(token);
  return id < 0 ? std::nullopt : std::optional<int64_t>(id);
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return std::nullopt;
  if (const AddedToken* a = impl_->added.by_id(static_cast<int32_t>(id))) return a->content;
  if (const std::string* t = impl_->model->id_to_token(static_cast<int32_t>(id))) return *t;
  return std::nullopt;
}

bool Tokenizer::is_special(int64_t id) const {
  if (id < 0 || id >= impl_->vocab_size) return false;
  const AddedToken* a = impl_->added.by_id(static_cast<int32_t>(id));
  return a != nullptr && a->special;
}

std::optional<int64_t> Tokenizer::bos() const {
  return impl_->bos;
}
std::optional<int64_t> Tokenizer::eos() const {
  return impl_->eos;
}
const std::vector<int64_t>& Tokenizer::prefix_ids() const {
  return impl_->prefix;
}
const std::vector<int64_t>& Tokenizer::suffix_ids() const {
  return impl_->suffix;
}
int64_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}
const std::string& Tokenizer::path() const {
  return impl_->path;
}
std::string Tokenizer::describe() const {
  return impl_->description;
}

}  // namespace laco::tokenizer
