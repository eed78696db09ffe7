// End-to-end tests of the `freshet` binary: commands as a user runs them, on
// generated data and, when ../shared/data is present, on the real data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace freshet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `freshet ARGS`, killed after `timeout_s` when positive (exit code
// 124, as timeout(1) reports it).
Result RunFreshet(const std::string& args, double timeout_s = 0) {
  std::string cmd = std::string(FRESHET_BINARY) + " " + args + " 2>&1";
  if (timeout_s > 0) {
    cmd = "timeout -s KILL " + std::to_string(timeout_s) + " " + cmd;
  }
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Example(const std::string& name) {
  return std::string(FRESHET_SOURCE_DIR) + "/examples/" + name;
}

std::string SharedData(const std::string& rel) {
  return std::string(FRESHET_SHARED_DATA_DIR) + "/" + rel;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("freshet_cli_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ / name; }

  nlohmann::json TrainJson(const std::string& args) {
    std::string out = Path("metrics.json");
    fs::remove(out);
    Result r = RunFreshet("train " + args + " --metrics-json " + out);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code != 0) return {};
    return nlohmann::json::parse(ReadFile(out));
  }

  fs::path dir_;
};

TEST_F(CliTest, HelpListsTheCommands) {
  Result r = RunFreshet("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"train", "gen", "stats"}) {
    EXPECT_THAT(r.output, HasSubstr(cmd));
  }
  Result none = RunFreshet("");
  EXPECT_NE(none.exit_code, 0);
}

TEST_F(CliTest, GenIsDeterministic) {
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 2000 --seed 4 --out " +
                       Path("a.tsv"))
                .exit_code,
            0);
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 2000 --seed 4 --out " +
                       Path("b.tsv"))
                .exit_code,
            0);
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 2000 --seed 5 --out " +
                       Path("c.tsv"))
                .exit_code,
            0);
  std::string a = ReadFile(Path("a.tsv"));
  EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 2000);
  EXPECT_EQ(a, ReadFile(Path("b.tsv")));
  EXPECT_NE(a, ReadFile(Path("c.tsv")));
}

TEST_F(CliTest, StatsReportsTheStream) {
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 5000 --seed 2 --out " +
                       Path("d.tsv"))
                .exit_code,
            0);
  {
    std::ofstream out(Path("d.tsv"), std::ios::app);
    out << "garbage line\n";
  }
  Result r = RunFreshet("stats --config " + Example("synthetic.yaml") +
                        " --data " + Path("d.tsv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["records"], 5001);
  EXPECT_EQ(j["examples"], 5000);
  EXPECT_EQ(j["errors_by_kind"]["column_count"], 1);
  EXPECT_GT(j["label_rate"]["label"].get<double>(), 0.15);
  EXPECT_LT(j["label_rate"]["label"].get<double>(), 0.30);
  ASSERT_EQ(j["slots"].size(), 26u);
  EXPECT_GT(j["slots"][0]["distinct"].get<int>(), 1);
  EXPECT_TRUE(fs::exists(Path("d.tsv.dead")));

  Result text = RunFreshet("stats --config " + Example("synthetic.yaml") +
                           " --data " + Path("d.tsv"));
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.output, HasSubstr("records/s"));
  EXPECT_THAT(text.output, HasSubstr("column_count 1"));
}

TEST_F(CliTest, TrainWritesMetricsJson) {
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 20000 --seed 3 --out " +
                       Path("t.tsv"))
                .exit_code,
            0);
  nlohmann::json j = TrainJson("--config " + Example("synthetic.yaml") +
                               " --data " + Path("t.tsv"));
  for (const char* key : {"examples", "logloss", "auc", "examples_per_sec",
                          "table_rows", "table_bytes"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["examples"], 20000);
  EXPECT_GT(j["auc"].get<double>(), 0.6);
  EXPECT_GT(j["table_rows"].get<int64_t>(), 0);
}

