// The small 70B-shaped slice (issue 12 item 7; bench/slice_writer.h at hidden 1024, bfloat16
// checkpoint, float32 compute, C = 2, 4 samples x 64 tokens): streamed and resident prunes
// of 3 layers give the same report and checkpoint bytes, and the streamed run's peak
// anonymous memory (profile /memory) grows by less than one float32 layer from 3 to 6
// layers and stays within the activation cache + (C + 2) float32 layers + 400 MB; the
// memory plan's peak per rank is within 5 % + 24 MB (heap slack) of the measured peak above
// the baseline (the rank's RssAnon before it loads the replica) for each of the three runs.
#include <filesystem>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "../../bench/slice_writer.h"
#include "dist/quick_prune.h"
#include "laco/io/profile_h5.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

struct Pruned {
  std::string dir;
  io::MemoryRow memory;
  int64_t cache_bytes = 0;
};

std::vector<std::string> settings(const std::string& model) {
  return {"--set", "model.path=" + model, "--set", "calibration.samples=4", "--set", "calibration.max_tokens=64",
          "--set", "laco.merge_layers=2", "--set", "laco.threshold=0.9999", "--set", "model.threads=1"};
}

Pruned prune(const TempDir& root, const std::string& model, const std::string& name, const std::string& placement) {
  Pruned p{root.file(name), {}, 0};
  std::vector<std::string> args = {"prune", quickstart_config(), "--set", "output.dir=" + p.dir, "--set",
                                   "model.placement=" + placement, "--quiet"};
  for (const auto& s : settings(model)) args.push_back(s);
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const io::ProfileData d = io::read_profile(p.dir + "/profile.h5");
  if (!d.memory.empty()) p.memory = d.memory.front();
  for (const auto& ph : d.phases)
    if (ph.phase == "cache") p.cache_bytes = ph.bytes;
  return p;
}

// A row of `laco_dist plan` as (resident, stream) bytes.
std::pair<double, double> plan_row(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no '" << label << "' line in\n" << out;
    return {0, 0};
  }
  std::istringstream line(out.substr(at + label.size(), out.find('\n', at) - at - label.size()));
  std::string word;
  std::vector<double> values;
  double last = 0;
  auto scale = [](const std::string& u) { return u == "GB" ? 1e9 : u == "MB" ? 1e6 : u == "kB" ? 1e3 : u == "B" ? 1.0 : 0.0; };
  while (line >> word) {
    if (scale(word) > 0 && !values.empty()) values.back() = last * scale(word);
    else if (std::isdigit(static_cast<unsigned char>(word[0]))) values.push_back(last = std::stod(word));
    else if (word == "-") values.push_back(0);
  }
  if (values.size() < 2) ADD_FAILURE() << "cannot read '" << label << "' in\n" << out;
  return values.size() < 2 ? std::pair<double, double>{0, 0} : std::pair<double, double>{values[values.size() - 2], values.back()};
}

// The plan's peak per rank of (resident, stream) in bytes, without the worst case of
// accepted merges (the runs here accept none).
std::pair<double, double> planned_peaks(const std::string& model) {
  std::vector<std::string> args = {"plan", quickstart_config()};
  for (const auto& s : settings(model)) args.push_back(s);
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto peak = plan_row(r.out, "peak per rank (host memory)");
  const auto merges = plan_row(r.out, "accepted merges, up to ");
  return {peak.first - merges.first, peak.second - merges.second};
}

std::string slice(const TempDir& root, int64_t layers) {
  const std::string dir = root.file("slice" + std::to_string(layers));
  std::filesystem::create_directories(dir);
  bench::write_slice(dir, layers, 1024);
  std::filesystem::copy_file(asset("tokenizers/llama2/tokenizer.json"), dir + "/tokenizer.json");
  return dir;
}

TEST(StreamSlice, StreamedMatchesResidentAndItsMemoryDoesNotGrowWithTheModel) {
  LACO_REQUIRE_ASSET("tokenizers/llama2/tokenizer.json");
  LACO_REQUIRE_ASSET("data/kjv/kjv_verses.txt");
  TempDir root;
  const std::string three = slice(root, 3), six = slice(root, 6);
  const Pruned resident = prune(root, three, "r3", "resident"), s3 = prune(root, three, "s3", "stream"),
               s6 = prune(root, six, "s6", "stream");
  EXPECT_EQ(read_file(resident.dir + "/model.safetensors"), read_file(s3.dir + "/model.safetensors"));
  auto decisions = [](const std::string& dir) {
    nlohmann::json j = nlohmann::json::parse(read_file(dir + "/laco_report.json")).at("candidates");
    for (auto& c : j) c.erase("seconds");
    return j;
  };
  EXPECT_EQ(decisions(resident.dir), decisions(s3.dir));
  // One layer in float32: q, o 1024^2; k, v 128 x 1024; gate, up, down 3584 x 1024; 2 norms.
  const double layer = 4.0 * (2 * 1024.0 * 1024 + 2 * 128.0 * 1024 + 3 * 3584.0 * 1024 + 2 * 1024);
  const double mb = 1024.0 * 1024;
  std::printf("peak anonymous memory: resident 3 layers %.1f MB, stream 3 layers %.1f MB, stream 6 layers %.1f MB "
              "(one float32 layer %.1f MB, activation cache %.1f MB)\n",
              resident.memory.peak_anon_bytes / mb, s3.memory.peak_anon_bytes / mb, s6.memory.peak_anon_bytes / mb,
              layer / mb, s6.cache_bytes / mb);
  ASSERT_GT(s3.memory.peak_anon_bytes, 0) << "no RssAnon sample in the profile";
  EXPECT_LT(static_cast<double>(s6.memory.peak_anon_bytes - s3.memory.peak_anon_bytes), layer);
  EXPECT_LT(static_cast<double>(s6.memory.peak_anon_bytes), static_cast<double>(s6.cache_bytes) + 4 * layer + 400 * mb);
  EXPECT_LT(s3.memory.peak_anon_bytes, resident.memory.peak_anon_bytes);
  const auto [r3_plan, s3_plan] = planned_peaks(three);
  const auto [r6_plan, s6_plan] = planned_peaks(six);
  (void)r6_plan;
  for (const auto& [what, planned, run] : std::vector<std::tuple<std::string, double, const Pruned*>>{
           {"resident 3 layers", r3_plan, &resident}, {"stream 3 layers", s3_plan, &s3}, {"stream 6 layers", s6_plan, &s6}}) {
    const double measured = static_cast<double>(run->memory.peak_anon_bytes - run->memory.baseline_anon_bytes);
    std::printf("%s: planned %.1f MB, measured %.1f MB above the baseline of %.1f MB (%+.1f %%)\n", what.c_str(),
                planned / 1e6, measured / 1e6, run->memory.baseline_anon_bytes / 1e6, 100.0 * (planned - measured) / measured);
    // 5 % + 24 MB: besides what the plan counts, glibc keeps freed activation blocks in the
    // heap between the trims (release_free_heap after the reference pass and each round):
    // 0 to 20 MB seen on this 100 MB run, never a layer (51 MB) or the merge sums (29 MB),
    // which a plan that forgot them would miss by.
    EXPECT_NEAR(planned, measured, 0.05 * measured + 24e6) << what;
  }
}

}  // namespace
}  // namespace laco::test
