// Layer merge rules (DESIGN §1). rdsc: θ* = θ_l + s·Σ_k (θ_{l+k} − θ_l), accumulated in
// float32 and rounded once to the storage dtype. keep_last: θ* = θ_{l+K}, what the
// official LaCo notebooks compute (their in-place add_ telescopes). Scope picks which
// parameter groups merge (the rest keep the base layer's values); norms keep_base|merge.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/core/config.h"
#include "laco/model/layer_table.h"

namespace laco::prune {


// laco.rule, laco.scale, laco.scope and laco.norms (MergeRule and friends: core/config.h).
struct MergeSpec {
  MergeRule rule = MergeRule::kRdsc;
  double scale = 1.0;
  MergeScope scope = MergeScope::kFull;
  NormMode norms = NormMode::kKeepBase;
};


// Reusable output slot for merged layers: tensors of in-scope roles are written in place
// (no allocation after the first merge of each shape); out-of-scope roles alias the base.
// The float32 sums live in two buffers of the largest tensor, reused role by role, so the
// scratch is one layer in the storage dtype plus two float32 tensors.
class MergeScratch {
 public:
  // Merges current layers [base, base + followers] of `table` into the slot and returns it.
  // The result is valid until the next merge() call.
  const model::LayerWeights& merge(const model::LayerTable& table, int64_t base, int64_t followers,
                                   const MergeSpec& spec);
  // An owned copy of the last merge, for committing an accepted candidate to the table.
  model::LayerWeights take_copy() const;
  // Frees the slot (a streamed round holds the merged layer only while it runs).
  void release() { out_ = {}, store_ = {}, acc_ = tmp_ = at::Tensor(); }
  // Largest RssAnon sampled while merging (with the float32 copies of a tensor alive).
  int64_t peak_anon_bytes() const { return peak_anon_; }

 private:
  model::LayerWeights out_;
  std::array<at::Tensor, model::kNumRoles> store_;  // storage dtype, per role
  at::Tensor acc_, tmp_;                            // flat float32, reused per role
  int64_t peak_anon_ = 0;
};

// One-shot merge into fresh tensors (reference path; tests).
model::LayerWeights merge_layers(const model::LayerTable& table, int64_t base, int64_t followers,
                                 const MergeSpec& spec);

}  // namespace laco::prune
