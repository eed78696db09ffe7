#include "freshet/store/batch_embedder.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

namespace freshet {

namespace {

std::vector<int> TableDims(const ParameterStore& store) {
  std::vector<int> dims(store.num_tables());
  for (int t = 0; t < store.num_tables(); ++t)
    dims[t] = store.table_spec(t).dim;
  return dims;
}

}  // namespace

BatchEmbedder::BatchEmbedder(LocalStore* store)
    : BatchEmbedder(store, store, store->schema(), store->dense().shape(),
                    store->slots(), TableDims(*store)) {}

BatchEmbedder::BatchEmbedder(RowReader* reader, ParameterStore* store,
                             const Schema& schema, const ModelShape& shape,
                             const std::vector<SlotBinding>& slots,
                             const std::vector<int>& table_dims)
    : reader_(reader),
      store_(store),
      shape_(shape),
      slots_(slots),
      parts_(table_dims.size()),
      table_slots_(table_dims.size()) {
  for (size_t t = 0; t < table_dims.size(); ++t) parts_[t].dim = table_dims[t];
  for (int d = 0; d < schema.num_dense(); ++d) {
    missing_.push_back(schema.dense(d).missing);
  }
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s) {
    const SlotBinding& b = slots_[s];
    if (b.embedding_table >= 0)
      table_slots_[b.embedding_table].push_back({s, false});
    if (b.wide_table >= 0) {
      parts_[b.wide_table].wide = true;
      table_slots_[b.wide_table].push_back({s, true});
    }
  }
}

absl::Status BatchEmbedder::Embed(absl::Span<const Example> examples,
                                  LookupMode mode, int64_t event_time_ms,
                                  const Example* context) {
  RETURN_IF_ERROR(Begin(examples, context));
  return EmbedPart(examples, mode, event_time_ms, 0, 1);
}

absl::Status BatchEmbedder::ApplyGradients(absl::Span<const float> labels,
                                           int64_t event_time_ms) {
  return ApplyPart(labels, event_time_ms, 0, 1);
}

absl::Status BatchEmbedder::Begin(absl::Span<const Example> examples,
                                  const Example* context) {
  const ModelShape& shape = shape_;
  const int batch = static_cast<int>(examples.size());
  const int num_slots = shape.num_slots();
  const int width = shape.embedding_width;
  const int num_dense = shape.num_dense;
  if (context != nullptr &&
      (context->num_slots() != num_slots ||
       static_cast<int>(context->dense.size()) != num_dense)) {
    return absl::InvalidArgumentError("context does not follow the schema");
  }
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
    float* dst = dense_.data() + static_cast<size_t>(b) * num_dense;
    for (int d = 0; d < num_dense; ++d) {
      float x = e.dense[d];
      if (context != nullptr && !std::isnan(context->dense[d])) {
        x = context->dense[d];
      }
      dst[d] = std::isnan(x) ? missing_[d] : x;
    }
  }
  context_ = context;
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
  const ModelShape& shape = shape_;
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
        absl::Span<const float> weights = e.slot_weights(use.slot);
        if (ids.empty() && context_ != nullptr) {
          ids = context_->slot_ids(use.slot);
          weights = context_->slot_weights(use.slot);
        }
        if (ids.empty()) continue;
        const SlotBinding& binding = slots_[use.slot];
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
    RETURN_IF_ERROR(reader_->Lookup(static_cast<int>(t), part.keys,
                                    absl::MakeSpan(part.rows), mode,
                                    event_time_ms));
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
  if (store_ == nullptr) {
    return absl::FailedPreconditionError("a read-only embedder cannot apply");
  }
  const ModelShape& shape = shape_;
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
    RETURN_IF_ERROR(
        store_->Apply(static_cast<int>(t), part.keys, part.grads, event_time_ms,
                      labels.empty() ? absl::Span<const float>()
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
