// Agreeing on validation outcomes across ranks: see agree.h.
#include "laco/dist/agree.h"

#include <exception>
#include <filesystem>

#include "laco/core/interrupt.h"
#include "laco/core/resources.h"

namespace laco::dist {
namespace {

// One record per rank: "<kind>\x1f<host>\x1f<text>\x1e" (kind: 0 ok, 1 input, 2 internal).
struct Outcome {
  int kind = 0;
  std::string host, text;
};

std::vector<Outcome> exchange(Communicator& world, const Outcome& mine) {
  const std::string rec = std::to_string(mine.kind) + '\x1f' + mine.host + '\x1f' + mine.text + '\x1e';
  const std::vector<char> all = world.allgatherv(std::vector<char>(rec.begin(), rec.end()));
  std::vector<Outcome> out;
  std::string cur;
  for (char c : all) {
    if (c != '\x1e') {
      cur += c;
      continue;
    }
    const size_t a = cur.find('\x1f'), b = cur.find('\x1f', a + 1);
    out.push_back({std::stoi(cur.substr(0, a)), cur.substr(a + 1, b - a - 1), cur.substr(b + 1)});
    cur.clear();
  }
  return out;
}

[[noreturn]] void fail(const std::vector<Outcome>& all, size_t rank, bool one_rank) {
  const Outcome& o = all[rank];
  const std::string text = one_rank ? o.text : fmt::format("rank {} ({}): {}", rank, o.host, o.text);
  throw AgreedError(text, o.kind == 1);
}

}  // namespace

void agree(Communicator& world, const std::function<void()>& validate) {
  Outcome mine;
  try {
    validate();
  } catch (const AgreedError&) {
    throw;  // already known to every rank
  } catch (const InputError& e) {
    mine = {1, "", e.what()};
  } catch (const std::filesystem::filesystem_error& e) {  // a user path: a loop, a permission
    mine = {1, "", e.what()};
  } catch (const std::exception& e) {
    mine = {2, "", e.what()};
  }
  if (world.size() == 1) {
    if (mine.kind != 0) throw AgreedError(mine.text, mine.kind == 1);
    return;
  }
  mine.host = host_name();
  const std::vector<Outcome> all = exchange(world, mine);
  for (size_t r = 0; r < all.size(); ++r)
    if (all[r].kind != 0) fail(all, r, false);
}

void require_same(Communicator& world, const std::vector<std::pair<std::string, std::string>>& items) {
  if (world.size() == 1) return;
  const std::string host = host_name();
  for (const auto& [what, value] : items) {  // one small exchange per item, in the same order everywhere
    const std::vector<Outcome> all = exchange(world, {0, host, value});
    for (size_t r = 1; r < all.size(); ++r)
      if (all[r].text != all[0].text)
        throw AgreedError(fmt::format("rank {} ({}) read a different {} than rank 0 ({}): every rank must see the "
                                      "same files and settings (check node-local copies and per-node environment)",
                                      r, all[r].host, what, all[0].host), true);
  }
}

void stop_if_interrupted(Communicator& world, const std::string& what) {
  const int32_t sig = world.allreduce<int32_t>(pending_interrupt(), ReduceOp::kMax);
  if (sig != 0) throw Interrupted(fmt::format("{} received: {}", signal_name(sig), what));
}

}  // namespace laco::dist
