// table_bench: Freshet's EmbeddingTable against libcuckoo's cuckoohash_map
// (the table library behind TensorFlow Recommenders-Addons and Monolith) and
// absl::flat_hash_map behind a mutex, each holding the same rows
// (key -> weights[dim] + adagrad accumulator[dim]).
//
// Workloads, each in batches of 1024 keys, at 1 and 2 threads:
//   lookup/STRUCT/N/DIM   copy the weights of uniformly drawn existing keys
//   apply/STRUCT/N/DIM    adagrad update of uniformly drawn existing keys
//   insert/STRUCT/N/16    zipfian (theta 0.99) stream of N keys over 4N ids
//                         into an empty structure: find or insert + copy out
// STRUCT: 0 = freshet, 1 = libcuckoo, 2 = absl+mutex. Counters:
// bytes_per_row (all memory the structure allocated / rows) and rows.
//
// apply/direct/N/DIM is the ceiling of the apply workload on this machine:
// no hash table at all. The rows (Freshet's row layout: 24 bytes of metadata,
// weights, adagrad accumulator) sit in one flat, huge-page-backed array
// addressed by the key's index in the key set, so a row is found without any
// lookup. Each batch draws the same keys as the other structures, prefetches
// every cache line of the row 16 keys ahead, checks the row's key, applies
// the same SparseOptimizer adagrad update and stamps the row's last update
// time. No locks: the threads may update one row at once (about once per
// 10^6 key pairs at 1M keys), which a real table must prevent, so no table
// can beat this number.
//
// Only one structure is alive at a time: the benchmarks are registered
// grouped by (N, dim, structure), and Setup() frees the previous structure
// before building the next. items_per_second counts keys (row operations)
// over wall time, summed over threads.
//
//   table_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
//       --benchmark_out=table_bench.json --benchmark_out_format=json
// Set TABLE_BENCH_MAX_KEYS=1000000 to skip the 10M-key runs, and
// TABLE_BENCH_SCALE=N to run the lookups and applies N times longer.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <libcuckoo/cuckoohash_map.hh>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "freshet/base/hash.h"
#include "freshet/optim/sparse_optimizer.h"
#include "freshet/table/embedding_table.h"

namespace freshet {
namespace {

constexpr int kBatch = 1024;
constexpr float kLr = 0.05f;
constexpr float kInitAcc = 0.1f;
constexpr float kEps = 1e-8f;

enum Structure { kFreshet = 0, kCuckoo = 1, kAbsl = 2, kDirect = 3 };

// Bytes allocated through CountingAllocator and not yet freed.
std::atomic<int64_t> g_allocated{0};

template <typename T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <typename U>
  CountingAllocator(const CountingAllocator<U>&) {}
  T* allocate(size_t n) {
    g_allocated.fetch_add(n * sizeof(T), std::memory_order_relaxed);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
    g_allocated.fetch_sub(n * sizeof(T), std::memory_order_relaxed);
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const CountingAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CountingAllocator<U>&) const {
    return false;
  }
};

template <int D>
struct Row {
  float w[D];
  float acc[D];
  Row() {
    for (int i = 0; i < D; ++i) {
      w[i] = 0.0f;
      acc[i] = kInitAcc;
    }
  }
};

// The baselines update rows with the table's own optimizer code, so that
// the comparison is about the data structures.
const SparseOptimizer& AdagradFor(int dim) {
  static const SparseOptimizer* opts[2] = {nullptr, nullptr};
  const int slot = dim == 16 ? 0 : 1;
  if (opts[slot] == nullptr) {
    OptimizerSpec spec;
    spec.type = "adagrad";
    spec.learning_rate = kLr;
    spec.initial_accumulator = kInitAcc;
    spec.epsilon = kEps;
    auto opt = SparseOptimizer::Create(spec, dim);
    if (!opt.ok()) std::abort();
    opts[slot] = new SparseOptimizer(*opt);
  }
  return *opts[slot];
}

template <int D>
inline void Adagrad(Row<D>& r, const float* g) {
  static const SparseOptimizer& opt = AdagradFor(D);
  opt.Update(r.w, r.acc, g);
}

struct MixHash {
  size_t operator()(uint64_t k) const { return Mix64(k); }
};

template <int D>
using CuckooMap = libcuckoo::cuckoohash_map<
    uint64_t, Row<D>, MixHash, std::equal_to<>,
    CountingAllocator<std::pair<const uint64_t, Row<D>>>>;
template <int D>
using AbslMap =
    absl::flat_hash_map<uint64_t, Row<D>, absl::Hash<uint64_t>, std::equal_to<>,
                        CountingAllocator<std::pair<const uint64_t, Row<D>>>>;

template <int D>
struct LockedAbslMap {
  absl::Mutex mu;
  AbslMap<D> map;
};

uint64_t KeyOf(uint64_t i) { return Mix64(i + 0x5eed); }

// The direct baseline: n rows of `stride` bytes, row i holding KeyOf(i), in
// one mapping with transparent huge pages.
class DirectRows {
 public:
  // Freshet's row layout: key u64, last update i64, score f32, flags u32,
  // then weights and accumulator.
  static constexpr size_t kKeyOffset = 0;
  static constexpr size_t kTimeOffset = 8;
  static constexpr size_t kWeightsOffset = 24;

