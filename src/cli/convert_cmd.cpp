// `laco_dist convert --model DIR --out DIR [--dtype D] [--shard-size 2GB] [--overwrite]`:
// rewrites a checkpoint in another dtype and/or shard size through the atomic writer.
#include <filesystem>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/io/checkpoint.h"
#include "laco/io/output_dir.h"
#include "laco/io/path_guard.h"
#include "laco/model/layer_table.h"

namespace laco::cli {

int cmd_convert(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "convert", "", "Rewrite a checkpoint in another dtype and/or shard size (never in place).",
      {{"model", "DIR: the input HuggingFace checkpoint (required)"},
       {"out", "DIR: the output directory, outside --model (required)"},
       {"dtype", "float32 | bfloat16 | float16 (default: the checkpoint's)"},
       {"shard-size", "largest shard, e.g. 5GB (5e9 bytes), 2GiB (2*2^30), 500MB (default 5GB)"},
       {"overwrite", "reuse a non-empty --out directory", true}},
      "  laco_dist convert --model ../shared/models/kjv-16L --out /tmp/kjv-bf16 --dtype bfloat16"};
  Args args(argv, usage);
  const std::string in = args.require("model"), out_arg = args.require("out");
  io::PathGuard guard;
  guard.add_input_dir(in, "convert --model", /*no_outputs_inside=*/true);
  guard.check_output_dir(out_arg, "convert --out");
  const std::string out = io::check_output_dir_reusable(out_arg, args.flag("overwrite"), "convert --out");
  model::ModelConfig config = model::load_model_config(in);
  io::WeightSource weights = io::WeightSource::open_dir(in);
  c10::ScalarType dtype = model::checkpoint_dtype(config, weights);
  if (args.has("dtype")) dtype = model::scalar_type(parse_choice<Dtype>(args.get("dtype"), "convert --dtype"));
  const uint64_t shard = io::parse_size(args.get("shard-size", "5GB"), "convert --shard-size");
  model::LayerTable table = model::LayerTable::load(config, weights, dtype, c10::Device(c10::kCPU));
  if (world.rank() != 0) return kExitOk;
  io::DirLock lock(out, "convert --out");
  io::write_checkpoint(out, model::pruned_config_json(config, table.layer_map(), model::dtype_string(dtype)),
                       table.named_tensors(), shard, in);
  spdlog::info("wrote {} ({} tensors, {}, {} bytes)", out, table.named_tensors().size(),
               model::dtype_string(dtype), table.bytes());
  return kExitOk;
}

}  // namespace laco::cli
