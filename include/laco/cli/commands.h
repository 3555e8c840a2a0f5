// The laco_dist subcommands. Each takes the arguments after its name and the world
// communicator, prints machine output on stdout and logs on stderr, and returns the
// exit code (or throws; main() maps InputError to 2, anything else to 1/MPI_Abort).
#pragma once

#include <string>
#include <vector>

#include "laco/dist/communicator.h"

namespace laco::cli {

using CommandArgs = std::vector<std::string>;

int cmd_inspect(const CommandArgs& args, dist::Communicator& world);
int cmd_generate(const CommandArgs& args, dist::Communicator& world);
int cmd_convert(const CommandArgs& args, dist::Communicator& world);
int cmd_tokenize(const CommandArgs& args, dist::Communicator& world);
int cmd_detokenize(const CommandArgs& args, dist::Communicator& world);
int cmd_prune(const CommandArgs& args, dist::Communicator& world);
int cmd_eval(const CommandArgs& args, dist::Communicator& world);
int cmd_report(const CommandArgs& args, dist::Communicator& world);
int cmd_plan(const CommandArgs& args, dist::Communicator& world);
int cmd_sweep(const CommandArgs& args, dist::Communicator& world);
int cmd_analyze(const CommandArgs& args, dist::Communicator& world);
int cmd_finetune(const CommandArgs& args, dist::Communicator& world);

}  // namespace laco::cli
