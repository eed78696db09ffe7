#include "freshet/ckpt/checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/ckpt/chain_choice.h"
#include "freshet/ckpt/parameter_shape.h"

namespace freshet {

namespace fs = std::filesystem;

namespace {

constexpr char kDirPrefix[] = "ckpt-";
constexpr char kTmpSuffix[] = ".tmp";
constexpr char kDenseFile[] = "dense.shard";

// Parses "ckpt-<digits>" (published) or "ckpt-<digits>.tmp".
std::optional<uint64_t> ParseDirName(const std::string& name, bool* tmp) {
  const std::string prefix = kDirPrefix;
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string digits = name.substr(prefix.size());
  *tmp = false;
  const std::string suffix = kTmpSuffix;
  if (digits.size() > suffix.size() &&
      digits.compare(digits.size() - suffix.size(), suffix.size(), suffix) ==
          0) {
    *tmp = true;
    digits.resize(digits.size() - suffix.size());
  }
  // Ids have at most 18 digits (kMaxCheckpointId), so parsing one cannot
  // overflow; a longer name is not a checkpoint of ours and is ignored.
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  uint64_t id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

std::string TableFileName(int index) {
  return absl::StrFormat("table-%03d.shard", index);
}

// "PATH: WHAT: reason", with the code of the file system's error.
absl::Status FileError(const absl::Status& s, const std::string& what,
                       const std::string& path) {
  return absl::Status(s.code(),
                      absl::StrCat(path, ": ", what, ": ", s.message()));
}

absl::Status SyncDir(FileSystem* fsys, const std::string& path) {
  absl::Status s = fsys->SyncDir(path);
  return s.ok() ? s : FileError(s, "fsync", path);
}

absl::Status WriteFileSynced(FileSystem* fsys, const std::string& path,
                             const std::string& text) {
  absl::StatusOr<std::unique_ptr<WritableFile>> f = fsys->NewWritableFile(path);
  if (!f.ok()) return FileError(f.status(), "open", path);
  absl::Status s = (*f)->Append(text);
  if (!s.ok()) return FileError(s, "write", path);
  s = (*f)->Sync();
  if (!s.ok()) return FileError(s, "fsync", path);
  s = (*f)->Close();
  if (!s.ok()) return FileError(s, "close", path);
  return absl::OkStatus();
}

// The highest id in `dir`, published or .tmp; 0 when none.
absl::StatusOr<uint64_t> HighestId(FileSystem* fsys, const std::string& dir) {
  absl::StatusOr<std::vector<DirEntry>> entries = fsys->ListDir(dir);
  if (!entries.ok()) return FileError(entries.status(), "list", dir);
  uint64_t highest = 0;
  for (const DirEntry& e : *entries) {
    bool tmp = false;
    std::optional<uint64_t> id = ParseDirName(e.name, &tmp);
    if (id) highest = std::max(highest, *id);
  }
  return highest;
}

// Paces a write to at most `bytes_per_s` (0, or anything but a finite
// positive number: no limit, never a wait without end).
class Pacer {
 public:
  explicit Pacer(double bytes_per_s)
      : bytes_per_s_(bytes_per_s), start_(std::chrono::steady_clock::now()) {}
  void Add(size_t bytes) {
    if (!(bytes_per_s_ > 0) || !std::isfinite(bytes_per_s_)) return;
    done_ += static_cast<double>(bytes);
    const auto due =
        start_ +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(done_ / bytes_per_s_));
    std::this_thread::sleep_until(due);
  }

 private:
  const double bytes_per_s_;
  const std::chrono::steady_clock::time_point start_;
  double done_ = 0;
};

// Writes the rows of `table`'s open snapshot.
absl::Status WriteTableSnapshot(EmbeddingTable& table, ShardWriter& w,
                                Pacer& pacer) {
  const size_t dim = static_cast<size_t>(table.dim());
  const size_t sf = static_cast<size_t>(table.state_floats());
  DirtyBatch batch;
  bool more = true;
  while (more) {
    batch.Clear();
    more = table.ReadSnapshot(&batch, 4096);
    pacer.Add(batch.keys.size() * (20 + sizeof(float) * (dim + sf)));
    if (batch.weights.size() != batch.keys.size() * dim ||
        batch.state.size() != batch.keys.size() * sf ||
        batch.last_update_ms.size() != batch.keys.size() ||
        batch.scores.size() != batch.keys.size()) {
      return absl::InternalError(absl::StrCat(
          table.spec().name, ": snapshot batch sizes do not match its keys"));
    }
    for (uint64_t key : batch.deleted_keys) {
      RETURN_IF_ERROR(w.AddDeletedKey(key));
    }
    for (size_t i = 0; i < batch.keys.size(); ++i) {
      RETURN_IF_ERROR(
          w.AddRow(batch.keys[i], batch.last_update_ms[i], batch.scores[i],
                   absl::MakeConstSpan(batch.weights).subspan(i * dim, dim),
                   absl::MakeConstSpan(batch.state).subspan(i * sf, sf)));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteFiles(FileSystem* fsys, const std::string& tmp, ModelCut& cut,
                        const CheckpointWriteOptions& options,
                        Manifest* manifest) {
  LocalStore& model = cut.model();
  Pacer pacer(options.max_bytes_per_s);
  ShardWriterOptions shard = options.shard;
  shard.file_system = fsys;
  for (int t = 0; t < model.num_tables(); ++t) {
    EmbeddingTable& table = model.table(t);
    ShardHeader h;
    h.type = ShardFileType::kTable;
    h.name = table.spec().name;
    h.dim = static_cast<uint32_t>(table.dim());
    h.state_floats = static_cast<uint32_t>(table.state_floats());
    const std::string name = TableFileName(t);
    ASSIGN_OR_RETURN(
        std::unique_ptr<ShardWriter> w,
        ShardWriter::Create((fs::path(tmp) / name).string(), h, shard));
    RETURN_IF_ERROR(WriteTableSnapshot(table, *w, pacer));
    RETURN_IF_ERROR(w->AddPolicyState(table.TakeSnapshotPolicyState()));
    ASSIGN_OR_RETURN(ShardSummary s, w->Finish());
    manifest->files.push_back(
        {name, h.name, s.bytes, s.rows, s.deleted_keys, s.crc32c});
  }
  ShardHeader h;
  h.type = ShardFileType::kDense;
  h.name = "dense";
  h.num_params = cut.dense_params().size();
  h.num_state = cut.dense_state().size();
  h.steps = cut.dense_steps();
  ASSIGN_OR_RETURN(
      std::unique_ptr<ShardWriter> w,
      ShardWriter::Create((fs::path(tmp) / kDenseFile).string(), h, shard));
  RETURN_IF_ERROR(w->AddDenseParams(cut.dense_params()));
  RETURN_IF_ERROR(w->AddDenseState(cut.dense_state()));
  ASSIGN_OR_RETURN(ShardSummary s, w->Finish());
  manifest->files.push_back({kDenseFile, "", s.bytes, s.rows, 0, s.crc32c});
  return WriteFileSynced(fsys, (fs::path(tmp) / kManifestFileName).string(),
                         EncodeManifest(*manifest));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelCut>> ModelCut::Begin(
    LocalStore& model, CheckpointKind kind,
    const CheckpointMetadata& metadata) {
  const SnapshotScope scope = kind == CheckpointKind::kFull
                                  ? SnapshotScope::kAll
                                  : SnapshotScope::kChanged;
  std::unique_ptr<ModelCut> cut(new ModelCut(model, kind, metadata));
  for (int t = 0; t < model.num_tables(); ++t) {
    // On failure the destructor closes the snapshots opened so far.
    RETURN_IF_ERROR(model.table(t).BeginSnapshot(scope));
    cut->opened_ = t + 1;
  }
  absl::Span<const float> params = model.dense().params();
  absl::Span<const float> state = model.dense_optimizer().state();
  cut->dense_params_.assign(params.begin(), params.end());
  cut->dense_state_.assign(state.begin(), state.end());
  cut->dense_steps_ = model.dense_optimizer().steps();
  return cut;
}

ModelCut::~ModelCut() { Abort(); }

void ModelCut::Abort() {
  for (int t = 0; t < opened_; ++t) {
    if (model_->table(t).snapshot_open()) model_->table(t).AbortSnapshot();
  }
  opened_ = 0;
}

namespace {

absl::StatusOr<Manifest> WriteCutTo(const std::string& dir, ModelCut& cut,
                                    const CheckpointWriteOptions& options) {
  FileSystem* fsys = FileSystem::OrDefault(options.file_system);
  const CheckpointKind kind = cut.kind();
  absl::Status created = fsys->CreateDirs(dir);
  if (!created.ok()) return FileError(created, "create", dir);
  Manifest m;
  m.kind = kind;
  m.metadata = cut.metadata();
  if (kind == CheckpointKind::kIncremental) {
    ASSIGN_OR_RETURN(std::vector<CheckpointInfo> list,
                     ListCheckpoints(dir, fsys));
    if (list.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, ": no checkpoint yet; the first one must be full"));
    }
    const CheckpointInfo& last = list.back();
    if (!last.manifest_status.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          last.path, ": newest checkpoint unreadable (",
          last.manifest_status.message(), "); write a full checkpoint"));
    }
    m.previous_id = last.id;
    m.parent_id = last.manifest.kind == CheckpointKind::kFull
                      ? last.id
                      : last.manifest.parent_id;
  }
  ASSIGN_OR_RETURN(uint64_t highest, HighestId(fsys, dir));
  if (highest >= kMaxCheckpointId) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": checkpoint ids are used up (",
                     CheckpointDirName(highest), " exists, the largest id is ",
                     kMaxCheckpointId, "); move that directory away"));
  }
  m.id = highest + 1;
  const Clock* clock =
      options.clock != nullptr ? options.clock : SystemClock::Default();
  m.created_unix_ms = clock->NowMillis();
  const std::string final_dir =
      (fs::path(dir) / CheckpointDirName(m.id)).string();
  const std::string tmp = final_dir + kTmpSuffix;
  created = fsys->CreateDir(tmp);
  if (!created.ok()) return FileError(created, "create", tmp);
  absl::Status status = WriteFiles(fsys, tmp, cut, options, &m);
  if (status.ok()) status = SyncDir(fsys, tmp);
  if (status.ok()) {
    absl::Status renamed = fsys->Rename(tmp, final_dir);
    if (!renamed.ok()) {
      status = FileError(renamed, absl::StrCat("rename to ", final_dir), tmp);
    }
  }
  if (!status.ok()) {
    fsys->RemoveAll(tmp).IgnoreError();
    return status;
  }
  RETURN_IF_ERROR(SyncDir(fsys, dir));
  return m;
}

