// Growth and lookup of the tokenizer's open-addressing maps (include/laco/tokenizer/flat_maps.h).
// Load factor stays below 1/2, so linear probing ends quickly on an empty slot.
#include "laco/tokenizer/flat_maps.h"

#include "laco/core/error.h"

namespace laco::tokenizer {

void StringIdMap::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.value < 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].value >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

bool StringIdMap::insert(std::string_view key, int32_t value) {
  LACO_CHECK(value >= 0, "StringIdMap values must be non-negative, got {}", value);
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.value < 0) {
      LACO_CHECK(arena_.size() + key.size() < (1ull << 32), "token arena exceeds 4 GiB");
      s = Slot{h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), value};
      arena_.append(key);
      ++size_;
      return true;
    }
    if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == key) {
      s.value = value;
      return false;
    }
  }
}

int32_t StringIdMap::find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_bytes(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.value < 0) return -1;
    if (s.hash == h && s.length == key.size() &&
        std::string_view(arena_).substr(s.offset, s.length) == key) {
      return s.value;
    }
  }
}

void StringIdMap::clear() {
  slots_.clear();
  arena_.clear();
  size_ = 0;
}

void MergeMap::grow() {
  std::vector<Slot> old = std::move(slots_);
  size_t n = old.empty() ? 64 : old.size() * 2;
  slots_.assign(n, Slot{});
  mask_ = n - 1;
  shift_ = 64;
  while ((size_t{1} << (64 - shift_)) < n) --shift_;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = index(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void MergeMap::insert(int32_t left, int32_t right, Merge merge) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = index(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == kEmpty) {
      s = Slot{key, merge};
      ++size_;
      return;
    }
    if (s.key == key) {
      s.merge = merge;  // a repeated pair keeps the later entry, as HF's HashMap collect does
      return;
    }
  }
}

}  // namespace laco::tokenizer
