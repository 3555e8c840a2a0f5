// The decoder forward pass, composed from the family's BlockSpec: see transformer.h.
// Shapes: B batch, T new tokens, Tk keys, D hidden, H heads, Hkv key/value heads, hd head
// dim, F intermediate, V vocab.
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

// Baichuan's NormHead: F.normalize(W) in W's dtype, eps 1e-12.
at::Tensor unit_rows(const at::Tensor& w) { return w / w.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12); }

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// y (the projection of x by w[role]) plus that projection's LoRA branch when one is
// attached (training): scale * B (A (keep * x)), as PEFT's Linear computes it.
at::Tensor with_lora(const at::Tensor& y, const at::Tensor& x, const LayerWeights& w, Role role) {
  if (!w.adapter) return y;
  const LoraBranch& l = (*w.adapter)[static_cast<size_t>(role)];
  if (!l.defined()) return y;
  const at::Tensor in = l.keep.defined() ? x * l.keep : x;
  return y + at::linear(at::linear(in, l.a), l.b) * l.scale;
}

// The dtype of norm statistics, softmax and logits: float32, or float64 for a float64 model
// (the finite-difference gradient tests).
c10::ScalarType wide(const at::Tensor& x) { return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

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

at::Tensor alibi_slopes(int64_t heads) {
  // Baichuan's _get_interleave: 2^(-8/n)^(1..n) for a power of two n, else those of the
  // closest power of two below, then every other slope of twice that many.
  const auto power_of_two = [](int64_t n) {
    const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3)));
    std::vector<double> s;
    for (int64_t i = 0; i < n; ++i) s.push_back(start * std::pow(start, static_cast<double>(i)));
    return s;
  };
  std::vector<double> slopes;
  const int64_t closest = int64_t{1} << static_cast<int>(std::floor(std::log2(static_cast<double>(heads))));
  slopes = power_of_two(closest);
  if (closest != heads) {
    const std::vector<double> extra = power_of_two(2 * closest);
    for (int64_t i = 0; i < heads - closest; ++i) slopes.push_back(extra[static_cast<size_t>(2 * i)]);
  }
  return at::tensor(slopes, at::kDouble).to(at::kFloat);
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
  if (config().alibi) slopes_ = alibi_slopes(config().num_attention_heads).to(device());
  else if (table_.arch().block.positions == Positions::kRope) inv_freq_ = rope_inv_freq(table_.config()).to(device());
  // NormHead, resident: normalized once (merges never touch the head). A streamed table
  // converts its head per call, and normalizes it then, so no second copy stays.
  if (table_.arch().block.normalized_head && !table_.streamed()) unit_head_ = unit_rows(table_.lm_head());
}

at::Tensor Transformer::embed(const at::Tensor& ids, const BatchContext& ctx) const {
  const int64_t vocab = config().vocab_size;
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    LACO_INPUT_CHECK(lo >= 0 && hi < vocab, "token id {} is outside the model's vocabulary [0, {})",
                     lo < 0 ? lo : hi, vocab);
  }
  at::Tensor h = table_.embed(ids);  // (B, T, D)
  const BlockSpec& block = table_.arch().block;
  if (block.embed_scale)  // HF: the normalizer sqrt(D) rounded to the compute dtype first
    h = h * at::scalar_tensor(std::sqrt(static_cast<double>(config().hidden_size)), h.options());
  if (block.positions == Positions::kLearned) {
    const int64_t hi = ctx.positions.numel() > 0 ? ctx.positions.max().item<int64_t>() : 0;
    LACO_INPUT_CHECK(hi < config().max_position_embeddings, "position {} is beyond the model's {} learned positions",
                     hi, config().max_position_embeddings);
    h = h + table_.position_embed(ctx.positions).to(h.device(), h.scalar_type());
  }
  return h;
}

