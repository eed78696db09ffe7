#include "freshet/table/embedding_table.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "freshet/base/hash.h"
#include "freshet/base/status_macros.h"
#include "freshet/table/eviction_config.h"
#include "freshet/table/table_stripe.h"

namespace freshet {

using table_row::kFlagsOffset;
using table_row::kKeyOffset;
using table_row::kLive;
using table_row::kScoreOffset;
using table_row::kTimeOffset;
using table_row::kWeightsOffset;
using table_row::Load;
using table_row::RowFlags;
using table_row::RowIs;
using table_row::RowKey;
using table_row::Store;

namespace {

// 2^x for x <= 0, to 3e-4 relative: the decay of value scores on the
// per-row path of Apply(), where exp2f costs more than the rest of the
// metadata update. Scores only rank rows for eviction; the function is pure,
// so replays stay bit-identical.
inline float DecayFactor(float x) {
  if (!(x > -126.0f)) return 0.0f;
  // floor(x) by truncation toward zero (x <= 0), without a libm call.
  float fi = static_cast<float>(static_cast<int32_t>(x));
  if (fi > x) fi -= 1.0f;
  const float f = x - fi;  // [0, 1)
  const float p = 1.0f + f * (0.6951786f + f * (0.2261677f + f * 0.0781294f));
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(fi) + 127)
                        << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

}  // namespace

void DirtyBatch::Clear() {
  keys.clear();
  weights.clear();
  state.clear();
  last_update_ms.clear();
  scores.clear();
  deleted_keys.clear();
}

absl::StatusOr<std::unique_ptr<EmbeddingTable>> EmbeddingTable::Create(
    const TableSpec& spec, const EmbeddingTableOptions& options) {
  if (spec.dim <= 0 || spec.dim > kMaxEmbeddingDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", spec.name, "': dim must be in 1..",
                     kMaxEmbeddingDim, ", got ", spec.dim));
  }
  if (spec.admission.min_count < 1 ||
      spec.admission.min_count > kMaxAdmissionCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", spec.name,
                     "': admission.min_count must be in [1, 65535], got ",
                     spec.admission.min_count));
  }
  RETURN_IF_ERROR(CheckEvictionSpec(spec.eviction, spec.name));
  if (!(spec.admission.probability > 0) || spec.admission.probability > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", spec.name,
                     "': admission.probability must be in (0, 1], got ",
                     spec.admission.probability));
  }
  if (spec.ttl_ms < 0 || spec.memory_budget_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", spec.name,
                     "': ttl_ms and memory_budget_bytes must be >= 0"));
  }
  auto optimizer = SparseOptimizer::Create(spec.optimizer, spec.dim);
  if (!optimizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", spec.name, "': ", optimizer.status().message()));
  }
  const uint64_t seed = options.seed != 0 ? options.seed : TableSeed(spec.name);
  auto initializer = RowInitializer::Create(spec.initializer, spec.dim, seed);
  if (!initializer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", spec.name, "': ", initializer.status().message()));
  }
  return std::unique_ptr<EmbeddingTable>(
      new EmbeddingTable(spec, options, *optimizer, *initializer));
}

EmbeddingTable::EmbeddingTable(const TableSpec& spec,
                               const EmbeddingTableOptions& options,
                               SparseOptimizer optimizer,
                               RowInitializer initializer)
    : spec_(spec),
      options_(options),
      dim_(spec.dim),
      optimizer_(optimizer),
      initializer_(initializer),
      stride_((kWeightsOffset +
               sizeof(float) * (spec.dim + optimizer.StateFloats()) + 7) /
              8 * 8),
      seed_(options.seed != 0 ? options.seed : TableSeed(spec.name)),
      hash_salt_(Mix64(seed_ ^ 0x7ab1e5a17ULL)),
      num_stripes_(
          static_cast<uint32_t>(std::clamp(options.num_stripes, 1, 1024))),
      stripe_budget_bytes_(0),
      stripes_(new Stripe[num_stripes_]) {
  size_t admission_bytes = 0;
  for (uint32_t i = 0; i < num_stripes_; ++i) {
    Stripe& s = stripes_[i];
    s.index = std::make_unique<RowIndex>();
    s.arena = std::make_unique<RowArena>(stride_);
    s.admission = std::make_unique<AdmissionFilter>(
        spec.admission, options.admission_sketch_width, seed_ + i);
    admission_bytes += s.admission->bytes();
  }
  if (spec.memory_budget_bytes > 0) {
    const size_t budget = static_cast<size_t>(spec.memory_budget_bytes);
    const size_t rows_budget =
        budget > admission_bytes ? budget - admission_bytes : 0;
    stripe_budget_bytes_ = std::max<size_t>(1, rows_budget / num_stripes_);
  }
}

