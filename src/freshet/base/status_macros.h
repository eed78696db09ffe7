// Helpers for propagating absl::Status and absl::StatusOr across functions.
//
// RETURN_IF_ERROR(expr) returns the status of `expr` from the enclosing
// function when it is not OK. ASSIGN_OR_RETURN(lhs, expr) evaluates a
// StatusOr expression, returns its status on error, and otherwise moves the
// value into `lhs` (which may be a declaration: `ASSIGN_OR_RETURN(auto x,
// F())`).
#ifndef FRESHET_BASE_STATUS_MACROS_H_
#define FRESHET_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FRESHET_CONCAT_INNER_(a, b) a##b
#define FRESHET_CONCAT_(a, b) FRESHET_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status freshet_status_ = (expr); \
    if (!freshet_status_.ok()) {             \
      return freshet_status_;                \
    }                                        \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  ASSIGN_OR_RETURN_IMPL_(FRESHET_CONCAT_(freshet_statusor_, __LINE__), lhs, \
                         expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) {                             \
    return std::move(statusor).status();            \
  }                                                 \
  lhs = *std::move(statusor)

#endif  // FRESHET_BASE_STATUS_MACROS_H_
