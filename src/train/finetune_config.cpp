// The finetune configuration: TOML text + --set overrides -> validated FinetuneConfig. One
// table (keys()) lists every key with its decoder and its JSON form, so unknown-key
// detection, decoding, the settings hash and the JSON dump follow the same list.
#include "laco/train/finetune_config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"

namespace laco::train {

const std::vector<std::string>& choice_names(Method) {
  static const std::vector<std::string> names = {"lora", "full"};
  return names;
}
const std::vector<std::string>& choice_names(Schedule) {
  static const std::vector<std::string> names = {"cosine", "linear", "constant"};
  return names;
}

namespace {

using nlohmann::json;
using C = FinetuneConfig;

const std::vector<std::string> kSections = {"model", "data", "train", "lora", "output"};
const std::vector<std::pair<std::string, model::Role>> kTargets = {
    {"q", model::Role::kQ},       {"k", model::Role::kK},   {"v", model::Role::kV},
    {"o", model::Role::kO},       {"gate", model::Role::kGate}, {"up", model::Role::kUp},
    {"down", model::Role::kDown}};

// One value as found in the file or in a --set, with typed, range-checked accessors whose
// errors name the key and where it was set.
struct Value {
  const toml::node* node = nullptr;
  std::string key, origin;
  bool override = false;
  std::string raw;  // an override's text

  [[noreturn]] void fail(const std::string& expected) const {
    std::ostringstream found;
    node->visit([&](auto&& v) { found << v; });
    throw InputError(fmt::format("{}: {} = {}: expected {}", origin, key, found.str(), expected));
  }
  int64_t integer(int64_t lo, int64_t hi, const std::string& what) const {
    if (!node->is_integer()) fail(what);
    const int64_t v = node->as_integer()->get();
    if (v < lo || v > hi) fail(what);
    return v;
  }
  double number(double lo, double hi, const std::string& what) const {
    double v = 0;
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    else if (node->is_floating_point()) v = node->as_floating_point()->get();
    else fail(what);
    if (!std::isfinite(v) || v < lo || v > hi) fail(what);
    return v;
  }
  bool boolean() const {
    if (!node->is_boolean()) fail("a boolean (true or false)");
    return node->as_boolean()->get();
  }
  std::string string() const {
    std::string s;
    if (node->is_string()) s = node->as_string()->get();
    else if (override) s = raw;
    else fail("a string");
    return expand_env_vars(s, key, origin);
  }
  template <class E>
  E choice() const {
    const std::string s = string();
    const auto& names = choice_names(E{});
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == s) return static_cast<E>(i);
    throw InputError(fmt::format("{}: {} = \"{}\": expected one of {}{}", origin, key, s, fmt::join(names, " | "),
                                 suggest(s, names)));
  }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    if (const toml::array* arr = node->as_array()) {
      for (size_t i = 0; i < arr->size(); ++i) {
        const toml::node& item = *arr->get(i);
        if (!item.is_string()) fail("an array of strings");
        out.push_back(item.as_string()->get());
      }
    } else if (override) {  // --set lora.targets=q,v
      std::stringstream ss(raw);
      for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) out.push_back(item);
    } else {
      fail("an array of strings");
    }
    return out;
  }
  std::vector<double> numbers(size_t n, const std::string& what) const {  // [a, b]
    const toml::array* arr = node->as_array();
    if (!arr || arr->size() != n) fail(what);
    std::vector<double> out;
    for (size_t i = 0; i < n; ++i) {
      const toml::node& item = *arr->get(i);
      if (item.is_integer()) out.push_back(static_cast<double>(item.as_integer()->get()));
      else if (item.is_floating_point()) out.push_back(item.as_floating_point()->get());
      else fail(what);
    }
    return out;
  }
};

struct Key {
  std::string name;
  bool hashed;  // decides the trained weights
  std::function<void(C&, const Value&)> set;
  std::function<json(const C&)> get;
};

constexpr int64_t kIntMax = std::numeric_limits<int>::max();

#define LACO_KEY(name, hashed, setter, getter) \
  Key{name, hashed, [](C& c, const Value& v) { setter; }, [](const C& c) -> json { return getter; }}

