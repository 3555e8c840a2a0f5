// `laco_dist finetune CONFIG.toml [--set section.key=value]... [--resume]`: recovery training
// (LoRA or full fine-tuning) of a (pruned) HuggingFace checkpoint; docs/finetune.md.
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/dist/agree.h"
#include "laco/train/finetune.h"

namespace laco::cli {

int cmd_finetune(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "finetune", "CONFIG.toml",
      "Recovery training of a (pruned) HF checkpoint: LoRA or full fine-tuning, as CONFIG.toml says (docs/finetune.md).",
      {{"set", "override a config key: section.key=value (a TOML value; repeatable)"},
       {"resume", "continue the run saved in output.dir/finetune_state.json (starts fresh if there is none)", true}},
      "  laco_dist finetune configs/finetune_kjv.toml --set model.path=/tmp/kjv12 --set output.dir=/tmp/kjv12-ft\n"
      "  mpirun -n 2 laco_dist finetune configs/finetune_kjv.toml --resume"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "finetune: expected one CONFIG.toml, got {} arguments",
                   args.positional().size());
  train::FinetuneConfig cfg;  // a ${VAR} or a file may differ between ranks: agree before going on
  dist::agree(world, [&] { cfg = train::load_finetune_config(args.positional()[0], args.all("set")); });
  train::FinetuneOptions opt;
  opt.resume = args.flag("resume");
  install_interrupt_handlers();  // SIGTERM/SIGINT/SIGUSR1 stop at the next step boundary (exit 3)
  return train::run_finetune(cfg, opt, world);
}

}  // namespace laco::cli