EmbeddingTable::~EmbeddingTable() = default;

uint64_t EmbeddingTable::KeyHash(uint64_t key) const {
  return Mix64(key ^ hash_salt_);
}

float* EmbeddingTable::Weights(char* row) const {
  return reinterpret_cast<float*>(row + kWeightsOffset);
}
float* EmbeddingTable::State(char* row) const {
  return reinterpret_cast<float*>(row + kWeightsOffset) + dim_;
}

void EmbeddingTable::ObserveTime(int64_t t) {
  int64_t cur = watermark_.load(std::memory_order_relaxed);
  while (t > cur &&
         !watermark_.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
  }
}

EmbeddingTable::Scratch& EmbeddingTable::GroupByStripe(
    absl::Span<const uint64_t> keys) const {
  static thread_local Scratch scratch;
  Scratch& sc = scratch;
  const size_t n = keys.size();
  sc.hash.resize(n);
  sc.stripe.resize(n);
  sc.order.resize(n);
  sc.rows.resize(n);
  sc.ptrs.resize(n);
  sc.start.assign(num_stripes_ + 1, 0);
  sc.first_stripe = static_cast<uint32_t>(
      Mix64(reinterpret_cast<uintptr_t>(&scratch) + ++sc.calls) % num_stripes_);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = KeyHash(keys[i]);
    const uint32_t st = StripeOf(h);
    sc.hash[i] = h;
    sc.stripe[i] = st;
    ++sc.start[st + 1];
  }
  for (uint32_t s = 0; s < num_stripes_; ++s) sc.start[s + 1] += sc.start[s];
  sc.cursor.assign(sc.start.begin(), sc.start.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    sc.order[sc.cursor[sc.stripe[i]]++] = static_cast<uint32_t>(i);
  }
  return sc;
}

inline void EmbeddingTable::PrefetchRow(const char* p, bool for_write) const {
  // The row's first three cache lines and its last byte's: all of a row up
  // to dim 16 with adagrad, and the head of wider rows.
  const size_t third = stride_ > 128 ? 128 : 0;
  const size_t last = stride_ - 1;
  if (for_write) {
    __builtin_prefetch(p, 1);
    __builtin_prefetch(p + 64, 1);
    __builtin_prefetch(p + third, 1);
    __builtin_prefetch(p + last, 1);
  } else {
    __builtin_prefetch(p, 0);
    __builtin_prefetch(p + 64, 0);
    __builtin_prefetch(p + third, 0);
    __builtin_prefetch(p + last, 0);
  }
}

inline void EmbeddingTable::PrefetchWholeRow(const char* p) const {
  for (size_t offset = 0; offset < stride_; offset += 64) {
    __builtin_prefetch(p + offset, 1);
  }
  __builtin_prefetch(p + stride_ - 1, 1);
}

inline void EmbeddingTable::PrefetchSlots(const Stripe& s, const Scratch& sc,
                                          uint32_t begin, uint32_t end) const {
  for (uint32_t j = begin; j < end; ++j) {
    s.index->Prefetch(static_cast<uint32_t>(sc.hash[sc.order[j]]));
  }
}

