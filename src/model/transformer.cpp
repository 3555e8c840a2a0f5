// Llama-family forward pass: see transformer.h. Shapes: B batch, T new tokens, Tk keys,
// D hidden, H heads, Hkv key/value heads, hd head dim, F intermediate, V vocab.
#include "laco/model/transformer.h"

#include <cmath>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include "laco/core/config.h"
#include "laco/core/error.h"
#include "laco/core/openblas_core.h"
#include "laco/core/resources.h"

namespace laco::model {
namespace {

at::Tensor rotate_half(const at::Tensor& x) {  // (..., hd)
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

}  // namespace

at::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t hd = c.head_dim;
  at::Tensor exponent = at::arange(0, hd, 2, at::kLong).to(at::kFloat) / static_cast<float>(hd);
  at::Tensor inv = 1.0 / at::pow(c.rope_theta, exponent);  // (hd/2) float32
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScalingType::kLinear) return inv / s.factor;
  if (s.type != RopeScalingType::kLlama3) return inv;
  // transformers' _compute_llama3_parameters: long wavelengths are slowed by `factor`,
  // short ones kept, the band between interpolated smoothly.
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_len / s.low_freq_factor;
  const double high_wavelen = old_len / s.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv / s.factor, inv);
  at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
  return at::where(medium, smoothed, scaled);
}

int configure_threads(int64_t threads, int ranks_on_node) {
  LACO_INPUT_CHECK(threads >= 0 && threads <= kMaxThreads, "threads = {}: expected 0 (automatic) to {}", threads,
                   kMaxThreads);
  const int allowed = allowed_cpu_count();
  if (threads <= 0) {  // automatic: the node's cores / its ranks, within this rank's binding
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    threads = std::max(1, std::min(allowed, cores / std::max(1, ranks_on_node)));
  } else if (threads > allowed) {
    spdlog::warn("threads = {} but this process may run on {} CPU(s) only ({}): its threads share cores; under "
                 "srun pass --cpus-per-task={}, under mpirun --bind-to none", threads, allowed, allowed_cpu_list(),
                 threads);
  }
  at::set_num_threads(static_cast<int>(threads));
  set_openblas_threads(static_cast<int>(threads));  // its own pool, which LibTorch does not control
  spdlog::debug("OpenBLAS kernels: {}", openblas_core());
  return static_cast<int>(threads);
}

Transformer::Transformer(LayerTable table) : table_(std::move(table)) {
  inv_freq_ = rope_inv_freq(table_.config()).to(device());
}

at::Tensor Transformer::embed(const at::Tensor& ids) const {
  const int64_t vocab = config().vocab_size;
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    LACO_INPUT_CHECK(lo >= 0 && hi < vocab, "token id {} is outside the model's vocabulary [0, {})",
                     lo < 0 ? lo : hi, vocab);
  }
  return table_.embed(ids);  // (B, T, D)
}

BatchContext Transformer::make_context(const at::Tensor& attention_mask, int64_t num_queries) const {
  at::Tensor m = attention_mask.to(device(), at::kLong);  // (B, Tk)
  const int64_t tk = m.size(1), tq = num_queries, past = tk - tq;
  at::Tensor pos = (m.cumsum(1) - 1).clamp_min(0).slice(1, past, tk);  // (B, Tq)
  // HF: freqs = inv_freq @ positions in float32, emb = cat(freqs, freqs).
  at::Tensor freqs = pos.to(at::kFloat).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);  // (B, 1, Tq, hd)
  BatchContext ctx;
  ctx.cos = emb.cos().to(dtype());
  ctx.sin = emb.sin().to(dtype());
  auto opts = at::TensorOptions().dtype(at::kLong).device(device());
  at::Tensor qi = (at::arange(tq, opts) + past).view({tq, 1});
  at::Tensor kj = at::arange(tk, opts).view({1, tk});
  at::Tensor key_valid = m.to(at::kBool).view({m.size(0), 1, 1, tk});
  // A padded query row attends to itself only, so its (ignored) output stays finite.
  ctx.allowed = (kj <= qi).view({1, 1, tq, tk}).logical_and(key_valid).logical_or((kj == qi).view({1, 1, tq, tk}));
  return ctx;
}

at::Tensor Transformer::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor xf = x.to(at::kFloat);  // HF computes the statistics in float32
  at::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * at::rsqrt(var + config().rms_norm_eps);
  return weight * xf.to(x.scalar_type());
}

