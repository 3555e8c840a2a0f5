// No output may overwrite an input: every path a command writes is checked against every
// path it reads, after resolving symlinks and comparing device + inode (hard links), before
// anything is created or removed. Errors are InputErrors naming both paths and what set them.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace laco::io {

// The absolute path with every symlink of its existing prefix resolved (the path itself
// need not exist). A symlink loop or an unreadable component is an InputError naming
// `what` and the path.
std::string resolved_path(const std::string& path, const std::string& what);

class PathGuard {
 public:
  // An input file (ignored when it does not exist: its reader reports that).
  void add_input_file(const std::string& path, const std::string& what);
  // An input directory: the directory and every regular file at its top level (a model
  // directory: config.json, weights, index, tokenizer files), except this tool's run files
  // (eval_results.json, laco_report.json, laco_state.json, profile.h5, .laco.lock). With `no_outputs_inside`,
  // output directories may neither lie inside it nor contain it (model.path).
  void add_input_dir(const std::string& dir, const std::string& what, bool no_outputs_inside);

  // A file the command will write (and may replace): refused when it is an input (same
  // device + inode, or the same resolved path), when it is a directory, or when its parent
  // directory does not exist, unless `parent_created` (the parent is an output directory
  // the command creates).
  void check_output_file(const std::string& path, const std::string& what, bool parent_created = false) const;
  // A directory the command writes into: refused when it is or lies inside an input
  // directory marked no_outputs_inside, contains one, or holds an input file anywhere
  // below it; an existing non-directory at the path is refused too.
  void check_output_dir(const std::string& dir, const std::string& what) const;

 private:
  struct Input {
    std::string path, what;  // resolved path; what set it ("model.path", "calibration.file")
    dev_t dev = 0;
    ino_t ino = 0;
    bool dir = false, no_outputs_inside = false;
  };
  const Input* same_file(const std::string& resolved) const;
  std::vector<Input> inputs_;
};

}  // namespace laco::io
