// The run configuration: TOML text + --set overrides -> validated RunConfig, and back
// to TOML / JSON / a hash. One table (fields()) lists every key with its type, so
// unknown-key detection, decoding, printing and comparison all follow the same list.
#include "laco/core/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"

namespace laco {

namespace {

// ---- the key table -----------------------------------------------------------------

enum class Kind { kInt, kFloat, kBool, kString, kList, kChoice };

struct Field {
  std::string section, key;
  Kind kind = Kind::kInt;
  int& (*int_ref)(RunConfig&) = nullptr;
  double& (*float_ref)(RunConfig&) = nullptr;
  bool& (*bool_ref)(RunConfig&) = nullptr;
  std::string& (*string_ref)(RunConfig&) = nullptr;
  std::vector<std::string>& (*list_ref)(RunConfig&) = nullptr;
  // kChoice: an enum stored as its index into `allowed` (its choice_names()).
  std::function<size_t(const RunConfig&)> choice_get;
  std::function<void(RunConfig&, size_t)> choice_set;
  std::vector<std::string> allowed;  // enumerated strings; empty = any
  bool path = false;                 // resolved against the cwd
  bool hashed = true;                // decides the pruned output (enters config_hash)

  std::string name() const { return section + "." + key; }
  Field& as_path() { path = true; return *this; }
  Field& unhashed() { hashed = false; return *this; }
};

void bind(Field& f, int& (*r)(RunConfig&)) { f.kind = Kind::kInt; f.int_ref = r; }
void bind(Field& f, double& (*r)(RunConfig&)) { f.kind = Kind::kFloat; f.float_ref = r; }
void bind(Field& f, bool& (*r)(RunConfig&)) { f.kind = Kind::kBool; f.bool_ref = r; }
void bind(Field& f, std::string& (*r)(RunConfig&)) { f.kind = Kind::kString; f.string_ref = r; }
void bind(Field& f, std::vector<std::string>& (*r)(RunConfig&)) {
  f.kind = Kind::kList;
  f.list_ref = r;
}
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
void bind(Field& f, E& (*r)(RunConfig&)) {
  f.kind = Kind::kChoice;
  f.allowed = choice_names(E{});
  f.choice_get = [r](const RunConfig& c) { return static_cast<size_t>(r(const_cast<RunConfig&>(c))); };
  f.choice_set = [r](RunConfig& c, size_t i) { r(c) = static_cast<E>(i); };
}

template <class Ref>
Field make_field(const char* section, const char* key, Ref ref) {
  Field f;
  f.section = section;
  f.key = key;
  bind(f, +ref);
  return f;
}

#define LACO_FIELD(sec, k) make_field(#sec, #k, [](RunConfig& c) -> auto& { return c.sec.k; })

const std::vector<std::string> kSections = {"model",    "calibration", "laco", "prune", "output",
                                            "parallel", "profile",     "eval"};

// Every key, in the order of docs/config.md and of to_toml().
const std::vector<Field>& fields() {
  static const std::vector<Field> table = [] {
    std::vector<Field> t;
    t.push_back(LACO_FIELD(model, path).as_path());
    t.push_back(LACO_FIELD(model, dtype));
    t.push_back(LACO_FIELD(model, device));
    t.push_back(LACO_FIELD(model, threads));
    t.push_back(LACO_FIELD(model, placement).unhashed());
    t.push_back(LACO_FIELD(model, memory_budget).unhashed());
    t.push_back(LACO_FIELD(model, stream_waves).unhashed());
    t.push_back(LACO_FIELD(model, max_materialized_layers).unhashed());
    t.push_back(LACO_FIELD(calibration, file).as_path());
    t.push_back(LACO_FIELD(calibration, samples));
    t.push_back(LACO_FIELD(calibration, max_tokens));
    t.push_back(LACO_FIELD(calibration, add_bos));
    t.push_back(LACO_FIELD(calibration, batch_size));
    t.push_back(LACO_FIELD(calibration, representation));
    t.push_back(LACO_FIELD(laco, merge_layers));
    t.push_back(LACO_FIELD(laco, lowest_layer));
    t.push_back(LACO_FIELD(laco, highest_layer));
    t.push_back(LACO_FIELD(laco, interval));
    t.push_back(LACO_FIELD(laco, threshold));
    t.push_back(LACO_FIELD(laco, rule));
    t.push_back(LACO_FIELD(laco, scale));
    t.push_back(LACO_FIELD(laco, scope));
    t.push_back(LACO_FIELD(laco, norms));
    t.push_back(LACO_FIELD(laco, max_removed_layers));
    t.push_back(LACO_FIELD(laco, activation_cache));
    t.push_back(LACO_FIELD(laco, early_reject));
    t.push_back(LACO_FIELD(prune, method));
    t.push_back(LACO_FIELD(prune, target_layers));
    t.push_back(LACO_FIELD(output, dir).as_path());
    t.push_back(LACO_FIELD(output, overwrite).unhashed());
    t.push_back(LACO_FIELD(output, dtype));
    t.push_back(LACO_FIELD(output, shard_size));
    t.push_back(LACO_FIELD(parallel, candidate_width).unhashed());
    t.push_back(LACO_FIELD(parallel, share_cache).unhashed());
    t.push_back(LACO_FIELD(profile, file).as_path().unhashed());
    t.push_back(LACO_FIELD(eval, models).as_path().unhashed());
    t.push_back(LACO_FIELD(eval, tasks).unhashed());
    t.push_back(LACO_FIELD(eval, limit).unhashed());
    t.push_back(LACO_FIELD(eval, batch_size).unhashed());
    t.push_back(LACO_FIELD(eval, max_length).unhashed());
    t.push_back(LACO_FIELD(eval, perplexity_file).as_path().unhashed());
    t.push_back(LACO_FIELD(eval, data_dir).as_path().unhashed());
    return t;
  }();
  return table;
}

#undef LACO_FIELD

const Field* find_field(const std::string& name) {
  for (const Field& f : fields())
    if (f.name() == name) return &f;
  return nullptr;
}

// Read access through the (non-const) accessors; nothing is written.
template <class T>
const T& get(T& (*ref)(RunConfig&), const RunConfig& c) {
  return ref(const_cast<RunConfig&>(c));
}

// ---- messages ------------------------------------------------------------------------

std::string suggest_key(const std::string& section, const std::string& key) {
  std::vector<std::string> names;
  for (const Field& f : fields()) {
    if (f.key == key) return fmt::format(" (did you mean '{}'?)", f.name());
    names.push_back(f.name());
  }
  return suggest(section + "." + key, names);
}

const char* type_name(const toml::node& n) {
  // Indexed by toml::node_type: none, table, array, string, integer, floating_point,
  // boolean, date, time, date_time.
  static const char* const kNames[] = {"nothing", "table", "array",   "string", "integer",
                                       "float",   "boolean", "date", "time",   "date-time"};
  return kNames[static_cast<int>(n.type())];
}

std::string show(const toml::node& n) {
  std::string s;
  if (n.is_string()) {
    s = "\"" + n.as_string()->get() + "\"";
  } else {
    std::ostringstream ss;
    n.visit([&](auto&& v) { ss << v; });
    s = ss.str();
  }
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// ---- gathering keys from the file and the overrides ---------------------------------

struct Entry {
  const toml::node* node = nullptr;
  std::string origin;    // "config.toml:7" or "--set k=v"
  bool override = false;
  std::string raw;       // an override's value text
};

struct Gathered {
  std::map<std::string, Entry> entries;  // "section.key" -> where its value is
  std::set<std::string> sections;        // sections that appeared
  std::vector<std::unique_ptr<toml::table>> keep_alive;  // parsed override values
};

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", source,
                                 e.source().begin.line, e.source().begin.column,
                                 e.description()));
  }
}