at::Tensor Transformer::attention(const at::Tensor& x, const LayerWeights& w, const BatchContext& ctx,
                                  KvCache* cache, int64_t cache_layer) const {
  const ModelConfig& c = config();
  const int64_t b = x.size(0), t = x.size(1), h = c.num_attention_heads, hkv = c.num_key_value_heads,
                hd = c.head_dim;
  at::Tensor q = linear(x, w[Role::kQ], w[Role::kQBias]).view({b, t, h, hd}).transpose(1, 2);
  at::Tensor k = linear(x, w[Role::kK], w[Role::kKBias]).view({b, t, hkv, hd}).transpose(1, 2);
  at::Tensor v = linear(x, w[Role::kV], w[Role::kVBias]).view({b, t, hkv, hd}).transpose(1, 2);
  q = q * ctx.cos + rotate_half(q) * ctx.sin;  // (B, H, T, hd)
  k = k * ctx.cos + rotate_half(k) * ctx.sin;  // (B, Hkv, T, hd)
  if (cache) {
    const int64_t end = cache->length + t;
    at::Tensor& ck = cache->k[static_cast<size_t>(cache_layer)];
    at::Tensor& cv = cache->v[static_cast<size_t>(cache_layer)];
    LACO_CHECK(end <= ck.size(2), "KV cache overflow: {} > capacity {}", end, ck.size(2));
    ck.slice(2, cache->length, end).copy_(k);
    cv.slice(2, cache->length, end).copy_(v);
    k = ck.slice(2, 0, end);  // (B, Hkv, Tk, hd)
    v = cv.slice(2, 0, end);
  }
  const int64_t tk = k.size(2), groups = h / hkv;
  if (groups > 1) {  // GQA: each key/value head serves `groups` query heads
    k = k.unsqueeze(2).expand({b, hkv, groups, tk, hd}).reshape({b, h, tk, hd});
    v = v.unsqueeze(2).expand({b, hkv, groups, tk, hd}).reshape({b, h, tk, hd});
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(hd)));
  scores = scores.to(at::kFloat).masked_fill(ctx.allowed.logical_not(), -INFINITY);  // (B, H, T, Tk)
  at::Tensor probs = at::softmax(scores, -1).to(x.scalar_type());
  at::Tensor out = at::matmul(probs, v).transpose(1, 2).reshape({b, t, h * hd});  // (B, T, H*hd)
  return linear(out, w[Role::kO], w[Role::kOBias]);
}

at::Tensor Transformer::mlp(const at::Tensor& x, const LayerWeights& w) const {
  at::Tensor gate = at::silu(linear(x, w[Role::kGate], w[Role::kGateBias]));  // (B, T, F)
  return linear(gate * linear(x, w[Role::kUp], w[Role::kUpBias]), w[Role::kDown], w[Role::kDownBias]);
}

at::Tensor Transformer::run_layer(const at::Tensor& h, const LayerWeights& w, const BatchContext& ctx,
                                  KvCache* cache, int64_t cache_layer) const {
  at::Tensor x = h + attention(rms_norm(h, w[Role::kInputNorm]), w, ctx, cache, cache_layer);
  return x + mlp(rms_norm(x, w[Role::kPostAttnNorm]), w);
}

at::Tensor Transformer::run_layers(at::Tensor h, int64_t first, int64_t last, const BatchContext& ctx,
                                   const LayerHook& hook, KvCache* cache) const {
  LACO_CHECK(0 <= first && first <= last && last <= num_layers(), "run_layers [{}, {}) of {}",
             first, last, num_layers());
  for (int64_t l = first; l < last; ++l) {
    if (hook) hook(l, h);
    h = run_layer(h, table_.fetch(l), ctx, cache, l);
  }
  return h;
}

at::Tensor Transformer::final_norm(const at::Tensor& h) const { return rms_norm(h, table_.final_norm()); }

at::Tensor Transformer::logits(const at::Tensor& h) const {
  return at::linear(h, table_.lm_head()).to(at::kFloat);
}

at::Tensor Transformer::forward(const at::Tensor& ids, const at::Tensor& attention_mask) const {
  BatchContext ctx = make_context(attention_mask, ids.size(1));
  at::Tensor h = run_layers(embed(ids), 0, num_layers(), ctx);
  return logits(final_norm(h));
}

KvCache Transformer::make_cache(int64_t batch, int64_t capacity) const {
  const ModelConfig& c = config();
  KvCache cache;
  auto opts = at::TensorOptions().dtype(dtype()).device(device());
  for (int64_t l = 0; l < num_layers(); ++l) {
    cache.k.push_back(at::zeros({batch, c.num_key_value_heads, capacity, c.head_dim}, opts));
    cache.v.push_back(at::zeros({batch, c.num_key_value_heads, capacity, c.head_dim}, opts));
  }
  return cache;
}

}  // namespace laco::model
