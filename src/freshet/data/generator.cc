#include "freshet/data/generator.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <queue>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "freshet/base/clock.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

constexpr size_t kWriteChunk = 4 << 20;
constexpr int64_t kProgressCheckRows = 1 << 16;

// Appends to a file through one large buffer; reports every error.
class BufferedFile {
 public:
  ~BufferedFile() {
    if (file_ != nullptr) std::fclose(file_);
  }

  absl::Status Open(const std::string& path) {
    path_ = path;
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          path, ": cannot open for writing: ", std::strerror(errno)));
    }
    buffer_.reserve(kWriteChunk + 4096);
    return absl::OkStatus();
  }

  std::string* buffer() { return &buffer_; }

  // Writes the buffer out once it holds a chunk.
  absl::Status MaybeFlush() {
    return buffer_.size() >= kWriteChunk ? Flush() : absl::OkStatus();
  }

  absl::Status Close() {
    RETURN_IF_ERROR(Flush());
    int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) {
      return absl::DataLossError(
          absl::StrCat(path_, ": close failed: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(),
                                        file_) != buffer_.size()) {
      return absl::DataLossError(
          absl::StrCat(path_, ": write failed: ", std::strerror(errno)));
    }
    buffer_.clear();
    return absl::OkStatus();
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
};

// Calls options.progress every progress_interval_s of wall time.
class ProgressReporter {
 public:
  explicit ProgressReporter(const GeneratorOptions& options)
      : options_(options), last_(MonotonicSeconds()) {}

  void Rows(int64_t done) {
    if (!options_.progress || done < next_check_) return;
    next_check_ = done + kProgressCheckRows;
    double now = MonotonicSeconds();
    if (now - last_ >= options_.progress_interval_s) {
      last_ = now;
      options_.progress(done);
    }
  }

  void Done(int64_t done) {
    if (options_.progress) options_.progress(done);
  }

 private:
  const GeneratorOptions& options_;
  double last_;
  int64_t next_check_ = 0;
};

absl::Status ValidateOptions(const GeneratorOptions& o) {
  if (o.rows < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("generator: rows must be >= 0, got ", o.rows));
  }
  if (!(o.criteo_ctr > 0.0 && o.criteo_ctr < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "generator: criteo_ctr must be in (0, 1), got ", o.criteo_ctr));
  }
  const ImpressionsOptions& i = o.impressions;
  if (i.users < 1 || i.topics < 4 || i.topics > 1 << 16 || i.slate < 1 ||
      i.slate > 16 || i.items < i.slate) {
    return absl::InvalidArgumentError(absl::StrCat(
        "generator: need users >= 1, 4 <= topics <= 65536, 1 <= slate <= 16 "
        "and items >= slate; got users=",
        i.users, " topics=", i.topics, " slate=", i.slate, " items=", i.items));
  }
  if (!(i.impressions_per_second > 0.0) ||
      !(i.drift_fraction >= 0.0 && i.drift_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        "generator: impressions_per_second must be > 0 and drift_fraction in "
        "[0, 1]");
  }
  return absl::OkStatus();
}

absl::Status WriteCriteo(const GeneratorOptions& options,
                         const std::string& out) {
  CriteoGenerator gen(options.seed, options.criteo_ctr);
  BufferedFile file;
  RETURN_IF_ERROR(file.Open(out));
  ProgressReporter progress(options);
  std::string* buf = file.buffer();
  for (int64_t i = 0; i < options.rows; ++i) {
    gen.AppendRow(i, buf);
    buf->push_back('\n');
    RETURN_IF_ERROR(file.MaybeFlush());
    progress.Rows(i + 1);
  }
  RETURN_IF_ERROR(file.Close());
  progress.Done(options.rows);
  return absl::OkStatus();
}

