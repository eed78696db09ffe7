#include "freshet/ckpt/chain_reader.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"
#include "freshet/ckpt/shard_file.h"

namespace freshet {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- ChainTable

ChainTable::ChainTable(std::string name, int dim, int state_floats)
    : name_(std::move(name)),
      dim_(dim),
      state_floats_(state_floats),
      stride_(static_cast<size_t>(dim) + static_cast<size_t>(state_floats)) {}

void ChainTable::Upsert(uint64_t key, const float* weights, const float* state,
                        int64_t last_update_ms, float score) {
  auto [it, inserted] = index_.try_emplace(key, 0);
  if (inserted) {
    if (!free_.empty()) {
      it->second = free_.back();
      free_.pop_back();
    } else {
      it->second = last_update_ms_.size();
      values_.resize(values_.size() + stride_);
      last_update_ms_.push_back(0);
      score_.push_back(0);
    }
  }
  const size_t slot = it->second;
  float* dst = values_.data() + slot * stride_;
  std::memcpy(dst, weights, static_cast<size_t>(dim_) * sizeof(float));
  std::memcpy(dst + dim_, state,
              static_cast<size_t>(state_floats_) * sizeof(float));
  last_update_ms_[slot] = last_update_ms;
  score_[slot] = score;
}

bool ChainTable::Erase(uint64_t key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  free_.push_back(it->second);
  index_.erase(it);
  return true;
}

const float* ChainTable::Find(uint64_t key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : values_.data() + it->second * stride_;
}

std::vector<uint64_t> ChainTable::SortedKeys() const {
  std::vector<uint64_t> keys;
  keys.reserve(index_.size());
  for (const auto& [key, slot] : index_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void ChainTable::ForEachRow(
    const std::function<void(uint64_t, absl::Span<const float>,
                             absl::Span<const float>, int64_t, float)>& fn)
    const {
  for (const auto& [key, slot] : index_) {
    const float* row = values_.data() + slot * stride_;
    fn(key, absl::MakeConstSpan(row, static_cast<size_t>(dim_)),
       absl::MakeConstSpan(row + dim_, static_cast<size_t>(state_floats_)),
       last_update_ms_[slot], score_[slot]);
  }
}

const ChainTable* CheckpointChain::FindTable(const std::string& name) const {
  for (const ChainTable& t : tables) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

ParameterShape CheckpointChain::shape() const {
  ParameterShape s;
  for (const ChainTable& t : tables) {
    s.tables.push_back({t.name(), t.dim(), t.state_floats()});
  }
  s.dense_params = static_cast<int64_t>(dense_params.size());
  s.dense_state = static_cast<int64_t>(dense_state.size());
  return s;
}

// ---------------------------------------------------------------- reading

namespace {

// Merges one table shard into `table`: deleted keys first (the format puts
// their blocks before the row blocks), then rows.
absl::Status MergeTableShard(ShardReader& r, ChainTable* table) {
  const size_t dim = r.header().dim;
  bool seen_rows = false;
  return r.ForEachBlock([&](int index, BlockType type, std::string_view recs) {
    if (type == BlockType::kPolicyState) return absl::OkStatus();  // not rows
    const size_t size = r.RecordSize(type);
    if (type == BlockType::kDeletedKeys) {
      if (seen_rows) {
        return absl::DataLossError(absl::StrFormat(
            "%s: block %d: deleted keys after rows (they must come first)",
            table->name(), index));
      }
      for (size_t off = 0; off < recs.size(); off += size) {
        table->Erase(DecodeU64(recs.data() + off));
      }
      return absl::OkStatus();
    }
    seen_rows = true;
    // Records are not aligned for floats: copy each through a buffer.
    std::vector<float> values(dim +
                              static_cast<size_t>(r.header().state_floats));
    for (size_t off = 0; off < recs.size(); off += size) {
      const char* p = recs.data() + off;
      std::memcpy(values.data(), p + 20, values.size() * sizeof(float));
      table->Upsert(DecodeU64(p), values.data(), values.data() + dim,
                    DecodeI64(p + 8), DecodeF32(p + 16));
    }
    return absl::OkStatus();
  });
}

absl::Status ReadDenseShard(ShardReader& r, CheckpointChain* chain) {
  chain->dense_params.clear();
  chain->dense_state.clear();
  chain->dense_params.reserve(r.header().num_params);
  chain->dense_state.reserve(r.header().num_state);
  RETURN_IF_ERROR(
      r.ForEachBlock([&](int, BlockType type, std::string_view recs) {
        std::vector<float>& out = type == BlockType::kDenseParams
                                      ? chain->dense_params
                                      : chain->dense_state;
        const size_t old = out.size();
        out.resize(old + recs.size() / sizeof(float));
        std::memcpy(out.data() + old, recs.data(), recs.size());
        return absl::OkStatus();
      }));
  chain->dense_steps = r.header().steps;
  return absl::OkStatus();
}

// Applies one verified checkpoint of the chain. The first (the full one)
// defines the tables; the others must have the same ones.
absl::Status MergeCheckpoint(FileSystem* fsys, const CheckpointInfo& c,
                             bool first, bool last, CheckpointChain* chain) {
  std::set<std::string> seen;
  bool dense = false;
  for (const ManifestFile& f : c.manifest.files) {
    const std::string path = (fs::path(c.path) / f.name).string();
    ASSIGN_OR_RETURN(std::unique_ptr<ShardReader> r,
                     ShardReader::Open(path, fsys));
    const ShardHeader& h = r->header();
    if (h.type == ShardFileType::kDense) {
      if (dense) {
        return absl::DataLossError(absl::StrCat(c.path, ": two dense files"));
      }
      dense = true;
      if (!first && (h.num_params != chain->dense_params.size() ||
                     h.num_state != chain->dense_state.size())) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s: dense part of %d parameters and %d optimizer floats, its "
            "full checkpoint %d has %d and %d",
            c.path, h.num_params, h.num_state, chain->ids.front(),
            chain->dense_params.size(), chain->dense_state.size()));
      }
      // Every member's dense part is whole; only the last one's counts. The
      // first is read too, for the size check above.
      if (first || last) RETURN_IF_ERROR(ReadDenseShard(*r, chain));
      continue;
    }
    if (!seen.insert(h.name).second) {
      return absl::DataLossError(
          absl::StrCat(c.path, ": table \"", h.name, "\" appears twice"));
    }
    ChainTable* table = nullptr;
    if (first) {
      chain->tables.emplace_back(h.name, static_cast<int>(h.dim),
                                 static_cast<int>(h.state_floats));
      table = &chain->tables.back();
    } else {
      for (ChainTable& t : chain->tables) {
        if (t.name() == h.name) table = &t;
      }
      if (table == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            c.path, ": table \"", h.name, "\" is not in its full checkpoint ",
            chain->ids.front()));
      }
      if (static_cast<int>(h.dim) != table->dim() ||
          static_cast<int>(h.state_floats) != table->state_floats()) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s: table \"%s\" has dim %d and %d state floats, its full "
            "checkpoint %d has %d and %d",
            c.path, h.name, h.dim, h.state_floats, chain->ids.front(),
            table->dim(), table->state_floats()));
      }
    }
    RETURN_IF_ERROR(MergeTableShard(*r, table));
  }
  if (!dense) {
    return absl::DataLossError(absl::StrCat(c.path, ": no dense file"));
  }
  if (!first && seen.size() != chain->tables.size()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: %d tables, its full checkpoint %d has %d", c.path,
                        seen.size(), chain->ids.front(), chain->tables.size()));
  }
  return absl::OkStatus();
}

