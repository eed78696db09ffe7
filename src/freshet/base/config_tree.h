// CheckConfigTree: the rules of a job file's YAML tree that yaml-cpp does not
// enforce, checked once before any section is read.
//
// yaml-cpp accepts a map that gives a key twice and keeps both entries, so a
// lookup silently reads the first and the second is lost; it accepts keys
// that are lists or maps, which no section has and which throw when read as
// names; and it lets an alias refer to a node that contains it, so that a
// walk of the tree never ends. A job file (and the value of a `--set`
// override) must hold none of these: each is an error naming the field path
// and, in a file, the line.
//
// Thread safety: a free function over a tree no other thread changes.
#ifndef FRESHET_BASE_CONFIG_TREE_H_
#define FRESHET_BASE_CONFIG_TREE_H_

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/status.h"

namespace freshet {

// Most maps and lists a tree may hold (each node reached through aliases
// counts once): far beyond any job file, and a bound on the work.
inline constexpr int kMaxConfigTreeNodes = 10'000;

// Checks the tree under `root`, whose field path is `path` ("" for a whole
// file). Errors read "WHERE:LINE: PATH: MESSAGE" (":LINE" only when
// `with_lines`, for text of a file), e.g.
//   "job.yaml:14: train.batch_size: duplicate key; first given on line 12".
absl::Status CheckConfigTree(const YAML::Node& root, const std::string& where,
                             const std::string& path, bool with_lines);

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_TREE_H_
