// Command-line option parsing: see include/laco/cli/args.h.
#include "laco/cli/args.h"

#include "laco/core/error.h"

namespace laco::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& flags,
           const std::set<std::string>& options, const std::string& command)
    : command_(command) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() < 3 || a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (flags.count(name)) {
      LACO_INPUT_CHECK(!inline_value, "{}: option --{} takes no value", command, name);
      flags_.insert(name);
    } else if (options.count(name)) {
      if (!inline_value) {
        LACO_INPUT_CHECK(i + 1 < argv.size(), "{}: option --{} needs a value", command, name);
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      throw InputError(fmt::format("{}: unknown option --{} (see laco_dist --help)", command, name));
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::string Args::require(const std::string& name) const {
  auto it = values_.find(name);
  LACO_INPUT_CHECK(it != values_.end(), "{}: missing required option --{}", command_, name);
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    int64_t x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw InputError(fmt::format("{}: --{} expects an integer, got '{}'", command_, name, v));
}

std::vector<int64_t> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<int64_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LACO_INPUT_CHECK(used == item.size() && !item.empty() && v >= 0,
                     "{}: expected comma-separated non-negative integers, got '{}'", what, item);
    ids.push_back(v);
    start = end + 1;
  }
  return ids;
}

}  // namespace laco::cli
