// Merge rules: see merge.h.
#include "laco/prune/merge.h"

#include <ATen/ATen.h>

#include "laco/core/error.h"

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

MergeSpec make_merge_spec(const std::string& rule, double scale, const std::string& scope,
                          const std::string& norms) {
  MergeSpec s;
  if (rule == "rdsc") s.rule = MergeRule::kRdsc;
  else if (rule == "keep_last") s.rule = MergeRule::kKeepLast;
  else throw InputError(fmt::format("laco.rule: unknown rule '{}' (expected rdsc or keep_last)", rule));
  s.scale = scale;
  if (scope == "full") s.scope = MergeScope::kFull;
  else if (scope == "attn") s.scope = MergeScope::kAttn;
  else if (scope == "ffn") s.scope = MergeScope::kFfn;
  else throw InputError(fmt::format("laco.scope: unknown scope '{}' (expected full, attn or ffn)", scope));
  if (norms == "keep_base") s.norms = NormMode::kKeepBase;
  else if (norms == "merge") s.norms = NormMode::kMerge;
  else throw InputError(fmt::format("laco.norms: unknown mode '{}' (expected keep_base or merge)", norms));
  return s;
}

const model::LayerWeights& MergeScratch::merge(const model::LayerTable& table, int64_t base,
                                               int64_t followers, const MergeSpec& spec) {
  LACO_CHECK(followers >= 1 && base + followers < table.num_layers(),
             "merge of layers [{}, {}] in a {}-layer model", base, base + followers, table.num_layers());
  const model::LayerWeights& b = table.layer(base);
  for (const auto& s : table.arch().layer_tensors) {
    const auto r = static_cast<size_t>(s.role);
    if (!b.has(s.role)) {
      out_.t[r] = at::Tensor();
      continue;
    }
    if (!in_scope(s.group, spec)) {
      out_.t[r] = b.t[r];  // keeps the base layer's values, no copy
      continue;
    }
    if (spec.rule == MergeRule::kKeepLast) {
      out_.t[r] = table.layer(base + followers).t[r];
      continue;
    }
    const at::Tensor& theta_l = b.t[r];
    if (!acc_[r].defined() || acc_[r].sizes() != theta_l.sizes() || store_[r].scalar_type() != theta_l.scalar_type()) {
      acc_[r] = at::empty(theta_l.sizes(), theta_l.options().dtype(at::kFloat));
      tmp_[r] = at::empty_like(acc_[r]);
      store_[r] = at::empty_like(theta_l);
    }
    // acc = Σ_k (θ_{l+k} − θ_l) in float32; out = θ_l + s·acc, rounded once.
    const at::Tensor base32 = theta_l.to(at::kFloat);
    acc_[r].zero_();
    for (int64_t k = 1; k <= followers; ++k) {
      at::sub_out(tmp_[r], table.layer(base + k).t[r].to(at::kFloat), base32);
      acc_[r].add_(tmp_[r]);
    }
    if (spec.scale != 1.0) acc_[r].mul_(spec.scale);
    at::add_out(tmp_[r], base32, acc_[r]);
    store_[r].copy_(tmp_[r]);
    out_.t[r] = store_[r];
  }
  return out_;
}

model::LayerWeights MergeScratch::take_copy() const {
  model::LayerWeights copy;
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
