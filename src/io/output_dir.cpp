// Output directory contents and the run lock: see output_dir.h.
#include "laco/io/output_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/io/atomic_file.h"
#include "laco/io/path_guard.h"

namespace laco::io {
namespace {

namespace fs = std::filesystem;

bool is_hdf5(const fs::path& p) {
  char sig[8] = {};
  std::ifstream f(p, std::ios::binary);
  return f.read(sig, 8) && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

std::string slurm_job_id() {
  const char* v = std::getenv("SLURM_JOB_ID");
  return v ? v : "";
}

// "host H pid P, Slurm job J" from the lock file's lines host=/pid=/slurm_job_id=.
struct LockInfo {
  std::string host, pid, job;
  std::string describe() const {
    return fmt::format("host {} pid {}{}", host.empty() ? "?" : host, pid.empty() ? "?" : pid,
                       job.empty() ? "" : ", Slurm job " + job);
  }
};

LockInfo read_lock_info(int fd) {
  LockInfo info;
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    if (line.rfind("host=", 0) == 0) info.host = line.substr(5);
    if (line.rfind("pid=", 0) == 0) info.pid = line.substr(4);
    if (line.rfind("slurm_job_id=", 0) == 0) info.job = line.substr(13);
    pos = end + 1;
  }
  return info;
}

bool held_by_other(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

}  // namespace

DirContents inspect_dir(const std::string& dir, std::string* first_foreign) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return DirContents::kAbsent;
  bool any = false, state = false, foreign = false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    any = true;
    const std::string name = e.path().filename().string();
    if (name == "laco_state.json") {
      state = true;
    } else if (!(name == kLockFile || name.find(kTempMarker) != std::string::npos ||
                 (name == "profile.h5" && is_hdf5(e.path())))) {
      if (!foreign && first_foreign) *first_foreign = name;
      foreign = true;
    }
  }
  LACO_INPUT_CHECK(!ec, "cannot list the directory '{}': {}", dir, ec.message());
  if (!any) return DirContents::kEmpty;
  if (state) return DirContents::kRunState;
  return foreign ? DirContents::kOther : DirContents::kUnfinished;
}

std::optional<std::string> lock_holder(const std::string& dir) {
  const std::string path = dir + "/" + kLockFile;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> holder;
  if (held_by_other(fd)) {
    const LockInfo info = read_lock_info(fd);
    if (info.job.empty() || info.job != slurm_job_id()) holder = info.describe();
  }
  ::close(fd);
  return holder;
}

DirLock::DirLock(const std::string& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  LACO_INPUT_CHECK(!ec, "{}: cannot create the directory '{}': {}", what, dir, ec.message());
  const std::string path = dir + "/" + kLockFile;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  LACO_INPUT_CHECK(fd_ >= 0, "{}: cannot create the lock file '{}': {}", what, path, std::strerror(errno));
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd_, F_SETLK, &fl) != 0) {
    const int err = errno;
    const LockInfo info = read_lock_info(fd_);
    if (err != EAGAIN && err != EACCES) {
      ::close(fd_);
      fd_ = -1;
      throw InputError(fmt::format("{}: cannot lock '{}': {} (on NFS this needs a lock manager, on "
                                   "Lustre the flock mount option; see docs/io.md)", what, path,
                                   std::strerror(err)));
    }
    if (info.job.empty() || info.job != slurm_job_id()) {
      ::close(fd_);
      fd_ = -1;
      throw InputError(fmt::format("{}: the directory '{}' is in use by another run ({}; lock file {}); "
                                   "wait for it to end or choose another directory", what, dir,
                                   info.describe(), path));
    }
    spdlog::warn("{}: '{}' is still locked by this Slurm job ({}), taken as a requeued run", what, path,
                 info.describe());
  }
  const std::string text = fmt::format("host={}\npid={}\nslurm_job_id={}\n", host_name(), ::getpid(), slurm_job_id());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    spdlog::warn("{}: cannot write '{}': {}", what, path, std::strerror(errno));
}

DirLock::DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (unlinking it would race)
}

std::string check_output_dir_reusable(const std::string& out_dir, bool allow_existing, const std::string& what) {
  const std::string out = resolved_path(out_dir, what);
  const DirContents contents = inspect_dir(out);
  if (contents == DirContents::kAbsent || contents == DirContents::kEmpty) return out;
  if (auto holder = lock_holder(out))
    throw InputError(fmt::format("{}: the directory '{}' is in use by another run ({}); wait for it to end "
                                 "or choose another directory", what, out, *holder));
  LACO_INPUT_CHECK(allow_existing || contents == DirContents::kUnfinished,
                   "{}: output directory '{}' exists and is not empty (use --overwrite, or choose another "
                   "directory)", what, out);
  return out;
}

}  // namespace laco::io
