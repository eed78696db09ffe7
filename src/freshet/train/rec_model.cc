#include "freshet/train/rec_model.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

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

absl::StatusOr<std::unique_ptr<RecModel>> RecModel::Create(
    const JobConfig& job, std::shared_ptr<const Schema> schema, uint64_t seed,
    const EmbeddingTableOptions& table_options) {
  if (schema->num_slots() != static_cast<int>(job.schema.slots.size())) {
    return absl::InvalidArgumentError(
        "schema was not compiled from the job's schema");
  }
  ASSIGN_OR_RETURN(std::vector<int> slot_dims, SlotDimsOf(job));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Model> dense,
      Model::Create(job.model, slot_dims, schema->num_dense(), seed));
  ASSIGN_OR_RETURN(
      DenseOptimizer optimizer,
      DenseOptimizer::Create(job.model.dense_optimizer, dense->num_params()));
  std::unique_ptr<RecModel> model(
      new RecModel(std::move(schema), std::move(dense), std::move(optimizer)));

  ASSIGN_OR_RETURN(
      ModelTables layout,
      ResolveModelTables(job, *model->schema_, model->dense_->shape()));
  for (const TableSpec& spec : layout.tables) {
    ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingTable> table,
                     EmbeddingTable::Create(spec, table_options));
    model->tables_.push_back(std::move(table));
  }
  model->slots_ = std::move(layout.slots);
  return model;
}

int64_t RecModel::TotalRows() const {
  int64_t rows = 0;
  for (const auto& t : tables_) rows += t->size();
  return rows;
}

int64_t RecModel::TotalBytes() const {
  int64_t bytes = static_cast<int64_t>(dense_->num_params() * sizeof(float));
  for (const auto& t : tables_) bytes += t->Stats().total_bytes;
  return bytes;
}

BatchEmbedder::BatchEmbedder(RecModel* model)
    : model_(model),
      parts_(model->num_tables()),
      table_slots_(model->num_tables()) {
  for (int t = 0; t < model->num_tables(); ++t) {
    parts_[t].dim = model->table(t).dim();
  }
  for (int s = 0; s < model->schema().num_slots(); ++s) {
    const RecModel::SlotBinding& b = model->slot(s);
    if (b.embedding_table >= 0)
      table_slots_[b.embedding_table].push_back({s, false});
    if (b.wide_table >= 0) {
      parts_[b.wide_table].wide = true;
      table_slots_[b.wide_table].push_back({s, true});
    }
  }
}

absl::Status BatchEmbedder::Embed(absl::Span<const Example> examples,
                                  LookupMode mode, int64_t event_time_ms) {
  RETURN_IF_ERROR(Begin(examples));
  return EmbedPart(examples, mode, event_time_ms, 0, 1);
}

absl::Status BatchEmbedder::ApplyGradients(absl::Span<const float> labels,
                                           int64_t event_time_ms) {
  return ApplyPart(labels, event_time_ms, 0, 1);
}

absl::Status BatchEmbedder::Begin(absl::Span<const Example> examples) {
  const ModelShape& shape = model_->dense().shape();
  const int batch = static_cast<int>(examples.size());
  const int num_slots = shape.num_slots();
  const int width = shape.embedding_width;
  const int num_dense = shape.num_dense;
  dense_.resize(static_cast<size_t>(batch) * num_dense);
  for (int b = 0; b < batch; ++b) {
    const Example& e = examples[b];
    if (e.num_slots() != num_slots) {
      return absl::InvalidArgumentError(absl::StrCat(
          "example has ", e.num_slots(), " slots, the model ", num_slots));
    }
    if (static_cast<int>(e.dense.size()) != num_dense) {
      return absl::InvalidArgumentError(
          absl::StrCat("example has ", e.dense.size(),
                       " dense features, the model ", num_dense));
    }
    std::copy(e.dense.begin(), e.dense.end(),
              dense_.begin() + static_cast<size_t>(b) * num_dense);
  }
  embeddings_.assign(static_cast<size_t>(batch) * width, 0.0f);
  wide_.assign(static_cast<size_t>(batch) * num_slots, 0.0f);
  d_embeddings_.resize(embeddings_.size());
  d_wide_.resize(wide_.size());
  input_.batch = batch;
  input_.embeddings = width > 0 ? embeddings_.data() : nullptr;
  input_.wide = shape.needs_wide ? wide_.data() : nullptr;
  input_.dense = num_dense > 0 ? dense_.data() : nullptr;
  input_grad_.embeddings = width > 0 ? d_embeddings_.data() : nullptr;
  input_grad_.wide = shape.needs_wide ? d_wide_.data() : nullptr;
  for (TablePart& part : parts_) {
    part.keys.clear();
    part.index.clear();
    part.occurrences.clear();
  }
  return absl::OkStatus();
}

