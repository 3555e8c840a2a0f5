// Sharding rules of the evaluation driver (see laco/eval/context.h): pure functions that
// split work units over ranks, and the gathers that bring per-item results to rank 0.
#include "laco/eval/context.h"

#include <algorithm>

#include "laco/core/error.h"

namespace laco::eval {

Range shard_range(int64_t n, int rank, int size) {
  LACO_CHECK(size >= 1 && rank >= 0 && rank < size && n >= 0, "rank {} of {}, n {}", rank, size, n);
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<int64_t> group_by_cost(const std::vector<int64_t>& costs, int64_t budget) {
  LACO_CHECK(budget >= 1, "budget {}", budget);
  std::vector<int64_t> bounds{0};
  int64_t used = 0;
  for (size_t i = 0; i < costs.size(); ++i) {
    if (used > 0 && used + costs[i] > budget) {
      bounds.push_back(static_cast<int64_t>(i));
      used = 0;
    }
    used += costs[i];
  }
  if (!costs.empty()) bounds.push_back(static_cast<int64_t>(costs.size()));
  return bounds;
}

Range owned_items(const std::vector<int64_t>& unit_bounds, int rank, int size) {
  const int64_t units = std::max<int64_t>(0, static_cast<int64_t>(unit_bounds.size()) - 1);
  if (units == 0) return {0, 0};
  const Range u = shard_range(units, rank, size);
  return {unit_bounds[static_cast<size_t>(u.begin)], unit_bounds[static_cast<size_t>(u.end)]};
}

void raise_input_error_if_any(dist::Communicator& comm, const std::string& error) {
  // max of (size - rank) over failing ranks identifies the lowest failing rank.
  const int64_t mark = error.empty() ? 0 : comm.size() - comm.rank();
  const int64_t top = comm.allreduce<int64_t>(mark, dist::ReduceOp::kMax);
  if (top == 0) return;
  std::string message = error;
  comm.broadcast(message, static_cast<int>(comm.size() - top));
  throw InputError(message);
}

std::vector<std::string> gather_strings(dist::Communicator& comm,
                                        const std::vector<std::string>& mine) {
  std::vector<int64_t> lengths;
  std::vector<char> bytes;
  for (const std::string& s : mine) {
    lengths.push_back(static_cast<int64_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  const std::vector<int64_t> all_lengths = comm.gatherv(lengths, 0);
  const std::vector<char> all_bytes = comm.gatherv(bytes, 0);
  std::vector<std::string> out;
  size_t at = 0;
  for (int64_t n : all_lengths) {
    out.push_back(n == 0 ? std::string() : std::string(all_bytes.data() + at, static_cast<size_t>(n)));
    at += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace laco::eval