void gather_file(const toml::table& root, const std::string& src, const std::vector<std::string>& ignored,
                 Gathered& g) {
  for (auto&& [name, value] : root) {
    const std::string sec(name.str());
    if (std::find(ignored.begin(), ignored.end(), sec) != ignored.end()) continue;
    const int line = static_cast<int>(name.source().begin.line);
    LACO_INPUT_CHECK(value.is_table(),
                     "{}:{}: key '{}' is outside any section (expected a [section] header "
                     "before it; sections: {})",
                     src, line, sec, fmt::join(kSections, ", "));
    LACO_INPUT_CHECK(std::find(kSections.begin(), kSections.end(), sec) != kSections.end(),
                     "{}:{}: unknown section [{}]{}; known sections: {}", src, line, sec,
                     suggest(sec, kSections), fmt::join(kSections, ", "));
    g.sections.insert(sec);
    for (auto&& [k, v] : *value.as_table()) {
      const std::string full = sec + "." + std::string(k.str());
      const int kline = static_cast<int>(k.source().begin.line);
      LACO_INPUT_CHECK(find_field(full) != nullptr, "{}:{}: unknown key '{}'{}", src, kline,
                       full, suggest_key(sec, std::string(k.str())));
      g.entries[full] = Entry{&v, fmt::format("{}:{}", src, kline), false, ""};
    }
  }
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

void gather_override(const std::string& ov, Gathered& g) {
  const std::string origin = "--set " + ov;
  size_t eq = ov.find('=');
  LACO_INPUT_CHECK(eq != std::string::npos, "{}: expected section.key=value", origin);
  std::string name = trim(ov.substr(0, eq)), raw = trim(ov.substr(eq + 1));
  size_t dot = name.find('.');
  LACO_INPUT_CHECK(dot != std::string::npos && dot > 0,
                   "{}: key '{}' has no section; expected section.key=value", origin, name);
  LACO_INPUT_CHECK(find_field(name) != nullptr, "{}: unknown key '{}'{}", origin, name,
                   suggest_key(name.substr(0, dot), name.substr(dot + 1)));
  // The value is TOML when it parses as exactly one value; otherwise it is a bare string —
  // except when it starts like a TOML string, array or table: then it must parse.
  auto table = std::make_unique<toml::table>();
  try {
    const std::string doc = "v = " + raw + "\n";
    *table = toml::parse(std::string_view(doc), std::string_view("--set"));
    if (table->size() != 1 || !table->contains("v")) throw std::runtime_error("not one value");
  } catch (const std::exception& e) {
    const auto* pe = dynamic_cast<const toml::parse_error*>(&e);
    LACO_INPUT_CHECK(raw.empty() || std::string("\"'[{").find(raw[0]) == std::string::npos,
                     "{}: the value {} starts like a TOML string, array or table but is not valid TOML ({}); "
                     "quote it completely, e.g. --set '{}=\"text\"'", origin, raw,
                     pe ? std::string(pe->description()) : std::string("more than one value"), name);
    *table = toml::table{};
    table->insert("v", raw);
  }
  g.entries[name] = Entry{table->get("v"), origin, true, raw};
  g.sections.insert(name.substr(0, dot));
  g.keep_alive.push_back(std::move(table));
}

// ---- decoding one value --------------------------------------------------------------

// ${VAR}, ${VAR:-default} (default used when VAR is unset or empty; may nest) and $$ -> $.
// One pass over `s` (the brace partners are found up front with a stack), so nested
// defaults cost linear time; nesting is bounded so that recursion cannot exhaust the stack.
// The result must be valid UTF-8 (TOML text is; --set values and the environment may not be).
constexpr int kMaxEnvNesting = 32;

struct EnvExpansion {
  const std::string& s;
  const std::string& key;
  const std::string& origin;
  std::vector<size_t> partner;  // partner[i]: the '}' closing the '{' at i, npos if none

  // Appends the expansion of s[lo, hi) to `out`; `depth` counts the enclosing ${...:-}.
  void expand(size_t lo, size_t hi, int depth, std::string& out) const {
    LACO_INPUT_CHECK(depth <= kMaxEnvNesting,
                     "{}: {}: ${{...:-default}} nested more than {} deep in \"{}\"", origin, key,
                     kMaxEnvNesting, s);
    for (size_t i = lo; i < hi; ++i) {
      if (s[i] != '$' || i + 1 >= hi || (s[i + 1] != '$' && s[i + 1] != '{')) {
        out += s[i];
        continue;
      }
      if (s[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      const size_t end = partner[i + 1];
      LACO_INPUT_CHECK(end < hi, "{}: {}: unterminated '${{' in \"{}\"", origin, key, s);
      size_t name_end = i + 2;
      auto name_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      };
      while (name_end < end && name_char(s[name_end])) ++name_end;
      const bool has_default = name_end + 1 < end && s[name_end] == ':' && s[name_end + 1] == '-';
      const std::string var = s.substr(i + 2, name_end - i - 2);
      if (var.empty() || std::isdigit(static_cast<unsigned char>(var[0])) ||
          (name_end != end && !has_default)) {
        const std::string body = s.substr(i + 2, end - i - 2);
        throw InputError(fmt::format("{}: {}: bad variable name '{}' in \"{}\" (expected ${{NAME}} "
                                     "or ${{NAME:-default}})",
                                     origin, key, body.substr(0, body.find(":-")), s));
      }
      const char* value = std::getenv(var.c_str());
      if (!has_default) {
        LACO_INPUT_CHECK(value != nullptr,
                         "{}: {}: environment variable '{}' is not set (in \"{}\"); set it or "
                         "write ${{{}:-default}}", origin, key, var, s, var);
        out += value;
      } else if (value && *value) {
        out += value;
      } else {
        expand(name_end + 2, end, depth + 1, out);
      }
      i = end;
    }
  }
};

// Byte offset of the first byte of `s` that is not well-formed UTF-8, or npos.
size_t invalid_utf8_at(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len =
        c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3f);
    }
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return std::string::npos;
}