void EmbeddingTable::ResolveHints(const Stripe& s, Scratch& sc, uint32_t begin,
                                  uint32_t end, bool for_write) const {
  // Two passes so that the cache misses of a group overlap: first request
  // every index slot, then read the slots and request the rows' heads; the
  // caller then works on rows that are arriving or arrived.
  PrefetchSlots(s, sc, begin, end);
  for (uint32_t j = begin; j < end; ++j) {
    const uint32_t hint =
        s.index->FindFirst(static_cast<uint32_t>(sc.hash[sc.order[j]]));
    sc.rows[j] = hint;
    if (hint == RowIndex::kNoRow) {
      sc.ptrs[j] = nullptr;
      continue;
    }
    char* p = s.arena->Row(hint);
    sc.ptrs[j] = p;
    PrefetchRow(p, for_write);
  }
}

uint32_t EmbeddingTable::FindRow(const Stripe& s, uint64_t key, uint32_t hash32,
                                 uint32_t hint) const {
  if (hint != RowIndex::kNoRow && RowIs(s.arena->Row(hint), key)) return hint;
  const RowArena& arena = *s.arena;
  return s.index->Find(
      hash32, [&](uint32_t row) { return RowIs(arena.Row(row), key); });
}

double EmbeddingTable::DecayedScore(const char* p, int64_t now_ms) const {
  const float score = Load<float>(p, kScoreOffset);
  const int64_t last = Load<int64_t>(p, kTimeOffset);
  if (now_ms <= last) return score;
  return score *
         std::exp2((static_cast<double>(last) - static_cast<double>(now_ms)) /
                   spec_.eviction.half_life_ms);
}

size_t EmbeddingTable::StripeBytesAfterInsert(const Stripe& s) const {
  return s.arena->BytesAfterAllocate() + s.index->BytesAfterInsert();
}

void EmbeddingTable::MarkDirty(Stripe& s, uint32_t row) {
  const uint64_t bit = uint64_t{1} << (row & 63);
  if (options_.track_sync) s.dirty[0][row >> 6] |= bit;
  if (options_.track_checkpoint) s.dirty[1][row >> 6] |= bit;
}

void EmbeddingTable::BeforeChange(Stripe& s, uint32_t row) {
  if (!s.snap_active) [[likely]] {
    return;
  }
  PreserveRow(s, row);
}

void EmbeddingTable::PreserveRow(Stripe& s, uint32_t row) {
  const size_t w = row >> 6;
  const uint64_t bit = uint64_t{1} << (row & 63);
  if (w >= s.snap.size() || (s.snap[w] & bit) == 0) return;
  s.snap[w] &= ~bit;
  // A row id that was free at the cut is marked too (kAll marks every id
  // below the high water); it has nothing to keep.
  const char* p = s.arena->Row(row);
  if ((RowFlags(p) & kLive) == 0) return;
  s.snap_rows.insert(s.snap_rows.end(), p, p + stride_);
}

void EmbeddingTable::AppendRow(const char* p, DirtyBatch* out) const {
  const float* values = reinterpret_cast<const float*>(p + kWeightsOffset);
  out->keys.push_back(RowKey(p));
  out->weights.insert(out->weights.end(), values, values + dim_);
  out->state.insert(out->state.end(), values + dim_,
                    values + dim_ + optimizer_.StateFloats());
  out->last_update_ms.push_back(Load<int64_t>(p, kTimeOffset));
  out->scores.push_back(Load<float>(p, kScoreOffset));
}

uint32_t EmbeddingTable::InsertRow(Stripe& s, uint64_t key, uint32_t hash32,
                                   int64_t now_ms) {
  const uint32_t row = s.arena->Allocate();
  BeforeChange(s, row);  // a row created after the cut is not in it
  const size_t words = (s.arena->capacity() + 63) / 64;
  for (int k = 0; k < 2; ++k) {
    const bool tracked =
        k == 0 ? options_.track_sync : options_.track_checkpoint;
    if (tracked && s.dirty[k].size() < words) s.dirty[k].resize(words, 0);
  }
  char* p = s.arena->Row(row);
  Store<uint64_t>(p, kKeyOffset, key);
  Store<int64_t>(p, kTimeOffset, now_ms);
  Store<float>(p, kScoreOffset, 0.0f);
  Store<uint32_t>(p, kFlagsOffset, kLive);
  initializer_.Init(key, Weights(p));
  optimizer_.InitState(State(p));
  s.index->Insert(hash32, row);
  MarkDirty(s, row);
  return row;
}

