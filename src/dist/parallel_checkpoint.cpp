// Every rank writing its share of one checkpoint: see parallel_checkpoint.h.
#include "laco/dist/parallel_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/dist/agree.h"
#include "laco/io/atomic_file.h"
#include "laco/io/checkpoint.h"

namespace laco::dist {
namespace {

namespace fs = std::filesystem;

// 128 random bits as hex: no earlier run's leftover or other node's file can match it.
std::string random_token() {
  std::random_device rd;
  std::string token;
  for (int i = 0; i < 4; ++i) token += fmt::format("{:08x}", rd());
  return token;
}

}  // namespace

std::vector<int> assign_shards(const std::vector<uint64_t>& shard_bytes, int writers) {
  LACO_CHECK(writers >= 1, "assign_shards needs at least one writer, got {}", writers);
  std::vector<size_t> order(shard_bytes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return shard_bytes[a] > shard_bytes[b]; });
  std::vector<uint64_t> load(static_cast<size_t>(writers), 0);
  std::vector<int> owner(shard_bytes.size(), 0);
  for (size_t i : order) {
    const auto least = std::min_element(load.begin(), load.end());  // the first, so the lowest rank
    owner[i] = static_cast<int>(least - load.begin());
    *least += shard_bytes[i];
  }
  return owner;
}

bool shares_directory(Communicator& world, const std::string& dir) {
  if (world.size() == 1) return true;
  const std::string path = (fs::path(dir) / kShareTokenFile).string();
  std::string token;
  agree(world, [&] {  // the file is fsynced and renamed before any rank looks for it
    if (world.rank() != 0) return;
    std::error_code ec;
    fs::create_directories(dir, ec);
    LACO_INPUT_CHECK(!ec, "cannot create the directory '{}': {}", dir, ec.message());
    token = random_token();
    io::write_file_atomic(path, token);
  });
  world.broadcast(token, 0);
  const int32_t blind = world.allreduce<int32_t>(read_file(path) != token ? 1 : 0, ReduceOp::kSum);
  if (world.rank() == 0) {  // every rank has read it (the allreduce)
    std::error_code ec;
    fs::remove(path, ec);
    LACO_INPUT_CHECK(!ec, "cannot remove '{}': {}", path, ec.message());
    io::fsync_dir(dir);
  }
  return blind == 0;
}

CheckpointWritten write_checkpoint(Communicator& world, const CheckpointJob& job) {
  const int rank = world.rank();
  CheckpointWritten out;
  out.all_ranks = shares_directory(world, job.dir);
  if (!out.all_ranks && rank == 0)
    spdlog::info("output.dir '{}' is not the same directory on every rank (some rank cannot read a file rank 0 "
                 "wrote there): rank 0 writes the whole checkpoint", job.dir);
  const int writers = out.all_ranks ? world.size() : 1;
  std::vector<io::NamedTensor> tensors;
  io::ShardPlan plan;
  agree(world, [&] {  // (1)
    if (rank == 0) io::clear_checkpoint_dir(job.dir, job.copy_from_dir);
    if (rank >= writers) return;
    tensors = job.tensors();
    plan = io::plan_shards(tensors, job.max_shard_bytes, job.dir, job.dtype);
  });
  agree(world, [&] {  // (2)
    if (rank >= writers) return;
    std::vector<uint64_t> sizes;
    for (const io::ShardPlan::Shard& s : plan.shards) sizes.push_back(s.bytes);
    const std::vector<int> owner = assign_shards(sizes, writers);
    for (size_t i = 0; i < owner.size(); ++i) {
      if (owner[i] != rank) continue;
      out.bytes += io::write_shard(job.dir, plan, i, tensors);
      ++out.shards;
      if (job.after_shard) job.after_shard();
    }
  });
  if (rank == 0) {  // (3)
    if (plan.indexed()) out.bytes += io::write_shard_index(job.dir, plan, tensors);
    out.bytes += io::finish_checkpoint(job.dir, job.config, job.copy_from_dir);
  }
  return out;
}

}  // namespace laco::dist
