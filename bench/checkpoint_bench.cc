// checkpoint_bench: what checkpoints cost a training job: the pause of
// training at each cut, and training throughput while checkpoints are
// written, against the same run without them.
//
// A trainer (examples/synthetic.yaml: the generator's Criteo-shaped stream,
// deepfm, dim 16, adagrad) first gets --rows rows spread over its
// embedding tables (the dim-1 wide tables keep what the stream gives them),
// then trains for three phases of --seconds each: (1) no checkpoints,
// (2) full checkpoints back to back (a new cut as soon as the previous write
// is published; the worst case), (3) no checkpoints again, once the last
// write has finished. Phases 1 and 3
// are the baseline (their mean), so drift of the machine shows. The pause
// of a cut is the time of Checkpointer::OnBatch() when it cut (ModelCut::
// Begin: the tables' snapshot bitmaps and the dense copy), on the training
// thread; batch times are from a batch entering the compute stage to the
// end of its after_batch hook.
//
//   checkpoint_bench [--rows 10000000] [--seconds 30] [--threads 2]
//                    [--model deepfm] [--dim 16] [--full-every 1] [--nice 10]
//                    [--zstd-level 1] [--max-write-mbps 150] [--control 1]
// --control 1 takes no checkpoint in phase 2: what the method reads when
// checkpoints cost nothing.
//                    [--dir out/bench/ckpt]       (from the repository root)
// Unknown flags (e.g. scripts/bench.sh's --benchmark_*) are ignored.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "freshet/base/clock.h"
#include "freshet/base/hash.h"
#include "freshet/ckpt/checkpointer.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

struct Flags {
  int64_t rows = 10000000;
  double seconds = 30;
  int threads = 2;
  std::string model = "deepfm";
  int dim = 16;
  int full_every = 1;
  int nice = 10;
  int zstd_level = 1;
  double mbps = 150;     // the default of checkpoint.max_write_mbps
  bool control = false;  // phase 2 without checkpoints: the method's noise
  std::string dir = "out/bench/ckpt";
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    const char* v = argv[i + 1];
    if (a == "--rows") {
      f.rows = std::atoll(v);
    } else if (a == "--seconds") {
      f.seconds = std::atof(v);
    } else if (a == "--threads") {
      f.threads = std::atoi(v);
    } else if (a == "--model") {
      f.model = v;
    } else if (a == "--dim") {
      f.dim = std::atoi(v);
    } else if (a == "--full-every") {
      f.full_every = std::atoi(v);
    } else if (a == "--max-write-mbps") {
      f.mbps = std::atof(v);
    } else if (a == "--control") {
      f.control = std::atoi(v) != 0;
    } else if (a == "--zstd-level") {
      f.zstd_level = std::atoi(v);
    } else if (a == "--nice") {
      f.nice = std::atoi(v);
    } else if (a == "--dir") {
      f.dir = v;
    } else {
      continue;
    }
    ++i;
  }
  return f;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  return v[i];
}

// Gives the embedding tables (not the dim-1 wide tables) `rows` rows in
// all, keys disjoint from the stream's.
void Fill(LocalStore& model, int64_t rows) {
  std::vector<int> tables;
  for (int t = 0; t < model.num_tables(); ++t) {
    if (model.table(t).dim() > 1) tables.push_back(t);
  }
  const int64_t per_table = rows / static_cast<int64_t>(tables.size());
  std::vector<uint64_t> keys;
  std::vector<float> out;
  for (int t : tables) {
    EmbeddingTable& table = model.table(t);
    for (int64_t done = 0; done < per_table;) {
      const int64_t chunk = std::min<int64_t>(65536, per_table - done);
      keys.resize(chunk);
      for (int64_t i = 0; i < chunk; ++i) {
        keys[i] = Mix64(0xF111ULL + static_cast<uint64_t>(t) * (1ULL << 40) +
                        static_cast<uint64_t>(done + i)) |
                  (1ULL << 63);
      }
      out.resize(keys.size() * table.dim());
      if (!table.Lookup(keys, absl::MakeSpan(out), LookupMode::kTrain, 0)
               .ok()) {
        std::fprintf(stderr, "fill failed\n");
        std::exit(1);
      }
      done += chunk;
    }
  }
}

