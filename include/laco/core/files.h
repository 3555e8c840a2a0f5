// Whole-file reads shared across areas; each caller words its own error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace laco {

// Refuses (InputError naming `what` and the path) anything but an existing regular file of
// at most `max_bytes`: a missing path, a directory, a device (/dev/zero), a FIFO, a socket.
// Returns the file's size.
uint64_t require_regular_file(const std::string& path, const std::string& what,
                              uint64_t max_bytes = UINT64_MAX);

// The file's bytes, or nullopt when it cannot be opened or read (errno tells why).
std::optional<std::string> read_file(const std::string& path);

}  // namespace laco
