// Output-versus-input path checks: see path_guard.h.
#include "laco/io/path_guard.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "laco/core/error.h"

namespace laco::io {
namespace {

namespace fs = std::filesystem;

bool inside(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (dir == "/" || path[dir.size()] == '/');
}

}  // namespace

std::string resolved_path(const std::string& path, const std::string& what) {
  LACO_INPUT_CHECK(!path.empty(), "{}: empty path", what);
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  LACO_INPUT_CHECK(!ec, "{}: cannot resolve '{}': {}", what, path, ec.message());
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

void PathGuard::add_input_file(const std::string& path, const std::string& what) {
  if (path.empty()) return;
  Input in{resolved_path(path, what), what};
  struct stat st {};
  if (::stat(in.path.c_str(), &st) != 0) return;
  in.dev = st.st_dev;
  in.ino = st.st_ino;
  in.dir = S_ISDIR(st.st_mode);
  inputs_.push_back(in);
}

void PathGuard::add_input_dir(const std::string& dir, const std::string& what, bool no_outputs_inside) {
  Input in{resolved_path(dir, what), what};
  struct stat st {};
  if (::stat(in.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;  // its reader reports that
  in.dev = st.st_dev;
  in.ino = st.st_ino;
  in.dir = true;
  in.no_outputs_inside = no_outputs_inside;
  inputs_.push_back(in);
  std::error_code ec;
  // This tool's own run files beside a (pruned) model are outputs, never read as the model.
  static const std::set<std::string> kRunFiles = {"eval_results.json", "laco_report.json", "laco_state.json",
                                                  "profile.h5", ".laco.lock"};
  for (const auto& e : fs::directory_iterator(in.path, ec))
    if (e.is_regular_file(ec) && !kRunFiles.count(e.path().filename().string()))
      add_input_file(e.path().string(), what + " file");
}

const PathGuard::Input* PathGuard::same_file(const std::string& resolved) const {
  struct stat st {};
  const bool exists = ::stat(resolved.c_str(), &st) == 0;
  for (const Input& in : inputs_) {
    if (in.path == resolved) return &in;
    if (exists && in.dev == st.st_dev && in.ino == st.st_ino) return &in;
  }
  return nullptr;
}

void PathGuard::check_output_file(const std::string& path, const std::string& what, bool parent_created) const {
  const std::string out = resolved_path(path, what);
  if (const Input* in = same_file(out))
    throw InputError(fmt::format("{} '{}' is the input '{}' ({}); refusing to overwrite an input, choose "
                                 "another path", what, path, in->path, in->what));
  std::error_code ec;
  LACO_INPUT_CHECK(!fs::is_directory(out, ec), "{}: '{}' is a directory, expected a file path", what, path);
  const fs::path parent = fs::path(out).parent_path();
  LACO_INPUT_CHECK(parent_created || fs::is_directory(parent, ec),
                   "{}: the directory '{}' of '{}' does not exist (create it first)", what,
                   parent.string(), path);
}

void PathGuard::check_output_dir(const std::string& dir, const std::string& what) const {
  const std::string out = resolved_path(dir, what);
  std::error_code ec;
  LACO_INPUT_CHECK(!fs::exists(out, ec) || fs::is_directory(out, ec),
                   "{}: '{}' exists and is not a directory", what, dir);
  for (const Input& in : inputs_) {
    if (in.dir && in.no_outputs_inside) {
      LACO_INPUT_CHECK(out != in.path && !inside(out, in.path),
                       "{} '{}' is or lies inside the input directory '{}' ({}); choose a directory "
                       "outside it", what, dir, in.path, in.what);
      LACO_INPUT_CHECK(!inside(in.path, out), "{} '{}' contains the input directory '{}' ({}); choose "
                       "a directory that does not hold an input", what, dir, in.path, in.what);
    }
    if (!in.dir && inside(in.path, out))
      throw InputError(fmt::format("{} '{}' holds the input file '{}' ({}); choose a directory that "
                                   "does not hold an input", what, dir, in.path, in.what));
  }
  // A file already in the directory may be a hard link to an input: the run would replace it.
  if (!fs::is_directory(out, ec)) return;
  for (const auto& e : fs::directory_iterator(out, ec)) {
    if (!e.is_regular_file(ec)) continue;
    if (const Input* in = same_file(e.path().string()))
      throw InputError(fmt::format("{} '{}' holds '{}', which is the input '{}' ({}; a hard link or "
                                   "the same file); choose another directory", what, dir,
                                   e.path().filename().string(), in->path, in->what));
  }
}

}  // namespace laco::io
