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
  const Usage usage{
      "generate", "", "Greedy generation from a HuggingFace checkpoint.",
      {{"model", "DIR: the checkpoint (required)"},
       {"prompt-ids", "1,403: the prompt as token ids, used verbatim (no BOS added)"},
       {"prompt", "TEXT: the prompt, encoded with the model's tokenizer.json (BOS added)"},
       {"max-new-tokens", "N: tokens to generate (default 256; prompt + N <= max_position_embeddings)"},
       {"dtype", "float32 | bfloat16 | float16 (cuda only) (default float32)"},
       {"device", "cpu | cuda (default cpu)"},
       {"threads", "N: compute threads, 1..1024 (default 0 = cores / ranks)"},
       {"json", "print one line {\"ids\": [...], \"text\": \"...\"}", true},
       {"stop-at-eos", "stop at the model's end-of-sequence token", true}},
      "  laco_dist generate --model ../shared/models/stories260K-hf --prompt \"Once upon a time\" --max-new-tokens 64"};
  Args args(argv, usage);
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
  const c10::ScalarType dtype = model::scalar_type(parse_choice<Dtype>(args.get("dtype", "float32"), "generate --dtype"));
  const c10::Device device = model::select_device(parse_choice<Device>(args.get("device", "cpu"), "generate --device"),
                                                  "generate --device");
  LACO_INPUT_CHECK(dtype != at::kHalf || device.is_cuda(),
                   "generate --dtype float16 needs --device cuda (LibTorch has no float16 matmul on CPU)");
  model::configure_threads(args.get_int("threads", 0), world.size());

  // The KV cache holds prompt + new tokens: bounded by the model's positions, checked before loading.
  const model::ModelConfig config = model::load_model_config(dir);
  LACO_INPUT_CHECK(max_new <= config.max_position_embeddings, "generate: --max-new-tokens {} exceeds the model's "
                   "max_position_embeddings = {} ({})", max_new, config.max_position_embeddings, config.source);
  model::check_sequence_length(config, static_cast<int64_t>(prompt.size()) + max_new,
                               fmt::format("generate: the prompt ({} tokens) + --max-new-tokens {}", prompt.size(),
                                           max_new));
  model::Transformer model(model::LayerTable::load(config, io::WeightSource::open_dir(dir), dtype, device));
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
