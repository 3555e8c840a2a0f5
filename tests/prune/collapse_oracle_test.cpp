// The collapse loop against an independent oracle: a scripted evaluator returns
// similarities from a table keyed by the ORIGINAL layers a candidate merges (it keeps
// its own layer map), and each test compares the loop's (l, K, accept) sequence with a
// sequence traced by hand from DESIGN §1 (start at l = H - C; K = min(C - 1, layers
// above l, budget left); accept when similarity > T, then l -= I, else l -= 1; stop when
// l < L or the budget is spent). Covers C = 4 with I = 2, a max_removed_layers budget, the
// bottom of the range, and C = 2 with I = 3; each trace also runs with W = 2 and 3, whose
// non-discarded candidates must equal W = 1's.
#include <map>

#include "laco/prune/collapse.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

using Range = std::pair<int64_t, int64_t>;  // first and last original layer of a candidate
using Table = std::map<Range, double>;

// An Evaluator with no model: a layer map of its own, similarities from a table.
class ScriptedEvaluator : public Evaluator {
 public:
  struct Evaluation {
    int64_t round, base, followers;
    Range range;
  };

  ScriptedEvaluator(int64_t layers, Table table, int width) : table_(std::move(table)), width_(width) {
    for (int64_t i = 0; i < layers; ++i) map_.push_back({i});
  }
  int width() const override { return width_; }
  int64_t num_layers() const override { return static_cast<int64_t>(map_.size()); }
  std::vector<std::vector<int64_t>> layer_map() const override { return map_; }

  std::vector<CandidateOutcome> evaluate(const std::vector<Candidate>& cands) override {
    std::vector<CandidateOutcome> out;
    for (const Candidate& c : cands) {
      EXPECT_TRUE(c.base >= 0 && c.followers >= 1 && c.base + c.followers < num_layers())
          << "invalid candidate l=" << c.base << " K=" << c.followers << " of " << num_layers() << " layers";
      const Range r{map_.at(static_cast<size_t>(c.base)).front(),
                    map_.at(static_cast<size_t>(c.base + c.followers)).back()};
      log_.push_back({rounds_, c.base, c.followers, r});
      auto it = table_.find(r);
      if (it == table_.end()) unscripted_.push_back(r);
      CandidateOutcome o;
      o.similarity = it == table_.end() ? 0.0 : it->second;  // unscripted: a clear reject
      o.samples_evaluated = 1;
      out.push_back(o);
    }
    ++rounds_;
    return out;
  }

  void apply(const Candidate& c) override {
    ASSERT_LT(c.base + c.followers, num_layers());
    auto first = map_.begin() + c.base, last = first + c.followers + 1;
    std::vector<int64_t> merged;
    for (auto it = first; it != last; ++it) merged.insert(merged.end(), it->begin(), it->end());
    *first = merged;
    map_.erase(first + 1, last);
  }

  const std::vector<Evaluation>& log() const { return log_; }
  const std::vector<Range>& unscripted() const { return unscripted_; }

 private:
  Table table_;
  int width_;
  std::vector<std::vector<int64_t>> map_;  // current layer -> original layers
  std::vector<Evaluation> log_;
  std::vector<Range> unscripted_;
  int64_t rounds_ = 0;
};

struct Step {
  int64_t l, k, first, last;
  bool accept;
};

struct LoopRun {
  CollapseState state;
  std::vector<std::vector<int64_t>> map;
  std::vector<ScriptedEvaluator::Evaluation> log;
  std::vector<Range> unscripted;
};

LoopRun run(const CollapseParams& p, int64_t layers, const Table& table, int width) {
  ScriptedEvaluator ev(layers, table, width);
  LoopRun r;
  r.state = initial_state(p);
  run_collapse(p, ev, r.state);
  r.map = ev.layer_map();
  r.log = ev.log();
  r.unscripted = ev.unscripted();
  return r;
}

