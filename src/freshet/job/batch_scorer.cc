#include "freshet/job/batch_scorer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/make_source.h"
#include "freshet/data/schema.h"
#include "freshet/job/restore_model.h"

namespace freshet {
namespace {

constexpr size_t kBatch = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<BatchScorer>> BatchScorer::Create(
    const JobConfig& job, const std::string& checkpoint_dir) {
  std::unique_ptr<BatchScorer> s(new BatchScorer(job));
  ASSIGN_OR_RETURN(s->schema_, Schema::Compile(job.schema));
  // Nothing collects changes from a scoring model.
  EmbeddingTableOptions table_options;
  table_options.track_sync = false;
  table_options.track_checkpoint = false;
  ASSIGN_OR_RETURN(
      s->model_,
      LocalStore::Create(job, s->schema_, job.train.seed, table_options));
  absl::StatusOr<Manifest> restored =
      RestoreModel(checkpoint_dir, s->model_.get());
  if (!restored.ok()) {
    const absl::Status& st = restored.status();
    if (st.code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat(checkpoint_dir,
                       ": no checkpoint to score with (train with "
                       "--checkpoint-dir first)"));
    }
    return absl::Status(st.code(),
                        absl::StrCat("cannot score with the checkpoints of ",
                                     checkpoint_dir, ": ", st.message()));
  }
  s->checkpoint_ = *restored;
  s->embedder_ = std::make_unique<BatchEmbedder>(s->model_.get());
  return s;
}

absl::Status BatchScorer::Score(absl::Span<const Example> examples,
                                std::vector<float>* scores) {
  if (examples.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(embedder_->Embed(examples, LookupMode::kServe,
                                   EmbeddingTable::kNoEventTime));
  logits_.resize(examples.size());
  model_->dense().Forward(embedder_->input(), &workspace_, logits_.data());
  const double offset = model_->dense().serving_logit_offset();
  for (float logit : logits_) {
    const double z = static_cast<double>(logit) + offset;
    scores->push_back(static_cast<float>(1.0 / (1.0 + std::exp(-z))));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScoreCounts> BatchScorer::ScoreFile(
    const std::string& data, std::ostream* out,
    const std::function<void(const ScoreCounts&)>& on_progress,
    int64_t progress_every) {
  SourceSpec spec = job_.source;
  spec.type = "file";
  spec.path = data;
  spec.follow = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Source> source, MakeSource(spec));
  // No dead-letter file: malformed records are counted and logged only.
  ASSIGN_OR_RETURN(
      std::unique_ptr<ExampleReader> reader,
      ExampleReader::Create(std::move(source), schema_, spec, nullptr));
  ScoreCounts counts;
  std::vector<Example> batch(kBatch);
  std::vector<int64_t> numbers(kBatch);
  std::vector<float> scores;
  int64_t next_progress = progress_every;
  bool more = true;
  while (more) {
    size_t n = 0;
    while (n < kBatch) {
      ASSIGN_OR_RETURN(bool got, reader->Next(&batch[n]));
      if (!got) {
        more = false;
        break;
      }
      numbers[n++] = reader->counters().records;
    }
    scores.clear();
    RETURN_IF_ERROR(Score(absl::MakeConstSpan(batch.data(), n), &scores));
    for (size_t i = 0; i < n; ++i) {
      *out << absl::StrFormat("%d\t%.9g\n", numbers[i], scores[i]);
    }
    if (!*out) return absl::DataLossError("cannot write the scores");
    counts.scored += static_cast<int64_t>(n);
    counts.reader = reader->counters();
    if (on_progress && counts.reader.records >= next_progress) {
      next_progress = counts.reader.records + progress_every;
      on_progress(counts);
    }
  }
  return counts;
}

}  // namespace freshet
