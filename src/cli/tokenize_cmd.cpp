// `laco_dist tokenize` / `laco_dist detokenize`: text -> ids and ids -> text with a
// HuggingFace tokenizer.json. Every rank loads and encodes (so bad input is found on all of
// them alike); only rank 0 prints, on stdout, one line per sequence.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::cli {

namespace {

// Lines of `text` without their '\n'; a final line without '\n' counts, a final '\n' does
// not start another line. Nothing else (spaces, '\r') is trimmed.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string read_input_file(const std::string& path) {
  require_regular_file(path, "tokenize --file", uint64_t{4} << 30);
  std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "tokenize: cannot open --file '{}'", path);
  return *text;
}

void append_ids(std::string& out, const std::vector<int64_t>& ids, bool json) {
  if (json) out.push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out.push_back(json ? ',' : ' ');
    out += std::to_string(ids[i]);
  }
  if (json) out.push_back(']');
  out.push_back('\n');
}

}  // namespace

int cmd_tokenize(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{"tokenize", "", "Encode text with a tokenizer.json (one line of ids per input line).",
                    {{"tokenizer", "DIR_OR_FILE: a model directory or a tokenizer.json (required)"},
                     {"text", "STR: the text to encode"},
                     {"file", "PATH: encode every line of this file"},
                     {"json", "print each line of ids as a JSON array", true},
                     {"no-special", "do not add the tokenizer's special tokens (BOS)", true}},
                    "  laco_dist tokenize --tokenizer ../shared/models/kjv-16L --text \"In the beginning\""};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.has("text") != args.has("file"),
                   "tokenize: give exactly one of --text STR or --file PATH");
  const auto tok = tokenizer::Tokenizer::load(args.require("tokenizer"));
  const bool json = args.flag("json"), add_special = !args.flag("no-special");

  std::string out;
  if (args.has("text")) {
    try {
      append_ids(out, tok.encode(args.get("text"), add_special), json);
    } catch (const InputError& e) {
      throw InputError(fmt::format("tokenize: --text: {}", e.what()));
    }
  } else {
    const std::string path = args.get("file");
    const std::vector<std::string> lines = split_lines(read_input_file(path));
    for (size_t i = 0; i < lines.size(); ++i) {
      try {
        append_ids(out, tok.encode(lines[i], add_special), json);
      } catch (const InputError& e) {
        throw InputError(fmt::format("tokenize: --file '{}' line {}: {}", path, i + 1, e.what()));
      }
    }
  }
  if (world.rank() == 0) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }
  return kExitOk;
}

int cmd_detokenize(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{"detokenize", "", "Decode token ids with a tokenizer.json.",
                    {{"tokenizer", "DIR_OR_FILE: a model directory or a tokenizer.json (required)"},
                     {"ids", "1,2,3: the ids to decode (required)"},
                     {"json", "print the text as one JSON string", true},
                     {"skip-special", "leave special tokens out of the text", true}},
                    "  laco_dist detokenize --tokenizer ../shared/models/kjv-16L --ids 1,403,5"};
  Args args(argv, usage);
  const std::vector<int64_t> ids = parse_id_list(args.require("ids"), "detokenize --ids");
  const auto tok = tokenizer::Tokenizer::load(args.require("tokenizer"));
  const std::string text = tok.decode(ids, args.flag("skip-special"));
  if (world.rank() == 0) {
    // --json prints the text as one JSON string, so embedded newlines stay on one line.
    const std::string line =
        args.flag("json")
            ? nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
            : text;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  return kExitOk;
}

}  // namespace laco::cli
