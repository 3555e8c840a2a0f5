// Calibration input (issue 4 item 0): the first N usable samples of a text file (one per
// line, blank lines skipped) or a .jsonl file (the "text" field of the first N records),
// tokenized without special tokens, BOS prepended when asked, truncated to max_tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/core/config.h"
#include "laco/model/model_config.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::prune {

// Raw sample texts, untrimmed. InputError naming calibration.file when it is missing,
// not a regular file, unreadable, empty, a line is not UTF-8 or longer than 16 MiB, or a
// .jsonl line is invalid (file:line). Fewer than `samples` is a warning.
std::vector<std::string> read_calibration_texts(const std::string& path, int samples);

// Token ids per sample, as described above.
std::vector<std::vector<int64_t>> tokenize_calibration(const std::vector<std::string>& texts,
                                                       const tokenizer::Tokenizer& tok,
                                                       const CalibrationSection& cfg);

// InputError naming the calibration file, the sample and config.json when a token id lies
// outside [0, vocab_size) (a tokenizer that does not belong to the model).
void check_token_ids(const std::vector<std::vector<int64_t>>& samples, const model::ModelConfig& model,
                     const std::string& file);

// A digest of the token ids, which every rank must agree on.
std::string calibration_digest(const std::vector<std::vector<int64_t>>& samples);

}  // namespace laco::prune