BatchContext Transformer::make_context(const at::Tensor& attention_mask, int64_t num_queries) const {
  at::Tensor m = attention_mask.to(device(), at::kLong);  // (B, Tk)
  const int64_t tk = m.size(1), tq = num_queries, past = tk - tq;
  BatchContext ctx;
  ctx.positions = (m.cumsum(1) - 1).clamp_min(0).slice(1, past, tk);  // (B, Tq)
  if (inv_freq_.defined()) {
    // HF: freqs = inv_freq @ positions in float32, emb = cat(freqs, freqs).
    at::Tensor freqs = ctx.positions.to(at::kFloat).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
    at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);  // (B, 1, Tq, hd)
    ctx.cos = emb.cos().to(dtype());
    ctx.sin = emb.sin().to(dtype());
  }
  auto opts = at::TensorOptions().dtype(at::kLong).device(device());
  at::Tensor qi = (at::arange(tq, opts) + past).view({tq, 1});
  at::Tensor kj = at::arange(tk, opts).view({1, tk});
  at::Tensor key_valid = m.to(at::kBool).view({m.size(0), 1, 1, tk});
  // A padded query row attends to itself only, so its (ignored) output stays finite.
  ctx.allowed = (kj <= qi).view({1, 1, tq, tk}).logical_and(key_valid).logical_or((kj == qi).view({1, 1, tq, tk}));
  if (slopes_.defined())  // softmax is invariant to a per-row constant: slope * j == slope * (j - i)
    ctx.alibi = slopes_.view({1, -1, 1, 1}) * kj.to(at::kFloat).view({1, 1, 1, tk});
  // HF's sliding mask: key j is visible to query i when i - j < window (cache indices; with
  // left padding the same as positions between real tokens).
  if (config().sliding_window > 0)
    ctx.allowed_in_window = ctx.allowed.logical_and((qi - kj < config().sliding_window).view({1, 1, tq, tk}));
  return ctx;
}

at::Tensor Transformer::norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) const {
  const double eps = config().rms_norm_eps;
  switch (table_.arch().block.norm) {
    case NormKind::kLayerNorm:
      return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
    case NormKind::kRmsPlusOne: {  // Gemma: (1 + w) in float32, then cast
      at::Tensor xf = x.to(wide(x));
      xf = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
      return (xf * (1.0 + weight.to(wide(x)))).to(x.scalar_type());
    }
    case NormKind::kRms: break;
  }
  at::Tensor xf = x.to(wide(x));  // HF computes the statistics in float32
  at::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * at::rsqrt(var + eps);
  return weight * xf.to(x.scalar_type());
}

at::Tensor Transformer::project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  if (!table_.arch().block.transposed) return linear(x, w, b);
  at::Tensor y = at::matmul(x, w);  // Conv1D: x @ W (in, out) + b
  return b.defined() ? y + b : y;
}

namespace {
at::Tensor activate(const at::Tensor& x, Activation a) {
  switch (a) {
    case Activation::kGeluTanh: return at::gelu(x, "tanh");
    case Activation::kGelu: return at::gelu(x);
    case Activation::kSilu: break;
  }
  return at::silu(x);
}
}  // namespace

at::Tensor Transformer::attention(const at::Tensor& x, const LayerWeights& w, const BatchContext& ctx,
                                  KvCache* cache, int64_t cache_layer) const {
  const ModelConfig& c = config();
  const int64_t b = x.size(0), t = x.size(1), h = c.num_attention_heads, hkv = c.num_key_value_heads,
                hd = c.head_dim;
  at::Tensor q, k, v;
  if (w.has(Role::kQKV)) {  // fused: q, k, v stacked on the output dimension
    const std::vector<at::Tensor> parts =
        project(x, w[Role::kQKV], w[Role::kQKVBias]).split_with_sizes({h * hd, hkv * hd, hkv * hd}, -1);
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    q = with_lora(linear(x, w[Role::kQ], w[Role::kQBias]), x, w, Role::kQ);
    k = with_lora(linear(x, w[Role::kK], w[Role::kKBias]), x, w, Role::kK);
    v = with_lora(linear(x, w[Role::kV], w[Role::kVBias]), x, w, Role::kV);
  }
  q = q.reshape({b, t, h, hd});
  k = k.reshape({b, t, hkv, hd});
  if (w.has(Role::kQNorm)) {  // Qwen3: RMSNorm over each head, before RoPE
    q = norm(q, w[Role::kQNorm], {});
    k = norm(k, w[Role::kKNorm], {});
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.reshape({b, t, hkv, hd}).transpose(1, 2);
  if (ctx.cos.defined()) {
    q = q * ctx.cos + rotate_half(q) * ctx.sin;  // (B, H, T, hd)
    k = k * ctx.cos + rotate_half(k) * ctx.sin;  // (B, Hkv, T, hd)
  }
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
  const double scale_by = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<double>(hd);
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(scale_by));
  if (c.attn_softcap > 0) scores = at::tanh(scores / c.attn_softcap) * c.attn_softcap;  // Gemma 2
  if (ctx.alibi.defined()) scores = scores.to(wide(scores)) + ctx.alibi;
  const at::Tensor& allowed = w.sliding && ctx.allowed_in_window.defined() ? ctx.allowed_in_window : ctx.allowed;
  scores = scores.to(wide(scores)).masked_fill(allowed.logical_not(), -INFINITY);  // (B, H, T, Tk)
  at::Tensor probs = at::softmax(scores, -1).to(x.scalar_type());
  at::Tensor out = at::matmul(probs, v).transpose(1, 2).reshape({b, t, h * hd});  // (B, T, H*hd)
  return with_lora(project(out, w[Role::kO], w[Role::kOBias]), out, w, Role::kO);
}

