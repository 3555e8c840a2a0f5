// Command-line parsing for laco_dist subcommands, on CLI11: each subcommand declares its
// options with a help line, a synopsis and an example; `--help` / `-h` prints them (exit 0);
// an unknown option, a missing value or a stray argument is one InputError naming the
// command and the option (with a "did you mean" hint for a near miss).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace laco::cli {

struct OptionSpec {
  std::string name;   // without the dashes: "max-new-tokens"
  std::string help;   // one line; a value's form in it, e.g. "N tokens to generate (default 256)"
  bool flag = false;  // takes no value
};

struct Usage {
  std::string command;     // "prune"
  std::string positional;  // "CONFIG.toml" (what the positional arguments are), "" = none allowed
  std::string summary;     // one line
  std::vector<OptionSpec> options;
  std::string example;     // one or more example command lines
};

// Thrown by Args for --help / -h: main() prints `text` (rank 0) and exits 0.
class HelpRequested : public std::runtime_error {
 public:
  explicit HelpRequested(const std::string& text) : std::runtime_error(text) {}
};

class Args {
 public:
  Args(const std::vector<std::string>& argv, const Usage& usage);

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for `name`, or `fallback` if absent.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Value that must be present; error names the option and the command.
  std::string require(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;  // every value, in order
  int64_t get_int(const std::string& name, int64_t fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::set<std::string> flags_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// "1,403,5" -> {1, 403, 5}; error names `what` and the bad item.
std::vector<int64_t> parse_id_list(const std::string& text, const std::string& what);

}  // namespace laco::cli