// A shard file of a verified checkpoint, opened, with its manifest entry.
struct OpenShard {
  const ManifestFile* entry;
  std::unique_ptr<ShardReader> reader;
};

absl::StatusOr<std::vector<OpenShard>> OpenShards(const CheckpointInfo& c,
                                                  FileSystem* fsys) {
  std::vector<OpenShard> out;
  for (const ManifestFile& f : c.manifest.files) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<ShardReader> r,
        ShardReader::Open((fs::path(c.path) / f.name).string(), fsys));
    out.push_back({&f, std::move(r)});
  }
  return out;
}

// The shape of `model`, as CheckParameterShape() compares it.
ParameterShape ShapeOf(const LocalStore& model) {
  ParameterShape shape;
  for (int t = 0; t < model.num_tables(); ++t) {
    const EmbeddingTable& table = model.table(t);
    shape.tables.push_back(
        {table.spec().name, table.dim(), table.state_floats()});
  }
  shape.dense_params = static_cast<int64_t>(model.dense().num_params());
  shape.dense_state =
      static_cast<int64_t>(model.dense_optimizer().state().size());
  return shape;
}

// Checks that the checkpoint's files fit the model (CheckParameterShape()).
// Returns for each table of the model the index of its shard in `shards`,
// and the dense shard's index last.
absl::StatusOr<std::vector<int>> MatchModel(
    const CheckpointInfo& c, const std::vector<OpenShard>& shards,
    const LocalStore& model) {
  std::vector<int> index(model.num_tables() + 1, -1);
  ParameterShape shape;
  for (size_t s = 0; s < shards.size(); ++s) {
    const ShardHeader& h = shards[s].reader->header();
    if (h.type == ShardFileType::kDense) {
      if (index.back() >= 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(c.path, ": two dense files"));
      }
      shape.dense_params = static_cast<int64_t>(h.num_params);
      shape.dense_state = static_cast<int64_t>(h.num_state);
      index.back() = static_cast<int>(s);
      continue;
    }
    shape.tables.push_back(
        {h.name, static_cast<int>(h.dim), static_cast<int>(h.state_floats)});
    for (int t = 0; t < model.num_tables(); ++t) {
      if (model.table(t).spec().name == h.name) index[t] = static_cast<int>(s);
    }
  }
  if (index.back() < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(c.path, ": no file for the dense part"));
  }
  RETURN_IF_ERROR(
      CheckParameterShape(shape, ShapeOf(model), c.path, "the model"));
  return index;
}