std::string expand_env(const std::string& s, const std::string& key, const std::string& origin) {
  EnvExpansion x{s, key, origin, std::vector<size_t>(s.size(), std::string::npos)};
  std::vector<size_t> open;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '{') open.push_back(i);
    if (s[i] == '}' && !open.empty()) {
      x.partner[open.back()] = i;
      open.pop_back();
    }
  }
  std::string out;
  x.expand(0, s.size(), 0, out);
  const size_t bad = invalid_utf8_at(out);
  LACO_INPUT_CHECK(bad == std::string::npos,
                   "{}: {}: value is not valid UTF-8 (byte {}, after \"{}\")", origin, key, bad,
                   out.substr(0, bad));
  return out;
}

[[noreturn]] void type_error(const Field& f, const Entry& e, const char* expected,
                             const toml::node& found) {
  throw InputError(fmt::format("{}: {}: expected {}, found {} {}", e.origin, f.name(), expected,
                               type_name(found), show(found)));
}

std::string decode_string(const Field& f, const Entry& e, const toml::node& n) {
  std::string s;
  if (n.is_string()) s = n.as_string()->get();
  else if (e.override) s = e.raw;  // --set output.dir=2024 means the text "2024"
  else type_error(f, e, "a string", n);
  s = expand_env(s, f.name(), e.origin);
  if (!f.allowed.empty())
    LACO_INPUT_CHECK(std::find(f.allowed.begin(), f.allowed.end(), s) != f.allowed.end(),
                     "{}: {}: \"{}\" is not allowed; expected one of {}", e.origin, f.name(), s,
                     fmt::join(f.allowed, " | "));
  return s;
}

