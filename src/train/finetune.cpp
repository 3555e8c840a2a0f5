// The finetune run (see finetune.h): validate everything on every rank and agree, claim
// output.dir, load the trainable model (and a saved state), then per step: each rank runs
// its micro-batches (one forward/backward each), the per-micro-batch gradients and losses
// are allreduced into an (M, P) buffer and summed in micro-batch order, clipped, and AdamW
// updates the float32 masters on every rank alike. Rank 0 logs, validates, checkpoints.
#include "laco/train/finetune.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/interrupt.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"
#include "laco/dist/agree.h"
#include "laco/dist/parallel_checkpoint.h"
#include "laco/eval/perplexity.h"
#include "laco/io/checkpoint.h"
#include "laco/io/finetune_h5.h"
#include "laco/io/output_dir.h"
#include "laco/io/path_guard.h"
#include "laco/model/model_config.h"
#include "laco/tokenizer/tokenizer.h"
#include "laco/train/data.h"
#include "laco/train/optimizer.h"
#include "laco/train/train_state.h"
#include "laco/train/trainable.h"

namespace laco::train {
namespace {

namespace fs = std::filesystem;

// Test-only fault injection on rank 0 after optimizer step N (1-based):
// LACO_TEST_SIGNAL_AFTER_STEP=N raises SIGUSR1 (a graceful stop), LACO_TEST_KILL_AFTER_STEP=N
// SIGKILL (a crash: the last saved state is what --resume finds).
void inject_fault(int rank, int64_t step) {
  if (rank != 0) return;
  const auto is = [&](const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::atoll(v) == step;
  };
  if (is("LACO_TEST_KILL_AFTER_STEP")) std::raise(SIGKILL);
  if (is("LACO_TEST_SIGNAL_AFTER_STEP")) std::raise(SIGUSR1);
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  return s >= 3600 ? fmt::format("{}h{:02d}m", s / 3600, (s / 60) % 60) : fmt::format("{}m{:02d}s", s / 60, s % 60);
}

struct StepStats {
  double loss = 0, grad_norm = 0, lr = 0;
  int64_t tokens = 0;
};

class FinetuneRun {
 public:
  FinetuneRun(const FinetuneConfig& cfg, const FinetuneOptions& opt, dist::Communicator& world)
      : cfg_(cfg), opt_(opt), world_(world), rank_(world.rank()) {}

  int run() {
    dist::agree(world_, [&] { validate(); });
    dist::require_same(world_, {{"configuration (settings hash)", finetune_hash(cfg_)},
                                {"training tokens", token_digest()}});
    dist::agree(world_, [&] { claim_output_dir(); });
    const int threads = model::configure_threads(cfg_.model.threads, ranks_on_node(world_.size()));
    dist::agree(world_, [&] { load(); });
    if (rank_ == 0)
      spdlog::info("finetune: {} ({} trainable parameters), {} ranks x {} threads, {} blocks of {} tokens, "
                   "{} micro-batches of {} per step", name_of(cfg_.train.method), model_->params().numel(),
                   world_.size(), threads, blocks_.num_blocks(), blocks_.seq_len(),
                   cfg_.train.batch_size / cfg_.train.micro_batch_size, cfg_.train.micro_batch_size);
    if (!state_.finished) train();
    const InterruptHold hold;  // the final write completes whatever arrives
    finish();
    return kExitOk;
  }

