// Rank-aware stderr logger: see include/laco/core/log.h.
#include "laco/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "laco/core/error.h"

namespace laco {

void init_logging(int rank, const std::string& level, bool all_ranks) {
  auto logger = spdlog::stderr_logger_mt("laco");
  logger->set_pattern(fmt::format("[laco r{}] %^%l%$: %v", rank));
  spdlog::level::level_enum lvl = spdlog::level::from_str(level);
  LACO_INPUT_CHECK(spdlog::level::to_string_view(lvl) == level || level == "warn",
                   "--log-level: unknown level '{}' (expected trace, debug, info, warn, error, off)",
                   level);
  if (rank != 0 && !all_ranks && lvl < spdlog::level::warn) lvl = spdlog::level::warn;
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
}

}  // namespace laco
