// `laco_dist generate --model DIR (--prompt-ids 1,403 | --prompt TEXT) [--max-new-tokens N]
// [--dtype float32|bfloat16] [--device cpu|cuda] [--threads N] [--stop-at-eos] [--json]`:
// greedy decoding with the KV cache. Prompt ids are used verbatim (no BOS added); prints
// the generated ids (not the prompt) on stdout, and the text when the model has a tokenizer.
#include <cstdio>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/model/generate.h"

namespace laco::cli {

int cmd_generate(const CommandArgs& argv, dist::Communicator& world) {
  Args args(argv, {"json", "stop-at-eos"},
            {"model", "prompt-ids", "max-new-tokens", "dtype", "device", "threads"}, "generate");
  const std::string dir = args.require("model");
  LACO_INPUT_CHECK(args.has("prompt-ids"), "generate: give the prompt with --prompt-ids 1,403");
  const std::vector<int64_t> prompt = parse_id_list(args.get("prompt-ids"), "generate --prompt-ids");
  const int64_t max_new = args.get_int("max-new-tokens", 256);
  LACO_INPUT_CHECK(max_new >= 0, "generate: --max-new-tokens must be >= 0, got {}", max_new);
  const c10::ScalarType dtype = model::parse_compute_dtype(args.get("dtype", "float32"), "generate --dtype");
  const c10::Device device = model::parse_device(args.get("device", "cpu"), "generate --device");
  LACO_INPUT_CHECK(dtype != at::kHalf || device.is_cuda(),
                   "generate --dtype float16 needs --device cuda (LibTorch has no float16 matmul on CPU)");
  model::configure_threads(static_cast<int>(args.get_int("threads", 0)), world.size());

  model::Transformer model(model::load_layer_table(dir, dtype, device));
  model::GenerateOptions opt;
  opt.max_new_tokens = max_new;
  if (args.flag("stop-at-eos")) opt.stop_ids = model.config().eos_token_ids;
  const auto out = model::greedy_generate(model, {prompt}, opt).front();
  if (world.rank() != 0) return kExitOk;
  if (args.flag("json")) {
    std::printf("%s\n", nlohmann::json{{"ids", out}}.dump().c_str());
  } else {
    std::printf("%s\n", fmt::format("{}", fmt::join(out, ",")).c_str());
  }
  return kExitOk;
}

}  // namespace laco::cli