at::Tensor Transformer::mlp(const at::Tensor& x, const LayerWeights& w) const {
  const Activation act = config().hidden_act;
  if (!table_.arch().block.gated_mlp) {  // GPT-2: proj(act(fc(x)))
    const at::Tensor hidden = activate(with_lora(project(x, w[Role::kUp], w[Role::kUpBias]), x, w, Role::kUp), act);
    return with_lora(project(hidden, w[Role::kDown], w[Role::kDownBias]), hidden, w, Role::kDown);
  }
  at::Tensor gate, up;
  if (w.has(Role::kGateUp)) {  // Phi-3: gate rows, then up rows
    const std::vector<at::Tensor> parts = at::linear(x, w[Role::kGateUp]).chunk(2, -1);
    gate = parts[0], up = parts[1];
  } else {
    gate = with_lora(linear(x, w[Role::kGate], w[Role::kGateBias]), x, w, Role::kGate);
    up = with_lora(linear(x, w[Role::kUp], w[Role::kUpBias]), x, w, Role::kUp);
  }
  const at::Tensor hidden = activate(gate, act) * up;  // (B, T, F)
  return with_lora(linear(hidden, w[Role::kDown], w[Role::kDownBias]), hidden, w, Role::kDown);  // (B, T, D)
}

at::Tensor Transformer::run_layer(const at::Tensor& h, const LayerWeights& w, const BatchContext& ctx,
                                  KvCache* cache, int64_t cache_layer) const {
  if (table_.arch().block.sandwich_norms) {  // Gemma 2: each branch's output normed too
    const at::Tensor a = attention(norm(h, w[Role::kInputNorm], {}), w, ctx, cache, cache_layer);
    const at::Tensor x = h + norm(a, w[Role::kPostAttnNorm], {});
    return x + norm(mlp(norm(x, w[Role::kPreFfnNorm], {}), w), w[Role::kPostFfnNorm], {});
  }
  at::Tensor x = h + attention(norm(h, w[Role::kInputNorm], w[Role::kInputNormBias]), w, ctx, cache, cache_layer);
  return x + mlp(norm(x, w[Role::kPostAttnNorm], w[Role::kPostAttnNormBias]), w);
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

at::Tensor Transformer::final_norm(const at::Tensor& h) const {
  return norm(h, table_.final_norm(), table_.final_norm_bias());
}

at::Tensor Transformer::logits(const at::Tensor& h) const {
  const at::Tensor head = unit_head_.defined()                ? unit_head_
                          : table_.arch().block.normalized_head ? unit_rows(table_.lm_head())
                                                                : table_.lm_head();
  at::Tensor out = at::linear(h, head);
  const double cap = config().final_softcap;
  if (cap > 0) out = at::tanh(out / cap) * cap;  // Gemma 2, in the compute dtype as HF
  return out.to(wide(out));
}

at::Tensor Transformer::forward(const at::Tensor& ids, const at::Tensor& attention_mask) const {
  BatchContext ctx = make_context(attention_mask, ids.size(1));
  at::Tensor h = run_layers(embed(ids, ctx), 0, num_layers(), ctx);
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