  DirectRows(int64_t n, int dim)
      : n_(n),
        dim_(dim),
        stride_((kWeightsOffset + sizeof(float) * 2 * dim + 7) / 8 * 8),
        bytes_((static_cast<size_t>(n) * stride_ + kHugePage - 1) / kHugePage *
               kHugePage) {
    // Over-map by one huge page to start the rows on a 2 MiB boundary.
    map_bytes_ = bytes_ + kHugePage;
    void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    map_ = static_cast<char*>(m);
    const uintptr_t aligned =
        (reinterpret_cast<uintptr_t>(map_) + kHugePage - 1) & ~(kHugePage - 1);
    rows_ = reinterpret_cast<char*>(aligned);
    madvise(rows_, bytes_, MADV_HUGEPAGE);
    for (int64_t i = 0; i < n; ++i) {
      char* p = Row(i);
      const uint64_t key = KeyOf(static_cast<uint64_t>(i));
      std::memset(p, 0, kWeightsOffset);
      std::memcpy(p + kKeyOffset, &key, sizeof(key));
      const uint32_t live = 1;
      std::memcpy(p + 20, &live, sizeof(live));
      float* w = Weights(p);
      for (int d = 0; d < dim; ++d) {
        w[d] = 0.0f;
        w[dim + d] = kInitAcc;
      }
    }
  }
  ~DirectRows() { munmap(map_, map_bytes_); }
  DirectRows(const DirectRows&) = delete;
  DirectRows& operator=(const DirectRows&) = delete;

  char* Row(uint64_t i) const { return rows_ + i * stride_; }
  static float* Weights(char* p) {
    return reinterpret_cast<float*>(p + kWeightsOffset);
  }
  size_t stride() const { return stride_; }
  int64_t size() const { return n_; }
  size_t bytes() const { return static_cast<size_t>(n_) * stride_; }