// Every key, in the order of docs/finetune.md, one function per section or two.
std::vector<Key> model_and_data_keys() {
  return {
      LACO_KEY("model.path", true, c.model.path = v.string(), c.model.path),
      LACO_KEY("model.dtype", true, c.model.dtype = v.choice<Dtype>(), name_of(c.model.dtype)),
      LACO_KEY("model.threads", true, c.model.threads = static_cast<int>(v.integer(1, kMaxThreads,
               fmt::format("an integer from 1 to {} (fixed, so results are reproducible)", kMaxThreads))),
               c.model.threads),
      LACO_KEY("data.train_file", true, c.data.train_file = v.string(), c.data.train_file),
      LACO_KEY("data.train_lines", true, {
        const std::vector<double> r = v.numbers(2, "[first, last]: two line numbers, 1-based inclusive");
        if (r[0] != std::floor(r[0]) || r[1] != std::floor(r[1]) || r[0] < 1 || r[1] < r[0] || r[1] > 1e12)
          v.fail("[first, last] with 1 <= first <= last (1-based, inclusive)");
        c.data.first_line = static_cast<int64_t>(r[0]);
        c.data.last_line = static_cast<int64_t>(r[1]);
      }, json::array({c.data.first_line, c.data.last_line})),
      LACO_KEY("data.validation_file", false, c.data.validation_file = v.string(), c.data.validation_file),
      LACO_KEY("data.validation_every", false, c.data.validation_every = static_cast<int>(v.integer(0, kIntMax,
               "an integer >= 0 (0 = only at the end)")), c.data.validation_every),
      LACO_KEY("data.validation_max_length", false, c.data.validation_max_length = static_cast<int>(v.integer(0,
               kIntMax, "an integer >= 0 (0 = max_position_embeddings)")), c.data.validation_max_length),
      LACO_KEY("data.validation_batch_size", false, c.data.validation_batch_size = static_cast<int>(v.integer(1,
               kIntMax, "an integer >= 1")), c.data.validation_batch_size),
      LACO_KEY("data.seq_len", true, c.data.seq_len = static_cast<int>(v.integer(2, kIntMax, "an integer >= 2")),
               c.data.seq_len),
      LACO_KEY("data.add_bos", true, c.data.add_bos = v.boolean(), c.data.add_bos),
  };
}

std::vector<Key> train_keys() {
  return {
      LACO_KEY("train.method", true, c.train.method = v.choice<Method>(), name_of(c.train.method)),
      LACO_KEY("train.steps", true, c.train.steps = static_cast<int>(v.integer(1, kIntMax, "an integer >= 1")),
               c.train.steps),
      LACO_KEY("train.batch_size", true, c.train.batch_size = static_cast<int>(v.integer(1, kIntMax,
               "an integer >= 1 (sequences per step)")), c.train.batch_size),
      LACO_KEY("train.micro_batch_size", true, c.train.micro_batch_size = static_cast<int>(v.integer(1, kIntMax,
               "an integer >= 1")), c.train.micro_batch_size),
      LACO_KEY("train.lr", true, c.train.lr = v.number(0, 1e3, "a learning rate >= 0"), c.train.lr),
      LACO_KEY("train.weight_decay", true, c.train.weight_decay = v.number(0, 1e3, "a number >= 0"),
               c.train.weight_decay),
      LACO_KEY("train.betas", true, {
        const std::vector<double> b = v.numbers(2, "[beta1, beta2], each in [0, 1)");
        if (!(b[0] >= 0 && b[0] < 1 && b[1] >= 0 && b[1] < 1)) v.fail("[beta1, beta2], each in [0, 1)");
        c.train.beta1 = b[0];
        c.train.beta2 = b[1];
      }, json::array({c.train.beta1, c.train.beta2})),
      LACO_KEY("train.eps", true, c.train.eps = v.number(1e-30, 1, "a number in (0, 1]"), c.train.eps),
      LACO_KEY("train.warmup_steps", true, c.train.warmup_steps = static_cast<int>(v.integer(0, kIntMax,
               "an integer >= 0")), c.train.warmup_steps),
      LACO_KEY("train.schedule", true, c.train.schedule = v.choice<Schedule>(), name_of(c.train.schedule)),
      LACO_KEY("train.min_lr_ratio", true, c.train.min_lr_ratio = v.number(0, 1, "a number in [0, 1]"),
               c.train.min_lr_ratio),
      LACO_KEY("train.max_grad_norm", true, c.train.max_grad_norm = v.number(0, 1e30,
               "a number >= 0 (0 = no clipping)"), c.train.max_grad_norm),
      LACO_KEY("train.seed", true, c.train.seed = v.integer(0, std::numeric_limits<int64_t>::max(),
               "an integer >= 0"), c.train.seed),
      LACO_KEY("train.log_every", false, c.train.log_every = static_cast<int>(v.integer(1, kIntMax,
               "an integer >= 1")), c.train.log_every),
      LACO_KEY("train.checkpoint_every", false, c.train.checkpoint_every = static_cast<int>(v.integer(0, kIntMax,
               "an integer >= 0 (0 = only when stopped)")), c.train.checkpoint_every),
  };
}