TEST_F(CliTest, ConfigErrorsNameFileLineAndField) {
  std::string job = Path("bad.yaml");
  {
    std::ofstream out(job);
    out << "schema:\n  label: label\n  slots: [C1]\nmodel:\n  type: lr\n"
           "tables:\n  - name: C1\n    dim: -4\n";
  }
  Result r = RunFreshet("train --config " + job + " --data /dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:8: tables.0.dim: must be in "
                                  "1..4096, got -4"));
  Result over = RunFreshet("train --config " + Example("criteo.yaml") +
                           " --set model.type=gbdt");
  EXPECT_EQ(over.exit_code, 2);
  EXPECT_THAT(over.output, HasSubstr("--set model.type=gbdt"));
  Result missing = RunFreshet("train --config " + Example("criteo.yaml") +
                              " --data " + Path("missing.tsv"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.output, HasSubstr("missing.tsv"));
}

// A NaN passes a `< 0` check: `freshet run --duration-s nan` served for
// ever. Every number flag refuses nan, inf and values out of its range with
// a message that names the flag and the range, before doing any work.
TEST_F(CliTest, NumberFlagsRefuseNanInfinityAndNegatives) {
  const std::string job = " --config " + Example("synthetic.yaml");
  struct Case {
    std::string args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"run" + job + " --http-port 0 --duration-s nan",
       "--duration-s: expected a finite number >= 0, got 'nan'"},
      {"run" + job + " --http-port 0 --duration-s inf",
       "--duration-s: expected a finite number >= 0, got 'inf'"},
      {"run" + job + " --http-port 0 --duration-s -1",
       "--duration-s: expected a finite number >= 0, got '-1'"},
      {"serve" + job + " --checkpoint " + Path("none") + " --duration-s NaN",
       "--duration-s: expected a finite number >= 0, got 'NaN'"},
      {"serve" + job + " --checkpoint " + Path("none") + " --reload-every nan",
       "--reload-every: expected a finite number >= 0, got 'nan'"},
      {"ckpt now --addr 127.0.0.1:1 --token t --timeout-s nan",
       "--timeout-s: expected a finite number > 0, got 'nan'"},
      {"gen --kind impressions --rows 10 --out " + Path("g") +
           " --drift-at nan",
       "--drift-at: expected a finite number in 0..1, got 'nan'"},
      {"gen --kind criteo --rows 10 --out " + Path("g.tsv") + " --ctr inf",
       "--ctr: expected a finite number in 0.001..0.999, got 'inf'"},
      {"train" + job + " --max-examples -5",
       "--max-examples: expected a finite number >= 0, got '-5'"},
  };
  for (const Case& c : cases) {
    Result r = RunFreshet(c.args, 60);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.exit_code, 124) << c.args << ": still running after 60 s";
    EXPECT_THAT(r.output, HasSubstr(c.expected)) << c.args;
  }
  // A finite duration still stops the command.
  Result ok = RunFreshet(
      "run" + job + " --http-port 0 --set source.rows=2000 --duration-s 0.5",
      60);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

// /dev/full takes the open and fails every write with ENOSPC. A window log
// there no longer stops training (it did at the first window): its lines
// are counted in the summary and the metrics file. A metrics file there is
// no longer lost without a word (the buffered stream reported success).
TEST_F(CliTest, SideFilesThatCannotBeWrittenAreReportedNotFatal) {
  const std::string job = " --config " + Example("synthetic.yaml") +
                          " --set source.rows=3000 --set "
                          "train.window_examples=1000";
  Result windows = RunFreshet("train" + job + " --window-log /dev/full " +
                                  "--metrics-json " + Path("m.json"),
                              120);
  EXPECT_EQ(windows.exit_code, 0) << windows.output;
  EXPECT_THAT(windows.output, HasSubstr("trained deepfm on 3000 examples"));
  EXPECT_THAT(windows.output,
              HasSubstr("side writes  3 window-log lines, 0 dead letters not "
                        "written; training went on"));
  EXPECT_THAT(windows.output, HasSubstr("No space left on device"));
  nlohmann::json m = nlohmann::json::parse(ReadFile(Path("m.json")));
  EXPECT_EQ(m["examples"], 3000);
  EXPECT_EQ(m["window_log_failures"], 3);

  Result metrics = RunFreshet("train" + job + " --metrics-json /dev/full", 120);
  EXPECT_EQ(metrics.exit_code, 1) << metrics.output;
  EXPECT_THAT(metrics.output, HasSubstr("trained deepfm on 3000 examples"));
  EXPECT_THAT(metrics.output,
              HasSubstr("--metrics-json /dev/full not written: No space left "
                        "on device"));

  Result freshness = RunFreshet("run" + job +
                                    " --http-port 0 --duration-s 3 "
                                    "--freshness-json /dev/full "
                                    "--window-log /dev/full",
                                120);
  EXPECT_EQ(freshness.exit_code, 1) << freshness.output;
  EXPECT_THAT(freshness.output, HasSubstr("serving      "));
  EXPECT_THAT(freshness.output,
              HasSubstr("--freshness-json /dev/full not written"));
  // How many windows training reached in 3 s depends on the machine.
  EXPECT_THAT(freshness.output, HasSubstr("side writes  "));
}

