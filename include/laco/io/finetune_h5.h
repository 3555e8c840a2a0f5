// The HDF5 log of a finetune run (<output.dir>/finetune.h5): /finetune/train (one row per
// logged step: step, loss, lr, grad_norm, tokens, seconds) and /finetune/validation (step,
// loss, token_perplexity), extendible tables of compound rows flushed after every append,
// plus the effective configuration as the attribute /finetune@config_json. Rank 0 writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco::io {

struct TrainRow {
  int64_t step = 0;      // 1-based: the row after `step` optimizer updates
  double loss = 0.0;     // mean token NLL of the step's batch
  double lr = 0.0;
  double grad_norm = 0.0;  // before clipping
  int64_t tokens = 0;    // target tokens trained on so far
  double seconds = 0.0;  // training wall time so far (resumed runs continue the count)
};

struct ValidationRow {
  int64_t step = 0;
  double loss = 0.0;              // -sum log p / tokens on the validation file
  double token_perplexity = 0.0;  // exp(loss)
};

class FinetuneLog {
 public:
  // Creates `path` (truncating), or with `resume_after` >= 0 reopens it and drops the rows
  // of steps after `resume_after` (written after the saved state; a resumed run writes them
  // again); a file that is not a readable log is created anew.
  static FinetuneLog open(const std::string& path, const std::string& config_json, int64_t resume_after = -1);
  FinetuneLog(FinetuneLog&& other) noexcept;
  FinetuneLog& operator=(FinetuneLog&& other) noexcept;
  FinetuneLog(const FinetuneLog&) = delete;
  FinetuneLog& operator=(const FinetuneLog&) = delete;
  ~FinetuneLog();

  void add_train(const TrainRow& row);
  void add_validation(const ValidationRow& row);
  void close();

 private:
  FinetuneLog(int64_t file) : file_(file) {}
  int64_t file_ = -1;  // hid_t
};

// Reads both tables (tests, tools); InputError naming the path if it is not a finetune log.
void read_finetune_log(const std::string& path, std::vector<TrainRow>& train, std::vector<ValidationRow>& validation);

}  // namespace laco::io