absl::Status WriteImpressions(const GeneratorOptions& options,
                              const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(dir, ": cannot create folder: ", ec.message()));
  }
  ImpressionsGenerator gen(options.seed, options.rows, options.impressions);
  BufferedFile impressions, actions, joined;
  RETURN_IF_ERROR(impressions.Open(dir + "/impressions.csv"));
  RETURN_IF_ERROR(actions.Open(dir + "/actions.csv"));
  RETURN_IF_ERROR(joined.Open(dir + "/joined.csv"));
  absl::StrAppend(impressions.buffer(),
                  ImpressionsGenerator::kImpressionsHeader, "\n");
  absl::StrAppend(actions.buffer(), ImpressionsGenerator::kActionsHeader, "\n");
  absl::StrAppend(joined.buffer(), ImpressionsGenerator::kJoinedHeader, "\n");

  // Clicks not yet written, earliest arrival first (ties: impression order).
  // A click arrives at least 0.5 s after its impression and impressions come
  // in time order, so a click earlier than the current impression can no
  // longer be preceded by a later one.
  using Pending = std::pair<std::pair<int64_t, int64_t>, Impression>;
  auto later = [](const Pending& a, const Pending& b) {
    return a.first > b.first;
  };
  std::priority_queue<Pending, std::vector<Pending>, decltype(later)> pending(
      later);
  auto write_actions_before = [&](int64_t time_ms) -> absl::Status {
    while (!pending.empty() && pending.top().first.first < time_ms) {
      ImpressionsGenerator::AppendAction(pending.top().second,
                                         actions.buffer());
      actions.buffer()->push_back('\n');
      pending.pop();
    }
    return actions.MaybeFlush();
  };

  ProgressReporter progress(options);
  std::vector<Impression> request;
  const int64_t requests = gen.num_requests();
  for (int64_t r = 0; r < requests; ++r) {
    gen.MakeRequest(r, &request);
    RETURN_IF_ERROR(write_actions_before(request.front().event_time_ms));
    for (const Impression& imp : request) {
      ImpressionsGenerator::AppendImpression(imp, impressions.buffer());
      impressions.buffer()->push_back('\n');
      ImpressionsGenerator::AppendJoined(imp, joined.buffer());
      joined.buffer()->push_back('\n');
      if (imp.click) pending.push({{imp.click_time_ms, imp.row}, imp});
    }
    RETURN_IF_ERROR(impressions.MaybeFlush());
    RETURN_IF_ERROR(joined.MaybeFlush());
    progress.Rows(request.back().row + 1);
  }
  RETURN_IF_ERROR(write_actions_before(INT64_MAX));
  RETURN_IF_ERROR(impressions.Close());
  RETURN_IF_ERROR(actions.Close());
  RETURN_IF_ERROR(joined.Close());
  progress.Done(options.rows);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GeneratorKind> ParseGeneratorKind(std::string_view name) {
  if (name == "criteo") return GeneratorKind::kCriteo;
  if (name == "impressions") return GeneratorKind::kImpressions;
  return absl::InvalidArgumentError(
      absl::StrCat("generator kind must be criteo or impressions, got '",
                   std::string(name), "'"));
}

std::string_view GeneratorKindName(GeneratorKind kind) {
  return kind == GeneratorKind::kCriteo ? "criteo" : "impressions";
}

absl::Status GenerateToPath(const GeneratorOptions& options,
                            const std::string& out) {
  RETURN_IF_ERROR(ValidateOptions(options));
  if (out.empty()) {
    return absl::InvalidArgumentError("generator: output path is empty");
  }
  return options.kind == GeneratorKind::kCriteo
             ? WriteCriteo(options, out)
             : WriteImpressions(options, out);
}

absl::StatusOr<GeneratorOptions> GeneratorOptionsFromSpec(
    const SourceSpec& spec) {
  GeneratorOptions options;
  ASSIGN_OR_RETURN(options.kind, ParseGeneratorKind(spec.generator_kind));
  options.rows = spec.generator_rows;
  options.seed = spec.generator_seed;
  RETURN_IF_ERROR(ValidateOptions(options));
  return options;
}

