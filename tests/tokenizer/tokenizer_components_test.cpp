// Unit tests of the tokenizer's parts against hand-computed results and HuggingFace
// tokenizers' own documented examples: BPE merge order, byte fallback, unk fusing,
// ignore_merges, added-token options, split behaviours, pre-tokenizers, normalizers,
// decoders, post-processor frames, and the errors for bad tokenizer.json files.
#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/tokenizer/decoders.h"
#include "laco/tokenizer/normalizers.h"
#include "laco/tokenizer/pattern.h"
#include "laco/tokenizer/pre_tokenizers.h"
#include "laco/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace laco::tokenizer {
namespace {

using nlohmann::json;
using Ids = std::vector<int64_t>;

// A minimal tokenizer.json: BPE over `vocab` with `merges`, no other components.
json bpe_json(const json& vocab, const json& merges) {
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

Tokenizer load_json(const test::TempDir& dir, const json& j,
                    const std::string& name = "tokenizer.json") {
  test::write_file(dir.file(name), j.dump());
  return Tokenizer::load(dir.file(name));
}

// The message of the InputError that `f` throws ("" when it throws none).
template <typename F>
std::string input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

json abc_vocab() {
  return {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"aa", 6}};
}

TEST(Bpe, LowestRankMergesFirstAndTiesGoLeft) {
  test::TempDir dir;
  // (b,c) has rank 0, (a,b) rank 1: "abc" -> a + bc, and (a, bc) has no merge.
  const Tokenizer t = load_json(dir, bpe_json(abc_vocab(), {"b c", "a b", "ab c", "a a"}));
  EXPECT_EQ(t.encode("abc"), (Ids{0, 4}));
  EXPECT_EQ(t.encode("ab"), (Ids{3}));
  EXPECT_EQ(t.encode("aaa"), (Ids{6, 0}));  // the leftmost "a a" merges first
  // The same merges as [a, b] pairs give the same model; swapping ranks changes the result.
  const Tokenizer pairs = load_json(
      dir, bpe_json(abc_vocab(), json::array({json::array({"a", "b"}), json::array({"ab", "c"}),
                                              json::array({"b", "c"})})));
  EXPECT_EQ(pairs.encode("abc"), (Ids{5}));
}

TEST(Bpe, IgnoreMergesTakesWholeWordsFromTheVocab) {
  test::TempDir dir;
  json j = bpe_json(abc_vocab(), {"b c", "a b"});
  EXPECT_EQ(load_json(dir, j).encode("abc"), (Ids{0, 4}));
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(load_json(dir, j).encode("abc"), (Ids{5}));
}

TEST(Bpe, UnknownCharactersUseUnkOrByteFallback) {
  test::TempDir dir;
  json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}};
  json j = bpe_json(vocab, json::array());
  j["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(load_json(dir, j).encode("accb"), (Ids{1, 0, 0, 2}));  // HF test_unk_not_fused
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(load_json(dir, j).encode("accb"), (Ids{1, 0, 2}));  // HF test_unk_get_fused
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  j["model"]["vocab"] = vocab;
  j["model"]["byte_fallback"] = true;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
  const Tokenizer t = load_json(dir, j);
  EXPECT_EQ(t.encode("a\xC3\xA9"), (Ids{1, 3 + 0xC3, 3 + 0xA9}));  // "é" as its two bytes
  EXPECT_EQ(t.decode(t.encode("a\xC3\xA9 b")), "a\xC3\xA9 b");
  // A byte run that is not UTF-8 decodes to one U+FFFD per byte, as in HF.
  EXPECT_EQ(t.decode({3 + 0xC3, 1}),
            "\xEF\xBF\xBD"
            "a");
}

TEST(Bpe, RejectsMergesOfUnknownTokens) {
  test::TempDir dir;
  const std::string msg = input_error([&] {
    load_json(dir, bpe_json(abc_vocab(), {"a b", "a d"}));
  });
  EXPECT_NE(msg.find("model.merges[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token 'd' is not in model.vocab"), std::string::npos) << msg;
  const std::string merged = input_error([&] {
    load_json(dir, bpe_json({{"a", 0}, {"b", 1}}, {"a b"}));
  });
  EXPECT_NE(merged.find("merged token 'ab'"), std::string::npos) << merged;
  const std::string shape = input_error([&] { load_json(dir, bpe_json(abc_vocab(), {"a b c"})); });
  EXPECT_NE(shape.find("model.merges[0]"), std::string::npos) << shape;
}