absl::Status ApplyTableShard(ShardReader& r, EmbeddingTable& table) {
  const size_t dim = r.header().dim;
  const size_t sf = r.header().state_floats;
  std::vector<float> weights(dim), state(sf);
  return r.ForEachBlock([&](int, BlockType type, std::string_view recs) {
    if (type == BlockType::kPolicyState) {
      absl::Status s = table.RestorePolicyState(recs);
      if (!s.ok()) {
        // Rows are what a checkpoint is for; a table whose options changed
        // starts its admission counts afresh.
        FRESHET_LOG_WARN("{}: {}; admission counts start afresh",
                         table.spec().name, std::string(s.message()));
      }
      return absl::OkStatus();
    }
    const size_t size = r.RecordSize(type);
    for (size_t off = 0; off < recs.size(); off += size) {
      const char* p = recs.data() + off;
      if (type == BlockType::kDeletedKeys) {
        table.Erase(DecodeU64(p));
        continue;
      }
      const uint64_t key = DecodeU64(p);
      const int64_t last_update = DecodeI64(p + 8);
      const float score = DecodeF32(p + 16);
      std::memcpy(weights.data(), p + 20, dim * sizeof(float));
      std::memcpy(state.data(), p + 20 + dim * sizeof(float),
                  sf * sizeof(float));
      RETURN_IF_ERROR(table.Restore(key, weights, state, last_update, score));
    }
    return absl::OkStatus();
  });
}