absl::Status BatchEmbedder::EmbedPart(absl::Span<const Example> examples,
                                      LookupMode mode, int64_t event_time_ms,
                                      int part_index, int num_parts) {
  const ModelShape& shape = model_->dense().shape();
  const int batch = static_cast<int>(examples.size());
  const int num_slots = shape.num_slots();
  const int width = shape.embedding_width;
  for (size_t t = part_index; t < parts_.size(); t += num_parts) {
    TablePart& part = parts_[t];
    // Distinct ids of this table, and where each occurrence goes.
    for (int b = 0; b < batch; ++b) {
      const Example& e = examples[b];
      for (const SlotUse& use : table_slots_[t]) {
        absl::Span<const uint64_t> ids = e.slot_ids(use.slot);
        if (ids.empty()) continue;
        const RecModel::SlotBinding& binding = model_->slot(use.slot);
        absl::Span<const float> weights = e.slot_weights(use.slot);
        float norm = 1.0f;
        if (binding.mean) {
          float total = 0.0f;
          if (weights.empty()) {
            total = static_cast<float>(ids.size());
          } else {
            for (float w : weights) total += w;
          }
          norm = total != 0.0f ? 1.0f / total : 0.0f;
        }
        const uint32_t column = static_cast<uint32_t>(
            use.wide ? use.slot : binding.embedding_offset);
        for (size_t i = 0; i < ids.size(); ++i) {
          const float scale = (weights.empty() ? 1.0f : weights[i]) * norm;
          auto [it, inserted] = part.index.try_emplace(
              ids[i], static_cast<uint32_t>(part.keys.size()));
          if (inserted) part.keys.push_back(ids[i]);
          part.occurrences.push_back(
              {static_cast<uint32_t>(b), it->second, column, scale});
        }
      }
    }
    if (part.keys.empty()) continue;
    part.rows.resize(part.keys.size() * part.dim);
    RETURN_IF_ERROR(
        model_->table(static_cast<int>(t))
            .Lookup(part.keys, absl::MakeSpan(part.rows), mode, event_time_ms));
    const int dim = part.dim;
    if (part.wide) {
      for (const Occurrence& o : part.occurrences) {
        wide_[static_cast<size_t>(o.example) * num_slots + o.column] +=
            o.scale * part.rows[o.unique];
      }
    } else {
      for (const Occurrence& o : part.occurrences) {
        float* dst = embeddings_.data() +
                     static_cast<size_t>(o.example) * width + o.column;
        const float* src =
            part.rows.data() + static_cast<size_t>(o.unique) * dim;
        for (int k = 0; k < dim; ++k) dst[k] += o.scale * src[k];
      }
    }
  }
  return absl::OkStatus();
}

absl::Status BatchEmbedder::ApplyPart(absl::Span<const float> labels,
                                      int64_t event_time_ms, int part_index,
                                      int num_parts) {
  const ModelShape& shape = model_->dense().shape();
  const int num_slots = shape.num_slots();
  const int width = shape.embedding_width;
  for (size_t t = part_index; t < parts_.size(); t += num_parts) {
    TablePart& part = parts_[t];
    if (part.keys.empty()) continue;
    const int dim = part.dim;
    part.grads.assign(part.keys.size() * dim, 0.0f);
    part.labels.assign(part.keys.size(), 0.0f);
    if (part.wide) {
      for (const Occurrence& o : part.occurrences) {
        part.grads[o.unique] +=
            o.scale *
            d_wide_[static_cast<size_t>(o.example) * num_slots + o.column];
      }
    } else {
      for (const Occurrence& o : part.occurrences) {
        const float* src = d_embeddings_.data() +
                           static_cast<size_t>(o.example) * width + o.column;
        float* dst = part.grads.data() + static_cast<size_t>(o.unique) * dim;
        for (int k = 0; k < dim; ++k) dst[k] += o.scale * src[k];
      }
    }
    if (!labels.empty()) {
      for (const Occurrence& o : part.occurrences) {
        part.labels[o.unique] =
            std::max(part.labels[o.unique], labels[o.example]);
      }
    }
    RETURN_IF_ERROR(model_->table(static_cast<int>(t))
                        .Apply(part.keys, part.grads, event_time_ms,
                               labels.empty()
                                   ? absl::Span<const float>()
                                   : absl::MakeConstSpan(part.labels)));
  }
  return absl::OkStatus();
}

int64_t BatchEmbedder::distinct_ids() const {
  int64_t n = 0;
  for (const TablePart& part : parts_) n += part.keys.size();
  return n;
}

}  // namespace freshet
