// laco_dist command-line entry point: initialise MPI, parse the global options,
// dispatch to a subcommand, and map failures to exit codes (0 ok, 2 bad input,
// 1 internal error, 3 stopped by a signal and resumable). Bad input is detected identically on every rank, so rank 0
// prints it once and every rank finalizes; a failure of one rank alone aborts the job.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/log.h"
#include "laco/core/openblas_core.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"
#include "laco/dist/mpi_communicator.h"

namespace {

constexpr const char* kUsage = R"(laco_dist — layer-collapse (LaCo) pruning of HuggingFace LLMs

usage: laco_dist [global options] <command> [options]
       laco_dist config.toml [prune options]        (same as: laco_dist prune config.toml)

commands:
  prune CONFIG.toml   prune a model by layer collapse (LaCo) or by Block Influence / angular distance
                      (prune.method) (--set k=v, --dry-run, --resume, --quiet)
  eval                evaluate models: eval CONFIG.toml | eval --model DIR --tasks a,b [--limit N]
  finetune CONFIG.toml  recovery training (LoRA or full) of a pruned model (--set k=v, --resume)
  inspect DIR         describe a HuggingFace checkpoint (--json)
  generate            greedy generation: --model DIR (--prompt-ids 1,2 | --prompt TEXT)
                      [--max-new-tokens N] [--dtype float32|bfloat16] [--json]
  convert             rewrite a checkpoint: --model DIR --out DIR [--dtype D] [--shard-size 2GB]
  tokenize            --tokenizer DIR_OR_FILE (--text STR | --file PATH) [--json] [--no-special]
  detokenize          --tokenizer DIR_OR_FILE --ids 1,2,3
  report PROFILE.h5   print a profile's candidate and phase tables, write an SVG
  sweep SWEEP.toml    prune every point of a grid over laco.* / prune.* settings in groups of ranks, one table
                      of results (--set, --dry-run, --resume, --quiet)
  analyze CONFIG.toml per layer Block Influence, angular distances of blocks, cosines between layers (--set)
  plan CONFIG.toml    memory per rank and node, and the placement auto picks (config.json only):
                      [--nodes N] [--ranks-per-node R] [--device-memory 80GB] [--host-memory 1TB]

Each command prints its options and an example with: laco_dist COMMAND --help

global options: --help, --version (before the command); anywhere on the line:
  --log-level LEVEL (trace|debug|info|warn|error|off), --log-all-ranks

exit codes: 0 success, 2 bad input (one message from rank 0), 1 internal error,
  3 interrupted by SIGTERM/SIGINT/SIGUSR1 at a round (prune) or step (finetune) boundary
  (--resume continues).
Run under MPI as: mpirun -n 4 laco_dist config.toml
)";

using Command = int (*)(const laco::cli::CommandArgs&, laco::dist::Communicator&);

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"prune", laco::cli::cmd_prune},       {"eval", laco::cli::cmd_eval},
      {"inspect", laco::cli::cmd_inspect},   {"generate", laco::cli::cmd_generate},
      {"convert", laco::cli::cmd_convert},   {"tokenize", laco::cli::cmd_tokenize},
      {"detokenize", laco::cli::cmd_detokenize}, {"report", laco::cli::cmd_report},
      {"plan", laco::cli::cmd_plan},         {"sweep", laco::cli::cmd_sweep},
      {"analyze", laco::cli::cmd_analyze},
      {"finetune", laco::cli::cmd_finetune},
  };
  return table;
}

