#include "freshet/store/model_tables.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace freshet {

absl::StatusOr<ModelTables> ResolveModelTables(const JobConfig& job,
                                               const Schema& schema,
                                               const ModelShape& shape) {
  ModelTables out;
  absl::flat_hash_map<std::string, int> by_name;
  auto table_index = [&](const TableSpec& spec) {
    auto [it, inserted] =
        by_name.try_emplace(spec.name, static_cast<int>(out.tables.size()));
    if (inserted) out.tables.push_back(spec);
    return it->second;
  };
  for (int s = 0; s < schema.num_slots(); ++s) {
    const Schema::Slot& slot = schema.slot(s);
    const TableSpec* spec = job.FindTable(slot.table);
    if (spec == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("slot '", slot.name, "': no table '", slot.table, "'"));
    }
    const SlotShape& need = shape.slots[s];
    SlotBinding binding;
    binding.mean = slot.pooling == Pooling::kMean;
    if (need.embedding_dim > 0) {
      binding.embedding_table = table_index(*spec);
      binding.embedding_dim = need.embedding_dim;
      binding.embedding_offset = need.embedding_offset;
    }
    if (need.needs_wide) {
      TableSpec wide = *spec;
      wide.name = spec->name + "/wide";
      wide.dim = 1;
      wide.optimizer = job.model.wide_optimizer;
      wide.initializer.type = "zeros";
      binding.wide_table = table_index(wide);
    }
    out.slots.push_back(binding);
  }
  return out;
}

}  // namespace freshet
