// dist::shares_directory and dist::write_checkpoint under mpirun (ctest runs -n 3): one
// directory for all ranks, a directory per rank (node-local disks), a stale share-check
// file; the parallel checkpoint byte-identical to io::write_checkpoint's, config.json only
// after every shard, the bytes each rank wrote adding up; a write error on one rank agreed
// by all; and the one-writer fallback.
// A plain program, not gtest: prints one line per failed check, exits 0 only when every
// check passed on every rank.
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/dist/parallel_checkpoint.h"
#include "laco/io/checkpoint.h"

namespace {

namespace fs = std::filesystem;
using laco::dist::Communicator;
using laco::dist::ReduceOp;

int g_rank = 0;
int g_failures = 0;

#define EXPECT(cond)                                                                                      \
  do {                                                                                                    \
    if (!(cond)) {                                                                                        \
      std::fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, #cond);       \
      ++g_failures;                                                                                       \
    }                                                                                                     \
  } while (0)

std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = *laco::read_file(e.path());
  return out;
}

uint64_t total_bytes(const std::map<std::string, std::string>& files) {
  uint64_t n = 0;
  for (const auto& [name, bytes] : files) n += bytes.size();
  return n;
}

// Eleven tensors of 400 to 2400 bytes, the same on every rank.
std::vector<laco::io::NamedTensor> tensors() {
  std::vector<laco::io::NamedTensor> t;
  for (int i = 0; i < 11; ++i) t.emplace_back("t" + std::to_string(i), at::arange(100 + 50 * i, at::kFloat) * 0.5 + i);
  return t;
}

void test_share_check(Communicator& c, const std::string& base) {
  const std::string shared = base + "/shared";
  EXPECT(laco::dist::shares_directory(c, shared));
  c.barrier();
  if (c.rank() == 0) EXPECT(files_of(shared).empty());  // the token is removed

  const std::string mine = base + "/node" + std::to_string(c.rank());
  fs::create_directories(mine);
  EXPECT(!laco::dist::shares_directory(c, mine));  // on every rank, rank 0's included
  c.barrier();
  if (c.rank() == 0) EXPECT(files_of(mine).empty());

  // Rank 2 sees a directory of its own holding a leftover share-check file: other bytes.
  const std::string stale = base + "/stale";
  if (c.rank() == 2) {
    fs::create_directories(stale);
    laco::io::write_file_atomic(stale + "/" + laco::dist::kShareTokenFile, "0123456789abcdef0123456789abcdef");
  }
  EXPECT(!laco::dist::shares_directory(c, c.rank() == 2 ? stale : shared));
}

