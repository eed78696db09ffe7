// The shape of a model as a checkpoint records it, and the one check that a
// checkpoint fits a model: the same tables by name, each with the same dim
// (and optimizer state floats per row, where both sides know them), and the
// same dense sizes. Restoring a training model (checkpoint.h) and serving a
// chain (`freshet serve`) both use it, so that they accept and refuse the
// same checkpoints with the same messages.
//
// Thread safety: plain values and a pure function.
#ifndef FRESHET_CKPT_PARAMETER_SHAPE_H_
#define FRESHET_CKPT_PARAMETER_SHAPE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace freshet {

// One embedding table's shape.
struct TableShape {
  std::string name;
  int dim = 0;
  // Optimizer state floats per row; kUnknown where a side holds no optimizer
  // state (a serving replica), and then not compared.
  int state_floats = kUnknown;

  static constexpr int kUnknown = -1;
};

// A model's shape: its tables and its dense part.
struct ParameterShape {
  std::vector<TableShape> tables;
  int64_t dense_params = 0;
  // Dense optimizer floats; kUnknown when not known, and then not compared.
  int64_t dense_state = kUnknown;

  static constexpr int64_t kUnknown = -1;
};

// OK when `checkpoint` fits `model`: every table of `model` is in
// `checkpoint` with the same dim and state floats, no other table is, no
// name appears twice, and the dense sizes are equal. Otherwise
// FailedPrecondition naming the first difference, e.g.
// "DIR/ckpt-0000000003: table "C1" has dim 8, the config's model (deepfm)
// has 16". `where` names the checkpoint, `model_name` the model ("the
// model", "the config's model (deepfm)").
absl::Status CheckParameterShape(const ParameterShape& checkpoint,
                                 const ParameterShape& model,
                                 const std::string& where,
                                 const std::string& model_name);

}  // namespace freshet

#endif  // FRESHET_CKPT_PARAMETER_SHAPE_H_