absl::Status ApplyDenseShard(ShardReader& r, LocalStore* model) {
  std::vector<float> params, state;
  params.reserve(r.header().num_params);
  state.reserve(r.header().num_state);
  RETURN_IF_ERROR(r.ForEachBlock([&](int, BlockType type,
                                     std::string_view recs) {
    std::vector<float>& out = type == BlockType::kDenseParams ? params : state;
    const size_t old = out.size();
    out.resize(old + recs.size() / sizeof(float));
    std::memcpy(out.data() + old, recs.data(), recs.size());
    return absl::OkStatus();
  }));
  absl::Span<float> dst = model->dense().params();
  if (params.size() != dst.size()) {
    return absl::InternalError("dense parameter count changed");
  }
  std::copy(params.begin(), params.end(), dst.begin());
  return model->dense_optimizer().Restore(state, r.header().steps);
}

// Applies a checkpoint that verified: a full one replaces every row.
absl::Status ApplyCheckpoint(const CheckpointInfo& c, LocalStore* model,
                             FileSystem* fsys) {
  ASSIGN_OR_RETURN(std::vector<OpenShard> shards, OpenShards(c, fsys));
  ASSIGN_OR_RETURN(std::vector<int> index, MatchModel(c, shards, *model));
  for (int t = 0; t < model->num_tables(); ++t) {
    EmbeddingTable& table = model->table(t);
    if (c.manifest.kind == CheckpointKind::kFull) {
      std::vector<uint64_t> keys;
      table.ForEachRow([&](const RowView& r) { keys.push_back(r.key); });
      for (uint64_t k : keys) table.Erase(k);
    }
    RETURN_IF_ERROR(ApplyTableShard(*shards[index[t]].reader, table));
  }
  return ApplyDenseShard(*shards[index.back()].reader, model);
}

}  // namespace

std::string CheckpointDirName(uint64_t id) {
  return absl::StrFormat("%s%010d", kDirPrefix, id);
}

