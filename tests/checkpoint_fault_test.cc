// End-to-end fault-injection tests of checkpoints: `freshet train` and
// `freshet run` killed with SIGKILL at random points, damaged and truncated
// shard files, a checkpoint folder that cannot be written (a file in its
// place), SIGTERM, the token-protected admin call, and a restart of
// `freshet run` from its checkpoints. Faults that need no process (failed
// writes and renames, a full disk, lost unsynced data) are tested in
// process on a FaultInjectingFileSystem: src/freshet/ckpt/
// checkpoint_fault_test.cc and src/freshet/data/file_log_fault_test.cc.
//
// Every child process is started here with its stdout and stderr in files,
// every wait is bounded, and HTTP goes to 127.0.0.1 only (ports picked with
// --http-port 0 --port-file).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"

// Last: it brings <resolv.h>, whose _res macro breaks other headers.
#include <httplib.h>

namespace freshet {
namespace {

namespace fs = std::filesystem;
using test::ChildProcess;
using test::Now;
using test::ReadFile;
using test::SleepS;
using test::WaitUntil;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

constexpr char kBatch[] = "train.batch_size=64";

std::string Config() {
  return std::string(FRESHET_SOURCE_DIR) + "/examples/criteo.yaml";
}

struct Finished {
  int exit_code = -1;
  std::string out, err;
};

// Runs `freshet ARGS` to its end (killed after `timeout_s`), with
// FRESHET_ADMIN_TOKEN unset.
Finished RunFreshet(const std::vector<std::string>& args, const fs::path& dir,
                    const std::string& name, double timeout_s = 120) {
  std::vector<std::string> argv = {FRESHET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Finished f;
  ChildProcess c;
  c.Start(argv, dir / (name + ".out"), dir / (name + ".err"),
          {"-FRESHET_ADMIN_TOKEN"});
  if (!c.Wait(timeout_s)) {
    c.Kill();
    f.err = "timed out after " + std::to_string(timeout_s) + " s\n";
  } else {
    f.exit_code = c.exit_code();
  }
  f.out = c.out();
  f.err += c.err();
  return f;
}

// The 16 hex digits after "digest" in `freshet train`'s summary; "" if none.
std::string DigestOf(const std::string& out) {
  const std::string key = "digest       ";
  const size_t at = out.find(key);
  if (at == std::string::npos) return "";
  return out.substr(at + key.size(), 16);
}

// Checkpoint ids published in `dir` (ckpt-<id>, not .tmp), in order.
std::vector<uint64_t> PublishedIds(const fs::path& dir) {
  std::vector<uint64_t> ids;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return ids;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) != 0 || name.find('.') != std::string::npos) {
      continue;
    }
    ids.push_back(std::stoull(name.substr(5)));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string CkptName(uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "ckpt-%010llu",
                static_cast<unsigned long long>(id));
  return buf;
}

json Manifest(const fs::path& ckpt_dir) {
  return json::parse(ReadFile(ckpt_dir / "MANIFEST.json"));
}

// "examples" of the newest published checkpoint in `dir`; -1 if none (or
// it went away while being read).
int64_t NewestExamples(const fs::path& dir) {
  const std::vector<uint64_t> ids = PublishedIds(dir);
  if (ids.empty()) return -1;
  try {
    return Manifest(dir / CkptName(ids.back()))["examples"].get<int64_t>();
  } catch (const std::exception&) {
    return -1;
  }
}

// The number after `key` in `text` (the first occurrence); -1 if none.
int64_t NumberAfter(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(text.c_str() + at + key.size(), nullptr, 10);
}

// The largest shard file of a checkpoint directory.
fs::path BiggestShard(const fs::path& ckpt_dir) {
  fs::path best;
  uintmax_t best_bytes = 0;
  for (const auto& e : fs::directory_iterator(ckpt_dir)) {
    if (e.path().extension() == ".shard" && e.file_size() > best_bytes) {
      best = e.path();
      best_bytes = e.file_size();
    }
  }
  return best;
}

// The value of a sample `name` (no labels) in Prometheus text; NaN if absent.
double Metric(const std::string& body, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = body.find(key);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(body.c_str() + at + key.size(), nullptr);
}

// The lines of a generated Criteo file, to append to a followed log.
class RowPool {
 public:
  void Load(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) lines_.push_back(line);
  }
  size_t size() const { return lines_.size(); }
  // Appends rows [next, next + n) to `log`.
  void Append(const fs::path& log, size_t n) {
    std::ofstream out(log, std::ios::app);
    for (size_t i = 0; i < n && next_ < lines_.size(); ++i) {
      out << lines_[next_++] << "\n";
    }
  }
  size_t appended() const { return next_; }
  // Tab-separated field `field` of row `row` (Criteo: 0 label, 1-13 I1-I13,
  // 14-39 C1-C26).
  std::string Field(size_t row, int field) const {
    std::stringstream ss(lines_.at(row));
    std::string f;
    for (int i = 0; i <= field; ++i) std::getline(ss, f, '\t');
    return f;
  }

