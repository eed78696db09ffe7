// freshness_bench: end-to-end freshness of the embedded pipeline, measured
// through POST /v1/predict while the trainer runs at full speed.
//
// What is measured. A Criteo-shaped stream from the generator is written to a
// file with a probe record every --probe-every records: a copy of the record
// before it with label 1 and slot C1 set to a value seen nowhere else
// ("probe-N"). The trainer reads the file as fast as it can (nothing throttles
// it), sync runs every --interval-ms into a serving replica, and an
// HttpServer serves the replica on 127.0.0.1: the EmbeddedJob of `freshet
// run`. For each probe:
//   t0 = the moment the training batch holding the probe entered the
//        trainer's compute stage (TrainerOptions::after_batch's batch_start_s
//        of the first batch after which the probe's C1 row exists);
//   t1 = the moment a /v1/predict response first scores a candidate
//        {"C1": "probe-N"} differently from a candidate whose C1 value was
//        never seen (asked in the same request, so the dense part is the
//        same), i.e. the probe's trained row is visible to a client.
// freshness = t1 - t0. A client thread polls every --poll-ms with all probes
// entered but not yet seen, so t1 is late by at most one poll plus one
// request.
//
//   freshness_bench [--interval-ms 1000,100] [--seconds 20] [--model deepfm]
//                   [--probe-every 20000] [--poll-ms 1] [--rows 3000000]
//                   [--config examples/synthetic.yaml]   (from the repo root)
// Prints one line per interval: probes, p50, p90, p99, max (ms), examples/s.
// Unknown flags (e.g. scripts/bench.sh's --benchmark_*) are ignored.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "freshet/base/clock.h"
#include "freshet/base/hash.h"
#include "freshet/data/generator.h"
#include "freshet/data/schema.h"
#include "freshet/job/embedded_job.h"

// After Eigen: <resolv.h>, which httplib pulls in, defines a macro `_res`
// that Eigen uses as a parameter name.
#include <httplib.h>

namespace freshet {
namespace {

namespace fs = std::filesystem;

struct Flags {
  std::vector<double> intervals_ms = {1000, 100};
  double seconds = 20;
  std::string model = "deepfm";
  int64_t probe_every = 20000;
  double poll_ms = 1;
  int64_t rows = 3000000;
  std::string config = "examples/synthetic.yaml";  // run from the repo root
};

// Writes the stream with probes; returns the number of probes.
int64_t WriteStream(const Flags& f, const std::string& path) {
  const std::string raw = path + ".raw";
  GeneratorOptions g;
  g.kind = GeneratorKind::kCriteo;
  g.rows = f.rows;
  g.seed = 11;
  if (!GenerateToPath(g, raw).ok()) {
    std::fprintf(stderr, "cannot generate %s\n", raw.c_str());
    std::exit(1);
  }
  std::ifstream in(raw);
  std::ofstream out(path);
  std::string line;
  int64_t n = 0, probes = 0;
  while (std::getline(in, line)) {
    out << line << '\n';
    if (++n % f.probe_every == 0) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      fields[0] = "1";
      fields[14] = "probe-" + std::to_string(probes++);  // C1
      out << absl::StrJoin(fields, "\t") << '\n';
    }
  }
  fs::remove(raw);
  return probes;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * v.size()));
  return v[rank > 0 ? rank - 1 : 0];
}

