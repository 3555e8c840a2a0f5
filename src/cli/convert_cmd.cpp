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
#include "laco/model/layer_table.h"

namespace laco::cli {

int cmd_convert(const CommandArgs& argv, dist::Communicator& world) {
  Args args(argv, {"overwrite"}, {"model", "out", "dtype", "shard-size"}, "convert");
  const std::string in = args.require("model"), out_arg = args.require("out");
  model::ModelConfig config = model::load_model_config(in);
  io::WeightSource weights = io::WeightSource::open_dir(in);
  c10::ScalarType dtype = model::checkpoint_dtype(config, weights);
  if (args.has("dtype")) dtype = model::parse_compute_dtype(args.get("dtype"), "convert --dtype");
  const uint64_t shard = io::parse_size(args.get("shard-size", "5GB"), "convert --shard-size");
  model::LayerTable table = model::LayerTable::load(config, weights, dtype, c10::Device(c10::kCPU));
  if (world.rank() != 0) return kExitOk;
  const std::string out = io::prepare_output_dir(out_arg, in, args.flag("overwrite"), "convert --out");
  io::write_checkpoint(out, model::pruned_config_json(config, table.layer_map(), model::dtype_string(dtype)),
                       table.named_tensors(), shard, in);
  spdlog::info("wrote {} ({} tensors, {}, {} bytes)", out, table.named_tensors().size(),
               model::dtype_string(dtype), table.bytes());
  return kExitOk;
}

}  // namespace laco::cli