std::vector<int64_t> iota(int64_t first, int64_t last) {
  std::vector<int64_t> v;
  for (int64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

// Checks a W = 1 run step by step against the hand trace, then W = 2 and 3 against W = 1.
void expect_trace(const CollapseParams& p, int64_t layers, const Table& table, const std::vector<Step>& expected,
                  int64_t final_layers) {
  const LoopRun seq = run(p, layers, table, 1);
  EXPECT_TRUE(seq.unscripted.empty()) << "evaluated a candidate the trace does not contain, e.g. originals "
                                      << seq.unscripted.front().first << ".." << seq.unscripted.front().second;
  ASSERT_EQ(seq.state.records.size(), expected.size()) << "number of candidates";
  ASSERT_EQ(seq.log.size(), expected.size()) << "number of evaluations";
  int64_t removed = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const Step& e = expected[i];
    const CandidateRecord& r = seq.state.records[i];
    SCOPED_TRACE(testing::Message() << "step " << i << ": expected l=" << e.l << " K=" << e.k);
    EXPECT_EQ(r.step, static_cast<int64_t>(i));
    EXPECT_EQ(r.candidate.base, e.l);
    EXPECT_EQ(r.candidate.followers, e.k);
    EXPECT_EQ(r.original_layers, iota(e.first, e.last));
    EXPECT_EQ(seq.log[i].range, Range(e.first, e.last));  // the evaluator's own layer map agrees
    EXPECT_EQ(r.accepted, e.accept);
    EXPECT_FALSE(r.discarded);
    if (e.accept) removed += e.k;
  }
  EXPECT_TRUE(seq.state.finished);
  EXPECT_EQ(seq.state.removed, removed);
  EXPECT_EQ(static_cast<int64_t>(seq.map.size()), final_layers);
  EXPECT_EQ(layers - removed, final_layers);

  for (int width : {2, 3}) {
    SCOPED_TRACE(testing::Message() << "W = " << width);
    const LoopRun wide = run(p, layers, table, width);
    std::vector<const CandidateRecord*> kept;
    for (const auto& r : wide.state.records)
      if (!r.discarded) kept.push_back(&r);
    ASSERT_EQ(kept.size(), seq.state.records.size());
    for (size_t i = 0; i < kept.size(); ++i) {
      const CandidateRecord& a = seq.state.records[i];
      const CandidateRecord& b = *kept[i];
      EXPECT_EQ(b.step, a.step);
      EXPECT_EQ(b.candidate.base, a.candidate.base) << "step " << i;
      EXPECT_EQ(b.candidate.followers, a.candidate.followers) << "step " << i;
      EXPECT_EQ(b.original_layers, a.original_layers) << "step " << i;
      EXPECT_EQ(b.accepted, a.accepted) << "step " << i;
      EXPECT_EQ(b.outcome.similarity, a.outcome.similarity) << "step " << i;
    }
    for (const auto& r : wide.state.records) EXPECT_EQ(r.step == -1, r.discarded);
    EXPECT_EQ(wide.map, seq.map);
    EXPECT_EQ(wide.state.removed, seq.state.removed);
    EXPECT_EQ(wide.state.accepted.size(), seq.state.accepted.size());
  }
}

CollapseParams params(int64_t c, int64_t i, int64_t lowest, int64_t highest, int64_t max_removed = 0) {
  CollapseParams p;
  p.merge_layers = c;
  p.interval = i;
  p.lowest = lowest;
  p.highest = highest;
  p.threshold = 0.5;
  p.max_removed = max_removed;
  return p;
}

// Similarities for the 16-layer traces, by original layers (first, last).
Table sixteen_layer_table() {
  return {{{12, 15}, 0.90}, {{10, 15}, 0.40}, {{9, 15}, 0.30}, {{8, 11}, 0.80}, {{6, 15}, 0.20},
          {{5, 11}, 0.45}, {{4, 7}, 0.70}, {{2, 11}, 0.10},
          {{1, 7}, 0.50},    // exactly T: rejected (the rule is similarity > T)
          {{9, 11}, 0.85}};  // reached only under the budget of case (2)
}

// (1) C = 4, I = 2, L = 1, H = 16 on 16 layers, T = 0.5. Start l = H - C = 12.
//  step 0: l=12, n=16, K = min(3, 16-12-1=3) = 3, layers 12..15 = orig 12..15, 0.90 ACCEPT
//          -> n = 13 (12 is now orig 12..15), l = 12 - I = 10
//  step 1: l=10, K = min(3, 13-10-1=2) = 2 (clipped by the layers above), layers 10..12 =
//          orig 10..15, 0.40 reject -> l = 9
//  step 2: l=9,  K = min(3, 13-9-1=3) = 3, layers 9..12 = orig 9..15, 0.30 reject -> l = 8
//  step 3: l=8,  K = 3, layers 8..11 = orig 8..11, 0.80 ACCEPT -> n = 10, l = 6
//  step 4: l=6,  K = min(3, 10-6-1=3) = 3, layers 6..9 = orig 6..15, 0.20 reject -> l = 5
//  step 5: l=5,  K = 3, layers 5..8 = orig 5..11, 0.45 reject -> l = 4
//  step 6: l=4,  K = 3, layers 4..7 = orig 4..7, 0.70 ACCEPT -> n = 7, l = 2
//  step 7: l=2,  K = min(3, 7-2-1=4) = 3, layers 2..5 = orig 2..11, 0.10 reject -> l = 1
//  step 8: l=1,  K = 3, layers 1..4 = orig 1..7, 0.50 = T reject -> l = 0 < L: end.
//  Final: 16 - 9 = 7 layers {0}, {1}, {2}, {3}, {4..7}, {8..11}, {12..15}.
//  (With l -= 1 after an accept, step 1 would be l=11 over orig 11..15.)
TEST(CollapseOracle, MergeFourIntervalTwo) {
  expect_trace(params(4, 2, 1, 16), 16, sixteen_layer_table(),
               {{12, 3, 12, 15, true}, {10, 2, 10, 15, false}, {9, 3, 9, 15, false}, {8, 3, 8, 11, true},
                {6, 3, 6, 15, false}, {5, 3, 5, 11, false}, {4, 3, 4, 7, true}, {2, 3, 2, 11, false},
                {1, 3, 1, 7, false}},
               7);
}

// (2) As (1) with max_removed_layers = 5.
//  step 0: l=12, budget 5, K = min(3, 3, 5) = 3, orig 12..15, 0.90 ACCEPT -> removed 3,
//          n = 13, l = 10
//  step 1: l=10, budget 2, K = min(3, 2, 2) = 2, orig 10..15, 0.40 reject -> l = 9
//  step 2: l=9,  budget 2, K = min(3, 3, 2) = 2 (clipped by the budget), layers 9..11 =
//          orig 9..11, 0.85 ACCEPT -> removed 5, n = 11, l = 7
//  budget 5 - 5 = 0: end, although l = 7 >= L.
//  Final: 11 layers, {0} .. {8}, {9..11}, {12..15}.
//  (Without subtracting the removed layers, step 2 would take K = 3 over orig 9..15.)
TEST(CollapseOracle, BudgetClipsTheLastMergeAndEndsTheLoop) {
  expect_trace(params(4, 2, 1, 16, 5), 16, sixteen_layer_table(),
               {{12, 3, 12, 15, true}, {10, 2, 10, 15, false}, {9, 2, 9, 11, true}}, 11);
}

// (3) Bottom of the range: C = 3, I = 1, L = 3, H = 8 on 8 layers. Start l = 8 - 3 = 5.
//  step 0: l=5, K = min(2, 8-5-1=2) = 2, orig 5..7, 0.90 ACCEPT -> n = 6, l = 4
//  step 1: l=4, K = min(2, 6-4-1=1) = 1 (clipped by the layers above), layers 4..5 =
//          orig 4..7, 0.20 reject -> l = 3
//  step 2: l=3 = L (inclusive), K = min(2, 6-3-1=2) = 2, layers 3..5 = orig 3..7,
//          0.80 ACCEPT -> n = 4, l = 2 < L: end.
//  Final: 4 layers {0}, {1}, {2}, {3..7}. (Stopping at l <= L would skip step 2: 6 layers.)
TEST(CollapseOracle, BottomOfTheRangeIsInclusive) {
  expect_trace(params(3, 1, 3, 8), 8, {{{5, 7}, 0.90}, {{4, 7}, 0.20}, {{3, 7}, 0.80}},
               {{5, 2, 5, 7, true}, {4, 1, 4, 7, false}, {3, 2, 3, 7, true}}, 4);
}

// (3b) Bottom of the range with H below the top: C = 3, I = 1, L = 3, H = 7 on 9 layers.
//  Start l = 7 - 3 = 4; layers 7 and 8 are never a base but count as "layers above".
//  step 0: l=4, K = min(2, 9-4-1=4) = 2, orig 4..6, 0.30 reject -> l = 3
//  step 1: l=3 = L, K = 2, orig 3..5, 0.40 reject -> l = 2 < L: end. Final: 9 layers.
TEST(CollapseOracle, BottomOfTheRangeBelowHighest) {
  expect_trace(params(3, 1, 3, 7), 9, {{{4, 6}, 0.30}, {{3, 5}, 0.40}},
               {{4, 2, 4, 6, false}, {3, 2, 3, 5, false}}, 9);
}

// (4) C = 2, I = 3, L = 1, H = 12 on 12 layers. Start l = 12 - 2 = 10; K = 1 throughout.
//  step 0: l=10, orig 10..11, 0.90 ACCEPT -> n = 11, l = 10 - 3 = 7
//  step 1: l=7,  layers 7..8 = orig 7..8, 0.30 reject -> l = 6
//  step 2: l=6,  orig 6..7, 0.95 ACCEPT -> n = 10, l = 3
//  step 3: l=3,  orig 3..4, 0.10 reject -> l = 2
//  step 4: l=2,  orig 2..3, 0.20 reject -> l = 1
//  step 5: l=1,  orig 1..2, 0.60 ACCEPT -> n = 9, l = -2 < L: end.
//  Final: 9 layers {0}, {1,2}, {3}, {4}, {5}, {6,7}, {8}, {9}, {10,11}.
//  (With l -= 1 after an accept, step 1 would be l=9 over orig 9..11.)
TEST(CollapseOracle, MergeTwoIntervalThree) {
  const Table table = {{{10, 11}, 0.90}, {{7, 8}, 0.30}, {{6, 7}, 0.95},
                       {{3, 4}, 0.10},   {{2, 3}, 0.20}, {{1, 2}, 0.60}};
  expect_trace(params(2, 3, 1, 12), 12, table,
               {{10, 1, 10, 11, true}, {7, 1, 7, 8, false}, {6, 1, 6, 7, true}, {3, 1, 3, 4, false},
                {2, 1, 2, 3, false}, {1, 1, 1, 2, true}},
               9);
  const LoopRun r = run(params(2, 3, 1, 12), 12, table, 1);
  EXPECT_EQ(r.map, (std::vector<std::vector<int64_t>>{{0}, {1, 2}, {3}, {4}, {5}, {6, 7}, {8}, {9}, {10, 11}}));
}

}  // namespace
}  // namespace laco::prune