 private:
  // Read-only checks of everything the run needs, on every rank.
  void validate() {
    mc_ = model::load_model_config(cfg_.model.path);
    model::check_sequence_length(mc_, cfg_.data.seq_len, fmt::format("data.seq_len = {} ({})", cfg_.data.seq_len,
                                                                      cfg_.where("data.seq_len")));
    if (cfg_.train.method == Method::kLora) lora_sites(mc_, lora_roles(cfg_), mc_.num_hidden_layers);
    check_paths();
    weights_ = io::WeightSource::open_dir(cfg_.model.path);
    model::check_weights(mc_, weights_);
    tok_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::load(cfg_.model.path));
    const auto texts = read_train_texts(cfg_.data.train_file, cfg_.data.first_line, cfg_.data.last_line,
                                        "data.train_file");
    blocks_ = TokenBlocks::from_texts(texts, *tok_, cfg_.data.seq_len, cfg_.data.add_bos);
    LACO_INPUT_CHECK(blocks_.num_blocks() >= 1, "data.train_file: '{}' gives {} tokens, fewer than one block of "
                     "data.seq_len = {}", cfg_.data.train_file, blocks_.tokens(), cfg_.data.seq_len);
    const auto top = std::max_element(blocks_.stream().begin(), blocks_.stream().end());
    LACO_INPUT_CHECK(*top < mc_.vocab_size, "data.train_file: token id {} is outside the model's vocabulary [0, {})",
                     *top, mc_.vocab_size);
    if (!cfg_.data.validation_file.empty()) {
      require_regular_file(cfg_.data.validation_file, "data.validation_file", uint64_t{4} << 30);
      val_docs_ = eval::read_perplexity_documents(cfg_.data.validation_file);
      val_length_ = cfg_.data.validation_max_length > 0 ? cfg_.data.validation_max_length : mc_.max_position_embeddings;
      model::check_sequence_length(mc_, val_length_, fmt::format("data.validation_max_length = {}", val_length_));
    }
    decide_output_dir();
  }

  // No output may be an input (io/path_guard.h).
  void check_paths() {
    io::PathGuard guard;
    guard.add_input_dir(cfg_.model.path, "model.path", /*no_outputs_inside=*/true);
    guard.add_input_file(cfg_.data.train_file, "data.train_file");
    if (!cfg_.data.validation_file.empty()) guard.add_input_file(cfg_.data.validation_file, "data.validation_file");
    if (!cfg_.source.empty()) guard.add_input_file(cfg_.source, "the config file");
    guard.check_output_dir(cfg_.output.dir, "output.dir");
    out_dir_ = io::resolved_path(cfg_.output.dir, "output.dir");
  }

  // A fresh run, a resume or a refusal, from what output.dir holds (nothing is touched).
  void decide_output_dir() {
    if (auto holder = io::lock_holder(out_dir_))
      throw InputError(fmt::format("output.dir: the directory '{}' is in use by another run ({})", out_dir_, *holder));
    std::string foreign;
    const io::DirContents contents = io::inspect_dir(out_dir_, &foreign);
    const bool has_state = fs::exists(out_dir_ + "/" + kStateFile);
    const bool reusable = contents == io::DirContents::kAbsent || contents == io::DirContents::kEmpty ||
                          contents == io::DirContents::kUnfinished;
    if (opt_.resume && has_state) {
      resume_ = true;
    } else if (opt_.resume) {
      LACO_INPUT_CHECK(reusable, "--resume: '{}' holds no {} to resume from (it holds '{}'); start without --resume "
                       "and with output.overwrite = true, or choose another output.dir", out_dir_, kStateFile, foreign);
      spdlog::info("--resume: '{}' holds no saved state; starting from the beginning", out_dir_);
    } else if (!cfg_.output.overwrite) {
      LACO_INPUT_CHECK(!has_state, "output.dir: '{}' holds the state of an earlier run ({}); use --resume to "
                       "continue it or output.overwrite = true to start over", out_dir_, kStateFile);
      LACO_INPUT_CHECK(reusable, "output.dir: '{}' exists and is not empty (it holds '{}'); use output.overwrite = "
                       "true or another directory", out_dir_, foreign);
    }
  }

  std::string token_digest() const {
    const auto& s = blocks_.stream();
    return fnv1a_hex(std::string(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(int64_t)));
  }

