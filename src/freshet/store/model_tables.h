// Which tables a model reads, and how each slot reads them: one derivation,
// from the job and the dense part's shape, for training (LocalStore) and
// serving (ServingReplica) alike.
#ifndef FRESHET_STORE_MODEL_TABLES_H_
#define FRESHET_STORE_MODEL_TABLES_H_

#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/schema.h"
#include "freshet/model/model.h"

namespace freshet {

// Which tables a slot reads, as indices into the model's table list; -1:
// none.
struct SlotBinding {
  int embedding_table = -1;
  int wide_table = -1;
  int embedding_dim = 0;
  int embedding_offset = 0;  // first column in ModelInput::embeddings
  bool mean = false;         // mean pooling (else sum)
};

// The tables a model of `job` with dense shape `shape` needs, and which of
// them each slot of `schema` reads. Tables come in the order of first use:
// TABLE (the job's spec) when a slot of it needs an embedding row, TABLE/wide
// (dim 1, model.wide_optimizer, zero-initialised) when one needs a wide
// weight. Slots sharing a table share both.
struct ModelTables {
  std::vector<TableSpec> tables;
  std::vector<SlotBinding> slots;
};
absl::StatusOr<ModelTables> ResolveModelTables(const JobConfig& job,
                                               const Schema& schema,
                                               const ModelShape& shape);

}  // namespace freshet

#endif  // FRESHET_STORE_MODEL_TABLES_H_
