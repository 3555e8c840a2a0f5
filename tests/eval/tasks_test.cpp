// Task readers on the real shared data files (skipped when absent): item counts and the
// first item's exact prompt strings per lm-evaluation-harness template; the registry; and
// bad input (unknown task, malformed lines) reported with file and line number.
#include <filesystem>

#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/eval/tasks.h"
#include "support/test_support.h"

namespace laco::eval {
namespace {

std::string assets() {
  return test::assets_dir();
}

using test::expect_input_error;

void expect_shared(const MultipleChoiceItem& item, const std::string& context,
                   const std::vector<std::string>& choices, int gold) {
  ASSERT_EQ(item.num_options(), choices.size());
  EXPECT_TRUE(item.shares_context());
  EXPECT_EQ(item.contexts[0], context);
  EXPECT_EQ(item.choices, choices);
  for (size_t i = 0; i < choices.size(); ++i) EXPECT_EQ(item.continuations[i], " " + choices[i]);
  EXPECT_EQ(item.gold, gold);
}

TEST(TaskRegistry, KnowsEveryTaskAndItsKind) {
  const std::vector<std::string> names = known_tasks();
  EXPECT_EQ(names.size(), 11u);
  EXPECT_EQ(task_kind("piqa"), TaskKind::kMultipleChoice);
  EXPECT_EQ(task_kind("winogrande"), TaskKind::kMultipleChoice);
  EXPECT_EQ(task_kind("lambada_openai"), TaskKind::kLastWord);
  EXPECT_EQ(task_kind("multi30k_de_en"), TaskKind::kTranslation);
  EXPECT_EQ(task_kind("wikitext"), TaskKind::kPerplexity);
  EXPECT_EQ(task_info("boolq").metrics, (std::vector<std::string>{"acc"}));
  EXPECT_EQ(task_info("piqa").metrics, (std::vector<std::string>{"acc", "acc_norm"}));
}

TEST(TaskRegistry, UnknownTaskListsKnownOnes) {
  expect_input_error([] { task_kind("hellaswagg"); },
                     {"unknown task 'hellaswagg'", "piqa", "hellaswag", "arc_challenge", "copa",
                      "lambada_openai", "multi30k_de_en", "wikitext"});
  expect_input_error([] { load_multiple_choice("nope", "/nonexistent"); }, {"known tasks:"});
  expect_input_error([] { load_multiple_choice("lambada_openai", "/nonexistent"); },
                     {"not multiple choice"});
}

TEST(TaskReaders, Piqa) {
  LACO_REQUIRE_ASSET("data/piqa/valid.jsonl");
  const auto items = load_multiple_choice("piqa", assets());
  ASSERT_EQ(items.size(), 1838u);
  expect_shared(
      items[0], "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:",
      {"Provide the guinea pig with a cage full of a few inches of bedding made of ripped "
       "paper strips, you will also need to supply it with a water bottle and a food dish.",
       "Provide the guinea pig with a cage full of a few inches of bedding made of ripped "
       "jeans material, you will also need to supply it with a water bottle and a food "
       "dish."},
      0);
  EXPECT_EQ(items[1].gold, 1);
  EXPECT_EQ(load_multiple_choice("piqa", assets(), 20).size(), 20u);
}

TEST(TaskReaders, HellaSwag) {
  LACO_REQUIRE_ASSET("data/hellaswag/hellaswag_val_full.txt");
  const auto items = load_multiple_choice("hellaswag", assets());
  ASSERT_EQ(items.size(), 10042u);
  // ctx_b ("he") is capitalized as the harness does.
  expect_shared(items[0], "Roof shingle removal: A man is sitting on a roof. He",
                {"is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                 "is holding a rubik's cube.", "starts pulling up roofing on a roof."},
                3);
  EXPECT_EQ(
      items[1].contexts[0],
      "Clean and jerk: A lady walks to a barbell. She bends down and grabs the pole. The lady");
  // A WikiHow item keeps its text; preprocess() removes the bracketed link.
  const std::string& wikihow = items[3505].contexts[0];
  EXPECT_EQ(wikihow.rfind("Family Life: How to entertain a toddler.", 0), 0u);
  EXPECT_NE(wikihow.find("Visit a site like to find loads"), std::string::npos) << wikihow;
}

TEST(TaskReaders, Arc) {
  LACO_REQUIRE_ASSET("data/arc/arc_easy.jsonl");
  const auto easy = load_multiple_choice("arc_easy", assets());
  ASSERT_EQ(easy.size(), 2376u);
  expect_shared(easy[0],
                "Question: Which statement best explains why photosynthesis is the foundation of "
                "most food webs?\nAnswer:",
                {"Sunlight is the source of energy for nearly all ecosystems.",
                 "Most ecosystems are found on land instead of in water.",
                 "Carbon dioxide is more available than other gases.",
                 "The producers in all ecosystems are plants."},
                0);
  const auto challenge = load_multiple_choice("arc_challenge", assets());
  ASSERT_EQ(challenge.size(), 1172u);
  EXPECT_EQ(challenge[0].gold, 2);
  EXPECT_EQ(challenge[0].continuations[2], " Planetary days will become shorter.");
}

TEST(TaskReaders, BoolQ) {
  LACO_REQUIRE_ASSET("data/boolq/boolq.jsonl");
  const auto items = load_multiple_choice("boolq", assets());
  ASSERT_EQ(items.size(), 3270u);
  const std::string& ctx = items[0].contexts[0];
  EXPECT_EQ(ctx.rfind("All biomass goes through at least some of these steps", 0), 0u) << ctx;
  const std::string tail =
      " producing gasoline.\nQuestion: does ethanol take more energy make that produces?\nAnswer:";
  EXPECT_EQ(ctx.substr(ctx.size() - tail.size()), tail);
  EXPECT_EQ(items[0].continuations, (std::vector<std::string>{" no", " yes"}));
  EXPECT_EQ(items[0].gold, 0);
}

TEST(TaskReaders, WinoGrandePartialScoring) {
  LACO_REQUIRE_ASSET("data/winogrande/winogrande.jsonl");
  const auto items = load_multiple_choice("winogrande", assets());
  ASSERT_EQ(items.size(), 1267u);
  const MultipleChoiceItem& w = items[0];
  EXPECT_FALSE(w.shares_context());
  EXPECT_EQ(w.contexts,
            (std::vector<std::string>{"Sarah was a much better surgeon than Maria so Sarah",
                                      "Sarah was a much better surgeon than Maria so Maria"}));
  EXPECT_EQ(w.continuations, (std::vector<std::string>{" always got the easier cases.",
                                                       " always got the easier cases."}));
  EXPECT_EQ(w.gold, 1);
}

TEST(TaskReaders, OpenBookQA) {
  LACO_REQUIRE_ASSET("data/openbookqa/openbook_qa.jsonl");
  const auto items = load_multiple_choice("openbookqa", assets());
  ASSERT_EQ(items.size(), 500u);
  expect_shared(items[0],
                "A person wants to start saving money so that they can afford a nice vacation at "
                "the end of the year. After looking over their budget and expenses, they decide "
                "the best way to save money is to",
                {"make more phone calls", "quit eating lunch out", "buy less with monopoly money",
                 "have lunch with friends"},
                1);
}

TEST(TaskReaders, Copa) {
  LACO_REQUIRE_ASSET("data/copa/copa.jsonl");
  const auto items = load_multiple_choice("copa", assets());
  ASSERT_EQ(items.size(), 100u);
  expect_shared(items[0], "The man turned on the faucet therefore",
                {"the toilet filled with water.", "water flowed from the spout."}, 1);
}

TEST(TaskReaders, Lambada) {
  LACO_REQUIRE_ASSET("data/lambada/lambada_openai.jsonl");
  const auto items = load_lambada(assets());
  ASSERT_EQ(items.size(), 5153u);
  EXPECT_EQ(
      items[0].context.rfind("In my palm is a clear stone, and inside it is a small ivory", 0), 0u);
  EXPECT_EQ(items[0].context.substr(items[0].context.size() - 18), "I don't care about");
  EXPECT_EQ(items[0].continuation, " signs");
  EXPECT_EQ(load_lambada(assets(), 7).size(), 7u);
}

TEST(TaskReaders, Multi30kTranslation) {
  LACO_REQUIRE_ASSET("data/multi30k/test_2016_flickr.de");
  const TranslationSet all = load_translation("multi30k_de_en", assets());
  ASSERT_EQ(all.items.size(), 1000u);
  EXPECT_TRUE(all.shots.empty());
  EXPECT_EQ(all.items[0].source, "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.");
  EXPECT_EQ(all.items[0].reference, "A man in an orange hat starring at something.");

  const TranslationSet two = load_translation("multi30k_de_en", assets(), 5, 2);
  ASSERT_EQ(two.items.size(), 5u);
  ASSERT_EQ(two.shots.size(), 2u);
  EXPECT_EQ(two.shots[1].source, "Ein Mädchen an einer Küste mit einem Berg im Hintergrund.");
  const std::string prompt = translation_prompt(two, "Ein Hund.");
  EXPECT_EQ(prompt,
            "German phrase: Ein älterer Mann spielt ein Videospiel.\n"
            "English phrase: An older man is playing a video arcade game.\n\n"
            "German phrase: Ein Mädchen an einer Küste mit einem Berg im Hintergrund.\n"
            "English phrase: A girl at the shore of a beach with a mountain in the distance.\n\n"
            "German phrase: Ein Hund.\nEnglish phrase:");
  EXPECT_EQ(load_translation("multi30k_de_en", assets(), 0, 3).items.size(), 997u);
}

TEST(TaskReaders, WikitextDocuments) {
  LACO_REQUIRE_ASSET("data/wikitext2/wiki.test.raw");
  EXPECT_EQ(load_perplexity_documents("wikitext", assets()).size(), 62u);
  EXPECT_EQ(load_perplexity_documents("wikitext", assets(), 3).size(), 3u);
}

// ---- bad input, on files written to a temporary assets directory ----------------------

TEST(TaskReaders, MalformedJsonNamesFileAndLine) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("data/piqa"));
  test::write_file(dir.file("data/piqa/valid.jsonl"),
                   "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n{\"goal\": \"g\", \n");
  test::write_file(dir.file("data/piqa/valid-labels.lst"), "0\n1\n");
  expect_input_error([&] { load_multiple_choice("piqa", dir.path()); },
                     {"data/piqa/valid.jsonl:2", "malformed JSON"});
}

TEST(TaskReaders, MissingFieldAndBadGoldNameLine) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("data/arc"));
  test::write_file(dir.file("data/arc/arc_easy.jsonl"),
                   "{\"query\": \"Question: q\", \"choices\": [\"a\", \"b\"], \"gold\": 1}\n\n"
                   "{\"query\": \"Question: q\", \"choices\": [\"a\", \"b\"]}\n");
  expect_input_error([&] { load_multiple_choice("arc_easy", dir.path()); },
                     {"arc_easy.jsonl:3", "missing field 'gold'"});
  test::write_file(dir.file("data/arc/arc_easy.jsonl"),
                   "{\"query\": \"Question: q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n");
  expect_input_error([&] { load_multiple_choice("arc_easy", dir.path()); },
                     {"arc_easy.jsonl:1", "'gold'", "[0, 2)"});
}