  // Prefetches every cache line of row i for writing.
  void Prefetch(uint64_t i) const {
    const char* p = Row(i);
    for (size_t off = 0; off < stride_; off += 64) {
      __builtin_prefetch(p + off, 1);
    }
    __builtin_prefetch(p + stride_ - 1, 1);
  }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  int64_t n_;
  int dim_;
  size_t stride_;
  size_t bytes_;
  size_t map_bytes_ = 0;
  char* map_ = nullptr;
  char* rows_ = nullptr;
};

// The structure under test; only one exists at a time.
struct Fixture {
  int structure = -1;
  int64_t n = 0;
  int dim = 0;
  bool empty = false;  // built empty (insert workload)
  std::unique_ptr<EmbeddingTable> freshet;
  std::unique_ptr<CuckooMap<16>> cuckoo16;
  std::unique_ptr<CuckooMap<64>> cuckoo64;
  std::unique_ptr<LockedAbslMap<16>> absl16;
  std::unique_ptr<LockedAbslMap<64>> absl64;
  std::unique_ptr<DirectRows> direct;
};
Fixture* g_fixture = nullptr;

template <int D>
CuckooMap<D>& Cuckoo(Fixture& f) {
  if constexpr (D == 16) {
    return *f.cuckoo16;
  } else {
    return *f.cuckoo64;
  }
}
template <int D>
LockedAbslMap<D>& Absl(Fixture& f) {
  if constexpr (D == 16) {
    return *f.absl16;
  } else {
    return *f.absl64;
  }
}

std::unique_ptr<EmbeddingTable> MakeFreshet(int dim) {
  TableSpec spec;
  spec.name = "bench";
  spec.dim = dim;
  spec.initializer.type = "zeros";
  spec.optimizer.type = "adagrad";
  spec.optimizer.learning_rate = kLr;
  spec.optimizer.initial_accumulator = kInitAcc;
  spec.optimizer.epsilon = kEps;
  auto t = EmbeddingTable::Create(spec);
  if (!t.ok()) std::abort();
  return std::move(*t);
}

void Build(int structure, int64_t n, int dim, bool empty) {
  delete g_fixture;
  g_fixture = nullptr;
  auto* f = new Fixture;
  f->structure = structure;
  f->n = n;
  f->dim = dim;
  f->empty = empty;
  const int64_t rows = empty ? 0 : n;
  if (structure == kFreshet) {
    f->freshet = MakeFreshet(dim);
    std::vector<uint64_t> keys(kBatch);
    std::vector<float> out(kBatch * dim);
    for (int64_t i = 0; i < rows; i += kBatch) {
      const int64_t m = std::min<int64_t>(kBatch, rows - i);
      for (int64_t j = 0; j < m; ++j) keys[j] = KeyOf(i + j);
      (void)f->freshet->Lookup(absl::MakeConstSpan(keys.data(), m),
                               absl::MakeSpan(out.data(), m * dim),
                               LookupMode::kTrain, 0);
    }
  } else if (structure == kDirect) {
    f->direct = std::make_unique<DirectRows>(rows, dim);
  } else if (structure == kCuckoo) {
    auto fill = [&](auto& map) {
      for (int64_t i = 0; i < rows; ++i) map->insert(KeyOf(i));
    };
    if (dim == 16) {
      f->cuckoo16 = std::make_unique<CuckooMap<16>>();
      fill(f->cuckoo16);
    } else {
      f->cuckoo64 = std::make_unique<CuckooMap<64>>();
      fill(f->cuckoo64);
    }
  } else {
    auto fill = [&](auto& m) {
      for (int64_t i = 0; i < rows; ++i) m->map.try_emplace(KeyOf(i));
    };
    if (dim == 16) {
      f->absl16 = std::make_unique<LockedAbslMap<16>>();
      fill(f->absl16);
    } else {
      f->absl64 = std::make_unique<LockedAbslMap<64>>();
      fill(f->absl64);
    }
  }
  g_fixture = f;
}

int64_t MaxKeys() {
  const char* env = std::getenv("TABLE_BENCH_MAX_KEYS");
  return env ? std::atoll(env) : INT64_MAX;
}

// Multiplies the lookup and apply runs' iterations, for profiling the steady
// state (TABLE_BENCH_SCALE=50 under perf).
int64_t IterationScale() {
  const char* env = std::getenv("TABLE_BENCH_SCALE");
  return env ? std::max<int64_t>(1, std::atoll(env)) : 1;
}

// Builds the structure of the benchmark's arguments unless it is current.
void SetupExisting(const benchmark::State& state) {
  const int structure = static_cast<int>(state.range(0));
  const int64_t n = state.range(1);
  const int dim = static_cast<int>(state.range(2));
  Fixture* f = g_fixture;
  if (f != nullptr && f->structure == structure && f->n == n && f->dim == dim &&
      !f->empty) {
    return;
  }
  Build(structure, n, dim, /*empty=*/false);
}

// The insert workload always starts from an empty structure.
void SetupEmpty(const benchmark::State& state) {
  Build(static_cast<int>(state.range(0)), state.range(1),
        static_cast<int>(state.range(2)), /*empty=*/true);
}

void ReportMemory(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  const Fixture& f = *g_fixture;
  double rows = 0, bytes = 0;
  if (f.freshet) {
    const TableStats s = f.freshet->Stats();
    rows = static_cast<double>(s.rows);
    bytes = static_cast<double>(s.total_bytes);
    state.counters["index_bytes_per_row"] = s.index_bytes_per_row;
  } else if (f.direct) {
    rows = static_cast<double>(f.direct->size());
    bytes = static_cast<double>(f.direct->bytes());
  } else {
    rows = f.cuckoo16   ? f.cuckoo16->size()
           : f.cuckoo64 ? f.cuckoo64->size()
           : f.absl16   ? f.absl16->map.size()
                        : f.absl64->map.size();
    bytes = static_cast<double>(g_allocated.load());
  }
  state.counters["rows"] = rows;
  state.counters["bytes_per_row"] = rows > 0 ? bytes / rows : 0;
}

// Per-thread xorshift for uniform key draws (cheap, same for every
// structure).
struct Draw {
  uint64_t s;
  explicit Draw(uint64_t seed) : s(Mix64(seed) | 1) {}
  uint64_t Next(uint64_t n) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(s) * n) >> 64);
  }
};

