// `laco_dist generate --model DIR (--prompt-ids 1,403 | --prompt TEXT) [--max-new-tokens N]
// [--dtype float32|bfloat16] [--device cpu|cuda] [--threads N] [--stop-at-eos] [--json]`:
// greedy decoding with the KV cache. Prompt ids are used verbatim (no BOS added); --prompt
// text is encoded with the model's tokenizer (BOS included). Prints the generated ids (not
// the prompt) on stdout, and their text when the model directory has a tokenizer.json.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/model/generate.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::cli {

int cmd_generate(const CommandArgs& argv, dist::Communicator& world) {
  Args args(argv, {"json", "stop-at-eos"},
            {"model", "prompt-ids", "prompt", "max-new-tokens", "dtype", "device", "threads"}, "generate");
  const std::string dir = args.require("model");
  LACO_INPUT_CHECK(args.has("prompt-ids") != args.has("prompt"),
                   "generate: give the prompt with exactly one of --prompt-ids 1,403 or --prompt TEXT");
  std::optional<tokenizer::Tokenizer> tok;
  if (std::filesystem::exists(dir + "/tokenizer.json")) tok = tokenizer::Tokenizer::load(dir);
  LACO_INPUT_CHECK(tok || !args.has("prompt"), "generate --prompt: {} has no tokenizer.json; use --prompt-ids", dir);
  // --prompt is encoded with the tokenizer's special tokens (BOS); --prompt-ids is verbatim.
  const std::vector<int64_t> prompt = args.has("prompt") ? tok->encode(args.get("prompt"), true)
                                                         : parse_id_list(args.get("prompt-ids"), "generate --prompt-ids");
  LACO_INPUT_CHECK(!prompt.empty(), "generate: the prompt encodes to no tokens");
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
  nlohmann::json j = {{"ids", out}};
  if (tok) j["text"] = tok->decode(out, /*skip_special_tokens=*/true);
  if (args.flag("json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s\n", fmt::format("{}", fmt::join(out, ",")).c_str());
    if (tok) std::printf("%s\n", j["text"].get<std::string>().c_str());
  }
  return kExitOk;
}

}  // namespace laco::cli