TEST(TaskReaders, HellaSwagBlocksAreChecked) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("data/hellaswag"));
  const std::string path = dir.file("data/hellaswag/hellaswag_val_full.txt");
  test::write_file(path,
                   "Cooking: A man stirs a pot. the man\n1\nadds salt.\nleaves.\nsings.\nsits.\n"
                   "Health: How to rest [title] Sleep well. [step] Close your eyes.\n0\n"
                   "Lie [substeps] down.\nb\nc\nd\n");
  const auto items = load_multiple_choice("hellaswag", dir.path());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].contexts[0], "Cooking: A man stirs a pot. The man");
  EXPECT_EQ(items[1].contexts[0], "Health: How to rest. Sleep well. Close your eyes.");
  EXPECT_EQ(items[1].choices[0], "Lie down.");

  test::write_file(path, "Cooking: A man. he\nx\na\nb\nc\nd\n");
  expect_input_error([&] { load_multiple_choice("hellaswag", dir.path()); },
                     {"hellaswag_val_full.txt:2", "gold"});
  test::write_file(path, "Cooking: A man. he\n1\na\nb\nc\n");
  expect_input_error([&] { load_multiple_choice("hellaswag", dir.path()); },
                     {"hellaswag_val_full.txt", "6-line blocks"});
}

TEST(TaskReaders, EmptyTaskFileIsAnInputErrorNotNan) {
  test::TempDir dir;
  const std::string rel = task_info("lambada_openai").files.at(0);
  std::filesystem::create_directories(std::filesystem::path(dir.file(rel)).parent_path());
  test::write_file(dir.file(rel), "");
  expect_input_error([&] { load_lambada(dir.path()); }, {"lambada_openai", rel, "holds no items"});
}

TEST(TaskReaders, MissingFileIsAnInputError) {
  expect_input_error([] { load_lambada("/nonexistent-assets"); },
                     {"/nonexistent-assets/data/lambada/lambada_openai.jsonl", "LACO_ASSETS"});
}

}  // namespace
}  // namespace laco::eval
