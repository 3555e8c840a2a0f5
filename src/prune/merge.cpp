// Merge rules: see merge.h.
#include "laco/prune/merge.h"

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"

namespace laco::prune {
namespace {

bool in_scope(model::ParamGroup group, const MergeSpec& spec) {
  switch (group) {
    case model::ParamGroup::kNorm: return spec.norms == NormMode::kMerge;
    case model::ParamGroup::kAttention: return spec.scope != MergeScope::kFfn;
    case model::ParamGroup::kMlp: return spec.scope != MergeScope::kAttn;
  }
  return false;
}

}  // namespace

const model::LayerWeights& MergeScratch::merge(const model::LayerTable& table, int64_t base,
                                               int64_t followers, const MergeSpec& spec) {
  LACO_CHECK(followers >= 1 && base + followers < table.num_layers(),
             "merge of layers [{}, {}] in a {}-layer model", base, base + followers, table.num_layers());
  out_.sliding = table.layer(base).sliding;
  // One tensor at a time in the compute dtype (fetch_tensor: no copy when resident), so a
  // streamed table holds C tensors, not C layers, while merging.
  for (const auto& s : table.arch().layer_tensors) {
    const auto r = static_cast<size_t>(s.role);
    if (!table.layer(base).has(s.role)) {
      out_.t[r] = at::Tensor();
      continue;
    }
    if (!in_scope(s.group, spec)) {
      out_.t[r] = table.fetch_tensor(base, s.role);  // keeps the base layer's values
      continue;
    }
    if (spec.rule == MergeRule::kKeepLast) {
      out_.t[r] = table.fetch_tensor(base + followers, s.role);
      continue;
    }
    const at::Tensor theta_l = table.fetch_tensor(base, s.role);
    if (!store_[r].defined() || store_[r].sizes() != theta_l.sizes() || store_[r].scalar_type() != theta_l.scalar_type() ||
        store_[r].device() != theta_l.device())
      store_[r] = at::empty_like(theta_l);
    if (!acc_.defined() || acc_.numel() < theta_l.numel() || acc_.device() != theta_l.device()) {
      acc_ = at::empty({theta_l.numel()}, theta_l.options().dtype(at::kFloat));
      tmp_ = at::empty_like(acc_);
    }
    at::Tensor acc = acc_.narrow(0, 0, theta_l.numel()).view(theta_l.sizes());
    at::Tensor tmp = tmp_.narrow(0, 0, theta_l.numel()).view(theta_l.sizes());
    // acc = Σ_k (θ_{l+k} − θ_l) in float32; out = θ_l + s·acc, rounded once.
    const at::Tensor base32 = theta_l.to(at::kFloat);
    acc.zero_();
    for (int64_t k = 1; k <= followers; ++k) {
      const at::Tensor follower = table.fetch_tensor(base + k, s.role).to(at::kFloat);
      at::sub_out(tmp, follower, base32);
      if (k == 1) peak_anon_ = std::max(peak_anon_, anon_rss_bytes());  // the merge's peak: every copy alive
      acc.add_(tmp);
    }
    if (spec.scale != 1.0) acc.mul_(spec.scale);
    at::add_out(tmp, base32, acc);
    store_[r].copy_(tmp);
    out_.t[r] = store_[r];
  }
  return out_;
}

model::LayerWeights MergeScratch::take_copy() const {
  model::LayerWeights copy;
  copy.sliding = out_.sliding;
  for (size_t r = 0; r < model::kNumRoles; ++r) {
    // Owned slot tensors are cloned; aliases of table layers stay shared handles.
    const bool owned = store_[r].defined() && out_.t[r].defined() && out_.t[r].is_same(store_[r]);
    copy.t[r] = owned ? out_.t[r].clone() : out_.t[r];
  }
  return copy;
}

model::LayerWeights merge_layers(const model::LayerTable& table, int64_t base, int64_t followers,
                                 const MergeSpec& spec) {
  MergeScratch scratch;
  scratch.merge(table, base, followers, spec);
  return scratch.take_copy();
}

}  // namespace laco::prune