std::vector<std::string> decode_list(const Field& f, const Entry& e, const toml::node& n) {
  std::vector<std::string> out;
  if (const toml::array* arr = n.as_array()) {
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& item = *arr->get(i);
      LACO_INPUT_CHECK(item.is_string(), "{}: {}[{}]: expected a string, found {} {}", e.origin,
                       f.name(), i, type_name(item), show(item));
      out.push_back(expand_env(item.as_string()->get(), f.name(), e.origin));
    }
  } else if (e.override) {  // --set eval.tasks=piqa,arc_easy
    std::stringstream ss(e.raw);
    for (std::string item; std::getline(ss, item, ',');)
      if (!trim(item).empty()) out.push_back(expand_env(trim(item), f.name(), e.origin));
  } else {
    type_error(f, e, "an array of strings", n);
  }
  return out;
}

void decode(const Field& f, const Entry& e, RunConfig& c) {
  const toml::node& n = *e.node;
  switch (f.kind) {
    case Kind::kInt: {
      if (!n.is_integer()) type_error(f, e, "an integer", n);
      int64_t v = n.as_integer()->get();
      LACO_INPUT_CHECK(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(),
                       "{}: {}: {} is out of range for a 32-bit integer", e.origin, f.name(), v);
      f.int_ref(c) = static_cast<int>(v);
      break;
    }
    case Kind::kFloat:
      if (n.is_integer()) f.float_ref(c) = static_cast<double>(n.as_integer()->get());
      else if (n.is_floating_point()) f.float_ref(c) = n.as_floating_point()->get();
      else type_error(f, e, "a float", n);
      break;
    case Kind::kBool:
      if (!n.is_boolean()) type_error(f, e, "a boolean (true or false)", n);
      f.bool_ref(c) = n.as_boolean()->get();
      break;
    case Kind::kString: f.string_ref(c) = decode_string(f, e, n); break;
    case Kind::kList: f.list_ref(c) = decode_list(f, e, n); break;
    case Kind::kChoice: {
      const std::string s = decode_string(f, e, n);  // one of `allowed`
      f.choice_set(c, static_cast<size_t>(std::find(f.allowed.begin(), f.allowed.end(), s) - f.allowed.begin()));
      break;
    }
  }
  c.origin[f.name()] = e.origin;
}

