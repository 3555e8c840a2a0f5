// Whole-file reads: see files.h.
#include "laco/core/files.h"

#include <fstream>
#include <sstream>

namespace laco {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

}  // namespace laco