void test_parallel_write(Communicator& c, const std::string& base, const std::string& src,
                         const nlohmann::json& config) {
  const std::string ref = base + "/ref", par = base + "/par";
  if (c.rank() == 0) laco::io::write_checkpoint(ref, config, tensors(), 3000, src);
  int built = 0, shards_seen = 0;
  bool config_early = false;
  laco::dist::CheckpointJob job{par, config, 3000, src, [&] { ++built; return tensors(); }, [&] {
    // Rank 2 lingers after its first shard: were there no barrier before config.json,
    // rank 0 would write it meanwhile.
    if (c.rank() == 2 && shards_seen++ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    config_early = config_early || fs::exists(par + "/config.json");
  }};
  const laco::dist::CheckpointWritten w = laco::dist::write_checkpoint(c, job);
  EXPECT(built == 1);
  EXPECT(w.all_ranks);
  EXPECT(w.shards > 0);  // 3000-byte shards: more than three of them
  EXPECT(!config_early);
  const uint64_t sum = c.allreduce<int64_t>(static_cast<int64_t>(w.bytes), ReduceOp::kSum);
  c.barrier();
  if (c.rank() == 0) {
    const auto want = files_of(ref), got = files_of(par);
    EXPECT(want.size() > 6);
    EXPECT(want == got);
    EXPECT(sum == total_bytes(want));
    std::printf("parallel: %zu files, %llu bytes; rank 0 wrote %d shards, %llu bytes; all ranks %llu bytes\n",
                got.size(), static_cast<unsigned long long>(total_bytes(got)), w.shards,
                static_cast<unsigned long long>(w.bytes), static_cast<unsigned long long>(sum));
  }
}

// A failure while rank 2 writes its shards (here thrown by the hook; a full disk in life):
// every rank gets the same error naming rank 2, and no config.json is written.
void test_write_error(Communicator& c, const std::string& base, const std::string& src, const nlohmann::json& config) {
  const std::string dir = base + "/error";
  laco::dist::CheckpointJob job{dir, config, 3000, src, tensors, [&] {
    if (c.rank() == 2) throw laco::InternalError("writing shard failed: No space left on device");
  }};
  std::string what;
  try {
    laco::dist::write_checkpoint(c, job);
  } catch (const laco::AgreedError& e) {
    what = e.what();
  }
  EXPECT(what.find("rank 2") != std::string::npos && what.find("No space left") != std::string::npos);
  c.barrier();
  if (c.rank() == 0) EXPECT(!fs::exists(dir + "/config.json") && !fs::exists(dir + "/model.safetensors.index.json"));
}

void test_fallback(Communicator& c, const std::string& base, const std::string& src, const nlohmann::json& config) {
  const std::string mine = base + "/fallback" + std::to_string(c.rank());
  fs::create_directories(mine);
  int built = 0;
  laco::dist::CheckpointJob job{mine, config, 3000, src, [&] { ++built; return tensors(); }, {}};
  const laco::dist::CheckpointWritten w = laco::dist::write_checkpoint(c, job);
  EXPECT(!w.all_ranks);
  EXPECT(built == (c.rank() == 0 ? 1 : 0));
  const auto got = files_of(mine);
  if (c.rank() == 0) {
    EXPECT(got == files_of(base + "/ref"));
    EXPECT(w.bytes == total_bytes(got));
    std::printf("fallback: rank 0 wrote %zu files, %llu bytes\n", got.size(),
                static_cast<unsigned long long>(w.bytes));
  } else {
    EXPECT(got.empty());
    EXPECT(w.bytes == 0 && w.shards == 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  laco::dist::MpiRuntime mpi(&argc, &argv);
  int total_failures = 0;
  {
    laco::dist::MpiCommunicator world(MPI_COMM_WORLD);
    g_rank = world.rank();
    std::string base;
    try {
      if (world.rank() == 0) {
        std::string tmpl = (fs::temp_directory_path() / "laco_parckpt_XXXXXX").string();
        base = mkdtemp(tmpl.data());
        fs::create_directories(base + "/shared");
        fs::create_directories(base + "/src");
        laco::io::write_file_atomic(base + "/src/tokenizer.json", "{\"model\": {}}\n");
      }
      world.broadcast(base, 0);
      if (world.size() < 3) throw std::runtime_error("run with at least 3 ranks");
      const nlohmann::json config = {{"model_type", "llama"}, {"num_hidden_layers", 11}};
      test_share_check(world, base);
      test_parallel_write(world, base, base + "/src", config);
      test_write_error(world, base, base + "/src", config);
      test_fallback(world, base, base + "/src", config);
      world.barrier();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank %d: unexpected exception: %s\n", g_rank, e.what());
      std::fflush(stderr);
      laco::dist::MpiRuntime::abort(1);  // the other ranks may be blocked in a collective
    }
    total_failures = world.allreduce<int32_t>(g_failures, ReduceOp::kSum);
    if (world.rank() == 0) {
      fs::remove_all(base);
      std::printf("parallel_checkpoint_mpi: %d rank(s), %d failed check(s)\n", world.size(), total_failures);
    }
  }
  return total_failures == 0 ? 0 : 1;
}