void EmbeddingTable::DeleteRow(Stripe& s, uint32_t row) {
  BeforeChange(s, row);
  char* p = s.arena->Row(row);
  const uint64_t key = RowKey(p);
  s.index->Erase(static_cast<uint32_t>(KeyHash(key)), row);
  const uint64_t bit = uint64_t{1} << (row & 63);
  for (int k = 0; k < 2; ++k) {
    if (k == 0 ? options_.track_sync : options_.track_checkpoint) {
      s.deleted[k].push_back(key);
      s.dirty[k][row >> 6] &= ~bit;
    }
  }
  Store<uint32_t>(p, kFlagsOffset, 0);
  s.arena->Free(row);
}

bool EmbeddingTable::EvictOne(Stripe& s) {
  const uint32_t high_water = s.arena->high_water();
  if (s.arena->live() == 0 || high_water == 0) return false;
  const int64_t now = Watermark();
  uint32_t victim = RowIndex::kNoRow;
  double victim_score = 0;
  int sampled = 0;
  // Rows are mostly live (freed ones are reused first), so a few extra draws
  // find the samples.
  for (int draw = 0;
       draw < 16 * spec_.eviction.samples && sampled < spec_.eviction.samples;
       ++draw) {
    const uint64_t r = Mix64(seed_ ^ Mix64(++s.evict_draws));
    const uint32_t row = static_cast<uint32_t>(((r >> 32) * high_water) >> 32);
    const char* p = s.arena->Row(row);
    if ((RowFlags(p) & kLive) == 0) continue;
    ++sampled;
    const double score = DecayedScore(p, now);
    if (victim == RowIndex::kNoRow || score < victim_score) {
      victim = row;
      victim_score = score;
    }
  }
  if (victim == RowIndex::kNoRow) return false;
  DeleteRow(s, victim);
  s.evicted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

absl::Status EmbeddingTable::Lookup(absl::Span<const uint64_t> keys,
                                    absl::Span<float> out, LookupMode mode,
                                    int64_t event_time_ms) {
  if (out.size() != keys.size() * dim_) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", spec_.name, "': Lookup of ", keys.size(),
                     " keys needs an output of ", keys.size() * dim_,
                     " floats, got ", out.size()));
  }
  if (keys.empty()) return absl::OkStatus();
  const bool train = mode == LookupMode::kTrain;
  if (train && event_time_ms != kNoEventTime) ObserveTime(event_time_ms);
  // Before any event time is known, rows are stamped 0.
  const int64_t now = event_time_ms != kNoEventTime ? event_time_ms
                      : Watermark() != kNoEventTime ? Watermark()
                                                    : 0;
  Scratch& sc = GroupByStripe(keys);
  const size_t row_bytes = sizeof(float) * dim_;
  for (uint32_t k = 0; k < num_stripes_; ++k) {
    const uint32_t st = (sc.first_stripe + k) % num_stripes_;
    const uint32_t begin = sc.start[st], end = sc.start[st + 1];
    if (begin == end) continue;
    Stripe& s = stripes_[st];
    if (train) {
      s.mu.Lock();
    } else {
      s.mu.LockShared();
    }
    ResolveHints(s, sc, begin, end, /*for_write=*/false);
    int64_t defaults = 0, inserts = 0, refused = 0;
    for (uint32_t j = begin; j < end; ++j) {
      const uint32_t i = sc.order[j];
      const uint64_t key = keys[i];
      const uint32_t hash32 = static_cast<uint32_t>(sc.hash[i]);
      float* dst = out.data() + static_cast<size_t>(i) * dim_;
      const char* p = sc.ptrs[j];
      if (p != nullptr && !RowIs(p, key)) p = nullptr;
      // Probe fully when the first slot with this hash held another key, or,
      // in kTrain, when an earlier key of this batch may have created the
      // row (or evicted the hinted one).
      if (p == nullptr && (train || sc.rows[j] != RowIndex::kNoRow)) {
        const uint32_t row = FindRow(s, key, hash32, RowIndex::kNoRow);
        if (row != RowIndex::kNoRow) p = s.arena->Row(row);
      }
      if (p == nullptr && train) {
        if (s.admission->Admit(sc.hash[i], now)) {
          if (stripe_budget_bytes_ != 0 &&
              StripeBytesAfterInsert(s) > stripe_budget_bytes_) {
            EvictOne(s);
          }
          p = s.arena->Row(InsertRow(s, key, hash32, now));
          ++inserts;
        } else {
          ++refused;
        }
      }
      if (p == nullptr) {
        initializer_.Default(dst);
        ++defaults;
      } else {
        std::memcpy(dst, p + kWeightsOffset, row_bytes);
      }
    }
    if (train) {
      s.mu.Unlock();
    } else {
      s.mu.UnlockShared();
    }
    s.lookups.fetch_add(end - begin, std::memory_order_relaxed);
    if (defaults)
      s.default_lookups.fetch_add(defaults, std::memory_order_relaxed);
    if (inserts) s.inserts.fetch_add(inserts, std::memory_order_relaxed);
    if (refused) s.not_admitted.fetch_add(refused, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

absl::Status EmbeddingTable::Apply(absl::Span<const uint64_t> keys,
                                   absl::Span<const float> grads,
                                   int64_t event_time_ms,
                                   absl::Span<const float> labels) {
  if (grads.size() != keys.size() * dim_ ||
      (!labels.empty() && labels.size() != keys.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", spec_.name, "': Apply of ", keys.size(), " keys needs ",
        keys.size() * dim_, " gradient floats and 0 or ", keys.size(),
        " labels, got ", grads.size(), " and ", labels.size()));
  }
  if (keys.empty()) return absl::OkStatus();
  ObserveTime(event_time_ms);
  Scratch& sc = GroupByStripe(keys);
  const double inv_half_life = 1.0 / spec_.eviction.half_life_ms;
  const float extra = spec_.eviction.positive_weight - 1.0f;
  // Everything the per-key loop reads is copied into locals first: the row
  // stores go through char pointers, which may alias any memory, so fields
  // read through `this` or the scratch vectors would otherwise be reloaded
  // for every key.
  const uint32_t* const order = sc.order.data();
  const uint64_t* const hash = sc.hash.data();
  const uint32_t* const hint_rows = sc.rows.data();
  char* const* const hint_ptrs = sc.ptrs.data();
  const uint64_t* const key_data = keys.data();
  const float* const grad_data = grads.data();
  const float* const label_data = labels.empty() ? nullptr : labels.data();
  const size_t dim = static_cast<size_t>(dim_);
  const bool track_sync = options_.track_sync;
  const bool track_checkpoint = options_.track_checkpoint;
  const SparseOptimizer& optimizer = optimizer_;
  // The head of every row of a group (all of a row up to 192 bytes) is
  // requested when the group's hints are resolved; the rest of a wider row
  // kWideRowsAhead keys before it is updated (measured best in table_bench
  // at dim 64 against either alone: +20 % at 1M keys, +25 % at 10M).
  const uint32_t ahead = stride_ > 192 ? kWideRowsAhead : 0;
  for (uint32_t k = 0; k < num_stripes_; ++k) {
    const uint32_t st = (sc.first_stripe + k) % num_stripes_;
    const uint32_t begin = sc.start[st], end = sc.start[st + 1];
    if (begin == end) continue;
    Stripe& s = stripes_[st];
    WriterLock lock(&s.mu);
    ResolveHints(s, sc, begin, end, /*for_write=*/true);
    uint64_t* const dirty_sync = track_sync ? s.dirty[0].data() : nullptr;
    uint64_t* const dirty_checkpoint =
        track_checkpoint ? s.dirty[1].data() : nullptr;
    int64_t applied = 0, dropped = 0;
    for (uint32_t j = begin; j < end; ++j) {
      if (ahead != 0 && j + ahead < end && hint_ptrs[j + ahead] != nullptr) {
        PrefetchWholeRow(hint_ptrs[j + ahead]);
      }
      const uint32_t i = order[j];
      uint32_t row = hint_rows[j];
      char* p = hint_ptrs[j];
      const uint64_t key = key_data[i];
      if (p != nullptr && !RowIs(p, key)) [[unlikely]] {
        // The first slot with this hash belongs to another key.
        row = FindRow(s, key, static_cast<uint32_t>(hash[i]), RowIndex::kNoRow);
        p = row == RowIndex::kNoRow ? nullptr : s.arena->Row(row);
      }
      if (p == nullptr) [[unlikely]] {
        ++dropped;
        continue;
      }
      BeforeChange(s, row);
      float* const w = reinterpret_cast<float*>(p + kWeightsOffset);
      optimizer.Update(w, w + dim, grad_data + i * dim);
      const float value =
          label_data == nullptr ? 1.0f : 1.0f + extra * label_data[i];
      float score = Load<float>(p, kScoreOffset);
      const int64_t last = Load<int64_t>(p, kTimeOffset);
      if (event_time_ms > last) {
        score *= DecayFactor(static_cast<float>(
            (static_cast<double>(last) - static_cast<double>(event_time_ms)) *
            inv_half_life));
        Store<int64_t>(p, kTimeOffset, event_time_ms);
      }
      Store<float>(p, kScoreOffset, score + value);
      const uint64_t bit = uint64_t{1} << (row & 63);
      if (dirty_sync != nullptr && (dirty_sync[row >> 6] & bit) == 0) {
        dirty_sync[row >> 6] |= bit;
      }
      if (dirty_checkpoint != nullptr &&
          (dirty_checkpoint[row >> 6] & bit) == 0) {
        dirty_checkpoint[row >> 6] |= bit;
      }
      ++applied;
    }
    s.applied.fetch_add(applied, std::memory_order_relaxed);
    if (dropped) s.dropped.fetch_add(dropped, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

int64_t EmbeddingTable::ExpireStep(int64_t now_ms, int64_t max_rows) {
  if (spec_.ttl_ms <= 0 || max_rows <= 0) return 0;
  ObserveTime(now_ms);
  const int64_t cutoff = now_ms - spec_.ttl_ms;
  int64_t remaining = max_rows;
  int64_t deleted = 0;
  for (uint32_t visited = 0; visited < num_stripes_ && remaining > 0;
       ++visited) {
    uint32_t st = sweep_stripe_.load(std::memory_order_relaxed);
    Stripe& s = stripes_[st % num_stripes_];
    WriterLock lock(&s.mu);
    const uint32_t high_water = s.arena->high_water();
    uint32_t c = s.sweep_cursor;
    int64_t stripe_deleted = 0;
    for (; c < high_water && remaining > 0; ++c, --remaining) {
      const char* p = s.arena->Row(c);
      if ((RowFlags(p) & kLive) != 0 &&
          Load<int64_t>(p, kTimeOffset) <= cutoff) {
        DeleteRow(s, c);
        ++stripe_deleted;
      }
    }
    if (stripe_deleted) {
      s.expired.fetch_add(stripe_deleted, std::memory_order_relaxed);
    }
    deleted += stripe_deleted;
    if (c >= high_water) {
      s.sweep_cursor = 0;
      sweep_stripe_.compare_exchange_strong(st, (st + 1) % num_stripes_,
                                            std::memory_order_relaxed);
    } else {
      s.sweep_cursor = c;
    }
  }
  return deleted;
}

size_t EmbeddingTable::CollectDirty(DirtyKind kind, DirtyBatch* out,
                                    bool with_state) {
  const int k = static_cast<int>(kind);
  if (!(k == 0 ? options_.track_sync : options_.track_checkpoint)) return 0;
  const int sf = optimizer_.StateFloats();
  size_t added = 0;
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    Stripe& s = stripes_[st];
    WriterLock lock(&s.mu);
    out->deleted_keys.insert(out->deleted_keys.end(), s.deleted[k].begin(),
                             s.deleted[k].end());
    s.deleted[k].clear();
    std::vector<uint64_t>& bits = s.dirty[k];
    for (size_t w = 0; w < bits.size(); ++w) {
      uint64_t word = bits[w];
      if (word == 0) continue;
      bits[w] = 0;
      while (word != 0) {
        const uint32_t row =
            static_cast<uint32_t>(w * 64 + std::countr_zero(word));
        word &= word - 1;
        char* p = s.arena->Row(row);
        out->keys.push_back(RowKey(p));
        const float* weights = Weights(p);
        out->weights.insert(out->weights.end(), weights, weights + dim_);
        if (with_state) {
          const float* state = State(p);
          out->state.insert(out->state.end(), state, state + sf);
          out->last_update_ms.push_back(Load<int64_t>(p, kTimeOffset));
          out->scores.push_back(Load<float>(p, kScoreOffset));
        }
        ++added;
      }
    }
  }
  return added;
}

void EmbeddingTable::ForEachRow(
    const std::function<void(const RowView&)>& fn) const {
  const int sf = optimizer_.StateFloats();
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    const Stripe& s = stripes_[st];
    ReaderLock lock(&s.mu);
    const uint32_t high_water = s.arena->high_water();
    for (uint32_t row = 0; row < high_water; ++row) {
      char* p = s.arena->Row(row);
      if ((RowFlags(p) & kLive) == 0) continue;
      RowView view;
      view.key = RowKey(p);
      view.last_update_ms = Load<int64_t>(p, kTimeOffset);
      view.score = Load<float>(p, kScoreOffset);
      view.weights = absl::MakeConstSpan(Weights(p), dim_);
      view.state = absl::MakeConstSpan(State(p), sf);
      fn(view);
    }
  }
}

absl::Status EmbeddingTable::Restore(uint64_t key,
                                     absl::Span<const float> weights,
                                     absl::Span<const float> state,
                                     int64_t last_update_ms, float score) {
  const size_t sf = static_cast<size_t>(optimizer_.StateFloats());
  if (weights.size() != static_cast<size_t>(dim_) ||
      (!state.empty() && state.size() != sf)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", spec_.name, "': Restore needs ", dim_, " weights and 0 or ",
        sf, " state floats, got ", weights.size(), " and ", state.size()));
  }
  ObserveTime(last_update_ms);
  const uint64_t h = KeyHash(key);
  Stripe& s = stripes_[StripeOf(h)];
  WriterLock lock(&s.mu);
  const uint32_t hash32 = static_cast<uint32_t>(h);
  uint32_t row = FindRow(s, key, hash32, RowIndex::kNoRow);
  if (row == RowIndex::kNoRow) {
    row = InsertRow(s, key, hash32, last_update_ms);
  } else {
    BeforeChange(s, row);
  }
  char* p = s.arena->Row(row);
  std::memcpy(Weights(p), weights.data(), sizeof(float) * dim_);
  if (state.empty()) {
    optimizer_.InitState(State(p));
  } else {
    std::memcpy(State(p), state.data(), sizeof(float) * sf);
  }
  Store<int64_t>(p, kTimeOffset, last_update_ms);
  Store<float>(p, kScoreOffset, score);
  MarkDirty(s, row);
  return absl::OkStatus();
}

