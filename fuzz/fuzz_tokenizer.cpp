// Fuzz target: tokenizer.json loading (model, normalizer, pre-tokenizer, post-processor,
// decoder, added tokens; tokenizer_config.json next to it), then encode/decode of a short text.
// Input: "tokenizer.json @@@\n text @@@\n tokenizer_config.json" (the last two optional).
// InputError is the expected answer to bad bytes; anything else is a bug.
#include <cstdint>

#include "fuzz_support.h"
#include "laco/core/error.h"
#include "laco/tokenizer/tokenizer.h"

namespace {

void run(const std::vector<std::string>& parts) {
  const auto dir = laco::fuzz::scratch_dir("tok");
  laco::fuzz::write_bytes(dir / "tokenizer.json", parts[0]);
  if (parts.size() > 2) laco::fuzz::write_bytes(dir / "tokenizer_config.json", parts[2]);
  const auto tok = laco::tokenizer::Tokenizer::load(dir.string());
  (void)tok.describe();
  const std::string text = parts.size() > 1 ? parts[1].substr(0, 256) : std::string("Hello!");
  for (bool special : {true, false}) {
    const std::vector<int64_t> ids = tok.encode(text, special);
    for (int64_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();  // encode() must yield vocabulary ids
    (void)tok.decode(ids, false);
    (void)tok.decode(ids, true);
  }
  if (auto id = tok.token_to_id(text)) (void)tok.id_to_token(*id);
  // Any id sequence must decode (ids from the text's bytes; vocab_size() itself is the one
  // id out of range, which must be an InputError).
  std::vector<int64_t> raw;
  for (unsigned char c : text) raw.push_back(static_cast<int64_t>(c) % (tok.vocab_size() + 1));
  (void)tok.decode(raw, false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return laco::fuzz::run_input([&] { run(laco::fuzz::split(data, size, "@@@\n", 3)); });
}
