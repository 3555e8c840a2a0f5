// The run configuration: the TOML file of `laco_dist prune|eval config.toml` (plus
// `--set section.key=value` overrides) turned into plain validated structs.
// Every key is checked here (type, allowed values, ranges); errors name the key and its
// TOML line. Model-dependent checks come later through validate_against_model().
// docs/config.md lists every key, its default and its meaning.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>  // include <nlohmann/json.hpp> to use to_json()'s result

namespace laco {

// The enumerated settings, decoded once here and passed as these types (no module parses
// their strings again). choice_names() spells them as the TOML does, in enum order.
enum class Dtype { kFloat32, kBFloat16, kFloat16 };
enum class OutputDtype { kSame, kFloat32, kBFloat16, kFloat16 };
enum class Device { kCpu, kCuda };
enum class Placement { kAuto, kResident, kStream };
enum class MergeRule { kRdsc, kKeepLast };
enum class MergeScope { kFull, kAttn, kFfn };
enum class NormMode { kKeepBase, kMerge };
enum class Representation { kFlat, kLastToken, kMean };
enum class PruneMethod { kLaco, kBlockInfluence, kAngular };

const std::vector<std::string>& choice_names(Dtype);
const std::vector<std::string>& choice_names(OutputDtype);
const std::vector<std::string>& choice_names(Device);
const std::vector<std::string>& choice_names(Placement);
const std::vector<std::string>& choice_names(MergeRule);
const std::vector<std::string>& choice_names(MergeScope);
const std::vector<std::string>& choice_names(NormMode);
const std::vector<std::string>& choice_names(Representation);
const std::vector<std::string>& choice_names(PruneMethod);

template <class E>
std::string name_of(E value) {
  return choice_names(E{}).at(static_cast<size_t>(value));
}
[[noreturn]] void throw_unknown_choice(const std::string& name, const std::string& what,
                                       const std::vector<std::string>& names);
// `name` as one of E's values; InputError "what: 'x' is not ...; expected a | b" otherwise
// (for command-line flags such as --dtype; the config loader has its own, with the line).
template <class E>
E parse_choice(const std::string& name, const std::string& what) {
  const auto& names = choice_names(E{});
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<E>(i);
  throw_unknown_choice(name, what, names);
}

// The most compute threads a rank may ask for (model.threads, --threads): a constant, not
// the core count, so a config for a big node still validates on a small one.
inline constexpr int kMaxThreads = 1024;

struct ModelSection {
  std::string path;                 // required; absolute, normalized
  Dtype dtype = Dtype::kFloat32;    // float16 only with cuda
  Device device = Device::kCpu;
  int threads = 0;                  // 0 = cores / ranks on this node
  // Where the weights live (docs/distributed.md "Placements"); none of these change results.
  Placement placement = Placement::kAuto;
  std::string memory_budget;        // "" = the device's or host's memory; else a size ("80GB")
  int stream_waves = 2;             // stream + laco.early_reject: waves per round, >= 1
  // stream + cuda: the computing layer + this - 1 in flight, 2..8; 0 = from the memory
  // budget (model::plan_memory).
  int max_materialized_layers = 0;
};

struct CalibrationSection {
  std::string file;                 // required; absolute, normalized (.txt or .jsonl)
  int samples = 10;                 // first N non-empty samples, >= 1
  int max_tokens = 128;             // >= 2, counting the BOS
  bool add_bos = true;
  int batch_size = 4;               // micro-batch size, >= 1
  Representation representation = Representation::kFlat;
};

struct LacoSection {
  int merge_layers = 4;             // C >= 2: base + C-1 followers
  int lowest_layer = 1;             // L >= 0, inclusive
  int highest_layer = 0;            // H, exclusive; 0 = num_hidden_layers
  int interval = 2;                 // I >= 1
  double threshold = 0.65;          // T in (-1, 1)
  MergeRule rule = MergeRule::kRdsc;
  double scale = 1.0;               // s, finite
  MergeScope scope = MergeScope::kFull;
  NormMode norms = NormMode::kKeepBase;
  int max_removed_layers = 0;       // 0 = no limit
  bool activation_cache = true;
  bool early_reject = false;
};

// Which criterion chooses the layers (docs/config.md "[prune]"): LaCo merges while the
// output stays similar ([laco]); the peer criteria remove layers until target_layers are left.
struct PruneSection {
  PruneMethod method = PruneMethod::kLaco;
  int target_layers = 0;            // block_influence / angular: layers left, 1 <= N < num_layers
};

struct OutputSection {
  std::string dir;                  // required; absolute, normalized
  bool overwrite = false;
  OutputDtype dtype = OutputDtype::kSame;
  std::string shard_size = "5GB";   // syntax checked here; parsed by the io library
};

struct ParallelSection {
  int candidate_width = 0;          // W >= 0; 0 = world size
  bool share_cache = true;          // the W ranks of a shard split the reference pass
};

struct ProfileSection {
  std::string file;                 // loader default <output.dir>/profile.h5; absolute, normalized
};

// Optional [eval]; `present` says whether the file (or a --set) had the section at all.
struct EvalSection {
  bool present = false;
  // Defaults below are filled in by the loader (the structs themselves start empty).
  std::vector<std::string> models;  // default {model.path, output.dir}; absolute, normalized
  std::vector<std::string> tasks;   // default {} = none; names are checked by the eval code
  int limit = 0;                    // items per task, 0 = all
  int batch_size = 8;               // >= 1
  int max_length = 0;               // 0 = the model's max_position_embeddings
  std::string perplexity_file;      // default ${LACO_ASSETS:-../shared}/data/wikitext2/wiki.test.raw
  std::string data_dir;             // default ${LACO_ASSETS:-../shared}/data (task files)
};

struct RunConfig {
  ModelSection model;
  CalibrationSection calibration;
  LacoSection laco;
  PruneSection prune;
  OutputSection output;
  ParallelSection parallel;
  ProfileSection profile;
  EvalSection eval;