bool EmbeddingTable::Erase(uint64_t key) {
  const uint64_t h = KeyHash(key);
  Stripe& s = stripes_[StripeOf(h)];
  WriterLock lock(&s.mu);
  const uint32_t row =
      FindRow(s, key, static_cast<uint32_t>(h), RowIndex::kNoRow);
  if (row == RowIndex::kNoRow) return false;
  DeleteRow(s, row);
  return true;
}

bool EmbeddingTable::Contains(uint64_t key) const {
  const uint64_t h = KeyHash(key);
  const Stripe& s = stripes_[StripeOf(h)];
  ReaderLock lock(&s.mu);
  return FindRow(s, key, static_cast<uint32_t>(h), RowIndex::kNoRow) !=
         RowIndex::kNoRow;
}

int64_t EmbeddingTable::size() const {
  int64_t n = 0;
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    ReaderLock lock(&stripes_[st].mu);
    n += static_cast<int64_t>(stripes_[st].arena->live());
  }
  return n;
}

TableStats EmbeddingTable::Stats() const {
  TableStats t;
  t.row_bytes = static_cast<int64_t>(stride_);
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    const Stripe& s = stripes_[st];
    {
      ReaderLock lock(&s.mu);
      t.rows += static_cast<int64_t>(s.arena->live());
      t.arena_bytes += static_cast<int64_t>(s.arena->bytes());
      t.index_bytes += static_cast<int64_t>(s.index->bytes());
      t.index_slots += static_cast<int64_t>(s.index->capacity());
      t.admission_bytes += static_cast<int64_t>(s.admission->bytes());
      for (int k = 0; k < 2; ++k) {
        t.tracking_bytes +=
            static_cast<int64_t>(s.dirty[k].capacity() * sizeof(uint64_t) +
                                 s.deleted[k].capacity() * sizeof(uint64_t));
      }
    }
    t.lookups += s.lookups.load(std::memory_order_relaxed);
    t.default_lookups += s.default_lookups.load(std::memory_order_relaxed);
    t.inserts += s.inserts.load(std::memory_order_relaxed);
    t.not_admitted += s.not_admitted.load(std::memory_order_relaxed);
    t.applied += s.applied.load(std::memory_order_relaxed);
    t.dropped_gradients += s.dropped.load(std::memory_order_relaxed);
    t.expired += s.expired.load(std::memory_order_relaxed);
    t.evicted += s.evicted.load(std::memory_order_relaxed);
  }
  t.arena_slack_bytes = t.arena_bytes - t.rows * t.row_bytes;
  t.load_factor = t.index_slots > 0 ? static_cast<double>(t.rows) /
                                          static_cast<double>(t.index_slots)
                                    : 0.0;
  t.total_bytes =
      t.arena_bytes + t.index_bytes + t.admission_bytes + t.tracking_bytes;
  if (t.rows > 0) {
    t.bytes_per_row =
        static_cast<double>(t.total_bytes) / static_cast<double>(t.rows);
    t.index_bytes_per_row =
        static_cast<double>(t.index_bytes) / static_cast<double>(t.rows);
  }
  return t;
}