template <int D>
void RunLookup(benchmark::State& state) {
  Fixture& f = *g_fixture;
  Draw draw(state.thread_index() + 1);
  std::vector<uint64_t> keys(kBatch);
  std::vector<float> out(kBatch * D);
  for (auto _ : state) {
    for (int j = 0; j < kBatch; ++j) keys[j] = KeyOf(draw.Next(f.n));
    if (f.freshet) {
      (void)f.freshet->Lookup(keys, absl::MakeSpan(out), LookupMode::kServe);
    } else if (f.structure == kCuckoo) {
      auto& map = Cuckoo<D>(f);
      for (int j = 0; j < kBatch; ++j) {
        map.find_fn(keys[j], [&](const Row<D>& r) {
          std::memcpy(&out[j * D], r.w, sizeof(r.w));
        });
      }
    } else {
      auto& m = Absl<D>(f);
      absl::ReaderMutexLock lock(&m.mu);
      for (int j = 0; j < kBatch; ++j) {
        auto it = m.map.find(keys[j]);
        if (it != m.map.end()) {
          std::memcpy(&out[j * D], it->second.w, sizeof(it->second.w));
        }
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  ReportMemory(state);
}

// One apply batch on the direct baseline: a software pipeline that
// prefetches the whole row kAhead keys before it is updated.
template <int D>
void ApplyDirect(const DirectRows& rows, const std::vector<uint64_t>& idx,
                 const std::vector<uint64_t>& keys,
                 const std::vector<float>& grads, int64_t t) {
  static const SparseOptimizer& opt = AdagradFor(D);
  constexpr int kAhead = 16;
  const int n = static_cast<int>(idx.size());
  for (int j = 0; j < kAhead && j < n; ++j) rows.Prefetch(idx[j]);
  for (int j = 0; j < n; ++j) {
    if (j + kAhead < n) rows.Prefetch(idx[j + kAhead]);
    char* p = rows.Row(idx[j]);
    uint64_t key;
    std::memcpy(&key, p + DirectRows::kKeyOffset, sizeof(key));
    if (key != keys[j]) std::abort();
    float* w = DirectRows::Weights(p);
    opt.Update(w, w + D, &grads[static_cast<size_t>(j) * D]);
    int64_t last;
    std::memcpy(&last, p + DirectRows::kTimeOffset, sizeof(last));
    if (t > last) std::memcpy(p + DirectRows::kTimeOffset, &t, sizeof(t));
  }
}

template <int D>
void RunApply(benchmark::State& state) {
  Fixture& f = *g_fixture;
  Draw draw(state.thread_index() + 101);
  std::vector<uint64_t> idx(kBatch);  // the keys' indices in the key set
  std::vector<uint64_t> keys(kBatch);
  std::vector<float> grads(kBatch * D);
  for (size_t i = 0; i < grads.size(); ++i)
    grads[i] = 0.001f * (i % 13) - 0.006f;
  int64_t t = 0;
  for (auto _ : state) {
    for (int j = 0; j < kBatch; ++j) {
      idx[j] = draw.Next(f.n);
      keys[j] = KeyOf(idx[j]);
    }
    if (f.freshet) {
      (void)f.freshet->Apply(keys, grads, ++t);
    } else if (f.direct) {
      ApplyDirect<D>(*f.direct, idx, keys, grads, ++t);
    } else if (f.structure == kCuckoo) {
      auto& map = Cuckoo<D>(f);
      for (int j = 0; j < kBatch; ++j) {
        map.update_fn(keys[j],
                      [&](Row<D>& r) { Adagrad<D>(r, &grads[j * D]); });
      }
    } else {
      auto& m = Absl<D>(f);
      absl::MutexLock lock(&m.mu);
      for (int j = 0; j < kBatch; ++j) {
        auto it = m.map.find(keys[j]);
        if (it != m.map.end()) Adagrad<D>(it->second, &grads[j * D]);
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  ReportMemory(state);
}

// Zipfian ranks over [0, n) (Gray et al., "Quickly generating billion-record
// synthetic databases", as in YCSB), theta < 1.
class Zipf {
 public:
  Zipf(uint64_t n, double theta) : n_(n), theta_(theta) {
    double zeta_n = 0;
    for (uint64_t i = 1; i <= n; ++i) zeta_n += 1.0 / std::pow(i, theta);
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    zeta_n_ = zeta_n;
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / n, 1.0 - theta)) / (1.0 - zeta2 / zeta_n);
  }
  uint64_t Rank(double u) const {
    const double uz = u * zeta_n_;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + std::pow(0.5, theta_)) return 1;
    const uint64_t r =
        static_cast<uint64_t>(n_ * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return std::min(r, n_ - 1);
  }

 private:
  uint64_t n_;
  double theta_, zeta_n_, alpha_, eta_;
};

// The insert stream of n keys (ranks over 4n ids, mixed into keys), shared by
// every structure so that all see the same stream.
const std::vector<uint64_t>& InsertStream(int64_t n) {
  static int64_t cached_n = 0;
  static std::vector<uint64_t>* stream = nullptr;
  if (cached_n != n) {
    delete stream;
    stream = new std::vector<uint64_t>(n);
    Zipf zipf(4 * n, 0.99);
    Draw draw(77);
    for (int64_t i = 0; i < n; ++i) {
      const double u = static_cast<double>(draw.Next(1ull << 53)) * 0x1.0p-53;
      (*stream)[i] = KeyOf(zipf.Rank(u));
    }
    cached_n = n;
  }
  return *stream;
}

void SetupInsert(const benchmark::State& state) {
  InsertStream(state.range(1));
  SetupEmpty(state);
}

void RunInsert(benchmark::State& state) {
  constexpr int D = 16;
  Fixture& f = *g_fixture;
  const std::vector<uint64_t>& stream = InsertStream(f.n);
  // Thread k of T takes batches k, k + T, ...; iterations = batches / T.
  int64_t batch = state.thread_index();
  const int64_t step = state.threads();
  std::vector<float> out(kBatch * D);
  for (auto _ : state) {
    const int64_t begin = (batch * kBatch) % f.n;
    const int64_t m = std::min<int64_t>(kBatch, f.n - begin);
    absl::Span<const uint64_t> keys(stream.data() + begin, m);
    if (f.freshet) {
      (void)f.freshet->Lookup(keys, absl::MakeSpan(out.data(), m * D),
                              LookupMode::kTrain, batch);
    } else if (f.structure == kCuckoo) {
      auto& map = *f.cuckoo16;
      for (int64_t j = 0; j < m; ++j) {
        const bool inserted = map.uprase_fn(keys[j], [&](Row<D>& r) {
          std::memcpy(&out[j * D], r.w, sizeof(r.w));
          return false;
        });
        if (inserted) std::memset(&out[j * D], 0, sizeof(float) * D);
      }
    } else {
      auto& lm = *f.absl16;
      absl::MutexLock lock(&lm.mu);
      for (int64_t j = 0; j < m; ++j) {
        auto [it, inserted] = lm.map.try_emplace(keys[j]);
        std::memcpy(&out[j * D], it->second.w, sizeof(it->second.w));
      }
    }
    benchmark::DoNotOptimize(out.data());
    batch += step;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  ReportMemory(state);
}

const char* kNames[] = {"freshet", "libcuckoo", "absl_mutex", "direct"};

void RegisterAll() {
  const int64_t max_keys = MaxKeys();
  for (int64_t n : {int64_t{1000000}, int64_t{10000000}}) {
    if (n > max_keys) continue;
    // Iterations per thread: about 2M row operations per run at 1M keys,
    // 4M at 10M keys.
    const int64_t iters = (n >= 10000000 ? 4000 : 2000) * IterationScale();
    for (int dim : {16, 64}) {
      for (int s : {kFreshet, kCuckoo, kAbsl, kDirect}) {
        for (int threads : {1, 2}) {
          const std::string suffix = std::string("/") + kNames[s] + "/" +
                                     std::to_string(n) + "/dim" +
                                     std::to_string(dim);
          std::vector<benchmark::internal::Benchmark*> bs;
          // The direct baseline is the ceiling of the apply workload only.
          if (s != kDirect) {
            bs.push_back(benchmark::RegisterBenchmark(
                ("lookup" + suffix).c_str(),
                dim == 16 ? RunLookup<16> : RunLookup<64>));
          }
          bs.push_back(benchmark::RegisterBenchmark(
              ("apply" + suffix).c_str(),
              dim == 16 ? RunApply<16> : RunApply<64>));
          for (auto* b : bs) {
            b->Args({s, n, dim})
                ->Threads(threads)
                ->Iterations(iters / threads)
                ->Setup(SetupExisting)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
          }
        }
      }
    }
  }
  for (int64_t n : {int64_t{1000000}, int64_t{10000000}}) {
    if (n > max_keys) continue;
    for (int s : {kFreshet, kCuckoo, kAbsl}) {
      for (int threads : {1, 2}) {
        const std::string name = std::string("insert/") + kNames[s] + "/" +
                                 std::to_string(n) + "/dim16";
        benchmark::RegisterBenchmark(name.c_str(), RunInsert)
            ->Args({s, n, 16})
            ->Threads(threads)
            ->Iterations((n + kBatch - 1) / kBatch / threads)
            ->Setup(SetupInsert)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace
}  // namespace freshet

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  freshet::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
