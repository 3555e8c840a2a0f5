// `laco_dist report PROFILE.h5 [--svg OUT.svg] [--threshold T]`: prints a profile's
// candidate table and per-phase time per rank (load balance) on stdout and writes an SVG
// (similarity vs. threshold, per-rank timeline) next to it. Rank 0 does the work.
#include <cstdio>

#include <fmt/format.h>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/io/atomic_file.h"
#include "laco/io/path_guard.h"
#include "laco/io/profile_h5.h"
#include "laco/io/profile_report.h"

namespace laco::cli {

int cmd_report(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{"report", "PROFILE.h5", "Print a profile's candidate and phase tables and write an SVG plot.",
                    {{"svg", "FILE: where to write the plot (default: the profile's path with .svg)"},
                     {"threshold", "T: the threshold line of the plot (default: the run's laco.threshold)"}},
                    "  laco_dist report out/kjv-16L-laco/profile.h5 --svg /tmp/profile.svg"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1,
                   "report: expected one PROFILE.h5 argument, got {}", args.positional().size());
  if (world.rank() != 0) return kExitOk;  // a single reader; nothing to share

  const std::string path = args.positional()[0];
  const io::ProfileData data = io::read_profile(path);
  double threshold = io::threshold_from_config(data.root.config_toml);
  if (args.has("threshold")) {
    try {
      threshold = std::stod(args.get("threshold"));
    } catch (const std::exception&) {
      throw InputError(fmt::format("report: --threshold expects a number, got '{}'",
                                   args.get("threshold")));
    }
  }
  const std::string svg_path = args.get("svg", io::default_svg_path(path));
  io::PathGuard guard;
  guard.add_input_file(path, "the profile being reported");
  guard.check_output_file(svg_path, "report --svg");

  std::string out = fmt::format("profile {} (laco {}, model {}, {} rank(s), W = {}, started {})\n\n",
                                path, data.root.laco_version, data.root.model_path,
                                data.root.world_size, data.root.candidate_width,
                                data.root.started_at);
  out += fmt::format("candidates (threshold {:.4g}):\n", threshold);
  out += io::format_candidate_table(data);
  out += "\nseconds per phase and rank:\n";
  out += io::format_phase_table(data);
  if (!data.layer_map.empty()) out += fmt::format("\nfinal model: {} layer(s)\n", data.layer_map.size());

  const std::string svg = io::render_profile_svg(data, threshold);
  io::AtomicFile file(svg_path);
  file.write(svg.data(), svg.size());
  file.commit();
  out += fmt::format("wrote {}\n", svg_path);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace laco::cli