struct Phase {
  int64_t examples_start = 0, examples_end = 0;
  double start_s = 0, end_s = 0;
  std::vector<double> batch_ms;
  std::vector<double> cut_ms;
  double ExamplesPerSec() const {
    return end_s > start_s ? (examples_end - examples_start) / (end_s - start_s)
                           : 0;
  }
};

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  auto job = LoadJobConfig(
      "examples/synthetic.yaml",
      {"source.rows=1000000000", "model.type=" + f.model,
       "model.hidden=[256,128]", "table_defaults.dim=" + std::to_string(f.dim),
       "train.threads=" + std::to_string(f.threads)});
  if (!job.ok()) {
    std::fprintf(stderr, "%s (run from the repository root)\n",
                 std::string(job.status().message()).c_str());
    return 1;
  }
  std::error_code ec;
  fs::remove_all(f.dir, ec);

  std::atomic<int> phase{0};
  std::mutex mu;
  // 0: before, 1: writing, 2: the last write draining (not counted),
  // 3: after.
  Phase phases[4];
  Trainer* trainer = nullptr;
  Checkpointer* checkpointer = nullptr;
  TrainerOptions topt;
  topt.track_sync = false;
  topt.track_checkpoint = true;
  topt.progress_interval_s = 1e9;
  topt.after_batch = [&](ParameterStore&, int64_t examples,
                         double batch_start) {
    const int p = phase.load();
    double cut_ms = -1;
    if (p == 1 && !f.control) {
      const int64_t before = checkpointer->Stats().cuts;
      const double t0 = MonotonicSeconds();
      checkpointer->OnBatch(examples, trainer->position());
      const double t1 = MonotonicSeconds();
      if (checkpointer->Stats().cuts > before) cut_ms = (t1 - t0) * 1000;
    }
    const double now = MonotonicSeconds();
    std::lock_guard lock(mu);
    Phase& ph = phases[p];
    if (ph.start_s == 0) {
      ph.start_s = now;
      ph.examples_start = examples;
    }
    ph.end_s = now;
    ph.examples_end = examples;
    ph.batch_ms.push_back((now - batch_start) * 1000);
    if (cut_ms >= 0) ph.cut_ms.push_back(cut_ms);
  };
  auto t = Trainer::Create(*job, topt);
  if (!t.ok()) {
    std::fprintf(stderr, "%s\n", std::string(t.status().message()).c_str());
    return 1;
  }
  trainer = t->get();
  LocalStore& model = trainer->model();
  const double fill_start = MonotonicSeconds();
  Fill(model, f.rows);
  int64_t rows = 0;
  for (int i = 0; i < model.num_tables(); ++i) rows += model.table(i).size();
  std::printf("filled %lld rows in %d tables in %.1f s\n",
              static_cast<long long>(rows), model.num_tables(),
              MonotonicSeconds() - fill_start);
  CheckpointerOptions copt;
  copt.dir = f.dir;
  copt.every_examples = 1;  // back to back
  copt.full_every = f.full_every;
  copt.keep_full = 1;
  copt.writer_nice = f.nice;
  copt.zstd_level = f.zstd_level;
  copt.max_write_mbps = f.mbps;
  auto c = Checkpointer::Create(&model, copt);
  if (!c.ok()) return 1;
  checkpointer = c->get();

  std::thread stopper([&] {
    const auto phase_length = std::chrono::duration<double>(f.seconds);
    std::this_thread::sleep_for(phase_length);
    phase.store(1);
    std::this_thread::sleep_for(phase_length);
    phase.store(2);  // no new cuts; the write in flight finishes
    while (true) {
      const CheckpointerStats s = checkpointer->Stats();
      if (s.cuts == s.written + s.failed) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    phase.store(3);
    std::this_thread::sleep_for(phase_length);
    trainer->Stop();
  });
  absl::Status status = trainer->Run();
  stopper.join();
  const CheckpointerStats stats = (*c)->Stats();
  c->reset();  // waits for the write in flight
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    return 1;
  }
  const double base =
      (phases[0].ExamplesPerSec() + phases[3].ExamplesPerSec()) / 2;
  std::vector<double> base_batches = phases[0].batch_ms;
  base_batches.insert(base_batches.end(), phases[3].batch_ms.begin(),
                      phases[3].batch_ms.end());
  const Phase& w = phases[1];
  std::printf(
      "rows %lld, %s dim %d, %d train threads, full_every %d, writer nice "
      "%d, zstd level %d\n"
      "no checkpoints     %.0f examples/s (before %.0f, after %.0f); batch "
      "ms p50 %.2f p99 %.2f max %.2f\n"
      "while writing      %.0f examples/s = %.1f%% of normal; batch ms p50 "
      "%.2f p99 %.2f max %.2f\n"
      "cut pause          %zu cuts: p50 %.2f ms, max %.2f ms\n"
      "writes             %lld published, last %.2f s\n",
      static_cast<long long>(rows), f.model.c_str(), f.dim, f.threads,
      f.full_every, f.nice, f.zstd_level, base, phases[0].ExamplesPerSec(),
      phases[3].ExamplesPerSec(), Percentile(base_batches, 0.5),
      Percentile(base_batches, 0.99), Percentile(base_batches, 1.0),
      w.ExamplesPerSec(), 100.0 * w.ExamplesPerSec() / base,
      Percentile(w.batch_ms, 0.5), Percentile(w.batch_ms, 0.99),
      Percentile(w.batch_ms, 1.0), w.cut_ms.size(), Percentile(w.cut_ms, 0.5),
      Percentile(w.cut_ms, 1.0), static_cast<long long>(stats.written),
      stats.last_write_s);
  return 0;
}

}  // namespace
}  // namespace freshet

int main(int argc, char** argv) { return freshet::Main(argc, argv); }
