// YAML loading with overrides, unknown-key detection and location formatting.
#include "recipes/config_io.h"

#include <algorithm>
#include <fstream>

namespace retort {

Check<std::string> one_of(std::vector<std::string> choices) {
  return [choices](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return std::string();
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    return "one of " + list;
  };
}

std::string describe_location(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  return mark.line < 0 ? file : c10::str(file, ":", mark.line + 1);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

ConfigReader::ConfigReader(YAML::Node node, std::string file, std::string path,
                           std::shared_ptr<const std::set<std::string>> overridden)
    : node_(std::move(node)),
      file_(std::move(file)),
      path_(std::move(path)),
      overridden_(std::move(overridden)) {
  RETORT_CHECK(!node_ || node_.IsNull() || node_.IsMap(), describe_location(node_, file_), ": ",
               path_.empty() ? "the recipe" : path_, " must be a map of key: value");
}

void ConfigReader::finish() const {
  if (!node_ || !node_.IsMap()) return;
  for (const auto& item : node_) {
    const std::string key = item.first.as<std::string>();
    if (known_.count(key)) continue;
    std::string nearest, list;
    size_t best = SIZE_MAX;
    for (const auto& k : known_) {
      list += (list.empty() ? "" : ", ") + k;
      const size_t d = edit_distance(key, k);
      if (d < best) {
        best = d;
        nearest = k;
      }
    }
    fail(where(key, item.first), ": unknown key '", dotted(key), "'",
         best <= std::max<size_t>(2, key.size() / 3) ? "; did you mean '" + nearest + "'?" : "",
         " (known here: ", list, ")");
  }
}

YAML::Node load_yaml_with_overrides(const std::string& file,
                                    const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    fail(file, ": cannot open the recipe file");
  } catch (const YAML::ParserException& e) {
    fail(file, ":", e.mark.line + 1, ": not valid YAML: ", e.msg);
  }
  for (const auto& override : overrides) {
    const size_t eq = override.find('=');
    RETORT_CHECK(eq != std::string::npos && eq > 0, "override '", override,
                 "': expected key.sub=value");
    const std::string path = override.substr(0, eq);
    YAML::Node value;
    try {
      value = YAML::Load(override.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail("override '", override, "': the value is not valid YAML: ", e.what());
    }
    // Walk (and create) the maps along the dotted path; numbers index into lists.
    std::vector<std::string> keys;
    for (size_t start = 0;;) {
      const size_t dot = path.find('.', start);
      keys.push_back(path.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    std::vector<YAML::Node> chain = {root};
    for (size_t i = 0; i + 1 < keys.size(); ++i) {
      YAML::Node parent = chain.back();
      const std::string& key = keys[i];
      if (parent.IsSequence()) {
        const bool numeric = !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit);
        RETORT_CHECK(numeric && std::stoul(key) < parent.size(), "override '", override, "': '",
                     key, "' is not an index of the ", parent.size(), "-item list");
        chain.push_back(parent[std::stoul(key)]);
      } else {
        if (!parent[key]) parent[key] = YAML::Node(YAML::NodeType::Map);
        chain.push_back(parent[key]);
      }
    }
    YAML::Node parent = chain.back();
    if (parent.IsSequence()) {
      const std::string& key = keys.back();
      RETORT_CHECK(
          std::all_of(key.begin(), key.end(), ::isdigit) && std::stoul(key) < parent.size(),
          "override '", override, "': '", key, "' is not an index of the list");
      parent[std::stoul(key)] = value;
    } else {
      parent[keys.back()] = value;
    }
  }
  return root;
}

}  // namespace retort
