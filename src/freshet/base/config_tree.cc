#include "freshet/base/config_tree.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

class TreeChecker {
 public:
  TreeChecker(const std::string& where, bool with_lines)
      : where_(where), with_lines_(with_lines) {}

  absl::Status Check(const YAML::Node& node, const std::string& path,
                     const YAML::Node& located_at) {
    if (!node.IsDefined() || !(node.IsMap() || node.IsSequence())) {
      return absl::OkStatus();
    }
    for (const YAML::Node& open : open_) {
      if (open.is(node)) {
        return Error(located_at, path,
                     "an alias refers to a map or list that contains it");
      }
    }
    // A node reached again through an alias was checked the first time.
    for (const YAML::Node& done : done_) {
      if (done.is(node)) return absl::OkStatus();
    }
    if (static_cast<int>(done_.size()) >= kMaxConfigTreeNodes) {
      return Error(located_at, path,
                   absl::StrCat("more than ", kMaxConfigTreeNodes,
                                " maps and lists in one job"));
    }
    done_.push_back(node);
    open_.push_back(node);
    if (node.IsMap()) {
      std::map<std::string, int> first_line;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Error(kv.first, path,
                       "a key must be a name, not a list or a map");
        }
        const std::string& key = kv.first.Scalar();
        const std::string child =
            path.empty() ? key : absl::StrCat(path, ".", key);
        auto [it, inserted] = first_line.emplace(key, Line(kv.first));
        if (!inserted) {
          return Error(kv.first, child,
                       it->second > 0
                           ? absl::StrCat("duplicate key; first given on line ",
                                          it->second)
                           : std::string("duplicate key"));
        }
        RETURN_IF_ERROR(Check(kv.second, child, kv.first));
      }
    } else {
      for (size_t i = 0; i < node.size(); ++i) {
        const YAML::Node element = node[i];
        RETURN_IF_ERROR(
            Check(element,
                  path.empty() ? absl::StrCat(i) : absl::StrCat(path, ".", i),
                  element));
      }
    }
    open_.pop_back();
    return absl::OkStatus();
  }

 private:
  // 1-based line of `node` in the text, 0 when unknown.
  int Line(const YAML::Node& node) const {
    if (!with_lines_ || node.Mark().is_null()) return 0;
    return node.Mark().line + 1;
  }

  absl::Status Error(const YAML::Node& at, const std::string& path,
                     const std::string& message) const {
    std::string text = where_;
    if (const int line = Line(at); line > 0) absl::StrAppend(&text, ":", line);
    absl::StrAppend(&text, ": ", path.empty() ? "(top level)" : path, ": ",
                    message);
    return absl::InvalidArgumentError(text);
  }

  const std::string& where_;
  const bool with_lines_;
  std::vector<YAML::Node> open_;  // the maps and lists being checked
  std::vector<YAML::Node> done_;  // every map and list reached
};

}  // namespace

absl::Status CheckConfigTree(const YAML::Node& root, const std::string& where,
                             const std::string& path, bool with_lines) {
  try {
    return TreeChecker(where, with_lines).Check(root, path, root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.msg));
  }
}

}  // namespace freshet
