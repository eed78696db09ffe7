#include "freshet/ckpt/parameter_shape.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace freshet {

namespace {

const TableShape* FindTable(const ParameterShape& shape,
                            const std::string& name) {
  for (const TableShape& t : shape.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

absl::Status CheckParameterShape(const ParameterShape& checkpoint,
                                 const ParameterShape& model,
                                 const std::string& where,
                                 const std::string& model_name) {
  for (size_t i = 0; i < checkpoint.tables.size(); ++i) {
    const std::string& name = checkpoint.tables[i].name;
    for (size_t j = 0; j < i; ++j) {
      if (checkpoint.tables[j].name == name) {
        return absl::FailedPreconditionError(
            absl::StrCat(where, ": table \"", name, "\" appears twice"));
      }
    }
    if (FindTable(model, name) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": table \"", name, "\" is not in ", model_name));
    }
  }
  for (const TableShape& want : model.tables) {
    const TableShape* have = FindTable(checkpoint, want.name);
    if (have == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, " has no table \"", want.name, "\", which ",
                       model_name, " needs"));
    }
    const bool compare_state = have->state_floats != TableShape::kUnknown &&
                               want.state_floats != TableShape::kUnknown;
    if (compare_state &&
        (have->dim != want.dim || have->state_floats != want.state_floats)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: table \"%s\" has dim %d and %d state floats, %s has %d and %d",
          where, want.name, have->dim, have->state_floats, model_name, want.dim,
          want.state_floats));
    }
    if (have->dim != want.dim) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: table \"%s\" has dim %d, %s has %d", where,
                          want.name, have->dim, model_name, want.dim));
    }
  }
  const bool compare_state =
      checkpoint.dense_state != ParameterShape::kUnknown &&
      model.dense_state != ParameterShape::kUnknown;
  if (compare_state && (checkpoint.dense_params != model.dense_params ||
                        checkpoint.dense_state != model.dense_state)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: dense part of %d parameters and %d optimizer floats, %s has %d "
        "and %d",
        where, checkpoint.dense_params, checkpoint.dense_state, model_name,
        model.dense_params, model.dense_state));
  }
  if (checkpoint.dense_params != model.dense_params) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: dense part of %d parameters, %s has %d", where,
        checkpoint.dense_params, model_name, model.dense_params));
  }
  return absl::OkStatus();
}

}  // namespace freshet
