// AtomicFile: temporary file + fsync + rename + directory fsync (see atomic_file.h).
#include "laco/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "laco/core/error.h"

namespace laco::io {
namespace {

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path p(path);
  std::string name = "." + p.filename().string() + kTempMarker + std::to_string(getpid()) + "." +
                     std::to_string(counter++);
  return (p.parent_path() / name).string();
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), tmp_path_(temp_name(path)) {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  LACO_INPUT_CHECK(fd_ >= 0, "cannot create '{}' (temporary file for '{}'): {}", tmp_path_, path_,
                   std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  LACO_CHECK(fd_ >= 0 && !committed_, "write to '{}' after commit", path_);
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    LACO_CHECK(n > 0, "writing '{}' failed: {}", tmp_path_, std::strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  LACO_CHECK(fd_ >= 0 && !committed_, "'{}' committed twice", path_);
  LACO_CHECK(::fsync(fd_) == 0, "fsync of '{}' failed: {}", tmp_path_, std::strerror(errno));
  int rc = ::close(fd_);
  fd_ = -1;
  LACO_CHECK(rc == 0, "closing '{}' failed: {}", tmp_path_, std::strerror(errno));
  LACO_CHECK(::rename(tmp_path_.c_str(), path_.c_str()) == 0, "renaming '{}' to '{}' failed: {}",
             tmp_path_, path_, std::strerror(errno));
  committed_ = true;
  fsync_dir(parent_dir(path_));
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  LACO_CHECK(fd >= 0, "cannot open directory '{}' to fsync it: {}", dir, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems (e.g. certain network mounts) refuse fsync on directories.
  LACO_CHECK(rc == 0 || err == EINVAL || err == ENOTSUP, "fsync of directory '{}' failed: {}", dir,
             std::strerror(err));
}

}  // namespace laco::io
