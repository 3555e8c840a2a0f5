// Crash-safe file creation: bytes go to a temporary file in the destination's own
// directory, which is fsynced and renamed over the destination, and the directory is
// fsynced, so readers see either the old file or the complete new one, never a torn one.
#pragma once

#include <cstddef>
#include <string>

namespace laco::io {

// Streams one file into place atomically. Nothing is visible at `path` until commit();
// destroying an uncommitted AtomicFile removes the temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // InputError when the dir is not writable
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);  // InternalError on a failed write (e.g. disk full)
  void commit();                               // fsync, rename over `path`, fsync the directory
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Marker inside temporary names ("<dir>/.<name>.laco-tmp.<pid>.<n>"), so a later writer
// can recognise and remove the leftovers of a crashed one.
inline constexpr const char* kTempMarker = ".laco-tmp.";

// fsyncs a directory so that renames and unlinks inside it are durable.
void fsync_dir(const std::string& dir);

}  // namespace laco::io