// The key of a checkpoint in VerifiedCheckpoints: its path and its files'
// checksums (none when the manifest did not read: such a checkpoint fails
// verification again at once).
std::string VerifiedKey(const CheckpointInfo& c) {
  std::string key = c.path;
  if (c.manifest_status.ok()) {
    for (const ManifestFile& f : c.manifest.files) {
      absl::StrAppend(&key, ":", f.crc32c);
    }
  }
  return key;
}

}  // namespace

absl::StatusOr<CheckpointChain> ReadCheckpointChain(
    const std::string& dir, VerifiedCheckpoints* verified,
    FileSystem* file_system) {
  FileSystem* fsys = FileSystem::OrDefault(file_system);
  ASSIGN_OR_RETURN(std::vector<CheckpointInfo> list,
                   ListCheckpoints(dir, fsys));
  if (verified != nullptr) {
    VerifiedCheckpoints kept;
    for (const CheckpointInfo& c : list) {
      auto it = verified->find(VerifiedKey(c));
      if (it != verified->end()) kept.insert(*it);
    }
    verified->swap(kept);
  }
  if (list.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, ": no checkpoint"));
  }
  ChainChoice choice =
      ChooseNewestGoodChain(list, [verified, fsys](const CheckpointInfo& c) {
        if (verified == nullptr) return VerifyCheckpoint(c.path, fsys);
        const std::string key = VerifiedKey(c);
        auto it = verified->find(key);
        if (it == verified->end()) {
          it = verified->emplace(key, VerifyCheckpoint(c.path, fsys)).first;
        }
        return it->second;
      });
  for (const auto& [index, why] : choice.skipped) {
    FRESHET_LOG_WARN("checkpoint {} skipped: {}", list[index].path, why);
  }
  if (choice.chain.empty()) {
    return absl::DataLossError(
        absl::StrCat(dir, ": no good full checkpoint to read"));
  }
  CheckpointChain chain;
  for (size_t k = 0; k < choice.chain.size(); ++k) {
    const CheckpointInfo& c = list[choice.chain[k]];
    chain.ids.push_back(c.id);
    RETURN_IF_ERROR(
        MergeCheckpoint(fsys, c, k == 0, k + 1 == choice.chain.size(), &chain));
  }
  chain.last = list[choice.chain.back()].manifest;
  return chain;
}

uint64_t ChainDigest(const CheckpointChain& chain) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const ChainTable& table : chain.tables) {
    XXH3_64bits_update(state, table.name().data(), table.name().size());
    const size_t row_floats =
        static_cast<size_t>(table.dim()) + table.state_floats();
    for (uint64_t key : table.SortedKeys()) {
      XXH3_64bits_update(state, &key, sizeof(key));
      XXH3_64bits_update(state, table.Find(key), row_floats * sizeof(float));
    }
  }
  XXH3_64bits_update(state, chain.dense_params.data(),
                     chain.dense_params.size() * sizeof(float));
  XXH3_64bits_update(state, chain.dense_state.data(),
                     chain.dense_state.size() * sizeof(float));
  const uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return digest;
}

absl::StatusOr<uint64_t> CheckpointDigest(const std::string& dir,
                                          Manifest* last) {
  ASSIGN_OR_RETURN(CheckpointChain chain, ReadCheckpointChain(dir));
  if (last != nullptr) *last = chain.last;
  return ChainDigest(chain);
}

}  // namespace freshet