absl::Status EmbeddingTable::CheckInvariants() const {
  std::vector<uint64_t> keys;
  for (uint32_t st = 0; st < num_stripes_; ++st) {
    const Stripe& s = stripes_[st];
    ReaderLock lock(&s.mu);
    size_t live = 0;
    const uint32_t high_water = s.arena->high_water();
    for (uint32_t row = 0; row < high_water; ++row) {
      const char* p = s.arena->Row(row);
      if ((RowFlags(p) & kLive) == 0) continue;
      ++live;
      const uint64_t key = RowKey(p);
      const uint64_t h = KeyHash(key);
      if (StripeOf(h) != st) {
        return absl::InternalError(absl::StrCat("key ", key, " in stripe ", st,
                                                ", belongs in ", StripeOf(h)));
      }
      const uint32_t found =
          FindRow(s, key, static_cast<uint32_t>(h), RowIndex::kNoRow);
      if (found != row) {
        return absl::InternalError(absl::StrCat("key ", key, " at row ", row,
                                                " is found at row ", found));
      }
      keys.push_back(key);
    }
    if (live != s.arena->live() || live != s.index->size()) {
      return absl::InternalError(
          absl::StrCat("stripe ", st, ": ", live, " live rows, arena counts ",
                       s.arena->live(), ", index holds ", s.index->size()));
    }
  }
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
    return absl::InternalError("two rows share a key");
  }
  return absl::OkStatus();
}

}  // namespace freshet