void RunOnce(const Flags& f, double interval_ms, const std::string& data,
             int64_t num_probes) {
  auto job = LoadJobConfig(
      f.config,
      {"source.type=file", "source.path=" + data, "model.type=" + f.model,
       "sync.interval=" + std::to_string(static_cast<int64_t>(interval_ms)) +
           "ms",
       "serve.port=0", "serve.http_threads=2"});
  if (!job.ok()) {
    std::fprintf(stderr, "%s\n", job.status().ToString().c_str());
    std::exit(1);
  }
  auto schema = Schema::Compile(job->schema, job->dir);
  if (!schema.ok()) std::exit(1);
  const uint64_t c1_seed = (*schema)->slot((*schema)->SlotIndex("C1")).seed;
  std::vector<uint64_t> probe_keys(num_probes);
  for (int64_t i = 0; i < num_probes; ++i) {
    probe_keys[i] = FeatureId(c1_seed, "probe-" + std::to_string(i));
  }
  std::vector<double> entered(num_probes, 0), seen(num_probes, 0);
  std::atomic<int64_t> num_entered{0};
  int c1_table = -1;

  // The embedded job as `freshet run` builds it; after each batch (and its
  // sync), the probes whose C1 row now exists have entered.
  EmbeddedJobOptions jopt;
  jopt.progress_interval_s = 1e9;
  LocalStore* store = nullptr;  // set before training starts
  jopt.after_batch = [&](ParameterStore&, int64_t, double start) {
    int64_t next = num_entered.load(std::memory_order_relaxed);
    while (next < num_probes &&
           store->table(c1_table).Contains(probe_keys[next])) {
      entered[next] = start;
      num_entered.store(++next, std::memory_order_release);
    }
  };
  auto embedded = EmbeddedJob::Create(*job, jopt);
  if (!embedded.ok()) {
    std::fprintf(stderr, "%s\n", embedded.status().ToString().c_str());
    std::exit(1);
  }
  EmbeddedJob& run = **embedded;
  LocalStore& model = run.store();
  store = &model;
  for (int i = 0; i < model.num_tables(); ++i) {
    if (model.table(i).spec().name == "C1") c1_table = i;
  }
  if (absl::Status st = run.Start(); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    std::exit(1);
  }

  std::atomic<bool> stop{false};
  std::thread poller([&] {
    httplib::Client client("127.0.0.1", run.port());
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);
    int64_t first_unseen = 0;
    while (!stop.load()) {
      const int64_t entered_now = num_entered.load(std::memory_order_acquire);
      std::vector<int64_t> pending;
      for (int64_t i = first_unseen; i < entered_now; ++i) {
        if (seen[i] == 0) pending.push_back(i);
      }
      if (pending.empty()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      nlohmann::json body = {{"candidates", nlohmann::json::array()}};
      body["candidates"].push_back({{"C1", "never-seen-value"}});
      for (int64_t i : pending) {
        body["candidates"].push_back({{"C1", "probe-" + std::to_string(i)}});
      }
      auto res = client.Post("/v1/predict", body.dump(), "application/json");
      const double now = MonotonicSeconds();
      if (res && res->status == 200) {
        nlohmann::json j = nlohmann::json::parse(res->body);
        const double base = j["scores"][0].get<double>();
        for (size_t k = 0; k < pending.size(); ++k) {
          if (j["scores"][k + 1].get<double>() != base) seen[pending[k]] = now;
        }
      }
      while (first_unseen < entered_now && seen[first_unseen] != 0) {
        ++first_unseen;
      }
      std::this_thread::sleep_for(
          std::chrono::microseconds(static_cast<int64_t>(f.poll_ms * 1000)));
    }
  });

  const double end = MonotonicSeconds() + f.seconds;
  while (MonotonicSeconds() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  run.StopTraining();
  while (!run.training_done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Let the probes of the last batches arrive before stopping the poller.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int64_t>(3 * interval_ms + 200)));
  stop.store(true);
  poller.join();
  run.Stop().IgnoreError();

  std::vector<double> ms;
  int64_t unseen = 0;
  for (int64_t i = 0; i < num_entered.load(); ++i) {
    if (seen[i] == 0) {
      ++unseen;
    } else {
      ms.push_back((seen[i] - entered[i]) * 1000.0);
    }
  }
  const TrainerProgress p = run.progress();
  const ReplicaStatus rs = run.replica().status();
  const SyncStats sync = run.sync_stats();
  std::printf(
      "freshness/%s/interval_%gms  probes %zu (unseen %lld)  p50 %.0f ms  p90 "
      "%.0f ms  p99 %.0f ms  max %.0f ms  |  %.0f examples/s  %lld sync "
      "batches  %.0f rows/batch  cut max %.1f ms (collect %.1f)  apply max "
      "%.1f ms  sync busy %.1f%% of one core\n",
      f.model.c_str(), interval_ms, ms.size(), static_cast<long long>(unseen),
      Percentile(ms, 0.5), Percentile(ms, 0.9), Percentile(ms, 0.99),
      Percentile(ms, 1.0), p.examples_per_sec,
      static_cast<long long>(rs.batches),
      rs.batches > 0 ? static_cast<double>(rs.rows_applied) / rs.batches : 0.0,
      sync.max_cut_seconds * 1000, sync.max_collect_seconds * 1000,
      rs.max_apply_s * 1000,
      // The cut (collect + visible apply) plus the catch-up apply, which
      // does the same work as the visible one.
      100.0 * (sync.total_cut_seconds + rs.total_apply_s) / p.seconds);
  std::fflush(stdout);
}

}  // namespace
}  // namespace freshet

int main(int argc, char** argv) {
  freshet::Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--interval-ms") {
      f.intervals_ms.clear();
      for (absl::string_view s : absl::StrSplit(value(), ',')) {
        f.intervals_ms.push_back(std::stod(std::string(s)));
      }
    } else if (a == "--seconds") {
      f.seconds = std::stod(value());
    } else if (a == "--model") {
      f.model = value();
    } else if (a == "--probe-every") {
      f.probe_every = std::stoll(value());
    } else if (a == "--poll-ms") {
      f.poll_ms = std::stod(value());
    } else if (a == "--config") {
      f.config = value();
    } else if (a == "--rows") {
      f.rows = std::stoll(value());
    }
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() /
       ("freshet_freshness_bench_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string data = dir + "/stream.tsv";
  const int64_t probes = freshet::WriteStream(f, data);
  for (double interval : f.intervals_ms) {
    freshet::RunOnce(f, interval, data, probes);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
