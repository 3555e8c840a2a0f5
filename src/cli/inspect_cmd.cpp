// `laco_dist inspect DIR [--json]`: loads and checks a checkpoint completely (config,
// every tensor's presence, shape and dtype) and describes it.
#include <cstdio>
#include <filesystem>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/model/layer_table.h"

namespace laco::cli {

int cmd_inspect(const CommandArgs& argv, dist::Communicator& world) {
  const std::string families = fmt::format("{}", fmt::join(model::supported_model_types(), ", "));
  const Usage usage{"inspect", "DIR", "Check a HuggingFace checkpoint completely and describe it. Supported families "
                    "(config.json model_type): " + families + ".",
                    {{"json", "print one JSON object instead of the table", true}},
                    "  laco_dist inspect ../shared/models/kjv-16L --json"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "inspect: expected one model directory, got {}",
                   args.positional().size());
  const std::string dir = args.positional()[0];
  model::ModelConfig config = model::load_model_config(dir);
  io::WeightSource weights = io::WeightSource::open_dir(dir);
  // Load in the checkpoint's own dtype so nothing is copied; this checks every tensor.
  const c10::ScalarType dtype = model::checkpoint_dtype(config, weights);
  model::LayerTable table = model::LayerTable::load(config, weights, dtype, c10::Device(c10::kCPU));

  std::set<std::string> dtypes;
  int64_t params = 0;
  for (const auto& name : weights.names()) {
    dtypes.insert(io::dtype_name(weights.info(name).dtype));
    int64_t n = 1;
    for (int64_t s : weights.info(name).shape) n *= s;
    params += n;
  }
  std::vector<std::string> files;
  for (const auto& f : weights.files()) files.push_back(std::filesystem::path(f).filename().string());
  nlohmann::json j = {
      {"path", std::filesystem::absolute(dir).lexically_normal().string()},
      {"family", config.model_type},
      {"layers", config.num_hidden_layers},
      {"heads", config.num_attention_heads},
      {"kv_heads", config.num_key_value_heads},
      {"head_dim", config.head_dim},
      {"hidden", config.hidden_size},
      {"intermediate", config.intermediate_size},
      {"vocab", config.vocab_size},
      {"parameters", params},
      {"dtype", fmt::format("{}", fmt::join(dtypes, ","))},
      {"bytes", weights.total_bytes()},
      {"files", files},
      {"tied_embeddings", config.tie_word_embeddings},
      {"tensors", weights.names().size()},
  };
  if (world.rank() != 0) return kExitOk;
  if (args.flag("json")) {
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("model          %s\n", j["path"].get<std::string>().c_str());
  std::printf("family         %s\n", config.model_type.c_str());
  std::printf("layers         %lld\n", static_cast<long long>(config.num_hidden_layers));
  std::printf("heads          %lld (kv heads %lld, head dim %lld)\n",
              static_cast<long long>(config.num_attention_heads),
              static_cast<long long>(config.num_key_value_heads), static_cast<long long>(config.head_dim));
  std::printf("hidden         %lld (intermediate %lld)\n", static_cast<long long>(config.hidden_size),
              static_cast<long long>(config.intermediate_size));
  std::printf("vocab          %lld\n", static_cast<long long>(config.vocab_size));
  std::printf("parameters     %s\n", fmt::format("{}", params).c_str());
  std::printf("dtype          %s\n", j["dtype"].get<std::string>().c_str());
  std::printf("bytes          %llu\n", static_cast<unsigned long long>(weights.total_bytes()));
  std::printf("files          %s\n", fmt::format("{}", fmt::join(files, ", ")).c_str());
  std::printf("tied embedding %s\n", config.tie_word_embeddings ? "yes" : "no");
  std::printf("tensors        %zu (all present with the expected shapes)\n", weights.names().size());
  return kExitOk;
}

}  // namespace laco::cli