  // Rank 0 takes the lock; a fresh run removes an earlier run's files first.
  void claim_output_dir() {
    if (rank_ != 0) return;
    lock_ = io::DirLock(out_dir_, "output.dir");
    if (resume_) return;
    for (const auto& e : fs::directory_iterator(out_dir_)) {
      const std::string name = e.path().filename().string();
      if (name == kStateFile || name == "finetune.h5" || name == "adapter" ||
          (starts_with(name, "finetune_state-") && ends_with(name, ".safetensors")))
        fs::remove_all(e.path());
    }
  }

  // The trainable model, the optimizer and (with --resume) the saved state.
  void load() {
    const double t0 = wall_seconds();
    model_ = std::make_unique<TrainableModel>(model::LayerTable::load(mc_, weights_, at::kFloat, c10::Device(c10::kCPU)),
                                              train_spec(cfg_));
    adam_ = AdamW(model_->params().numel(), {cfg_.train.beta1, cfg_.train.beta2, cfg_.train.eps, cfg_.train.weight_decay});
    if (resume_) {
      state_ = load_train_state(out_dir_, cfg_, model_->params());
      model_->params().load(state_.params);
      adam_.m().copy_(state_.m);
      adam_.v().copy_(state_.v);
      adam_.set_updates(state_.step);
      if (rank_ == 0) spdlog::info("--resume: continuing after step {} of {}", state_.step, cfg_.train.steps);
    }
    order_ = std::make_unique<SampleOrder>(blocks_.num_blocks(), static_cast<uint64_t>(cfg_.train.seed));
    if (rank_ == 0)
      log_ = std::make_unique<io::FinetuneLog>(io::FinetuneLog::open(out_dir_ + "/finetune.h5", to_json(cfg_).dump(),
                                                                     resume_ ? state_.step : -1));
    spdlog::debug("finetune: loaded in {:.2f} s", wall_seconds() - t0);
  }

  // One optimizer step: this rank's micro-batches, the exchange, the ordered sum, AdamW.
  StepStats step(int64_t s) {
    const int64_t b = cfg_.train.batch_size, mb = cfg_.train.micro_batch_size, count = b / mb;
    const int64_t t = blocks_.seq_len();
    ParamSet& params = model_->params();
    at::Tensor grads = at::zeros({count, params.numel()}, at::kFloat);  // (M, P): row m = micro-batch m
    at::Tensor sums = at::zeros({count}, at::kDouble);                  // (M) NLL sums
    const MicroRange mine = micro_batches_of(count, rank_, world_.size());
    for (int64_t m = mine.begin; m < mine.end; ++m) {
      const int64_t first = s * b + m * mb;  // global index of the micro-batch's first sample
      std::vector<int64_t> idx;
      for (int64_t j = 0; j < mb; ++j) idx.push_back(order_->block_of(first + j));
      model_->bind_for_training(s, first, mb, t);
      const at::Tensor nll = token_nll_sum(model_->model(), blocks_.gather(idx));
      nll.backward();
      params.take_grads(grads[m]);
      sums[m] = nll.item<double>();
    }
    if (world_.size() > 1) {  // x + 0 is exact: every rank then holds every row bitwise
      world_.allreduce(grads, dist::ReduceOp::kSum);
      world_.allreduce(sums, dist::ReduceOp::kSum);
    }
    StepStats st;
    st.tokens = b * (t - 1);
    at::Tensor g = grads[0].clone();
    double nll_sum = sums[0].item<double>();
    for (int64_t m = 1; m < count; ++m) {  // in micro-batch order, the same on any world size
      g.add_(grads[m]);
      nll_sum += sums[m].item<double>();
    }
    g.div_(static_cast<double>(st.tokens));
    st.loss = nll_sum / static_cast<double>(st.tokens);
    st.grad_norm = clip_grad_norm(g, cfg_.train.max_grad_norm);
    st.lr = learning_rate({cfg_.train.lr, cfg_.train.warmup_steps, cfg_.train.steps, cfg_.train.schedule,
                           cfg_.train.min_lr_ratio}, s);
    adam_.step(params.flat(), g, st.lr, params.decay_mask());
    return st;
  }