// ---- validation ----------------------------------------------------------------------

// Throws "<where key>: <key> = <value>: expected <what>" unless ok.
template <class T>
void require(const RunConfig& c, bool ok, const std::string& key, const T& value,
             const std::string& what) {
  LACO_INPUT_CHECK(ok, "{}: {} = {}: expected {}", c.where(key), key, value, what);
}

void validate(const RunConfig& c) {
  const ModelSection& m = c.model;
  LACO_INPUT_CHECK(!(m.dtype == Dtype::kFloat16 && m.device != Device::kCuda),
                   "{}: model.dtype = \"float16\" needs model.device = \"cuda\" (found "
                   "model.device = \"{}\", {}); use float32 or bfloat16 on cpu",
                   c.where("model.dtype"), name_of(m.device), c.where("model.device"));
  require(c, m.threads >= 0 && m.threads <= kMaxThreads, "model.threads", m.threads,
          fmt::format("an integer from 0 (automatic) to {}", kMaxThreads));
  require(c, m.stream_waves >= 1 && m.stream_waves <= 64, "model.stream_waves", m.stream_waves,
          "an integer from 1 to 64");
  require(c, m.max_materialized_layers == 0 || (m.max_materialized_layers >= 2 && m.max_materialized_layers <= 8),
          "model.max_materialized_layers", m.max_materialized_layers,
          "0 (automatic, from the memory budget) or an integer from 2 to 8");
  if (!m.memory_budget.empty()) parse_size(m.memory_budget, c.where("model.memory_budget") + ": model.memory_budget");
  const CalibrationSection& cal = c.calibration;
  require(c, cal.samples >= 1, "calibration.samples", cal.samples, "an integer >= 1");
  require(c, cal.max_tokens >= 2, "calibration.max_tokens", cal.max_tokens, "an integer >= 2");
  require(c, cal.batch_size >= 1, "calibration.batch_size", cal.batch_size, "an integer >= 1");
  const LacoSection& l = c.laco;
  require(c, l.merge_layers >= 2, "laco.merge_layers", l.merge_layers,
          "an integer >= 2 (the base layer plus at least one follower)");
  require(c, l.lowest_layer >= 0, "laco.lowest_layer", l.lowest_layer, "an integer >= 0");
  require(c, l.highest_layer >= 0, "laco.highest_layer", l.highest_layer,
          "an integer >= 0 (0 = num_hidden_layers)");
  LACO_INPUT_CHECK(l.highest_layer == 0 || l.lowest_layer < l.highest_layer,
                   "{}: laco.lowest_layer = {} must be below laco.highest_layer = {} ({}); the "
                   "range [L, H) of base layers is empty",
                   c.where("laco.lowest_layer"), l.lowest_layer, l.highest_layer,
                   c.where("laco.highest_layer"));
  require(c, l.interval >= 1, "laco.interval", l.interval, "an integer >= 1");
  require(c, std::isfinite(l.threshold) && l.threshold > -1 && l.threshold < 1, "laco.threshold",
          l.threshold, "a number strictly between -1 and 1 (a mean cosine similarity)");
  require(c, std::isfinite(l.scale), "laco.scale", l.scale, "a finite number");
  require(c, l.max_removed_layers >= 0, "laco.max_removed_layers", l.max_removed_layers,
          "an integer >= 0 (0 = no limit)");
  if (c.prune.method == PruneMethod::kLaco) {
    LACO_INPUT_CHECK(c.prune.target_layers == 0, "{}: prune.target_layers = {} applies to prune.method = "
                     "\"block_influence\" or \"angular\"; LaCo (prune.method = \"laco\", {}) stops by laco.threshold "
                     "and laco.max_removed_layers", c.where("prune.target_layers"), c.prune.target_layers,
                     c.where("prune.method"));
  } else {
    require(c, c.prune.target_layers >= 1, "prune.target_layers", c.prune.target_layers,
            fmt::format("the number of layers to keep (>= 1) with prune.method = \"{}\"", name_of(c.prune.method)));
  }
  parse_size(c.output.shard_size, c.where("output.shard_size") + ": output.shard_size");
  require(c, c.parallel.candidate_width >= 0, "parallel.candidate_width",
          c.parallel.candidate_width, "an integer >= 0 (0 = world size)");
  const EvalSection& ev = c.eval;
  require(c, ev.limit >= 0, "eval.limit", ev.limit, "an integer >= 0 (0 = all items)");
  require(c, ev.batch_size >= 1, "eval.batch_size", ev.batch_size, "an integer >= 1");
  require(c, ev.max_length >= 0, "eval.max_length", ev.max_length,
          "an integer >= 0 (0 = the model's max_position_embeddings)");
  LACO_INPUT_CHECK(!ev.models.empty(), "{}: eval.models = []: expected at least one model path",
                   c.where("eval.models"));
  std::set<std::string> seen;
  for (const std::string& t : ev.tasks) {
    LACO_INPUT_CHECK(!t.empty(), "{}: eval.tasks: empty task name", c.where("eval.tasks"));
    LACO_INPUT_CHECK(seen.insert(t).second, "{}: eval.tasks: task '{}' is listed twice",
                     c.where("eval.tasks"), t);
  }
}

