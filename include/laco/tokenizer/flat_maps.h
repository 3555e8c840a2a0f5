// Open-addressing hash maps for the tokenizer's hot paths: token string -> id (looked up by
// string_view, no allocation; keys live in one arena) and (left id, right id) -> merge.
// Both are filled once at load and then only read, so concurrent lookups are safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace laco::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, then a final avalanche
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

// Maps strings to non-negative int32 values.
class StringIdMap {
 public:
  // Inserts or overwrites; returns false when the key was already present.
  bool insert(std::string_view key, int32_t value);
  // The value of `key`, or -1.
  int32_t find(std::string_view key) const;
  size_t size() const { return size_; }
  size_t arena_bytes() const { return arena_.size(); }
  void clear();

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0, length = 0;
    int32_t value = -1;  // -1: empty slot
  };
  void grow();
  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

// Maps an ordered pair of token ids to the merge's rank and the id it produces.
class MergeMap {
 public:
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };
  void insert(int32_t left, int32_t right, Merge merge);
  // The merge of (left, right), or nullptr.
  const Merge* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = index(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{0, -1};
  };
  static uint64_t pack(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  size_t index(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
  int shift_ = 64;
};

}  // namespace laco::tokenizer