absl::StatusOr<Manifest> WriteCut(const std::string& dir, ModelCut& cut,
                                  const CheckpointWriteOptions& options) {
  absl::StatusOr<Manifest> m = WriteCutTo(dir, cut, options);
  // Whatever a failed write left unread of the snapshots is dropped.
  cut.Abort();
  return m;
}

absl::StatusOr<Manifest> WriteFullCheckpoint(
    const std::string& dir, LocalStore& model,
    const CheckpointMetadata& metadata, const CheckpointWriteOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<ModelCut> cut,
                   ModelCut::Begin(model, CheckpointKind::kFull, metadata));
  return WriteCut(dir, *cut, options);
}

absl::StatusOr<Manifest> WriteIncrementalCheckpoint(
    const std::string& dir, LocalStore& model,
    const CheckpointMetadata& metadata, const CheckpointWriteOptions& options) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<ModelCut> cut,
      ModelCut::Begin(model, CheckpointKind::kIncremental, metadata));
  return WriteCut(dir, *cut, options);
}

absl::StatusOr<std::vector<CheckpointInfo>> ListCheckpoints(
    const std::string& dir, FileSystem* file_system) {
  FileSystem* fsys = FileSystem::OrDefault(file_system);
  std::vector<CheckpointInfo> out;
  if (!fsys->Exists(dir)) return out;
  absl::StatusOr<std::vector<DirEntry>> entries = fsys->ListDir(dir);
  if (!entries.ok()) return FileError(entries.status(), "list", dir);
  for (const DirEntry& e : *entries) {
    bool tmp = false;
    std::optional<uint64_t> id = ParseDirName(e.name, &tmp);
    if (!id || tmp || e.type != FileType::kDirectory) continue;
    CheckpointInfo info;
    info.id = *id;
    info.path = (fs::path(dir) / e.name).string();
    absl::StatusOr<Manifest> m = ReadManifest(info.path, fsys);
    if (!m.ok()) {
      info.manifest_status = m.status();
    } else if (m->id != *id) {
      info.manifest_status = absl::DataLossError(
          absl::StrCat(info.path, "/", kManifestFileName, ": bad manifest: id ",
                       m->id, " does not match the directory name"));
    } else {
      info.manifest = *std::move(m);
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointInfo& a, const CheckpointInfo& b) {
              return a.id < b.id;
            });
  return out;
}

