// Parity of laco's tokenizer with HuggingFace tokenizers on real vocabularies: every string
// of llama.cpp's test vectors (ids produced by HF without special tokens) for Llama 2, Llama 3,
// Qwen and GPT-2, the stories260K golden prompt ids, and decode(encode(s)) == s round trips.
#include <sstream>

#include "laco/core/error.h"
#include "laco/tokenizer/tokenizer.h"
#include "laco/tokenizer/unicode.h"
#include "support/test_support.h"

namespace laco::tokenizer {
namespace {

using test::asset;

struct Vector {
  std::string text;
  std::vector<int64_t> ids;
};

// `.inp` is every test string followed by "\n__ggml_vocab_test__\n"; `.out` one line of ids each.
std::vector<Vector> load_vectors(const std::string& name) {
  const std::string inp = test::read_file(asset("tokenizers/vectors/" + name + ".inp"));
  const std::string out = test::read_file(asset("tokenizers/vectors/" + name + ".out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Vector> vectors;
  size_t pos = 0;
  for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size()) {
    vectors.push_back({inp.substr(pos, hit - pos), {}});
  }
  EXPECT_EQ(pos, inp.size()) << name << ".inp has text after its last separator";
  std::istringstream lines(out);
  std::string line;
  for (Vector& v : vectors) {
    EXPECT_TRUE(static_cast<bool>(std::getline(lines, line)))
        << name << ".out has fewer lines than strings";
    std::istringstream ids(line);
    for (int64_t id; ids >> id;) v.ids.push_back(id);
  }
  return vectors;
}

std::string show(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += " " + std::to_string(id);
  return s;
}

// Encodes every vector string; `lossless` also checks decode(encode(s)) == s.
void check_family(const std::string& vectors_name, const std::string& tokenizer_dir,
                  bool nfc_only_round_trip) {
  const Tokenizer tok = Tokenizer::load(asset(tokenizer_dir));
  const std::vector<Vector> vectors = load_vectors(vectors_name);
  ASSERT_EQ(vectors.size(), 46u) << vectors_name;
  size_t matched = 0, round_trips = 0, round_trip_checked = 0;
  for (const Vector& v : vectors) {
    const std::vector<int64_t> ids = tok.encode(v.text, /*add_special_tokens=*/false);
    EXPECT_EQ(ids, v.ids) << vectors_name << " string '" << v.text << "'\n got:     " << show(ids)
                          << "\n expected:" << show(v.ids);
    matched += ids == v.ids;
    if (nfc_only_round_trip && normalize_unicode(v.text, NormalForm::kNfc) != v.text) continue;
    ++round_trip_checked;
    const std::string back = tok.decode(ids);
    EXPECT_EQ(back, v.text) << vectors_name << " round trip";
    round_trips += back == v.text;
  }
  std::printf("[ parity   ] %s vs %s: %zu/%zu strings identical, %zu/%zu round trips exact\n",
              vectors_name.c_str(), tokenizer_dir.c_str(), matched, vectors.size(), round_trips,
              round_trip_checked);
}

TEST(TokenizerVectors, LlamaSpmMatchesLlama2) {
  LACO_REQUIRE_ASSET("tokenizers/vectors/llama-spm.inp");
  LACO_REQUIRE_ASSET("tokenizers/llama2/tokenizer.json");
  check_family("llama-spm", "tokenizers/llama2", false);
}

TEST(TokenizerVectors, LlamaBpeMatchesLlama3) {
  LACO_REQUIRE_ASSET("tokenizers/vectors/llama-bpe.inp");
  LACO_REQUIRE_ASSET("tokenizers/llama3/tokenizer.json");
  check_family("llama-bpe", "tokenizers/llama3", false);
}

TEST(TokenizerVectors, Qwen2MatchesQwen3) {
  LACO_REQUIRE_ASSET("tokenizers/vectors/qwen2.inp");
  LACO_REQUIRE_ASSET("tokenizers/qwen3/tokenizer.json");
  check_family("qwen2", "tokenizers/qwen3", true);  // NFC makes non-NFC input lossy
}

TEST(TokenizerVectors, Gpt2MatchesGpt2) {
  LACO_REQUIRE_ASSET("tokenizers/vectors/gpt-2.inp");
  LACO_REQUIRE_ASSET("tokenizers/gpt2/tokenizer.json");
  check_family("gpt-2", "tokenizers/gpt2", false);
}

TEST(TokenizerVectors, Stories260kGoldenPrompt) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  const Tokenizer tok = Tokenizer::load(asset("models/stories260K-hf"));
  // models/stories260K/golden/golden.json: prompt_ids_with_bos for "Once upon a time".
  EXPECT_EQ(tok.encode("Once upon a time"), (std::vector<int64_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok.encode("Once upon a time", false), (std::vector<int64_t>{403, 407, 261, 378}));
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.decode({1, 403, 407, 261, 378}, /*skip_special_tokens=*/true), "Once upon a time");
  EXPECT_EQ(tok.vocab_size(), 512);
}

TEST(TokenizerVectors, SpecialTokensAndConfig) {
  LACO_REQUIRE_ASSET("tokenizers/llama3/tokenizer.json");
  LACO_REQUIRE_ASSET("tokenizers/llama2/tokenizer.json");
  const Tokenizer llama3 = Tokenizer::load(asset("tokenizers/llama3/tokenizer.json"));
  EXPECT_EQ(llama3.bos(), 128000);
  EXPECT_EQ(llama3.eos(), 128001);
  EXPECT_EQ(llama3.token_to_id("<|begin_of_text|>"), 128000);
  EXPECT_EQ(llama3.id_to_token(128001), "<|end_of_text|>");
  EXPECT_TRUE(llama3.is_special(128000));
  // Special tokens in the text are matched before the model (HF does the same).
  const std::vector<int64_t> hello = llama3.encode("Hello", false);
  std::vector<int64_t> expected = {128000};
  expected.insert(expected.end(), hello.begin(), hello.end());
  expected.push_back(128001);
  EXPECT_EQ(llama3.encode("<|begin_of_text|>Hello<|end_of_text|>", false), expected);
  EXPECT_EQ(llama3.decode(expected, true), "Hello");
  EXPECT_EQ(llama3.decode(expected, false), "<|begin_of_text|>Hello<|end_of_text|>");

  const Tokenizer llama2 = Tokenizer::load(asset("tokenizers/llama2"));
  EXPECT_EQ(llama2.bos(), 1);
  EXPECT_EQ(llama2.eos(), 2);
  EXPECT_EQ(llama2.prefix_ids(), std::vector<int64_t>{1});
  EXPECT_TRUE(llama2.suffix_ids().empty());
  const std::vector<int64_t> with = llama2.encode("Hello world");
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with.front(), 1);
  EXPECT_EQ(std::vector<int64_t>(with.begin() + 1, with.end()),
            llama2.encode("Hello world", false));
  // "<s>" splits the text; the piece after it is normalized on its own ("▁world").
  EXPECT_EQ(llama2.encode("<s>world", false), (std::vector<int64_t>{1, 3186}));
}

TEST(TokenizerVectors, BatchEqualsSingleAndRejectsBadUtf8) {
  LACO_REQUIRE_ASSET("tokenizers/vectors/llama-bpe.inp");
  LACO_REQUIRE_ASSET("tokenizers/llama3/tokenizer.json");
  const Tokenizer tok = Tokenizer::load(asset("tokenizers/llama3"));
  std::vector<std::string> texts;
  for (const Vector& v : load_vectors("llama-bpe")) texts.push_back(v.text);
  const auto batch = tok.encode_batch(texts, true, 4);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(batch[i], tok.encode(texts[i], true)) << texts[i];

  texts[7] = "ok \xC3\x28 bad";
  try {
    tok.encode_batch(texts);
    FAIL() << "invalid UTF-8 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("texts[7]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte offset 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace laco::tokenizer
