// Rank-aware logging to stderr (stdout stays parseable for machine output).
// init_logging() is called once by main(); library code uses spdlog's default logger.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace laco {

// Configures spdlog's default logger: stderr, pattern "[laco r<rank>] level: msg".
// Ranks other than 0 log only warnings and above unless `all_ranks` is set.
// `level` is one of trace, debug, info, warn, error, off.
void init_logging(int rank, const std::string& level, bool all_ranks = false);

}  // namespace laco
