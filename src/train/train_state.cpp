// Saving and loading the training state: see train_state.h.
#include "laco/train/train_state.h"

#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/core/strings.h"
#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"

namespace laco::train {
namespace {

namespace fs = std::filesystem;

nlohmann::json layout(const ParamSet& params) {
  nlohmann::json out = nlohmann::json::array();
  for (const Param& p : params.params()) out.push_back({p.name, p.value.sizes().vec()});
  return out;
}

}  // namespace

void save_train_state(const std::string& dir, const FinetuneConfig& cfg, const ParamSet& params,
                      const TrainState& s) {
  const std::string tensors = fmt::format("finetune_state-{:08d}.safetensors", s.step);
  io::write_safetensors(dir + "/" + tensors, {{"params", s.params}, {"adam.m", s.m}, {"adam.v", s.v}},
                        {{"step", std::to_string(s.step)}});
  const nlohmann::json j = {{"step", s.step},
                            {"tokens", s.tokens},
                            {"seconds", s.seconds},
                            {"finished", s.finished},
                            {"tensors", tensors},
                            {"settings_hash", finetune_hash(cfg)},
                            {"settings", result_settings(cfg)},
                            {"params", layout(params)}};
  io::write_file_atomic(dir + "/" + kStateFile, j.dump(2) + "\n");
  for (const auto& e : fs::directory_iterator(dir)) {  // older states
    const std::string name = e.path().filename().string();
    if (starts_with(name, "finetune_state-") && ends_with(name, ".safetensors") && name != tensors)
      fs::remove(e.path());
  }
}

TrainState load_train_state(const std::string& dir, const FinetuneConfig& cfg, const ParamSet& params) {
  const std::string path = dir + "/" + kStateFile;
  const nlohmann::json j = io::read_json_file(path);
  try {
    if (j.at("settings_hash").get<std::string>() != finetune_hash(cfg)) {
      std::vector<std::string> changed;
      const nlohmann::json now = result_settings(cfg), then = j.at("settings");
      for (const auto& [key, value] : now.items())
        if (!then.contains(key) || then[key] != value) changed.push_back(key);
      throw InputError(fmt::format("--resume: {} was written with other settings ({} changed); rerun with the "
                                   "same settings, or without --resume and with output.overwrite = true",
                                   path, changed.empty() ? std::string("?") : fmt::format("{}", fmt::join(changed, ", "))));
    }
    LACO_INPUT_CHECK(j.at("params") == layout(params), "--resume: {}: the trainable parameters differ from this "
                     "run's (another model or method?)", path);
    TrainState s;
    s.step = j.at("step").get<int64_t>();
    s.tokens = j.at("tokens").get<int64_t>();
    s.seconds = j.at("seconds").get<double>();
    s.finished = j.at("finished").get<bool>();
    const std::string tensors = dir + "/" + j.at("tensors").get<std::string>();
    const auto file = io::SafetensorsFile::open(tensors);
    s.params = file->tensor("params").clone();
    s.m = file->tensor("adam.m").clone();
    s.v = file->tensor("adam.v").clone();
    for (const at::Tensor* t : {&s.params, &s.m, &s.v})
      LACO_INPUT_CHECK(t->numel() == params.numel() && t->scalar_type() == at::kFloat, "--resume: {} holds {} "
                       "values, expected {} float32", tensors, t->numel(), params.numel());
    LACO_INPUT_CHECK(s.step >= 0 && s.step <= cfg.train.steps, "--resume: {}: step {} is outside [0, train.steps = {}]",
                     path, s.step, cfg.train.steps);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("--resume: {} is not a finetune state: {}", path, e.what()));
  }
}

}  // namespace laco::train