  void train() {
    const double t_run = wall_seconds();
    const double seconds_before = state_.seconds;
    double t_log = t_run;
    int64_t tokens_since_log = 0;
    for (int64_t s = state_.step; s < cfg_.train.steps; ++s) {
      const StepStats st = step(s);
      state_.step = s + 1;
      state_.tokens += st.tokens;
      state_.seconds = seconds_before + (wall_seconds() - t_run);
      tokens_since_log += st.tokens;
      if (rank_ == 0) {
        log_->add_train({state_.step, st.loss, st.lr, st.grad_norm, state_.tokens, state_.seconds});
        if (state_.step % cfg_.train.log_every == 0 || state_.step == cfg_.train.steps || s == 0) {
          const double now = wall_seconds(), rate = static_cast<double>(tokens_since_log) / std::max(1e-9, now - t_log);
          const double eta = static_cast<double>((cfg_.train.steps - state_.step) * st.tokens) / std::max(rate, 1e-9);
          spdlog::info("step {}/{}  loss {:.4f}  lr {:.3e}  grad_norm {:.3f}  {:.0f} tok/s  ETA {}", state_.step,
                       cfg_.train.steps, st.loss, st.lr, st.grad_norm, rate, format_duration(eta));
          t_log = now;
          tokens_since_log = 0;
        }
      }
      if (state_.step == 1) first_loss_ = st.loss;
      last_loss_ = st.loss;
      after_step();
    }
    state_.finished = true;
    save_state();
  }

  // Validation, checkpoint, fault hooks and the stop check at a step boundary.
  void after_step() {
    const int64_t s = state_.step;
    if (cfg_.data.validation_every > 0 && s % cfg_.data.validation_every == 0 && s < cfg_.train.steps) validate_model();
    const bool checkpoint = cfg_.train.checkpoint_every > 0 && s % cfg_.train.checkpoint_every == 0 &&
                            s < cfg_.train.steps;
    if (checkpoint) save_state();
    inject_fault(rank_, s);
    const bool stop = world_.allreduce<int32_t>(pending_interrupt() != 0 ? 1 : 0, dist::ReduceOp::kMax) != 0;
    if (!stop) return;
    if (!checkpoint) save_state();
    dist::stop_if_interrupted(world_, fmt::format("stopped after step {}; the state is saved in '{}/{}': continue "
                                                  "with --resume", s, out_dir_, kStateFile));
  }

  void save_state() {
    if (rank_ != 0) return;
    const ParamSet& params = model_->params();
    state_.params = params.flat();
    state_.m = adam_.m();
    state_.v = adam_.v();
    save_train_state(out_dir_, cfg_, params, state_);
  }

  // Validation loss and token perplexity as `laco_dist eval`'s perplexity task computes
  // them (eval::score_documents: disjoint windows of val_length_ tokens). Collective.
  void validate_model() {
    if (val_docs_.empty()) return;
    const double t0 = wall_seconds();
    at::NoGradGuard no_grad;
    model_->bind_for_eval();
    const eval::EvalContext ctx{model_->model(), *tok_, world_, cfg_.data.validation_batch_size, val_length_};
    const eval::PerplexityCounts c = eval::score_documents(ctx, val_docs_);
    if (rank_ != 0) return;
    const double loss = -c.sum_loglik / static_cast<double>(std::max<int64_t>(c.tokens, 1));
    last_val_ = {state_.step, loss, eval::token_perplexity(c)};
    log_->add_validation(last_val_);
    spdlog::info("validation after step {}: loss {:.4f}  token perplexity {:.4f}  ({} tokens, {:.1f} s)", state_.step,
                 loss, last_val_.token_perplexity, c.tokens, wall_seconds() - t0);
  }