std::string resolve_path(const std::string& p, const Field& f, const RunConfig& c) {
  LACO_INPUT_CHECK(!p.empty(), "{}: {}: expected a path, found an empty string", c.where(f.name()),
                   f.name());
  std::string out = std::filesystem::absolute(p).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// Fills the defaults that depend on other keys or on the environment, then makes every
// path absolute.
void finish_paths(RunConfig& c) {
  const std::string assets = expand_env("${LACO_ASSETS:-../shared}", "LACO_ASSETS", "default");
  if (c.profile.file.empty() && !c.origin.count("profile.file"))
    c.profile.file = c.output.dir + "/profile.h5";
  if (c.eval.perplexity_file.empty() && !c.origin.count("eval.perplexity_file"))
    c.eval.perplexity_file = assets + "/data/wikitext2/wiki.test.raw";
  if (c.eval.data_dir.empty() && !c.origin.count("eval.data_dir")) c.eval.data_dir = assets + "/data";
  for (const Field& f : fields()) {
    if (!f.path) continue;
    if (f.kind == Kind::kString) {
      std::string& s = f.string_ref(c);
      s = resolve_path(s, f, c);
    } else {
      for (std::string& s : f.list_ref(c)) s = resolve_path(s, f, c);
    }
  }
  // After resolution, so the default pair is absolute like everything else.
  if (!c.origin.count("eval.models")) c.eval.models = {c.model.path, c.output.dir};
}

}  // namespace