std::vector<Key> lora_and_output_keys() {
  return {
      LACO_KEY("lora.rank", true, c.lora.rank = static_cast<int>(v.integer(1, 1 << 16, "an integer >= 1")),
               c.lora.rank),
      LACO_KEY("lora.alpha", true, c.lora.alpha = v.number(1e-12, 1e12, "a number > 0"), c.lora.alpha),
      LACO_KEY("lora.dropout", true, c.lora.dropout = v.number(0, 0.999, "a probability in [0, 1)"),
               c.lora.dropout),
      LACO_KEY("lora.targets", true, c.lora.targets = v.strings(), c.lora.targets),
      LACO_KEY("output.dir", false, c.output.dir = v.string(), c.output.dir),
      LACO_KEY("output.overwrite", false, c.output.overwrite = v.boolean(), c.output.overwrite),
      LACO_KEY("output.dtype", false, c.output.dtype = v.choice<OutputDtype>(), name_of(c.output.dtype)),
      LACO_KEY("output.save_adapter", false, c.output.save_adapter = v.boolean(), c.output.save_adapter),
  };
}

const std::vector<Key>& keys() {
  static const std::vector<Key> table = [] {
    std::vector<Key> all = model_and_data_keys();
    for (auto part : {train_keys(), lora_and_output_keys()}) all.insert(all.end(), part.begin(), part.end());
    return all;
  }();
  return table;
}

#undef LACO_KEY

const Key* find_key(const std::string& name) {
  for (const Key& k : keys())
    if (k.name == name) return &k;
  return nullptr;
}

std::string unknown_key(const std::string& name) {
  std::vector<std::string> names;
  for (const Key& k : keys()) names.push_back(k.name);
  return fmt::format("unknown key '{}'{}", name, suggest(name, names));
}

struct Gathered {
  std::vector<std::pair<const Key*, Value>> values;  // file order, then overrides
  std::vector<std::unique_ptr<toml::table>> keep_alive;
};

void gather_file(const toml::table& root, const std::string& src, Gathered& g) {
  for (auto&& [name, value] : root) {
    const std::string sec(name.str());
    const int line = static_cast<int>(name.source().begin.line);
    LACO_INPUT_CHECK(value.is_table() && std::find(kSections.begin(), kSections.end(), sec) != kSections.end(),
                     "{}:{}: unknown section or key '{}'{}; a finetune config has the sections [{}]", src, line, sec,
                     suggest(sec, kSections), fmt::join(kSections, "], ["));
    for (auto&& [k, v] : *value.as_table()) {
      const std::string full = sec + "." + std::string(k.str());
      const int kline = static_cast<int>(k.source().begin.line);
      const Key* key = find_key(full);
      LACO_INPUT_CHECK(key != nullptr, "{}:{}: {}", src, kline, unknown_key(full));
      g.values.emplace_back(key, Value{&v, full, fmt::format("{}:{}", src, kline), false, ""});
    }
  }
}

void gather_override(const std::string& ov, Gathered& g) {
  const std::string origin = "--set " + ov;
  const size_t eq = ov.find('=');
  LACO_INPUT_CHECK(eq != std::string::npos, "{}: expected section.key=value", origin);
  const std::string name = ov.substr(0, eq), raw = ov.substr(eq + 1);
  const Key* key = find_key(name);
  LACO_INPUT_CHECK(key != nullptr, "{}: {}", origin, unknown_key(name));
  auto table = std::make_unique<toml::table>();
  try {  // a TOML value when it parses as one, else the bare text
    *table = toml::parse("v = " + raw + "\n");
    if (table->size() != 1) throw std::runtime_error("not one value");
  } catch (const std::exception&) {
    *table = toml::table{};
    table->insert("v", raw);
  }
  g.values.emplace_back(key, Value{table->get("v"), name, origin, true, raw});
  g.keep_alive.push_back(std::move(table));
}

