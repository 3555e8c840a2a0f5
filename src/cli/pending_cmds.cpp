// TEMPORARY during development: commands whose implementation has not landed yet.
// Each implementer deletes its function from here when adding src/cli/<name>_cmd.cpp.
#include "laco/cli/commands.h"
#include "laco/core/error.h"

namespace laco::cli {
#define LACO_PENDING(name) \
  int cmd_##name(const CommandArgs&, dist::Communicator&) { throw InputError(#name " is not built yet"); }
}  // namespace laco::cli
