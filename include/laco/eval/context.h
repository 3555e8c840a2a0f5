// What every evaluation task runner is given (model, tokenizer, communicator, batch and
// length limits) and the sharding rules that make results independent of the world size:
// items are grouped into work units whose boundaries depend only on the items, units are
// split over ranks in contiguous blocks, and per-item results (structs) are gathered to
// rank 0 in rank order, which is item order.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laco/dist/communicator.h"
#include "laco/model/transformer.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::eval {

struct EvalContext {
  const model::Transformer& model;
  const tokenizer::Tokenizer& tokenizer;
  dist::Communicator& comm;
  int64_t batch_size = 8;    // requests per forward (>= 1)
  int64_t max_length = 512;  // tokens per forward row (the harness's max_length)
};

// One reported number and its standard error, where the metric has one.
struct MetricValue {
  std::string metric;
  double value = 0.0;
  std::optional<double> std_error = std::nullopt;
};

// Half-open range [begin, end).
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

// Contiguous block of `n` units for `rank` of `size`: the first n % size ranks get one more.
Range shard_range(int64_t n, int rank, int size);

// Groups consecutive items into units of total cost <= budget (an item costlier than the
// budget is a unit alone). Returns unit boundaries: units[u] = [b[u], b[u+1]).
std::vector<int64_t> group_by_cost(const std::vector<int64_t>& costs, int64_t budget);

// The items this rank owns: units split by shard_range, mapped back to item indices.
Range owned_items(const std::vector<int64_t>& unit_bounds, int rank, int size);

// Makes a rank-local InputError collective: `error` is this rank's message ("" if none).
// If any rank has one, every rank throws InputError with the lowest failing rank's message,
// so main() sees the same bad input everywhere. Collective.
void raise_input_error_if_any(dist::Communicator& comm, const std::string& error);

// Same for strings (lengths then bytes; two collectives).
std::vector<std::string> gather_strings(dist::Communicator& comm,
                                        const std::vector<std::string>& mine);

}  // namespace laco::eval