TEST_F(CliTest, TrainFollowsAGrowingLogAndStopsOnSigterm) {
  ASSERT_EQ(RunFreshet("gen --kind criteo --rows 2000 --seed 6 --out " +
                       Path("all.tsv"))
                .exit_code,
            0);
  std::vector<std::string> lines;
  {
    std::ifstream in(Path("all.tsv"));
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 2000u);
  auto append = [&](size_t begin, size_t end) {
    std::ofstream out(Path("log.tsv"), std::ios::app);
    for (size_t i = begin; i < end; ++i) out << lines[i] << "\n";
  };
  append(0, 1000);
  const std::string metrics = Path("follow.json");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    const std::string config = Example("synthetic.yaml");
    const std::string data = Path("log.tsv");
    const std::string windows = Path("windows.jsonl");
    execl(FRESHET_BINARY, FRESHET_BINARY, "train", "--config", config.c_str(),
          "--data", data.c_str(), "--follow", "--metrics-json", metrics.c_str(),
          "--window-log", windows.c_str(), "--set", "train.window_examples=500",
          "--set", "train.batch_size=100", static_cast<char*>(nullptr));
    _exit(127);
  }
  // The window log gains a line per 500 examples trained: wait (at most
  // 30 s each) for the first half, append the second, wait for it too.
  auto wait_windows = [&](int n) {
    for (int i = 0; i < 300; ++i) {
      std::string w = ReadFile(Path("windows.jsonl"));
      if (std::count(w.begin(), w.end(), '\n') >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(wait_windows(2));
  append(1000, 2000);
  EXPECT_TRUE(wait_windows(4));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 200 && !exited; ++i) {  // at most 20 s
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "freshet train --follow did not stop on SIGTERM";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  nlohmann::json j = nlohmann::json::parse(ReadFile(metrics));
  EXPECT_EQ(j["examples"], 2000);
}

// Quality floors on the real data: one pass, progressive validation.
TEST_F(CliTest, CriteoQuality) {
  if (!fs::exists(SharedData("criteo/train.tsv"))) {
    GTEST_SKIP() << "../shared/data/criteo is absent";
  }
  nlohmann::json lr = TrainJson("--config " + Example("criteo.yaml"));
  EXPECT_EQ(lr["examples"], 7200);
  EXPECT_LE(lr["logloss"].get<double>(), 0.470);
  double best = 1.0;
  for (const char* model : {"fm", "deepfm", "dcn_v2"}) {
    nlohmann::json j = TrainJson("--config " + Example("criteo.yaml") +
                                 " --set model.type=" + model);
    best = std::min(best, j["logloss"].get<double>());
  }
  EXPECT_LE(best, 0.468);
}

TEST_F(CliTest, MovieLensQuality) {
  std::string ratings = SharedData("movielens-latest-small/ratings.csv");
  if (!fs::exists(ratings)) {
    GTEST_SKIP() << "../shared/data/movielens-latest-small is absent";
  }
  // The stream must be in time order: sort by timestamp as docs say.
  std::string sorted = Path("ratings_by_time.csv");
  std::string cmd = "(head -1 " + ratings + "; tail -n +2 " + ratings +
                    " | sort -t, -k4,4n -s) > " + sorted;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string base =
      "--config " + Example("movielens.yaml") + " --data " + sorted;
  nlohmann::json lr = TrainJson(base);
  EXPECT_EQ(lr["examples"], 100836);
  EXPECT_GE(lr["auc"].get<double>(), 0.77);
  double best = 0.0;
  for (const char* model : {"fm", "deepfm"}) {
    nlohmann::json j = TrainJson(base + " --set model.type=" + model);
    best = std::max(best, j["auc"].get<double>());
  }
  EXPECT_GE(best, 0.79);
}

}  // namespace
}  // namespace freshet
