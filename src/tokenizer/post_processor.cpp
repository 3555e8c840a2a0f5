// Special-token frames of tokenizer.json post-processors (see
// include/laco/tokenizer/post_processor.h). Templates come in HF's serialized object form
// ({"SpecialToken": {"id": ...}} / {"Sequence": {"id": "A"}}) or its string form ("[CLS]:0 $A:0").
#include "laco/tokenizer/post_processor.h"

#include <sstream>

#include "laco/tokenizer/json_fields.h"

namespace laco::tokenizer {

namespace {

struct TemplateItem {
  bool is_sequence = false;
  std::string name;  // special token name, or the sequence id ("A")
};

// "$A", "$B:1", "$0" -> sequence; "[CLS]" or "[CLS]:0" -> special token.
TemplateItem parse_template_string(const std::string& s) {
  std::string base = s;
  if (size_t colon = s.rfind(':');
      colon != std::string::npos && colon > 0 &&
      s.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
    base = s.substr(0, colon);
  }
  if (!base.empty() && base[0] == '$') {
    std::string id = base.substr(1);
    if (id.empty() || id == "0") id = "A";
    if (id == "1") id = "B";
    return {true, id};
  }
  return {false, base};
}

TemplateItem parse_template_item(const nlohmann::json& item, const std::string& where) {
  if (item.is_string()) return parse_template_string(item.get<std::string>());
  LACO_INPUT_CHECK(
      item.is_object() && item.size() == 1,
      "{}: template piece must be {{\"SpecialToken\": ...}} or {{\"Sequence\": ...}}, got {}",
      where, item.dump());
  if (item.contains("Sequence"))
    return {true, json_fields::get_string(item["Sequence"], "id", where + ".Sequence")};
  LACO_INPUT_CHECK(item.contains("SpecialToken"),
                   "{}: template piece must be SpecialToken or Sequence, got {}", where,
                   item.dump());
  return {false, json_fields::get_string(item["SpecialToken"], "id", where + ".SpecialToken")};
}

SpecialFrame template_frame(const nlohmann::json& j, const std::string& where) {
  LACO_INPUT_CHECK(j.contains("single"), "{}: TemplateProcessing needs a \"single\" template",
                   where);
  std::vector<TemplateItem> items;
  if (j["single"].is_string()) {
    std::istringstream words(j["single"].get<std::string>());
    for (std::string w; words >> w;) items.push_back(parse_template_string(w));
  } else {
    const auto& single = json_fields::get_array(j, "single", where);
    for (size_t i = 0; i < single.size(); ++i)
      items.push_back(parse_template_item(single[i], fmt::format("{}.single[{}]", where, i)));
  }
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& specials = j.contains("special_tokens") ? j["special_tokens"] : empty;
  SpecialFrame frame;
  bool seen_sequence = false;
  for (const TemplateItem& item : items) {
    if (item.is_sequence) {
      LACO_INPUT_CHECK(item.name == "A" && !seen_sequence,
                       "{}.single: a single-sequence template holds $A once, found ${}", where,
                       item.name);
      seen_sequence = true;
      continue;
    }
    LACO_INPUT_CHECK(specials.contains(item.name),
                     "{}.single uses special token '{}' missing from special_tokens", where,
                     item.name);
    const auto& ids =
        json_fields::get_array(specials[item.name], "ids", where + ".special_tokens." + item.name);
    for (const auto& id : ids) {
      LACO_INPUT_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0,
                       "{}.special_tokens.{}.ids holds {}, expected ids", where, item.name,
                       id.dump());
      (seen_sequence ? frame.suffix : frame.prefix)
          .push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  LACO_INPUT_CHECK(seen_sequence, "{}.single has no $A sequence", where);
  return frame;
}

int32_t pair_id(const nlohmann::json& j, const char* key, const std::string& where) {
  LACO_INPUT_CHECK(
      j.contains(key) && j[key].is_array() && j[key].size() == 2 && j[key][1].is_number_integer(),
      "{}.{} must be [token, id], got {}", where, key, j.contains(key) ? j[key].dump() : "nothing");
  return static_cast<int32_t>(j[key][1].get<int64_t>());
}

SpecialFrame make_post_processor_at(const nlohmann::json& j, const std::string& where, int depth) {
  json_fields::check_depth(depth, where);
  if (j.is_null()) return {};
  const std::string type = json_fields::type_of(j, where);
  if (type == "TemplateProcessing") return template_frame(j, where);
  if (type == "ByteLevel") return {};
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return SpecialFrame{{pair_id(j, "cls", where)}, {pair_id(j, "sep", where)}};
  }
  if (type == "Sequence") {
    const auto& list = json_fields::get_array(j, "processors", where);
    SpecialFrame frame;
    for (size_t i = 0; i < list.size(); ++i) {
      SpecialFrame inner =
          make_post_processor_at(list[i], fmt::format("{}.processors[{}]", where, i), depth + 1);
      // A later processor wraps the output of the earlier ones.
      frame.prefix.insert(frame.prefix.begin(), inner.prefix.begin(), inner.prefix.end());
      frame.suffix.insert(frame.suffix.end(), inner.suffix.begin(), inner.suffix.end());
    }
    return frame;
  }
  json_fields::unsupported(
      "post_processor", type, where,
      "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
}

}  // namespace

SpecialFrame make_post_processor(const nlohmann::json& j, const std::string& where) {
  return make_post_processor_at(j, where, 0);
}

}  // namespace laco::tokenizer