  // Final validation, the HF checkpoint (collective), the PEFT adapter and the summary.
  void finish() {
    validate_model();
    const double t0 = wall_seconds();
    c10::ScalarType dtype = model::checkpoint_dtype(mc_, weights_);
    if (cfg_.output.dtype == OutputDtype::kFloat32) dtype = at::kFloat;
    if (cfg_.output.dtype == OutputDtype::kBFloat16) dtype = at::kBFloat16;
    if (cfg_.output.dtype == OutputDtype::kFloat16) dtype = at::kHalf;
    std::vector<std::vector<int64_t>> identity;
    for (int64_t l = 0; l < mc_.num_hidden_layers; ++l) identity.push_back({l});
    dist::CheckpointJob job;
    job.dir = out_dir_;
    job.config = model::pruned_config_json(mc_, identity, model::dtype_string(dtype));
    job.max_shard_bytes = io::parse_size("5GB", "shard size");
    job.copy_from_dir = cfg_.model.path;
    job.tensors = [&] {
      const model::LayerTable original = model::LayerTable::open_streamed(mc_, weights_, dtype, c10::Device(c10::kCPU));
      return model_->merged_tensors(original.named_tensors());
    };
    job.dtype = dtype;
    dist::write_checkpoint(world_, job);
    if (rank_ != 0) return;
    if (cfg_.train.method == Method::kLora && cfg_.output.save_adapter) write_adapter();
    log_->close();
    print_summary(wall_seconds() - t0);
  }

  void write_adapter() const {
    const std::string dir = out_dir_ + "/adapter";
    fs::create_directories(dir);
    io::write_safetensors(dir + "/adapter_model.safetensors", model_->adapter_tensors());
    const nlohmann::json config = peft_adapter_config(model_->sites(), cfg_.lora.rank, cfg_.lora.alpha,
                                                      cfg_.lora.dropout, cfg_.model.path,
                                                      model::arch_for(mc_).block.transposed);
    io::write_file_atomic(dir + "/adapter_config.json", config.dump(2) + "\n");
  }

  void print_summary(double save_seconds) const {
    std::printf("\nlaco_dist finetune summary\n");
    std::printf("  method       %s, %lld trainable parameters\n", name_of(cfg_.train.method).c_str(),
                static_cast<long long>(model_->params().numel()));
    std::printf("  steps        %lld (%lld target tokens)\n", static_cast<long long>(state_.step),
                static_cast<long long>(state_.tokens));
    if (first_loss_ >= 0) std::printf("  train loss   %.4f -> %.4f\n", first_loss_, last_loss_);
    if (last_val_.step > 0 || !val_docs_.empty())
      std::printf("  validation   loss %.4f, token perplexity %.4f\n", last_val_.loss, last_val_.token_perplexity);
    std::printf("  time         %.2f s training, %.2f s saving\n", state_.seconds, save_seconds);
    std::printf("  output       %s\n", out_dir_.c_str());
    std::fflush(stdout);
  }

  const FinetuneConfig& cfg_;
  const FinetuneOptions& opt_;
  dist::Communicator& world_;
  const int rank_;
  model::ModelConfig mc_;
  io::WeightSource weights_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  TokenBlocks blocks_;
  std::vector<std::string> val_docs_;
  int64_t val_length_ = 0;
  std::string out_dir_;
  bool resume_ = false;
  io::DirLock lock_;
  std::unique_ptr<TrainableModel> model_;
  AdamW adam_;
  std::unique_ptr<SampleOrder> order_;
  TrainState state_;
  std::unique_ptr<io::FinetuneLog> log_;
  io::ValidationRow last_val_;
  double first_loss_ = -1, last_loss_ = 0;
};

}  // namespace

int run_finetune(const FinetuneConfig& cfg, const FinetuneOptions& opt, dist::Communicator& world) {
  return FinetuneRun(cfg, opt, world).run();
}

}  // namespace laco::train
