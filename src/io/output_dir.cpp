// Output directory checks: see output_dir.h.
#include "laco/io/output_dir.h"

#include <filesystem>

#include "laco/core/error.h"

namespace laco::io {

namespace fs = std::filesystem;

std::string prepare_output_dir(const std::string& out_dir, const std::string& input_dir,
                               bool allow_existing, const std::string& what, bool create) {
  LACO_INPUT_CHECK(!out_dir.empty(), "{}: the output directory is empty", what);
  const fs::path out = fs::weakly_canonical(fs::absolute(out_dir));
  const fs::path in = fs::weakly_canonical(fs::absolute(input_dir));
  LACO_INPUT_CHECK(out != in, "{}: output directory '{}' is the input model directory; choose "
                   "another directory", what, out.string());
  std::error_code ec;
  if (fs::exists(out, ec)) {
    LACO_INPUT_CHECK(fs::is_directory(out, ec), "{}: '{}' exists and is not a directory", what,
                     out.string());
    LACO_INPUT_CHECK(allow_existing || fs::is_empty(out, ec),
                     "{}: output directory '{}' exists and is not empty (use overwrite = true / "
                     "--overwrite, or --resume to continue a run)", what, out.string());
  } else if (create) {
    fs::create_directories(out, ec);
    LACO_INPUT_CHECK(!ec, "{}: cannot create output directory '{}': {}", what, out.string(),
                     ec.message());
  }
  return out.string();
}

}  // namespace laco::io