absl::Status VerifyCheckpoint(const std::string& checkpoint_dir,
                              FileSystem* file_system) {
  FileSystem* fsys = FileSystem::OrDefault(file_system);
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(checkpoint_dir, fsys));
  bool dense = false;
  for (const ManifestFile& f : m.files) {
    const std::string path = (fs::path(checkpoint_dir) / f.name).string();
    absl::StatusOr<FileInfo> info = fsys->Stat(path);
    if (absl::IsNotFound(info.status())) {
      return absl::NotFoundError(absl::StrCat(path, ": missing file"));
    }
    if (!info.ok()) {
      return absl::InternalError(
          absl::StrCat(path, ": ", info.status().message()));
    }
    if (info->type == FileType::kDirectory) {
      return absl::InternalError(absl::StrCat(path, ": Is a directory"));
    }
    const uint64_t size = info->size;
    if (size != f.bytes) {
      return absl::DataLossError(absl::StrFormat(
          "%s: %s: %d bytes, manifest says %d", path,
          size < f.bytes ? "truncated" : "too long", size, f.bytes));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<ShardReader> r,
                     ShardReader::Open(path, fsys));
    const bool is_dense = r->header().type == ShardFileType::kDense;
    dense = dense || is_dense;
    if ((is_dense ? std::string() : r->header().name) != f.table) {
      return absl::DataLossError(
          absl::StrCat(path, ": header names \"", r->header().name,
                       "\", manifest \"", f.table, "\""));
    }
    RETURN_IF_ERROR(r->ForEachBlock(
        [](int, BlockType, std::string_view) { return absl::OkStatus(); }));
    if (r->footer_rows() != f.rows ||
        r->footer_deleted_keys() != f.deleted_keys) {
      return absl::DataLossError(absl::StrFormat(
          "%s: %d rows and %d deleted keys, manifest says %d and %d", path,
          r->footer_rows(), r->footer_deleted_keys(), f.rows, f.deleted_keys));
    }
    // Whole-file CRC, streamed.
    absl::StatusOr<std::unique_ptr<SequentialFile>> in =
        fsys->NewSequentialFile(path);
    if (!in.ok()) return FileError(in.status(), "open", path);
    Crc32c crc;
    std::vector<char> buf(1 << 20);
    while (true) {
      absl::StatusOr<size_t> n = (*in)->Read(buf.data(), buf.size());
      if (!n.ok()) return FileError(n.status(), "read", path);
      if (*n == 0) break;
      crc.Update(buf.data(), *n);
    }
    const uint32_t computed = crc.Value();
    if (computed != f.crc32c) {
      return absl::DataLossError(absl::StrFormat(
          "%s: file crc32c mismatch (manifest 0x%08x, computed 0x%08x)", path,
          f.crc32c, computed));
    }
  }
  if (!dense) {
    return absl::DataLossError(absl::StrCat(checkpoint_dir, "/",
                                            kManifestFileName,
                                            ": bad manifest: no dense file"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Manifest> RestoreCheckpoint(const std::string& dir,
                                           LocalStore* model,
                                           FileSystem* file_system) {
  FileSystem* fsys = FileSystem::OrDefault(file_system);
  ASSIGN_OR_RETURN(std::vector<CheckpointInfo> list,
                   ListCheckpoints(dir, fsys));
  if (list.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, ": no checkpoint"));
  }
  ChainChoice choice =
      ChooseNewestGoodChain(list, [fsys](const CheckpointInfo& c) {
        return VerifyCheckpoint(c.path, fsys);
      });
  for (const auto& [index, why] : choice.skipped) {
    FRESHET_LOG_WARN("checkpoint {} skipped: {}", list[index].path, why);
  }
  if (choice.chain.empty()) {
    return absl::DataLossError(
        absl::StrCat(dir, ": no good full checkpoint to restore"));
  }
  for (size_t index : choice.chain) {
    RETURN_IF_ERROR(ApplyCheckpoint(list[index], model, fsys));
  }
  DirtyBatch discard;
  for (int t = 0; t < model->num_tables(); ++t) {
    model->table(t).CollectDirty(DirtyKind::kCheckpoint, &discard);
    discard.Clear();
  }
  const CheckpointInfo& last = list[choice.chain.back()];
  FRESHET_LOG_INFO("restored checkpoint {} ({} checkpoints in its chain)",
                   last.path, choice.chain.size());
  return last.manifest;
}

absl::StatusOr<int> ApplyRetention(const std::string& dir, int keep_full,
                                   FileSystem* file_system) {
  FileSystem* fsys = FileSystem::OrDefault(file_system);
  keep_full = std::max(keep_full, 1);
  ASSIGN_OR_RETURN(std::vector<CheckpointInfo> list,
                   ListCheckpoints(dir, fsys));
  uint64_t oldest_kept = 0;
  int fulls = 0;
  for (size_t i = list.size(); i-- > 0;) {
    if (list[i].manifest_status.ok() &&
        list[i].manifest.kind == CheckpointKind::kFull) {
      oldest_kept = list[i].id;
      if (++fulls == keep_full) break;
    }
  }
  int removed = 0;
  if (fulls == keep_full) {
    for (const CheckpointInfo& c : list) {
      if (c.id >= oldest_kept) break;
      absl::Status s = fsys->RemoveAll(c.path);
      if (!s.ok()) return FileError(s, "remove", c.path);
      ++removed;
    }
  }
  const uint64_t newest = list.empty() ? 0 : list.back().id;
  // Leftover .tmp folders go when they can; a folder that cannot be listed
  // keeps them.
  absl::StatusOr<std::vector<DirEntry>> entries = fsys->ListDir(dir);
  for (const DirEntry& e : entries.ok() ? *entries : std::vector<DirEntry>{}) {
    bool tmp = false;
    std::optional<uint64_t> id = ParseDirName(e.name, &tmp);
    if (id && tmp && *id < newest &&
        fsys->RemoveAll((fs::path(dir) / e.name).string()).ok()) {
      ++removed;
    }
  }
  if (removed > 0) RETURN_IF_ERROR(SyncDir(fsys, dir));
  return removed;
}

}  // namespace freshet