// ---- public API ------------------------------------------------------------------------

std::string RunConfig::where(const std::string& key) const {
  auto it = origin.find(key);
  if (it != origin.end()) return it->second;
  return fmt::format("{} (default)", source.empty() ? "<config>" : source);
}

RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides,
                           const std::vector<std::string>& ignored_sections) {
  const std::string src = source_name.empty() ? "<config>" : source_name;
  toml::table root = parse_toml(toml_text, src);
  Gathered g;
  gather_file(root, src, ignored_sections, g);
  for (const std::string& ov : overrides) gather_override(ov, g);

  RunConfig c;
  c.source = source_name;
  c.eval.present = g.sections.count("eval") > 0;
  for (const Field& f : fields()) {
    auto it = g.entries.find(f.name());
    if (it != g.entries.end()) decode(f, it->second, c);
  }
  for (const char* key : {"model.path", "calibration.file", "output.dir"}) {
    LACO_INPUT_CHECK(c.origin.count(key), "{}: missing required key '{}' (in section [{}])", src,
                     key, std::string(key).substr(0, std::string(key).find('.')));
  }
  finish_paths(c);
  validate(c);
  return c;
}

std::string read_config_text(const std::string& path) {
  require_regular_file(path, "config file", size_t{16} << 20);
  const std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "{}: cannot read config file: {}", path, std::strerror(errno));
  return *text;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_run_config(read_config_text(path), path, overrides);
}

std::string expand_env_vars(const std::string& text, const std::string& key, const std::string& origin) {
  return expand_env(text, key, origin);
}

void validate_against_model(const RunConfig& cfg, int num_layers) {
  if (cfg.prune.method != PruneMethod::kLaco) {  // [laco] does not apply
    LACO_INPUT_CHECK(cfg.prune.target_layers < num_layers,
                     "{}: prune.target_layers = {}: expected fewer than the model's {} layers (the layers to keep)",
                     cfg.where("prune.target_layers"), cfg.prune.target_layers, num_layers);
    return;
  }
  const LacoSection& l = cfg.laco;
  LACO_INPUT_CHECK(l.highest_layer <= num_layers,
                   "{}: laco.highest_layer = {} exceeds the model's {} layers; expected 0 (= {}) "
                   "or a value in [1, {}]",
                   cfg.where("laco.highest_layer"), l.highest_layer, num_layers, num_layers,
                   num_layers);
  const int high = l.highest_layer == 0 ? num_layers : l.highest_layer;
  LACO_INPUT_CHECK(l.lowest_layer < high,
                   "{}: laco.lowest_layer = {} must be below laco.highest_layer = {}{} ({}); the "
                   "range [L, H) of base layers is empty",
                   cfg.where("laco.lowest_layer"), l.lowest_layer, l.highest_layer,
                   l.highest_layer == 0 ? fmt::format(", i.e. the model's {} layers", num_layers)
                                        : fmt::format(" (the model has {} layers)", num_layers),
                   cfg.where("laco.highest_layer"));
  // The first candidate is l = H - C; below L there is none.
  LACO_INPUT_CHECK(high - l.merge_layers >= l.lowest_layer,
                   "{}: laco.merge_layers = {} needs at least {} layers in [laco.lowest_layer, laco.highest_layer) "
                   "= [{}, {}), which has {}: no candidate would be evaluated; lower merge_layers or widen the range",
                   cfg.where("laco.merge_layers"), l.merge_layers, l.merge_layers, l.lowest_layer, high,
                   high - l.lowest_layer);
}

