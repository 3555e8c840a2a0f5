// Calibration input (issue 4 item 0): the first N usable samples of a text file (one per
// line, blank lines skipped) or a .jsonl file (the "text" field of the first N records),
// tokenized without special tokens, BOS prepended when asked, truncated to max_tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/core/config.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::prune {

// Raw sample texts, untrimmed. InputError naming calibration.file when it is missing,
// unreadable, empty, or a .jsonl line is invalid (file:line). Fewer than `samples` is a warning.
std::vector<std::string> read_calibration_texts(const std::string& path, int samples);

// Token ids per sample, as described above.
std::vector<std::vector<int64_t>> tokenize_calibration(const std::vector<std::string>& texts,
                                                       const tokenizer::Tokenizer& tok,
                                                       const CalibrationSection& cfg);

}  // namespace laco::prune
