#include "freshet/data/example_reader.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/file_log.h"
#include "freshet/data/generator.h"
#include "freshet/data/make_source.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

// How many records one Poll() asks the source for.
constexpr size_t kPollRecords = 1024;

// A FileLogSink opened on first use, so that a clean stream leaves no empty
// dead-letter file behind.
class LazyFileSink final : public Sink {
 public:
  LazyFileSink(std::string path, FileSystem* fs)
      : path_(std::move(path)), fs_(fs) {}
  absl::Status Append(std::string_view record) override {
    if (sink_ == nullptr) {
      ASSIGN_OR_RETURN(sink_, FileLogSink::Open(path_, false, fs_));
    }
    return sink_->Append(record);
  }
  absl::Status Flush() override {
    return sink_ == nullptr ? absl::OkStatus() : sink_->Flush();
  }

 private:
  const std::string path_;
  FileSystem* const fs_;
  std::unique_ptr<FileLogSink> sink_;
};

}  // namespace

ExampleReader::ExampleReader(std::unique_ptr<Source> source,
                             std::shared_ptr<const Schema> schema,
                             const SourceSpec& spec,
                             std::unique_ptr<Sink> dead_letter)
    : source_(std::move(source)),
      schema_(std::move(schema)),
      spec_(spec),
      dead_letter_(std::move(dead_letter)) {}

absl::StatusOr<std::unique_ptr<ExampleReader>> ExampleReader::Create(
    std::unique_ptr<Source> source, std::shared_ptr<const Schema> schema,
    const SourceSpec& spec, std::unique_ptr<Sink> dead_letter,
    std::optional<std::string> header) {
  if (source == nullptr || schema == nullptr) {
    return absl::InvalidArgumentError(
        "ExampleReader: source and schema must not be null");
  }
  std::unique_ptr<ExampleReader> reader(new ExampleReader(
      std::move(source), std::move(schema), spec, std::move(dead_letter)));
  reader->has_header_ = FormatHasHeader(spec);
  if (reader->has_header_ && header.has_value()) {
    reader->header_ = *std::move(header);
    ASSIGN_OR_RETURN(reader->parser_,
                     MakeRecordParser(reader->schema_, spec, reader->header_));
  } else if (!reader->has_header_) {
    // Validate the schema against the format now, not at the first record.
    ASSIGN_OR_RETURN(reader->parser_, MakeRecordParser(reader->schema_, spec));
  }
  return reader;
}

absl::StatusOr<std::unique_ptr<ExampleReader>> ExampleReader::Open(
    const SourceSpec& spec, std::shared_ptr<const Schema> schema,
    FileSystem* fs) {
  ASSIGN_OR_RETURN(std::unique_ptr<Source> source, MakeSource(spec, fs));
  std::unique_ptr<Sink> dead_letter;
  std::string path = spec.dead_letter;
  if (path.empty() && !spec.path.empty()) path = spec.path + ".dead";
  if (!path.empty()) dead_letter = std::make_unique<LazyFileSink>(path, fs);
  std::optional<std::string> header;
  if (spec.type == "generator" && FormatHasHeader(spec)) {
    ASSIGN_OR_RETURN(header, GeneratorHeader(spec.generator_kind));
  }
  return Create(std::move(source), std::move(schema), spec,
                std::move(dead_letter), std::move(header));
}

absl::StatusOr<bool> ExampleReader::Next(Example* out, int timeout_ms) {
  while (true) {
    if (next_ >= batch_.records.size()) {
      if (source_->AtEnd()) return false;
      RETURN_IF_ERROR(source_->Poll(kPollRecords, timeout_ms, &batch_));
      CopyRotationCounters();
      next_ = 0;
      if (batch_.records.empty()) return false;
      continue;
    }
    const RecordBatch::Record& record = batch_.records[next_++];
    if (parser_ == nullptr) {
      // The first record of a stream with a header line.
      header_ = std::string(record.data);
      ++counters_.headers;
      ASSIGN_OR_RETURN(parser_, MakeRecordParser(schema_, spec_, header_));
      if (has_pending_seek_) {
        has_pending_seek_ = false;
        RETURN_IF_ERROR(source_->Seek(pending_seek_));
        CopyRotationCounters();
        batch_.Clear();
        next_ = 0;
      }
      continue;
    }
    if (has_header_ && record.data == header_) {
      ++counters_.headers;
      continue;
    }
    ++counters_.records;
    absl::Status status = parser_->Parse(record.data, out);
    counters_.side_table_misses = parser_->side_table_misses();
    if (status.ok()) {
      ++counters_.parsed;
      return true;
    }
    Reject(record, status);
  }
}

absl::StatusOr<size_t> ExampleReader::NextBatch(absl::Span<Example> out,
                                                int timeout_ms) {
  size_t n = 0;
  while (n < out.size()) {
    ASSIGN_OR_RETURN(bool got, Next(&out[n], n == 0 ? timeout_ms : 0));
    if (!got) break;
    ++n;
  }
  return n;
}

void ExampleReader::Reject(const RecordBatch::Record& record,
                           const absl::Status& status) {
  const RecordErrorKind kind =
      GetRecordErrorKind(status).value_or(RecordErrorKind::kBadSyntax);
  ++counters_.errors;
  const int64_t n = ++counters_.errors_by_kind[static_cast<int>(kind)];
  const std::string position = record.position.ToString();
  if (n == 1) {
    FRESHET_LOG_WARN(
        "malformed record at {} ({}): {}; further records of this kind are "
        "counted, not logged",
        position, RecordErrorKindName(kind), ToStd(status.message()));
  }
  if (dead_letter_ == nullptr) return;
  line_.clear();
  line_.append(position);
  line_.push_back('\t');
  line_.append(RecordErrorKindName(kind));
  line_.push_back('\t');
  for (char c : status.message()) {
    line_.push_back(c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
  }
  line_.push_back('\t');
  line_.append(record.data);
  absl::Status written = dead_letter_->Append(line_);
  if (written.ok()) written = dead_letter_->Flush();
  if (!written.ok() && ++counters_.dead_letter_failures == 1) {
    FRESHET_LOG_ERROR(
        "dead letter for the record at {} not written: {}; reading goes on, "
        "further failures are counted, not logged",
        position, ToStd(written.message()));
  }
}

bool ExampleReader::AtEnd() const {
  return next_ >= batch_.records.size() && source_->AtEnd();
}

StreamPosition ExampleReader::Position() const {
  if (next_ < batch_.records.size()) return batch_.records[next_].position;
  if (!batch_.records.empty()) return batch_.end;
  return source_->Position();
}

absl::Status ExampleReader::Seek(const StreamPosition& position) {
  batch_.Clear();
  next_ = 0;
  if (parser_ == nullptr && has_header_) {
    has_pending_seek_ = true;
    pending_seek_ = position;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(source_->Seek(position));
  CopyRotationCounters();
  return absl::OkStatus();
}

void ExampleReader::CopyRotationCounters() {
  const RotationCounters rotation = source_->rotation_counters();
  counters_.rotations = rotation.rotations;
  counters_.rotation_gaps = rotation.gaps;
  counters_.rotation_lost_bytes = rotation.lost_bytes;
}

}  // namespace freshet