// ---- printing and comparing -------------------------------------------------------------

namespace {

std::string toml_string(const std::string& s, bool escape_dollar) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '$': out += escape_dollar ? "$$" : "$"; break;
      default:
        if (ch < 0x20 || ch == 0x7f) out += fmt::format("\\u{:04X}", ch);
        else out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

// Shortest text that reads back as the same double, always with a '.' or an exponent.
std::string toml_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string value_text(const Field& f, const RunConfig& c) {
  switch (f.kind) {
    case Kind::kInt: return std::to_string(get(f.int_ref, c));
    case Kind::kFloat: return toml_float(get(f.float_ref, c));
    case Kind::kBool: return get(f.bool_ref, c) ? "true" : "false";
    case Kind::kString: return toml_string(get(f.string_ref, c), true);
    case Kind::kChoice: return toml_string(f.allowed.at(f.choice_get(c)), true);
    case Kind::kList: {
      std::vector<std::string> items;
      for (const std::string& s : get(f.list_ref, c)) items.push_back(toml_string(s, true));
      return fmt::format("[{}]", fmt::join(items, ", "));
    }
  }
  return "";
}

std::string render(const RunConfig& c, bool hashed_only) {
  std::string out;
  std::string section;
  for (const Field& f : fields()) {
    if (hashed_only && !f.hashed) continue;
    if (f.section == "eval" && !c.eval.present) continue;
    if (f.section != section) {
      out += (section.empty() ? "[" : "\n[") + f.section + "]\n";
      section = f.section;
    }
    out += f.key + " = " + value_text(f, c) + "\n";
  }
  return out;
}

bool same_value(const Field& f, const RunConfig& a, const RunConfig& b) {
  switch (f.kind) {
    case Kind::kInt: return get(f.int_ref, a) == get(f.int_ref, b);
    case Kind::kFloat: return get(f.float_ref, a) == get(f.float_ref, b);
    case Kind::kBool: return get(f.bool_ref, a) == get(f.bool_ref, b);
    case Kind::kString: return get(f.string_ref, a) == get(f.string_ref, b);
    case Kind::kList: return get(f.list_ref, a) == get(f.list_ref, b);
    case Kind::kChoice: return f.choice_get(a) == f.choice_get(b);
  }
  return false;
}

}  // namespace

std::string to_toml(const RunConfig& cfg) {
  return "# laco_dist effective configuration" +
         (cfg.source.empty() ? std::string() : " (from " + cfg.source + ")") + "\n" +
         render(cfg, false);
}

nlohmann::json to_json(const RunConfig& cfg) {
  nlohmann::json j = nlohmann::json::object();
  j["source"] = cfg.source;
  for (const Field& f : fields()) {
    if (f.section == "eval" && !cfg.eval.present) continue;
    nlohmann::json& v = j[f.section][f.key];
    switch (f.kind) {
      case Kind::kInt: v = get(f.int_ref, cfg); break;
      case Kind::kFloat: v = get(f.float_ref, cfg); break;
      case Kind::kBool: v = get(f.bool_ref, cfg); break;
      case Kind::kString: v = get(f.string_ref, cfg); break;
      case Kind::kList: v = get(f.list_ref, cfg); break;
      case Kind::kChoice: v = f.allowed.at(f.choice_get(cfg)); break;
    }
  }
  return j;
}

std::string config_hash(const RunConfig& cfg) { return fnv1a_hex(render(cfg, true)); }

std::vector<std::string> changed_keys(const RunConfig& a, const RunConfig& b, bool hashed_only) {
  std::vector<std::string> out;
  for (const Field& f : fields()) {
    if (hashed_only && !f.hashed) continue;
    if (!same_value(f, a, b)) out.push_back(f.name());
  }
  if (!hashed_only && a.eval.present != b.eval.present) out.push_back("eval");
  return out;
}

bool operator==(const RunConfig& a, const RunConfig& b) { return changed_keys(a, b).empty(); }

}  // namespace laco