GeneratorSource::GeneratorSource(const GeneratorOptions& options)
    : options_(options) {
  if (options_.kind == GeneratorKind::kCriteo) {
    criteo_ =
        std::make_unique<CriteoGenerator>(options_.seed, options_.criteo_ctr);
  } else {
    impressions_ = std::make_unique<ImpressionsGenerator>(
        options_.seed, options_.rows, options_.impressions);
    header_ = ImpressionsGenerator::kJoinedHeader;
  }
}

absl::Status GeneratorSource::Poll(size_t max_records, int timeout_ms,
                                   RecordBatch* batch) {
  batch->Clear();
  const int64_t end =
      next_ + static_cast<int64_t>(std::min<uint64_t>(
                  max_records, static_cast<uint64_t>(options_.rows - next_)));
  // Lines first (storage may reallocate), views after.
  std::vector<size_t> offsets;
  offsets.reserve(end - next_ + 1);
  for (int64_t i = next_; i < end; ++i) {
    offsets.push_back(batch->storage.size());
    if (criteo_ != nullptr) {
      criteo_->AppendRow(i, &batch->storage);
    } else {
      const int slate = options_.impressions.slate;
      const int64_t request = i / slate;
      if (request_.empty() || request_.front().request != request) {
        impressions_->MakeRequest(request, &request_);
      }
      ImpressionsGenerator::AppendJoined(request_[i % slate], &batch->storage);
    }
  }
  offsets.push_back(batch->storage.size());
  batch->records.reserve(end - next_);
  for (int64_t i = next_; i < end; ++i) {
    size_t k = static_cast<size_t>(i - next_);
    batch->records.push_back(
        {std::string_view(batch->storage)
             .substr(offsets[k], offsets[k + 1] - offsets[k]),
         StreamPosition{kSegment, i}});
  }
  next_ = end;
  batch->end = Position();
  return absl::OkStatus();
}

StreamPosition GeneratorSource::Position() const {
  return StreamPosition{kSegment, next_};
}

absl::Status GeneratorSource::Seek(const StreamPosition& position) {
  if (position.segment != kSegment) {
    return absl::InvalidArgumentError(
        absl::StrCat("generator source: cannot seek to segment '",
                     position.segment, "'; positions look like gen:INDEX"));
  }
  if (position.offset < 0 || position.offset > options_.rows) {
    return absl::OutOfRangeError(
        absl::StrCat("generator source: record ", position.offset,
                     " is outside 0..", options_.rows));
  }
  next_ = position.offset;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GeneratorSource>> GeneratorSource::Create(
    const GeneratorOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  return std::make_unique<GeneratorSource>(options);
}

absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(
    const SourceSpec& spec) {
  ASSIGN_OR_RETURN(GeneratorOptions options, GeneratorOptionsFromSpec(spec));
  return std::unique_ptr<Source>(std::make_unique<GeneratorSource>(options));
}

absl::StatusOr<std::string> GeneratorHeader(std::string_view kind) {
  ASSIGN_OR_RETURN(GeneratorKind k, ParseGeneratorKind(kind));
  return k == GeneratorKind::kCriteo
             ? std::string()
             : std::string(ImpressionsGenerator::kJoinedHeader);
}

absl::StatusOr<std::vector<std::string>> GeneratorColumns(
    std::string_view kind) {
  ASSIGN_OR_RETURN(GeneratorKind k, ParseGeneratorKind(kind));
  if (k == GeneratorKind::kImpressions) {
    return std::vector<std::string>(
        absl::StrSplit(ImpressionsGenerator::kJoinedHeader, ','));
  }
  std::vector<std::string> columns = {"label"};
  for (int d = 1; d <= CriteoRow::kDense; ++d) {
    columns.push_back(absl::StrCat("I", d));
  }
  for (int c = 1; c <= CriteoRow::kCategorical; ++c) {
    columns.push_back(absl::StrCat("C", c));
  }
  return columns;
}

}  // namespace freshet
