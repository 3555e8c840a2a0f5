// The collapse loop: see collapse.h.
#include "laco/prune/collapse.h"

#include <algorithm>

#include "laco/core/error.h"

namespace laco::prune {

CollapseState initial_state(const CollapseParams& p) {
  CollapseState s;
  s.cursor = p.highest - p.merge_layers;
  return s;
}

void run_collapse(const CollapseParams& p, Evaluator& ev, CollapseState& s,
                  const std::function<void(const CollapseState&, size_t)>& on_round) {
  LACO_CHECK(p.merge_layers >= 2 && p.interval >= 1, "C={} I={}", p.merge_layers, p.interval);
  while (!s.finished) {
    const int64_t budget = p.max_removed > 0 ? p.max_removed - s.removed : INT64_MAX;
    if (s.cursor < p.lowest || budget <= 0) {
      s.finished = true;
      break;
    }
    // Up to W candidates against the current model; K = 0 ones (no layer above) are skipped.
    const int64_t n = ev.num_layers();
    std::vector<Candidate> order, to_eval;
    for (int g = 0; g < ev.width() && s.cursor - g >= p.lowest; ++g) {
      const int64_t l = s.cursor - g;
      const int64_t k = std::min({p.merge_layers - 1, n - l - 1, budget});
      order.push_back({l, std::max<int64_t>(k, 0)});
      if (k > 0) to_eval.push_back(order.back());
    }
    std::vector<CandidateOutcome> outcomes = to_eval.empty() ? std::vector<CandidateOutcome>{}
                                                             : ev.evaluate(to_eval);
    const auto map = ev.layer_map();
    const size_t first_new = s.records.size();
    bool accepted = false;
    size_t next = 0;
    for (const Candidate& c : order) {
      if (c.followers == 0) {
        if (!accepted) s.cursor = c.base - 1;
        continue;
      }
      CandidateRecord r;
      r.round = s.rounds;
      r.group = static_cast<int>(next);
      r.candidate = c;
      r.outcome = outcomes.at(next++);
      for (int64_t i = c.base; i <= c.base + c.followers; ++i)
        r.original_layers.insert(r.original_layers.end(), map[static_cast<size_t>(i)].begin(),
                                 map[static_cast<size_t>(i)].end());
      if (accepted) {
        r.discarded = true;
      } else {
        r.step = s.steps++;
        r.accepted = r.outcome.complete && r.outcome.finite && r.outcome.similarity > p.threshold;
        if (r.accepted) {
          ev.apply(c);
          s.accepted.push_back(c);
          s.removed += c.followers;
          s.cursor = c.base - p.interval;
          accepted = true;
        } else {
          s.cursor = c.base - 1;
        }
      }
      s.records.push_back(std::move(r));
    }
    ++s.rounds;
    if (on_round) on_round(s, first_new);
  }
}

}  // namespace laco::prune

namespace laco::prune {

void replay_accepted(model::LayerTable& table, const std::vector<Candidate>& accepted, const MergeSpec& spec,
                     const std::vector<int64_t>& removed_layers) {
  for (const Candidate& c : accepted)
    table.collapse(c.base, c.base + c.followers, merge_layers(table, c.base, c.followers, spec));
  for (auto it = removed_layers.rbegin(); it != removed_layers.rend(); ++it) table.remove(*it);  // from the top
}

}  // namespace laco::prune