 private:
  std::vector<std::string> lines_;
  size_t next_ = 0;
};

// A running `freshet run` and an HTTP client for it.
class RunProcess {
 public:
  // Starts `freshet run ARGS --http-port 0 --port-file ...` and waits for
  // its port.
  void Start(const fs::path& dir, const std::string& name,
             const std::vector<std::string>& args,
             const std::vector<std::string>& env = {}) {
    port_file_ = dir / (name + ".port");
    fs::remove(port_file_);
    std::vector<std::string> argv = {FRESHET_BINARY, "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* a : {"--http-port", "0", "--port-file"}) argv.push_back(a);
    argv.push_back(port_file_.string());
    child_.Start(argv, dir / (name + ".out"), dir / (name + ".err"), env);
    WaitForPort();
  }

  int port() const { return port_; }
  ChildProcess& child() { return child_; }

  std::optional<std::string> Get(const std::string& path) {
    if (port_ <= 0) return std::nullopt;
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    auto res = c.Get(path);
    if (!res || res->status != 200) return std::nullopt;
    return res->body;
  }
  double MetricValue(const std::string& name) {
    std::optional<std::string> body = Get("/metrics");
    return body ? Metric("\n" + *body, name) : std::nan("");
  }
  // Polls /metrics until `name` >= `value`.
  bool WaitMetricAtLeast(const std::string& name, double value,
                         double timeout_s) {
    return WaitUntil([&] { return MetricValue(name) >= value; }, timeout_s,
                     0.05);
  }
  // Waits until the newest checkpoint in `ckpt` covers `examples` examples
  // and no write is in flight.
  bool WaitCheckpointedAt(const fs::path& ckpt, int64_t examples,
                          double timeout_s) {
    return WaitUntil(
        [&] {
          return NewestExamples(ckpt) == examples &&
                 MetricValue("freshet_checkpoint_writing") == 0;
        },
        timeout_s, 0.05);
  }
  // Waits until no checkpoint is being written and none was written or
  // failed for 1 s: with the stream idle, time and example triggers (which
  // wait for new examples) fire within their period after the last batch.
  bool WaitQuiet(double timeout_s) {
    double last = -1;
    int stable = 0;
    return WaitUntil(
        [&] {
          const double n = MetricValue("freshet_checkpoints_written_total") +
                           MetricValue("freshet_checkpoint_failures_total");
          const double writing = MetricValue("freshet_checkpoint_writing");
          stable = (n == last && writing == 0) ? stable + 1 : 0;
          last = n;
          return stable >= 5;
        },
        timeout_s, 0.2);
  }

 private:
  void WaitForPort() {
    port_ = 0;
    WaitUntil(
        [&] {
          std::ifstream in(port_file_);
          int p = 0;
          if (in >> p && p > 0) {
            port_ = p;
            return true;
          }
          return child_.Exited();
        },
        60, 0.02);
    ASSERT_GT(port_, 0) << "no port; stderr:\n" << child_.err();
  }

  ChildProcess child_;
  fs::path port_file_;
  int port_ = 0;
};

// Data shared by the tests: 300k generated rows and the digest of the
// deterministic uninterrupted run over them, and a pool of rows to append to
// followed logs.
// Appends `rows` records at a time to `log` while `run` trains on it, until
// a checkpoint has failed and then until `more` examples were trained after
// that: a failed checkpoint does not stop training. `*at_failure` receives
// the examples trained when the failure was seen.
void ExpectTrainingGoesOnAfterAFailure(RunProcess& run, RowPool& pool,
                                       const fs::path& log, size_t rows,
                                       double more, double* at_failure) {
  ASSERT_TRUE(WaitUntil(
      [&] {
        pool.Append(log, rows);
        if (run.MetricValue("freshet_checkpoint_failures_total") >= 1) {
          *at_failure = run.MetricValue("freshet_train_examples_total");
          return true;
        }
        return false;
      },
      60, 0.1))
      << run.child().err();
  ASSERT_TRUE(WaitUntil(
      [&] {
        pool.Append(log, rows);
        return run.MetricValue("freshet_train_examples_total") >
               *at_failure + more;
      },
      60, 0.1))
      << "training did not go on after the failure";
}

struct SuiteData {
  fs::path dir;
  fs::path data;  // 300k rows
  std::string digest;
  double seconds = 0;  // wall time of the uninterrupted run
  fs::path pool;       // 60k rows
};

class CheckpointFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = new SuiteData;
    suite_->dir = fs::temp_directory_path() /
                  ("freshet_ckpt_fault_" + std::to_string(::getpid()));
    fs::remove_all(suite_->dir);
    fs::create_directories(suite_->dir);
  }
  static void TearDownTestSuite() {
    fs::remove_all(suite_->dir);
    delete suite_;
    suite_ = nullptr;
  }

  void SetUp() override {
    dir_ = suite_->dir /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The 300k-row file and its uninterrupted digest (made once).
  static const SuiteData& Baseline() {
    if (suite_->digest.empty()) {
      suite_->data = suite_->dir / "criteo300k.tsv";
      Finished g = RunFreshet({"gen", "--kind", "criteo", "--rows", "300000",
                               "--seed", "11", "--out", suite_->data.string()},
                              suite_->dir, "gen300k");
      EXPECT_EQ(g.exit_code, 0) << g.err;
      const double start = Now();
      Finished t = RunFreshet(TrainArgs(suite_->data), suite_->dir, "base");
      suite_->seconds = Now() - start;
      EXPECT_EQ(t.exit_code, 0) << t.err;
      EXPECT_THAT(t.out, HasSubstr("trained lr on 300000 examples"));
      suite_->digest = DigestOf(t.out);
      EXPECT_EQ(suite_->digest.size(), 16u) << t.out;
      std::printf("uninterrupted run: digest %s in %.2f s\n",
                  suite_->digest.c_str(), suite_->seconds);
    }
    return *suite_;
  }

  // A pool of 60k rows to append to followed logs (made once).
  static fs::path Pool() {
    if (suite_->pool.empty()) {
      const fs::path pool = suite_->dir / "pool60k.tsv";
      Finished g = RunFreshet({"gen", "--kind", "criteo", "--rows", "60000",
                               "--seed", "12", "--out", pool.string()},
                              suite_->dir, "genpool");
      EXPECT_EQ(g.exit_code, 0) << g.err;
      suite_->pool = pool;
    }
    return suite_->pool;
  }

  // `train` over `data`, deterministic, batches of 64, then `extra`.
  static std::vector<std::string> TrainArgs(
      const fs::path& data, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {"train",  "--config",    Config(),
                                  "--data", data.string(), "--deterministic",
                                  "--set",  kBatch};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // `--config C --data LOG --follow --set train.batch_size=64`, then `extra`.
  static std::vector<std::string> FollowArgs(
      const fs::path& log, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {"--config", Config(), "--data", log.string(),
                                  "--follow", "--set",  kBatch};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  fs::path Path(const std::string& name) const { return dir_ / name; }

  static SuiteData* suite_;
  fs::path dir_;
};

SuiteData* CheckpointFaultTest::suite_ = nullptr;

// SIGKILL at five random points (during training and during checkpoint
// writes), each run resuming from what the one before left: the model at the
// end is bit-identical to the one of a run that was never interrupted.
TEST_F(CheckpointFaultTest,
       KillNineAtFiveRandomPointsGivesTheUninterruptedDigest) {
  const SuiteData& base = Baseline();
  ASSERT_FALSE(base.digest.empty());
  uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("FRESHET_FAULT_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  }
  std::printf("kill seed %u (rerun with FRESHET_FAULT_SEED=%u)\n", seed, seed);
  RecordProperty("kill_seed", std::to_string(seed));
  std::mt19937 rng(seed);
  // Each kill comes a random part (10% to 50%) of the time the
  // uninterrupted run took for what is left after the run resumed, so the
  // kills move through the run, and land before its end even when this
  // machine is twice as fast now as it was for the uninterrupted run (a run
  // with checkpoints is no faster than one without).
  std::uniform_real_distribution<double> part(0.1, 0.5);
  constexpr int64_t kRows = 300000;

  const fs::path ckpt = Path("ckpt");
  const std::vector<std::string> args =
      TrainArgs(base.data, {"--checkpoint-dir", ckpt.string(), "--set",
                            "checkpoint.every_examples=15000"});
  std::vector<std::string> argv = {FRESHET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());

  int killed = 0;
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    ChildProcess c;
    c.Start(argv, Path("run" + std::to_string(i) + ".out"),
            Path("run" + std::to_string(i) + ".err"));
    if (i == 0) {
      // Kill once the first checkpoint is published, so that every restart
      // has one to resume from.
      ASSERT_TRUE(WaitUntil(
          [&] { return !PublishedIds(ckpt).empty() || c.Exited(); }, 60, 0.002))
          << c.err();
    } else {
      ASSERT_TRUE(WaitUntil(
          [&] {
            return c.err().find("resum") != std::string::npos || c.Exited();
          },
          60, 0.002));
      EXPECT_THAT(c.err(), HasSubstr("resum"));
    }
    // The checkpoint it resumed from (or, for the first run, the first).
    const int64_t resumed = std::max<int64_t>(0, NewestExamples(ckpt));
    const double left = static_cast<double>(kRows - resumed) / kRows;
    const double delay = part(rng) * left * base.seconds;
    SleepS(delay);
    if (c.Exited()) {
      std::printf(
          "run %d: from %lld examples, finished before the kill at "
          "+%.3f s\n",
          i, static_cast<long long>(resumed), delay);
      EXPECT_EQ(c.exit_code(), 0) << c.err();
      continue;
    }
    c.Kill();
    ++killed;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(ckpt)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    std::string listing;
    for (const std::string& n : names) listing += " " + n;
    std::printf("run %d: from %lld examples, killed at +%.3f s; folder:%s\n", i,
                static_cast<long long>(resumed), delay, listing.c_str());
  }
  EXPECT_GE(killed, 3) << "too few kills landed before the run ended";

  Finished last = RunFreshet(args, dir_, "last");
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_THAT(last.err, HasSubstr("resumed from ckpt-"));
  EXPECT_THAT(last.out, HasSubstr("trained lr on " + std::to_string(kRows) +
                                  " examples"));
  EXPECT_EQ(DigestOf(last.out), base.digest) << last.out << last.err;

  Finished verify = RunFreshet({"ckpt", "verify", ckpt.string()}, dir_, "vfy");
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  Finished digest = RunFreshet({"ckpt", "digest", ckpt.string()}, dir_, "dig");
  EXPECT_EQ(DigestOf(digest.out), base.digest) << digest.out << digest.err;
}

// A damaged newest checkpoint (a flipped byte in an incremental, a
// truncated file in a full): the folder fails verification, and a restart
// skips the checkpoint, resumes from the one before and still ends with the
// model of the uninterrupted run.
//
// The checkpoints are made by runs stopped with --max-examples (multiples of
// the batch size), which makes them the same every time: a run's first
// checkpoint is full and cut at its first batch past every_examples, and a
// run's last is cut where it stops, incremental unless it is the first.
TEST_F(CheckpointFaultTest, DamagedNewestCheckpointFallsBackToThePreviousOne) {
  const SuiteData& base = Baseline();
  ASSERT_FALSE(base.digest.empty());
  struct Damage {
    std::string name;
    // --max-examples of the runs that make the checkpoints.
    std::vector<std::string> stops;
    std::string newest_kind;
    std::function<void(const fs::path&)> apply;
  };
  const std::vector<Damage> damages = {
      // 1 full (16000), 2 incremental (32000), 3 full (32064), 4
      // incremental (64000): the newest is damaged, the chain 1, 2, 3 is
      // not, and a restore ends at 3.
      {"flip",
       {"32000", "64000"},
       "incremental",
       [](const fs::path& file) {
         std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
         ASSERT_TRUE(f.good()) << file;
         const auto at = static_cast<std::streamoff>(fs::file_size(file) / 2);
         f.seekg(at);
         char b = 0;
         f.read(&b, 1);
         b = static_cast<char>(b ^ 0x20);
         f.seekp(at);
         f.write(&b, 1);
       }},
      // 1 full (16000), 2 incremental (32000), 3 full (32064): the newest
      // full is damaged, so a restore falls back to the chain 1, 2.
      {"truncate",
       {"32000", "32064"},
       "full",
       [](const fs::path& file) {
         fs::resize_file(file, fs::file_size(file) / 2);
       }},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.name);
    const fs::path ckpt = Path("ckpt_" + d.name);
    const std::vector<std::string> ckpt_args = {
        "--checkpoint-dir", ckpt.string(), "--set",
        "checkpoint.every_examples=16000"};
    for (size_t i = 0; i < d.stops.size(); ++i) {
      std::vector<std::string> extra = ckpt_args;
      extra.push_back("--max-examples");
      extra.push_back(d.stops[i]);
      Finished r = RunFreshet(TrainArgs(base.data, extra), dir_,
                              d.name + std::to_string(i));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_THAT(r.out,
                  HasSubstr("trained lr on " + d.stops[i] + " examples"));
    }
    const std::vector<uint64_t> ids = PublishedIds(ckpt);
    ASSERT_GE(ids.size(), 3u);
    const uint64_t newest = ids.back(), previous = ids[ids.size() - 2];
    const fs::path newest_dir = ckpt / CkptName(newest);
    const json m = Manifest(newest_dir);
    EXPECT_EQ(m["examples"].get<int64_t>(), std::stoll(d.stops.back()));
    EXPECT_EQ(m["kind"], d.newest_kind);
    const int64_t previous_examples =
        Manifest(ckpt / CkptName(previous))["examples"].get<int64_t>();

    Finished verify = RunFreshet({"ckpt", "verify", ckpt.string()}, dir_,
                                 d.name + "_verify_good");
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

    const fs::path shard = BiggestShard(newest_dir);
    ASSERT_FALSE(shard.empty());
    d.apply(shard);
    verify = RunFreshet({"ckpt", "verify", ckpt.string()}, dir_,
                        d.name + "_verify_bad");
    EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
    EXPECT_THAT(verify.out, HasSubstr(CkptName(newest) + " DAMAGED: "));
    EXPECT_THAT(verify.out, HasSubstr(shard.filename().string()));
    EXPECT_THAT(verify.out,
                HasSubstr("restore would use " + CkptName(previous)));

    Finished rest =
        RunFreshet(TrainArgs(base.data, ckpt_args), dir_, d.name + "_rest");
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    EXPECT_THAT(rest.err,
                HasSubstr((ckpt / CkptName(newest)).string() + " skipped: "));
    EXPECT_THAT(rest.err,
                HasSubstr("resumed from " + CkptName(previous) + " ("));
    EXPECT_THAT(rest.err, HasSubstr("at " + std::to_string(previous_examples) +
                                    " examples"));
    EXPECT_THAT(rest.out, HasSubstr("trained lr on 300000 examples"));
    EXPECT_EQ(DigestOf(rest.out), base.digest) << rest.out;
  }
}

// The checkpoint folder replaced by a regular file (which stops even root):
// the writes fail and are counted, training goes on, the checkpoints already
// published stay intact, and with the folder back the final one is written.
TEST_F(CheckpointFaultTest, UnwritableCheckpointFolderTrainingGoesOn) {
  RowPool pool;
  pool.Load(Pool());
  ASSERT_EQ(pool.size(), 60000u);
  const fs::path log = Path("log.tsv");
  pool.Append(log, 5000);
  const fs::path ckpt = Path("ckpt"), moved = Path("ckpt.moved");
  RunProcess run;
  ASSERT_NO_FATAL_FAILURE(
      run.Start(dir_, "run",
                FollowArgs(log, {"--checkpoint-dir", ckpt.string(), "--set",
                                 "checkpoint.every=300ms"})));
  ASSERT_TRUE(run.WaitMetricAtLeast("freshet_checkpoints_written_total", 1, 60))
      << run.child().err();
  // The time trigger cuts the idle stream at its end once; no write is in
  // flight while the folder is swapped, and none is due with no new records.
  ASSERT_TRUE(run.WaitCheckpointedAt(ckpt, 5000, 60)) << run.child().err();
  const std::vector<uint64_t> good = PublishedIds(ckpt);
  ASSERT_FALSE(good.empty());

  fs::rename(ckpt, moved);
  { std::ofstream(ckpt) << "not a folder\n"; }

  // Records keep coming: training goes on and the checkpoints due fail.
  double at_failure = -1;
  ASSERT_NO_FATAL_FAILURE(ExpectTrainingGoesOnAfterAFailure(run, pool, log, 500,
                                                            1000, &at_failure));
  EXPECT_THAT(run.child().err(), HasSubstr("failed"));
  EXPECT_THAT(run.child().err(), HasSubstr("checkpoint: write to"));
  std::optional<std::string> status = run.Get("/statusz");
  ASSERT_TRUE(status);
  const json st = json::parse(*status);
  EXPECT_GE(st["checkpoint"]["failed"].get<int64_t>(), 1) << *status;
  EXPECT_FALSE(st["checkpoint"]["last_error"].get<std::string>().empty());

  // The published checkpoints are intact.
  ASSERT_TRUE(run.WaitQuiet(30));
  fs::remove(ckpt);
  fs::rename(moved, ckpt);
  EXPECT_EQ(PublishedIds(ckpt), good);
  Finished verify =
      RunFreshet({"ckpt", "verify", ckpt.string()}, dir_, "verify1");
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  EXPECT_EQ(run.child().Terminate(60), 0) << run.child().err();
  const int64_t trained = NumberAfter(run.child().out(), "trained      ");
  EXPECT_GT(trained, at_failure);
  EXPECT_LE(trained, static_cast<int64_t>(pool.appended()));
  // The final checkpoint, in the folder that is back, full after a failure.
  const std::vector<uint64_t> ids = PublishedIds(ckpt);
  ASSERT_FALSE(ids.empty());
  EXPECT_GT(ids.back(), good.back());
  const json m = Manifest(ckpt / CkptName(ids.back()));
  EXPECT_EQ(m["kind"], "full");
  EXPECT_EQ(m["examples"].get<int64_t>(), trained);
  verify = RunFreshet({"ckpt", "verify", ckpt.string()}, dir_, "verify2");
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// SIGTERM while following a log: the final checkpoint is written, holds
// exactly the examples the process reports, verifies, and the exit code is
// 0 — for `freshet train --follow` and `freshet run --follow`.
TEST_F(CheckpointFaultTest, SigtermWritesAFinalCheckpointAndExitsCleanly) {
  RowPool pool;
  pool.Load(Pool());
  ASSERT_EQ(pool.size(), 60000u);
  {
    SCOPED_TRACE("train");
    const fs::path log = Path("train.tsv"), ckpt = Path("ckpt_train");
    const fs::path windows = Path("windows.jsonl");
    pool.Append(log, 8000);
    std::vector<std::string> argv = {FRESHET_BINARY, "train"};
    for (const std::string& a : FollowArgs(
             log, {"--checkpoint-dir", ckpt.string(), "--set",
                   "checkpoint.every_examples=5000", "--window-log",
                   windows.string(), "--set", "train.window_examples=1000"})) {
      argv.push_back(a);
    }
    ChildProcess c;
    c.Start(argv, Path("train.out"), Path("train.err"));
    auto lines = [&] {
      const std::string w = ReadFile(windows);
      return std::count(w.begin(), w.end(), '\n');
    };
    ASSERT_TRUE(WaitUntil([&] { return lines() >= 2 || c.Exited(); }, 60))
        << c.err();
    pool.Append(log, 7000);
    ASSERT_TRUE(WaitUntil([&] { return lines() >= 10 || c.Exited(); }, 60))
        << c.err();
    pool.Append(log, 333);  // a stop in the middle of the stream, maybe
    ASSERT_FALSE(c.Exited()) << c.err();
    EXPECT_EQ(c.Terminate(30), 0) << c.err();
    const std::string out = c.out();
    int64_t n = -1;
    const size_t at = out.find("trained lr on ");
    ASSERT_NE(at, std::string::npos) << out;
    n = std::stoll(out.substr(at + 14));
    EXPECT_GE(n, 10000);
    EXPECT_LE(n, 15333);
    const std::vector<uint64_t> ids = PublishedIds(ckpt);
    ASSERT_FALSE(ids.empty());
    const fs::path newest = ckpt / CkptName(ids.back());
    EXPECT_THAT(out, HasSubstr("checkpoint   " + CkptName(ids.back())));
    EXPECT_EQ(Manifest(newest)["examples"].get<int64_t>(), n);
    Finished v =
        RunFreshet({"ckpt", "verify", newest.string()}, dir_, "verify_train");
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
  {
    SCOPED_TRACE("run");
    const fs::path log = Path("run.tsv"), ckpt = Path("ckpt_run");
    pool.Append(log, 8000);
    RunProcess run;
    ASSERT_NO_FATAL_FAILURE(
        run.Start(dir_, "run",
                  FollowArgs(log, {"--checkpoint-dir", ckpt.string(), "--set",
                                   "checkpoint.every=200ms"})));
    // The time trigger cuts the idle stream at its end: a checkpoint of
    // every record appended means they were all trained on.
    ASSERT_TRUE(
        WaitUntil([&] { return NewestExamples(ckpt) == 8000; }, 60, 0.05))
        << run.child().err();
    pool.Append(log, 8000);
    ASSERT_TRUE(
        WaitUntil([&] { return NewestExamples(ckpt) == 16000; }, 60, 0.05))
        << run.child().err();
    // /metrics counts them too: progress is published every 250 ms and,
    // when the followed stream goes idle, at once (Trainer::Run), so the
    // count does not stay behind while no batch comes.
    EXPECT_TRUE(run.WaitMetricAtLeast("freshet_train_examples_total", 16000, 3))
        << "freshet_train_examples_total "
        << run.MetricValue("freshet_train_examples_total")
        << " after 16000 examples were trained and checkpointed";
    pool.Append(log, 5000);  // a stop in the middle of them, maybe
    EXPECT_EQ(run.child().Terminate(30), 0) << run.child().err();
    const int64_t n = NumberAfter(run.child().out(), "trained      ");
    EXPECT_GE(n, 16000) << run.child().out();
    EXPECT_LE(n, 21000);
    EXPECT_THAT(run.child().err(), HasSubstr("final checkpoint ckpt-"));
    const std::vector<uint64_t> ids = PublishedIds(ckpt);
    ASSERT_FALSE(ids.empty());
    const fs::path newest = ckpt / CkptName(ids.back());
    EXPECT_EQ(Manifest(newest)["examples"].get<int64_t>(), n);
    Finished v =
        RunFreshet({"ckpt", "verify", newest.string()}, dir_, "verify_run");
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
}

// POST /admin/checkpoint (through `freshet ckpt now`) writes a checkpoint
// only with the right token, and is refused with 409 by a run without a
// checkpoint folder.
TEST_F(CheckpointFaultTest, AdminCheckpointNeedsTheToken) {
  RowPool pool;
  pool.Load(Pool());
  ASSERT_EQ(pool.size(), 60000u);
  const fs::path log = Path("log.tsv"), ckpt = Path("ckpt");
  pool.Append(log, 6400);
  {
    RunProcess run;
    ASSERT_NO_FATAL_FAILURE(
        run.Start(dir_, "run",
                  FollowArgs(log, {"--checkpoint-dir", ckpt.string(), "--set",
                                   "checkpoint.every_examples=6400"}),
                  {"FRESHET_ADMIN_TOKEN=t1"}));
    // One checkpoint at 6400 examples, the end of the log; the stream is
    // idle, so no other one is due.
    ASSERT_TRUE(run.WaitCheckpointedAt(ckpt, 6400, 60)) << run.child().err();
    const std::vector<uint64_t> first = PublishedIds(ckpt);
    ASSERT_EQ(first.size(), 1u);
    const std::string addr = "127.0.0.1:" + std::to_string(run.port());

    Finished now = RunFreshet({"ckpt", "now", "--addr", addr, "--token", "t1"},
                              dir_, "now1", 60);
    ASSERT_EQ(now.exit_code, 0) << now.out << now.err;
    const json reply = json::parse(now.out);
    const std::vector<uint64_t> ids = PublishedIds(ckpt);
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_EQ(reply["checkpoint_id"].get<uint64_t>(), ids[1]);
    EXPECT_GT(ids[1], first[0]);
    EXPECT_EQ(reply["kind"], "incremental");
    EXPECT_EQ(reply["examples"].get<int64_t>(), 6400);
    EXPECT_EQ(fs::path(reply["path"].get<std::string>()),
              ckpt / CkptName(ids[1]));
    Finished v = RunFreshet({"ckpt", "verify", ckpt.string()}, dir_, "verify");
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr("restore would use " + CkptName(ids[1])));

    // A wrong token, an empty one, none: refused, nothing written.
    now = RunFreshet({"ckpt", "now", "--addr", addr, "--token", "t2"}, dir_,
                     "now2", 60);
    EXPECT_EQ(now.exit_code, 1) << now.out << now.err;
    EXPECT_THAT(now.err, HasSubstr("401"));
    now = RunFreshet({"ckpt", "now", "--addr", addr, "--token", ""}, dir_,
                     "now3", 60);
    EXPECT_NE(now.exit_code, 0) << now.out << now.err;
    httplib::Client client("127.0.0.1", run.port());
    client.set_read_timeout(30);
    auto res = client.Post("/admin/checkpoint", "", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    res = client.Post("/admin/checkpoint", {{"Authorization", "Bearer t1x"}},
                      "", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    SleepS(0.5);
    EXPECT_EQ(PublishedIds(ckpt), ids);
    EXPECT_EQ(run.MetricValue("freshet_checkpoints_written_total"), 2);
    EXPECT_EQ(run.child().Terminate(30), 0) << run.child().err();
    // The final checkpoint on exit: the newest already holds these
    // examples, so none is added.
    EXPECT_EQ(PublishedIds(ckpt), ids);
  }
  {
    RunProcess run;
    ASSERT_NO_FATAL_FAILURE(
        run.Start(dir_, "nockpt", FollowArgs(log), {"FRESHET_ADMIN_TOKEN=t1"}));
    httplib::Client client("127.0.0.1", run.port());
    client.set_read_timeout(30);
    httplib::Headers headers = {{"Authorization", "Bearer t1"}};
    auto res =
        client.Post("/admin/checkpoint", headers, "", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 409) << res->body;
    EXPECT_THAT(res->body, HasSubstr("checkpoint-dir"));
    Finished now =
        RunFreshet({"ckpt", "now", "--addr",
                    "127.0.0.1:" + std::to_string(run.port()), "--token", "t1"},
                   dir_, "now5", 60);
    EXPECT_EQ(now.exit_code, 1) << now.out << now.err;
    EXPECT_THAT(now.err, HasSubstr("409"));
    EXPECT_EQ(run.child().Terminate(30), 0) << run.child().err();
  }
}

// `freshet run` stopped with SIGTERM and started again on the same data
// resumes from its final checkpoint and serves that model from its first
// request: the same scores as the first run served at its end.
TEST_F(CheckpointFaultTest, RunResumesFromItsCheckpoints) {
  RowPool pool;
  pool.Load(Pool());
  ASSERT_EQ(pool.size(), 60000u);
  const fs::path log = Path("log.tsv"), ckpt = Path("ckpt");
  pool.Append(log, 12800);
  const std::vector<std::string> args =
      FollowArgs(log, {"--checkpoint-dir", ckpt.string(), "--set",
                       "checkpoint.every=200ms", "--sync-interval-ms", "100"});
  const std::string request =
      R"({"context": {"I1": 3, "I2": 1, "I5": 1000},
          "candidates": [{"C1": ")" +
      pool.Field(0, 14) + R"("}, {"C1": ")" + pool.Field(1, 14) +
      R"(", "C2": ")" + pool.Field(1, 15) + R"("}, {"C3": "zzz"}]})";
  auto predict = [&](RunProcess& run) {
    httplib::Client client("127.0.0.1", run.port());
    client.set_read_timeout(10);
    auto res = client.Post("/v1/predict", request, "application/json");
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  };
  auto expect_same_scores = [](const json& a, const json& b) {
    ASSERT_EQ(a["scores"].size(), b["scores"].size());
    for (size_t i = 0; i < a["scores"].size(); ++i) {
      EXPECT_NEAR(a["scores"][i].get<double>(), b["scores"][i].get<double>(),
                  1e-6)
          << i;
    }
  };

  json before;
  {
    RunProcess run;
    ASSERT_NO_FATAL_FAILURE(run.Start(dir_, "run1", args));
    // The time trigger cuts the idle stream at its end.
    ASSERT_TRUE(
        WaitUntil([&] { return NewestExamples(ckpt) == 12800; }, 60, 0.05))
        << run.child().err();
    ASSERT_TRUE(run.WaitQuiet(30));
    before = predict(run);  // synced long since (every 100 ms)
    ASSERT_TRUE(before.contains("scores")) << before.dump();
    EXPECT_EQ(run.child().Terminate(30), 0) << run.child().err();
    EXPECT_THAT(run.child().err(), Not(HasSubstr("resumed from")));
  }
  const std::vector<uint64_t> ids = PublishedIds(ckpt);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(NewestExamples(ckpt), 12800);

  {
    // A model that has not been trained scores the request otherwise.
    const fs::path empty = Path("empty.tsv");
    { std::ofstream touch(empty); }
    RunProcess fresh;
    ASSERT_NO_FATAL_FAILURE(fresh.Start(dir_, "fresh", FollowArgs(empty)));
    const json untrained = predict(fresh);
    ASSERT_TRUE(untrained.contains("scores")) << untrained.dump();
    double diff = 0;
    for (size_t i = 0; i < before["scores"].size(); ++i) {
      diff = std::max(diff, std::abs(untrained["scores"][i].get<double>() -
                                     before["scores"][i].get<double>()));
    }
    EXPECT_GT(diff, 1e-3) << untrained.dump() << " vs " << before.dump();
    EXPECT_EQ(fresh.child().Terminate(30), 0) << fresh.child().err();
  }

  RunProcess run;
  ASSERT_NO_FATAL_FAILURE(run.Start(dir_, "run2", args));
  const json after = predict(run);  // the first request
  ASSERT_TRUE(after.contains("scores")) << after.dump();
  EXPECT_GE(after["model_version"].get<int64_t>(), 1);
  EXPECT_THAT(run.child().err(),
              HasSubstr("resumed from " + CkptName(ids.back()) + " ("));
  EXPECT_THAT(run.child().err(), HasSubstr("at 12800 examples"));
  expect_same_scores(after, before);

  // It goes on training from there: the next checkpoint counts on.
  pool.Append(log, 640);
  EXPECT_TRUE(
      WaitUntil([&] { return NewestExamples(ckpt) == 13440; }, 60, 0.05))
      << run.child().err();
  EXPECT_EQ(run.child().Terminate(30), 0) << run.child().err();
  EXPECT_EQ(NumberAfter(run.child().out(), "trained      "), 13440)
      << run.child().out();
}

}  // namespace
}  // namespace freshet
