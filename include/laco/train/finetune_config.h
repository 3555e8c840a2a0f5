// The configuration of `laco_dist finetune CONFIG.toml` (recovery training): its own TOML
// file with [model], [data], [train], [lora] and [output], plus `--set section.key=value`
// overrides, decoded once into these structs. Every key is checked here (type, allowed
// values, ranges); an error names the key and where it was set ("ft.toml:12" or "--set
// train.lr=..."). docs/finetune.md lists every key, its default and its meaning.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "laco/core/config.h"
#include "laco/model/arch.h"

namespace laco::train {

enum class Method { kLora, kFull };
enum class Schedule { kCosine, kLinear, kConstant };
const std::vector<std::string>& choice_names(Method);
const std::vector<std::string>& choice_names(Schedule);

struct FinetuneConfig {
  struct Model {
    std::string path;               // required; absolute, normalized
    Dtype dtype = Dtype::kFloat32;  // compute dtype (float32 | bfloat16); masters stay float32
    int threads = 1;                // fixed: results are bitwise the same for any -n at equal threads
  } model;
  struct Data {
    std::string train_file;               // required; .txt (one sample a line) or .jsonl ("text")
    int64_t first_line = 0, last_line = 0;  // train_lines = [first, last], 1-based inclusive; 0 = all
    std::string validation_file;          // "" = no validation
    int validation_every = 0;             // steps; 0 = only at the end
    int validation_max_length = 0;        // 0 = the model's max_position_embeddings
    int validation_batch_size = 8;
    int seq_len = 128;                    // tokens per training block, >= 2
    bool add_bos = true;                  // BOS before each sample's tokens
  } data;
  struct Train {
    Method method = Method::kLora;
    int steps = 100;
    int batch_size = 16;        // sequences per optimizer step (global)
    int micro_batch_size = 4;   // sequences per forward/backward; divides batch_size
    double lr = 1e-3, weight_decay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    int warmup_steps = 0;
    Schedule schedule = Schedule::kCosine;
    double min_lr_ratio = 0.1;  // the decayed schedule ends at lr * min_lr_ratio
    double max_grad_norm = 1.0;  // 0 = no clipping
    int64_t seed = 1234;
    int log_every = 10;
    int checkpoint_every = 0;   // steps; 0 = only when stopped by a signal
  } train;
  struct Lora {
    int rank = 8;
    double alpha = 16.0;
    double dropout = 0.0;
    std::vector<std::string> targets = {"q", "v"};  // of q, k, v, o, gate, up, down
  } lora;
  struct Output {
    std::string dir;            // required; absolute, normalized
    bool overwrite = false;
    OutputDtype dtype = OutputDtype::kSame;  // same = the input checkpoint's dtype
    bool save_adapter = true;   // lora: adapter/ in PEFT's format too
  } output;

  std::string source;                         // the config file as given
  std::map<std::string, std::string> origin;  // "section.key" -> "file:line" | "--set ..."
  std::string where(const std::string& key) const;  // origin, or "<source> (default)"
};

// The LoRA targets of a config as Roles, in the order q, k, v, o, gate, up, down.
std::vector<model::Role> lora_roles(const FinetuneConfig& cfg);
// "q" -> "q_proj" etc.: the HF module name of a target (PEFT's target_modules).
std::string lora_module_name(const std::string& target);

// Reads (size-checked), applies `overrides` ("section.key=value", the value TOML or a bare
// string), expands ${VAR} / ${VAR:-default} in strings, validates and resolves paths
// against the current directory. InputError naming the key and its origin.
FinetuneConfig load_finetune_config(const std::string& path, const std::vector<std::string>& overrides = {});
FinetuneConfig parse_finetune_config(const std::string& toml_text, const std::string& source_name,
                                     const std::vector<std::string>& overrides = {});

// The keys that decide the trained weights (all but output.*, log_every, checkpoint_every
// and the validation keys) as {"section.key": value}, and the FNV-1a hash of its dump
// (16 hex digits): --resume refuses a state whose hash differs and names the changed keys.
nlohmann::json result_settings(const FinetuneConfig& cfg);
std::string finetune_hash(const FinetuneConfig& cfg);
// Every value in use (paths absolute) as {"section": {"key": value}}: finetune_state.json
// and the HDF5 log keep it.
nlohmann::json to_json(const FinetuneConfig& cfg);

}  // namespace laco::train
