// Command-line option parsing: see include/laco/cli/args.h.
#include "laco/cli/args.h"

#include <algorithm>

#include <CLI/CLI.hpp>

#include "laco/core/error.h"
#include "laco/core/strings.h"

namespace laco::cli {

namespace {

// An option CLI11 does not know, checked first so the error can name the closest one.
void check_known(const std::vector<std::string>& argv, const Usage& u) {
  std::vector<std::string> names = {"--help"};
  for (const OptionSpec& o : u.options) names.push_back("--" + o.name);
  for (const std::string& a : argv) {
    if (a == "--") break;
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) continue;
    const std::string name = a.substr(0, a.find('='));
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw InputError(fmt::format("{}: unknown option {}{} (see laco_dist {} --help)", u.command, name,
                                   suggest(name, names), u.command));
  }
}

}  // namespace

Args::Args(const std::vector<std::string>& argv, const Usage& u) : command_(u.command) {
  check_known(argv, u);
  CLI::App app(u.summary, "laco_dist " + u.command);
  app.set_help_flag("-h,--help", "print this help and exit");
  if (!u.example.empty()) app.footer("\nExample:\n" + u.example);
  std::map<std::string, int64_t> counts;
  for (const OptionSpec& o : u.options) {
    if (o.flag) {
      app.add_flag("--" + o.name, counts[o.name], o.help);
    } else {
      app.add_option("--" + o.name, values_[o.name], o.help)
          ->expected(1)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    }
  }
  if (!u.positional.empty()) app.add_option(u.positional, positional_, u.positional);
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    throw HelpRequested(app.help());
  } catch (const CLI::ParseError& e) {
    throw InputError(fmt::format("{}: {} (see laco_dist {} --help)", u.command, e.what(), u.command));
  }
  for (const auto& [name, n] : counts)
    if (n > 0) flags_.insert(name);
  for (auto it = values_.begin(); it != values_.end();) it = it->second.empty() ? values_.erase(it) : std::next(it);
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