// Removes the logging options (accepted anywhere on the line) from argv.
void take_logging_options(std::vector<std::string>& argv, std::string& level, bool& all_ranks) {
  for (size_t i = 0; i < argv.size();) {
    if (argv[i] == "--log-level") {
      if (i + 1 == argv.size()) throw laco::InputError("--log-level needs a value (trace|debug|info|warn|error|off)");
      level = argv[i + 1];
      argv.erase(argv.begin() + static_cast<long>(i), argv.begin() + static_cast<long>(i) + 2);
    } else if (argv[i] == "--log-all-ranks") {
      all_ranks = true;
      argv.erase(argv.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

// Parses global options and the command; returns the exit code of the run.
int run(std::vector<std::string> argv, laco::dist::Communicator& world) {
  std::string log_level = "info";
  bool all_ranks = false;
  take_logging_options(argv, log_level, all_ranks);
  size_t i = 0;
  for (; i < argv.size() && argv[i].rfind("--", 0) == 0; ++i) {
    if (argv[i] == "--help") {
      if (world.rank() == 0) std::fputs(kUsage, stdout);
      return laco::kExitOk;
    } else if (argv[i] == "--version") {
      if (world.rank() == 0) std::printf("laco_dist %s\n", LACO_VERSION);
      return laco::kExitOk;
    } else {
      throw laco::InputError("unknown global option " + argv[i] + " (see laco_dist --help)");
    }
  }
  laco::init_logging(world.rank(), log_level, all_ranks);
  if (i == argv.size()) {
    if (world.rank() == 0) std::fputs(kUsage, stderr);
    return laco::kExitInput;
  }
  std::string name = argv[i];
  std::vector<std::string> rest(argv.begin() + static_cast<long>(i) + 1, argv.end());
  if (laco::ends_with(name, ".toml")) {  // `laco_dist config.toml` == `laco_dist prune config.toml`
    rest.insert(rest.begin(), name);
    name = "prune";
  }
  auto it = commands().find(name);
  if (it == commands().end()) {
    throw laco::InputError("unknown command '" + name +
                           "' (expected prune, eval, finetune, inspect, generate, convert, "
                           "tokenize, detokenize, report, plan; see laco_dist --help)");
  }
  return it->second(rest, world);
}

// True when an MPI launcher (mpirun, srun with PMI/PMIx) started this process. A plain
// `laco_dist ...` runs as a one-rank world without MPI: Open MPI's singleton start costs
// about 2 s. LACO_FORCE_MPI=1 initialises MPI anyway.
bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "LACO_FORCE_MPI"}) {
    const char* v = std::getenv(var);
    if (v && *v) return true;
  }
  return false;
}

// A launcher that started N > 1 tasks for this step while MPI sees a world of one (e.g.
// `srun --mpi=none -n 2`) would run N independent one-rank jobs into the same output.
// SLURM_NTASKS is not used: the batch step itself carries it.
void check_launcher(const laco::dist::Communicator& world) {
  if (world.size() != 1) return;
  for (const char* var : {"SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* v = std::getenv(var);
    if (v == nullptr || std::atoll(v) <= 1) continue;
    throw laco::InputError(fmt::format(
        "the launcher started {} tasks ({}={}) but MPI sees a world of 1 rank: each task would run alone "
        "into the same output; under Slurm use `srun --mpi=pmix` (or the MPI type of your site), with Open "
        "MPI `mpirun -n N`", v, var, v));
  }
}

// Bad input that was not agreed between ranks: in a one-rank world the usual exit 2; under
// MPI the other ranks may be waiting in a collective, so the job ends (MPI_Abort, code 2).
int not_agreed_input_error(const char* what, const laco::dist::Communicator& world) {
  if (world.size() == 1) {
    std::fprintf(stderr, "laco_dist: error: %s\n", what);
    return laco::kExitInput;
  }
  std::fprintf(stderr, "laco_dist: error on rank %d (%s): %s\n", world.rank(), laco::host_name().c_str(), what);
  std::fflush(stderr);
  laco::dist::MpiRuntime::abort(laco::kExitInput);
}

}  // namespace

int main(int argc, char** argv) {
  laco::use_suited_openblas_kernels();
  // Weights and activations of 4 MB and more get their own mappings, returned when freed:
  // glibc's adaptive threshold would otherwise serve them from a heap that keeps freed
  // layers, and the memory plan (and a streamed 70B rank) could not count on that memory.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  std::unique_ptr<laco::dist::MpiRuntime> mpi;
  std::unique_ptr<laco::dist::Communicator> world_ptr;
  if (launched_by_mpi()) {
    mpi = std::make_unique<laco::dist::MpiRuntime>(&argc, &argv);
    world_ptr = std::make_unique<laco::dist::MpiCommunicator>(MPI_COMM_WORLD);
  } else {
    world_ptr = std::make_unique<laco::dist::LocalCommunicator>();
  }
  laco::dist::Communicator& world = *world_ptr;
  int code = laco::kExitOk;
  try {
    check_launcher(world);
    code = run(std::vector<std::string>(argv + 1, argv + argc), world);
  } catch (const laco::cli::HelpRequested& help) {
    if (world.rank() == 0) std::fputs(help.what(), stdout);
    code = laco::kExitOk;
  } catch (const laco::Interrupted& e) {
    // Every rank stopped at the same safe point; all close their files before any exits
    // (srun --kill-on-bad-exit ends the step at the first non-zero exit).
    world.barrier();
    if (world.rank() == 0) std::fprintf(stderr, "laco_dist: interrupted: %s\n", e.what());
    code = laco::kExitInterrupted;
  } catch (const laco::AgreedError& e) {
    // Every rank knows it (dist::agree): one message from rank 0, orderly finalize.
    if (world.rank() == 0) std::fprintf(stderr, "laco_dist: error: %s\n", e.what());
    code = e.input() ? laco::kExitInput : laco::kExitInternal;
  } catch (const laco::InputError& e) {
    code = not_agreed_input_error(e.what(), world);
  } catch (const std::filesystem::filesystem_error& e) {  // a user's path (a symlink loop, a permission)
    code = not_agreed_input_error(e.what(), world);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "laco_dist: internal error on rank %d: %s\n", world.rank(), e.what());
    std::fflush(stderr);
    if (mpi && world.size() > 1) laco::dist::MpiRuntime::abort(laco::kExitInternal);
    code = laco::kExitInternal;
  }
  return code;
}