// Char-level vocab of lowercase letters and space plus added tokens, with a Lowercase normalizer.
json added_tokens_json() {
  json vocab = json::object();
  int id = 0;
  for (char c = 'a'; c <= 'z'; ++c) vocab[std::string(1, c)] = id++;
  vocab[" "] = id++;  // 26
  json j = bpe_json(vocab, json::array());
  j["normalizer"] = {{"type", "Lowercase"}};
  auto tok = [](int id, const char* s, bool special, bool normalized, bool lstrip, bool rstrip,
                bool single) {
    return json{
        {"id", id},         {"content", s},     {"special", special},   {"normalized", normalized},
        {"lstrip", lstrip}, {"rstrip", rstrip}, {"single_word", single}};
  };
  j["added_tokens"] = {tok(100, "[CLS]", true, false, false, false, false),
                       tok(101, "[SEP]", true, false, false, false, false),
                       tok(102, "my", false, true, true, true, false),
                       tok(103, "name", false, true, false, false, false),
                       tok(104, "ony", false, true, false, false, true)};
  return j;
}

Ids chars(const std::string& s) {
  Ids ids;
  for (char c : s) ids.push_back(c == ' ' ? 26 : c - 'a');
  return ids;
}

TEST(AddedTokens, StripSingleWordAndNormalizedLikeHf) {
  test::TempDir dir;
  const Tokenizer t = load_json(dir, added_tokens_json());
  // HF added_vocabulary.rs options_use_cases: " my " is one match (lstrip + rstrip, matched
  // after lowercasing), "ony" inside "anthony" is rejected by single_word.
  Ids expected = {100, 102, 103};
  const Ids middle = chars(" is anthony ");
  expected.insert(expected.end(), middle.begin(), middle.end());
  expected.push_back(101);
  EXPECT_EQ(t.encode("[CLS] My name is Anthony [SEP]"), expected);
  EXPECT_EQ(t.encode("ony"), (Ids{104}));
  EXPECT_EQ(t.encode("ony x"), (Ids{104, 26, 23}));
  EXPECT_EQ(t.encode("xony"), chars("xony"));
  // Special tokens are not normalized: "[cls]" is plain text (and not representable).
  EXPECT_EQ(t.token_to_id("[SEP]"), 101);
  EXPECT_TRUE(t.is_special(100));
  EXPECT_FALSE(t.is_special(102));
  EXPECT_EQ(t.decode({100, 0, 101}, true), "a");
}

std::vector<std::string> pre_tokenize(const json& j, const std::string& text,
                                      bool at_start = true) {
  auto p = make_pre_tokenizer(j, "test");
  std::vector<Piece> pieces{{text, at_start}};
  p->pre_tokenize(pieces);
  std::vector<std::string> out;
  for (const Piece& piece : pieces) out.push_back(piece.text);
  return out;
}

using Strings = std::vector<std::string>;

