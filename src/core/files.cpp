// Whole-file reads: see files.h.
#include "laco/core/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <system_error>

#include "laco/core/error.h"

namespace laco {

uint64_t require_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  struct stat st {};
  LACO_INPUT_CHECK(::stat(path.c_str(), &st) == 0, "{}: cannot open '{}': {}", what, path,
                   std::error_code(errno, std::generic_category()).message());
  const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : nullptr;
  LACO_INPUT_CHECK(kind == nullptr, "{}: '{}' is {}, expected a regular file", what, path, kind);
  const auto size = static_cast<uint64_t>(st.st_size);
  LACO_INPUT_CHECK(size <= max_bytes, "{}: '{}' has {} bytes, more than the {} MiB such a file may have", what,
                   path, size, max_bytes >> 20);
  return size;
}


std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

}  // namespace laco
