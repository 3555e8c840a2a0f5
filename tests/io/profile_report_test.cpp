// Tests of io/profile_report: threshold from the stored config, the text tables against
// hand-computed numbers, and the SVG: balanced tags, one mark per candidate with its
// decision, the threshold line at the right height, one bar per phase row.
#include "laco/io/profile_report.h"

#include <regex>

#include <gtest/gtest.h>

#include "laco/core/error.h"

namespace laco::io {
namespace {

ProfileData sample() {
  ProfileData d;
  d.root.world_size = 2;
  d.root.candidate_width = 2;
  d.root.config_toml = "[laco]\nthreshold = 0.8\n";
  d.candidates = {
      {0, 0, 6, 1, 6, 7, 0.93, 1, 0, 0.1, 1.0, 0.01},   // accepted
      {0, 1, 5, 1, 5, 6, 0.95, 1, 1, 0.1, 1.0, 0.01},   // discarded (speculative)
      {1, 0, 4, 1, 4, 5, 0.61, 0, 0, 0.1, 1.0, 0.01},   // rejected
      {1, 1, 3, 1, 3, 4, 0.85, 1, 0, 0.1, 1.0, 0.01},   // accepted
  };
  d.phases = {{0, "load", 0.0, 2.0, 0},      {1, "load", 0.0, 1.0, 0},
              {0, "candidate", 2.0, 5.0, 0}, {1, "candidate", 1.0, 2.0, 0},
              {1, "a<b&c", 2.0, 3.0, 0}};
  d.memory = {{0, int64_t(1) << 20, 0}, {1, int64_t(3) << 30, 0}};
  return d;
}

// Every <tag> is closed by </tag> in order, or self-closed; returns "" or the problem.
std::string tag_balance_error(const std::string& svg) {
  std::vector<std::string> stack;
  std::regex tag(R"re(<(/?)([A-Za-z?][\w:.-]*)[^>]*?(/?)>)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[2];
    if (name[0] == '?') continue;  // <?xml ...?>
    if ((*it)[1] == "/") {
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
    } else if ((*it)[3] != "/") {
      stack.push_back(name);
    }
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(ProfileReport, ThresholdFromConfig) {
  EXPECT_EQ(threshold_from_config(""), kDefaultThreshold);
  EXPECT_EQ(threshold_from_config("[model]\npath = \"x\"\n"), 0.65);
  EXPECT_EQ(threshold_from_config("[laco]\nthreshold = 0.72\n"), 0.72);
  EXPECT_EQ(threshold_from_config("[laco]\nthreshold = 1\n"), 1.0);  // TOML integer
  EXPECT_THROW(threshold_from_config("[laco]\nthreshold = \"high\"\n"), InputError);
  try {
    threshold_from_config("[laco\nthreshold = 0.7");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("config_toml is not valid TOML"), std::string::npos);
  }
}

TEST(ProfileReport, DefaultSvgPath) {
  EXPECT_EQ(default_svg_path("out/profile.h5"), "out/profile.svg");
  EXPECT_EQ(default_svg_path("profile"), "profile.svg");
  EXPECT_EQ(default_svg_path("a.b/profile"), "a.b/profile.svg");
  EXPECT_EQ(default_svg_path("/x/.hidden"), "/x/.hidden.svg");
}

TEST(ProfileReport, CandidateTable) {
  std::string t = format_candidate_table(sample());
  EXPECT_EQ(count(t, "\n"), 6u);  // header, 4 rows, summary
  EXPECT_NE(t.find("0.930000  accepted"), std::string::npos) << t;
  EXPECT_NE(t.find("0.950000 discarded"), std::string::npos) << t;
  EXPECT_NE(t.find("0.610000  rejected"), std::string::npos) << t;
  EXPECT_NE(t.find("4 candidate(s): 2 accepted, 1 rejected, 1 discarded"), std::string::npos) << t;
}

TEST(ProfileReport, PhaseTableSumsPerRank) {
  std::string t = format_phase_table(sample());
  // rank 0: load 2 + candidate 3 = 5 s busy; rank 1: 1 + 1 + 1 = 3 s. mean 4, max 5.
  EXPECT_NE(t.find("load            2.000      1.000"), std::string::npos) << t;
  EXPECT_NE(t.find("candidate       3.000      1.000"), std::string::npos) << t;
  EXPECT_NE(t.find("busy            5.000      3.000"), std::string::npos) << t;
  EXPECT_NE(t.find("elapsed         5.000      3.000"), std::string::npos) << t;  // last phase end
  EXPECT_NE(t.find("load imbalance (max / mean busy): 1.250"), std::string::npos) << t;
  EXPECT_NE(t.find("1.0 MiB"), std::string::npos) << t;
  EXPECT_NE(t.find("3.0 GiB"), std::string::npos) << t;
  // Pipeline order first, unknown phases after.
  EXPECT_LT(t.find("load"), t.find("candidate"));
  EXPECT_LT(t.find("candidate"), t.find("a<b&c"));
}

TEST(ProfileReport, SvgIsWellFormedAndHasEveryCandidate) {
  ProfileData d = sample();
  std::string svg = render_profile_svg(d, 0.8);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(tag_balance_error(svg), "");
  // One circle per candidate plus three legend marks.
  EXPECT_EQ(count(svg, "class=\"candidate accepted\""), 2u + 1u);
  EXPECT_EQ(count(svg, "class=\"candidate rejected\""), 1u + 1u);
  EXPECT_EQ(count(svg, "class=\"candidate discarded\""), 1u + 1u);
  for (const char* sim : {"0.930000", "0.950000", "0.610000", "0.850000"}) {
    EXPECT_NE(svg.find(std::string("similarity ") + sim), std::string::npos) << sim;
  }
  EXPECT_EQ(count(svg, "class=\"merge\""), 2u);  // accepted, not discarded
  EXPECT_NE(svg.find("merged 3-4"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"phase\""), d.phases.size());
  EXPECT_NE(svg.find("a&lt;b&amp;c"), std::string::npos);  // escaped
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("T = 0.8"), std::string::npos);
}

TEST(ProfileReport, ThresholdLineSeparatesAcceptedFromRejected) {
  std::string svg = render_profile_svg(sample(), 0.8);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex(R"re(y1="([\d.]+)"[^>]*class="threshold")re")));
  const double threshold_y = std::stod(m[1]);
  // SVG y grows downwards: accepted points (sim > T) lie above the line, rejected below.
  std::regex circle(R"re(cy="([\d.]+)" r="5" class="candidate (accepted|rejected)"><title>)re");
  int seen = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator();
       ++it, ++seen) {
    const double y = std::stod((*it)[1]);
    if ((*it)[2] == "accepted") {
      EXPECT_LT(y, threshold_y);
    } else {
      EXPECT_GT(y, threshold_y);
    }
  }
  EXPECT_EQ(seen, 3);
}

TEST(ProfileReport, EmptyProfileStillRenders) {
  ProfileData d;
  std::string svg = render_profile_svg(d, 0.65);
  EXPECT_EQ(tag_balance_error(svg), "");
  EXPECT_NE(svg.find("no candidates recorded"), std::string::npos);
  EXPECT_NE(svg.find("no phases recorded"), std::string::npos);
  EXPECT_NE(format_candidate_table(d).find("0 candidate(s)"), std::string::npos);
}

}  // namespace
}  // namespace laco::io