  std::string source;  // the config file as given ("" when parsed from text without a name)
  // "section.key" -> where its value came from: "config.toml:12" or "--set laco.threshold=0.9".
  // Keys left at their default are absent. Not part of operator==.
  std::map<std::string, std::string> origin;

  // Where `key` ("laco.highest_layer") was set, for error messages elsewhere:
  // "config.toml:12", "--set laco.highest_layer=40", or "config.toml (default)".
  std::string where(const std::string& key) const;
};

// Compares every configuration value (not `source`, not `origin`).
bool operator==(const RunConfig& a, const RunConfig& b);
inline bool operator!=(const RunConfig& a, const RunConfig& b) { return !(a == b); }

// Reads, expands (${VAR}, ${VAR:-default}, $$ = literal $), overrides, validates and
// resolves relative paths against the current directory. `overrides` are the
// "section.key=value" texts of --set (value: a TOML value, or else taken as a bare string;
// for list keys a bare a,b,c is a list). Throws InputError naming the key and its line.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from TOML text; `source_name` is what error messages and `source` show.
// `ignored_sections` are skipped (a command's own sections, e.g. `laco_dist sweep`'s [sweep]).
RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides = {},
                           const std::vector<std::string>& ignored_sections = {});

// The text of a config file (a regular file of at most 16 MiB); InputError naming it otherwise.
std::string read_config_text(const std::string& path);

// ${VAR}, ${VAR:-default} and $$ in `text` (a value of `key`, set at `origin`), as the
// loader expands string values; InputError naming both for an unset variable or bad syntax.
// (The finetune config, train/finetune_config.h, expands its strings the same way.)
std::string expand_env_vars(const std::string& text, const std::string& key, const std::string& origin);

// Model-dependent checks: H (0 = num_layers) must be <= num_layers, and L < H; a peer
// method's prune.target_layers below num_layers.
// Throws InputError naming laco.highest_layer / laco.lowest_layer, their origin and num_layers.
void validate_against_model(const RunConfig& cfg, int num_layers);

// The effective configuration as TOML text: every value in use, defaults included, paths
// absolute; `$` written as `$$`, so parse_run_config(to_toml(c), ...) == c. [eval] only
// when present.
std::string to_toml(const RunConfig& cfg);

// {"model": {...}, "calibration": {...}, ...} with every value in use (the report's
// "settings"); "eval" only when present; plus "source".
nlohmann::json to_json(const RunConfig& cfg);

// 16 hex digits: FNV-1a 64 of to_toml() of the settings that decide the pruned output
// ([model], [calibration], [laco], [output] except output.overwrite). [parallel],
// [profile] and [eval] do not enter, so a resume may change them.
std::string config_hash(const RunConfig& cfg);

// "section.key" of every value that differs between a and b, in file order ("eval" when
// only one has the section). `hashed_only`: only the keys config_hash() covers (for
// "--resume: config changed: laco.threshold").
std::vector<std::string> changed_keys(const RunConfig& a, const RunConfig& b,
                                      bool hashed_only = false);

}  // namespace laco
