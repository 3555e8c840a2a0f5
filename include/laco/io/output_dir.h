// The directories laco writes into: what an existing one holds (so a rerun, --resume or
// overwrite can be decided before anything is touched), and the one-run-per-directory lock
// (`.laco.lock`, an fcntl lock held from after validation to the end of the run).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace laco::io {

inline constexpr const char* kLockFile = ".laco.lock";

enum class DirContents {
  kAbsent,      // nothing at the path
  kEmpty,       // an empty directory
  kUnfinished,  // only this tool's run files from a run that never completed a round
                // (.laco.lock, an HDF5 profile.h5, temporary files of the atomic writer)
  kRunState,    // holds laco_state.json (a run that completed at least one round)
  kOther,       // anything else (a checkpoint, foreign files)
};

// Classifies `dir` (read-only). `first_foreign` names one entry that makes it kOther.
DirContents inspect_dir(const std::string& dir, std::string* first_foreign = nullptr);

// Who holds `dir`/.laco.lock now ("host H pid P, Slurm job J"), or nullopt when nobody
// does (no lock file, or a stale one: its process is gone, or it carries this process's
// SLURM_JOB_ID — a requeued job). Creates nothing.
std::optional<std::string> lock_holder(const std::string& dir);

// Holds `dir`/.laco.lock (creating the directory and the file) until destroyed. The file
// says who holds it: host, pid, Slurm job id. InputError naming the directory and the
// holder when a live run holds it.
class DirLock {
 public:
  DirLock() = default;
  DirLock(const std::string& dir, const std::string& what);
  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  int fd_ = -1;
};

// Checks `out_dir` for a command that writes a complete directory (convert, eval's output):
// absent, empty or (with `allow_existing`) anything not held by a live run. Returns the
// resolved path. Creates nothing.
std::string check_output_dir_reusable(const std::string& out_dir, bool allow_existing, const std::string& what);

}  // namespace laco::io
