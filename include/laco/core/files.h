// Whole-file reads shared across areas; each caller words its own error.
#pragma once

#include <optional>
#include <string>

namespace laco {

// The file's bytes, or nullopt when it cannot be opened or read (errno tells why).
std::optional<std::string> read_file(const std::string& path);

}  // namespace laco
