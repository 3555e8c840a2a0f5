// Minimal command-line parsing for laco_dist subcommands: positionals, `--key value`,
// `--key=value` and boolean `--flag`s. Unknown options are InputErrors naming the option.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace laco::cli {

class Args {
 public:
  // `flags` are options without a value; `options` take one value (repeatable options
  // keep every value in order). Anything else starting with "--" is an error.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& flags,
       const std::set<std::string>& options, const std::string& command);

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for `name`, or `fallback` if absent.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Value that must be present; error names the option and the command.
  std::string require(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
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
