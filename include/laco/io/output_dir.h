// Guarding the directories laco writes into: an output directory is created if absent,
// may not be (or be inside) the input model directory, and an existing non-empty one is
// refused unless the caller allows reuse (--overwrite / --resume).
#pragma once

#include <string>

namespace laco::io {

// Returns the absolute normalized output path. InputError names `what` (the key or
// option that set it) when the directory is unusable. Creates it only when `create`
// (so every rank can run the same read-only check and one rank creates).
std::string prepare_output_dir(const std::string& out_dir, const std::string& input_dir,
                               bool allow_existing, const std::string& what, bool create = true);

}  // namespace laco::io