TEST(PreTokenizers, SplitBehavioursMatchHfDocumentation) {
  // NormalizedString::split's doc example, splitting "the-final--countdown" on '-'.
  auto split = [](const char* behavior) {
    return pre_tokenize({{"type", "Split"},
                         {"pattern", {{"String", "-"}}},
                         {"behavior", behavior},
                         {"invert", false}},
                        "the-final--countdown");
  };
  EXPECT_EQ(split("Removed"), (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Strings{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Strings{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Strings{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Strings{"the", "-", "final", "--", "countdown"}));
  // invert keeps the regex matches and removes the rest.
  EXPECT_EQ(pre_tokenize({{"type", "Split"},
                          {"pattern", {{"Regex", "\\p{L}+"}}},
                          {"behavior", "Removed"},
                          {"invert", true}},
                         "héllo, wörld!"),
            (Strings{"héllo", "wörld"}));
}

TEST(PreTokenizers, ByteLevelMatchesHfTests) {
  const json bl = {{"type", "ByteLevel"},
                   {"add_prefix_space", false},
                   {"trim_offsets", true},
                   {"use_regex", true}};
  EXPECT_EQ(
      pre_tokenize(bl, "Hello my friend, how is your day going?"),
      (Strings{"Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "Ġis", "Ġyour", "Ġday", "Ġgoing", "?"}));
  EXPECT_EQ(pre_tokenize(bl, "Hello there\nHello there"),
            (Strings{"Hello", "Ġthere", "Ċ", "Hello", "Ġthere"}));
  EXPECT_EQ(pre_tokenize(bl, "Hello there       dear"),
            (Strings{"Hello", "Ġthere", "ĠĠĠĠĠĠ", "Ġdear"}));
  EXPECT_EQ(pre_tokenize(bl, "i⭢j"), (Strings{"i", "âŃ¢", "j"}));
  json prefixed = bl;
  prefixed["add_prefix_space"] = true;
  EXPECT_EQ(pre_tokenize(prefixed, "Hello my")[0], "ĠHello");
  prefixed["use_regex"] = false;
  EXPECT_EQ(pre_tokenize(prefixed, "Hello my friend"), (Strings{"ĠHelloĠmyĠfriend"}));
}

TEST(PreTokenizers, MetaspaceDigitsAndSequence) {
  const json ms = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(pre_tokenize(ms, "Hey friend!"), (Strings{"▁Hey", "▁friend!"}));
  EXPECT_EQ(pre_tokenize(ms, "Hey   friend!"), (Strings{"▁Hey", "▁", "▁", "▁friend!"}));
  json first = ms;
  first["prepend_scheme"] = "first";
  EXPECT_EQ(pre_tokenize(first, "Hey", true), (Strings{"▁Hey"}));
  EXPECT_EQ(pre_tokenize(first, "Hey", false), (Strings{"Hey"}));  // not at the start of the text
  json nosplit = ms;
  nosplit["split"] = false;
  EXPECT_EQ(pre_tokenize(nosplit, "Hey friend"), (Strings{"▁Hey▁friend"}));

  EXPECT_EQ(pre_tokenize({{"type", "Digits"}, {"individual_digits", true}}, "Hey 123 friend!"),
            (Strings{"Hey ", "1", "2", "3", " friend!"}));
  EXPECT_EQ(pre_tokenize({{"type", "Digits"}, {"individual_digits", false}}, "Hey 123 friend!"),
            (Strings{"Hey ", "123", " friend!"}));
  const json seq = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "WhitespaceSplit"}}, {{"type", "Digits"}, {"individual_digits", true}}}}};
  EXPECT_EQ(pre_tokenize(seq, "ab12  c3"), (Strings{"ab", "1", "2", "c", "3"}));
}

std::string normalize(const json& j, std::string text) {
  make_normalizer(j, "test")->normalize(text);
  return text;
}

TEST(Normalizers, PrependReplaceUnicodeAndStrip) {
  const json llama = {{"type", "Sequence"},
                      {"normalizers",
                       {{{"type", "Prepend"}, {"prepend", "▁"}},
                        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  EXPECT_EQ(normalize(llama, "Hello  world"), "▁Hello▁▁world");
  EXPECT_EQ(normalize(llama, ""), "");  // Prepend leaves empty text alone
  EXPECT_EQ(normalize({{"type", "NFC"}}, "e\xCC\x81"), "\xC3\xA9");  // e + U+0301 -> é
  EXPECT_EQ(normalize({{"type", "NFKC"}}, "\xEF\xAC\x81"), "fi");    // U+FB01 ligature
  EXPECT_EQ(normalize({{"type", "NFD"}}, "\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", false}},
                      " \t x \xE3\x80\x80"),
            "x \xE3\x80\x80");
  EXPECT_EQ(normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                      " \t x \xE3\x80\x80"),
            "x");
  EXPECT_EQ(normalize({{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}},
                      "a \t\n b"),
            "a b");
}

std::string decode_chain(const json& j, std::vector<std::string> tokens) {
  make_decoder(j, "test")->decode_chain(tokens);
  std::string s;
  for (const auto& t : tokens) s += t;
  return s;
}

TEST(Decoders, MatchHfSemantics) {
  const json llama = {{"type", "Sequence"},
                      {"decoders",
                       {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                        {{"type", "ByteFallback"}},
                        {{"type", "Fuse"}},
                        {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  EXPECT_EQ(decode_chain(llama, {"▁Hey", "▁", "<0xE2>", "<0x9C>", "<0x85>", "▁friend"}),
            "Hey ✅ friend");
  EXPECT_EQ(decode_chain(llama, {"▁", "▁a"}), " a");  // Strip removes one leading space only
  EXPECT_EQ(decode_chain({{"type", "ByteLevel"}}, {"Hello", "Ġmy", "Ġfriend", ",", "Ċ"}),
            "Hello my friend,\n");
  EXPECT_EQ(decode_chain({{"type", "ByteLevel"}}, {"âľ"}), "\xEF\xBF\xBD");  // truncated UTF-8
  const json ms = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(decode_chain(ms, {"▁Hey", "▁friend!"}), "Hey friend!");
  EXPECT_EQ(
      decode_chain({{"type", "Strip"}, {"content", "x"}, {"start", 2}, {"stop", 1}}, {"xxxaxx"}),
      "xax");
}

TEST(PostProcessor, TemplateRobertaAndConfigOverride) {
  test::TempDir dir;
  json j = bpe_json(abc_vocab(), json::array());
  j["added_tokens"] = {{{"id", 7}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
                       {{"id", 8}, {"content", "</s>"}, {"special", true}, {"normalized", false}}};
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", "<s>:0 $A:0 </s>:0"},
                         {"pair", "<s>:0 $A:0 </s>:0 $B:1 </s>:1"},
                         {"special_tokens",
                          {{"<s>", {{"id", "<s>"}, {"ids", {7}}, {"tokens", {"<s>"}}}},
                           {"</s>", {{"id", "</s>"}, {"ids", {8}}, {"tokens", {"</s>"}}}}}}};
  Tokenizer t = load_json(dir, j);
  EXPECT_EQ(t.encode("ab"), (Ids{7, 0, 1, 8}));
  EXPECT_EQ(t.encode("ab", false), (Ids{0, 1}));
  EXPECT_EQ(t.bos(), 7);
  EXPECT_EQ(t.eos(), 8);
  j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 8}}, {"cls", {"<s>", 7}}};
  EXPECT_EQ(load_json(dir, j).encode("a"), (Ids{7, 0, 8}));
  // tokenizer_config.json's add_bos_token / add_eos_token replace the frame.
  test::write_file(
      dir.file("tokenizer_config.json"),
      R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false, "add_eos_token": true})");
  t = load_json(dir, j);
  EXPECT_EQ(t.encode("a"), (Ids{0, 8}));
  test::write_file(dir.file("tokenizer_config.json"), R"({"bos_token": "<nope>"})");
  EXPECT_NE(input_error([&] { load_json(dir, j); }).find("bos_token '<nope>'"), std::string::npos);
}

TEST(BadInput, ErrorsNameTheFileAndComponent) {
  test::TempDir dir;
  EXPECT_NE(input_error([&] { Tokenizer::load(dir.file("missing.json")); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(input_error([&] { Tokenizer::load(dir.path()); }).find("has no tokenizer.json"),
            std::string::npos);
  test::write_file(dir.file("broken.json"), "{\"model\": ");
  const std::string bad_json = input_error([&] { Tokenizer::load(dir.file("broken.json")); });
  EXPECT_NE(bad_json.find("broken.json: invalid JSON"), std::string::npos) << bad_json;

  for (const char* type : {"WordPiece", "Unigram"}) {
    json j = bpe_json(abc_vocab(), json::array());
    j["model"]["type"] = type;
    const std::string msg = input_error([&] { load_json(dir, j); });
    EXPECT_NE(msg.find(fmt::format("model type '{}' is not supported", type)), std::string::npos)
        << msg;
  }
  json j = bpe_json(abc_vocab(), json::array());
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "BertNormalizer"}}}}};
  std::string msg = input_error([&] { load_json(dir, j); });
  EXPECT_NE(
      msg.find("normalizer.normalizers[0]: normalizer type 'BertNormalizer' is not supported"),
      std::string::npos)
      << msg;
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
  msg = input_error([&] { load_json(dir, j); });
  EXPECT_NE(msg.find("pre_tokenizer type 'UnicodeScripts'"), std::string::npos) << msg;
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  msg = input_error([&] { load_json(dir, j); });
  EXPECT_NE(msg.find("pre_tokenizer.pattern: cannot compile regex"), std::string::npos) << msg;
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = {{"type", "CTC"}};
  EXPECT_NE(input_error([&] { load_json(dir, j); }).find("decoder type 'CTC'"), std::string::npos);
}

TEST(BadInput, InvalidUtf8AndUnknownIds) {
  test::TempDir dir;
  const Tokenizer t = load_json(dir, bpe_json(abc_vocab(), json::array()));
  EXPECT_NE(input_error([&] { t.encode("ab\xFF"); }).find("invalid UTF-8 at byte offset 2"),
            std::string::npos);
  EXPECT_NE(input_error([&] { t.encode("a\xE2\x82"); }).find("byte offset 1"),
            std::string::npos);  // truncated
  EXPECT_NE(input_error([&] { t.encode("\xC0\xAF"); }).find("byte offset 0"),
            std::string::npos);  // overlong
  EXPECT_NE(input_error([&] { t.encode("\xED\xA0\x80"); }).find("byte offset 0"),
            std::string::npos);  // surrogate
  EXPECT_NE(input_error([&] {
              t.decode({0, 99});
            }).find("id 99 is outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(t.decode({0, 1, 2}), "a b c");  // no decoder: tokens joined by spaces, as in HF
}

}  // namespace
}  // namespace laco::tokenizer