std::string absolute_path(const std::string& p) {
  std::string out = std::filesystem::absolute(p).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

void validate(C& c) {
  const auto fail = [&](const std::string& key, const std::string& msg) {
    throw InputError(fmt::format("{}: {}", c.where(key), msg));
  };
  if (c.model.dtype == Dtype::kFloat16) fail("model.dtype", "model.dtype = \"float16\": expected float32 | bfloat16");
  if (c.train.batch_size % c.train.micro_batch_size != 0)
    fail("train.micro_batch_size", fmt::format("train.micro_batch_size = {} must divide train.batch_size = {} ({})",
                                               c.train.micro_batch_size, c.train.batch_size,
                                               c.where("train.batch_size")));
  if (c.train.warmup_steps > c.train.steps)
    fail("train.warmup_steps", fmt::format("train.warmup_steps = {} exceeds train.steps = {}", c.train.warmup_steps,
                                           c.train.steps));
  if (c.lora.targets.empty()) fail("lora.targets", "lora.targets = []: expected at least one of q, k, v, o, gate, up, down");
  std::vector<std::string> names, seen;
  for (const auto& t : kTargets) names.push_back(t.first);
  for (const std::string& t : c.lora.targets) {
    if (std::find(names.begin(), names.end(), t) == names.end())
      fail("lora.targets", fmt::format("lora.targets: unknown target '{}'{}; expected some of {}", t,
                                       suggest(t, names), fmt::join(names, ", ")));
    if (std::find(seen.begin(), seen.end(), t) != seen.end())
      fail("lora.targets", fmt::format("lora.targets: '{}' is listed twice", t));
    seen.push_back(t);
  }
}

}  // namespace

std::string FinetuneConfig::where(const std::string& key) const {
  auto it = origin.find(key);
  if (it != origin.end()) return it->second;
  return fmt::format("{} (default)", source.empty() ? "<config>" : source);
}

std::vector<model::Role> lora_roles(const FinetuneConfig& cfg) {
  std::vector<model::Role> out;
  for (const auto& [name, role] : kTargets)
    if (std::find(cfg.lora.targets.begin(), cfg.lora.targets.end(), name) != cfg.lora.targets.end())
      out.push_back(role);
  return out;
}

std::string lora_module_name(const std::string& target) { return target + "_proj"; }

FinetuneConfig parse_finetune_config(const std::string& text, const std::string& source_name,
                                     const std::vector<std::string>& overrides) {
  const std::string src = source_name.empty() ? "<config>" : source_name;
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(src));
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", src, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  Gathered g;
  gather_file(root, src, g);
  for (const std::string& ov : overrides) gather_override(ov, g);
  C c;
  c.source = source_name;
  for (const auto& [key, value] : g.values) {
    key->set(c, value);
    c.origin[key->name] = value.origin;
  }
  for (const char* key : {"model.path", "data.train_file", "output.dir"})
    LACO_INPUT_CHECK(c.origin.count(key), "{}: missing required key '{}'", src, key);
  for (std::string* p : {&c.model.path, &c.data.train_file, &c.output.dir}) {
    LACO_INPUT_CHECK(!p->empty(), "{}: a path is empty", src);
    *p = absolute_path(*p);
  }
  if (!c.data.validation_file.empty()) c.data.validation_file = absolute_path(c.data.validation_file);
  validate(c);
  return c;
}

FinetuneConfig load_finetune_config(const std::string& path, const std::vector<std::string>& overrides) {
  require_regular_file(path, "config file", size_t{16} << 20);
  const std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "{}: cannot read config file: {}", path, std::strerror(errno));
  return parse_finetune_config(*text, path, overrides);
}

nlohmann::json result_settings(const FinetuneConfig& cfg) {
  json j = json::object();
  for (const Key& k : keys())
    if (k.hashed) j[k.name] = k.get(cfg);
  return j;
}

std::string finetune_hash(const FinetuneConfig& cfg) { return fnv1a_hex(result_settings(cfg).dump()); }

nlohmann::json to_json(const FinetuneConfig& cfg) {
  json j = json::object();
  for (const Key& k : keys()) {
    const size_t dot = k.name.find('.');
    j[k.name.substr(0, dot)][k.name.substr(dot + 1)] = k.get(cfg);
  }
  return j;
}

}  // namespace laco::train
