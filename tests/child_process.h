// Child processes for the end-to-end tests: the `freshet` binary (or any
// program) started with its stdout and stderr in files, waited for with
// bounded waits, and killed if still running when the test ends.
#ifndef FRESHET_TESTS_CHILD_PROCESS_H_
#define FRESHET_TESTS_CHILD_PROCESS_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace freshet {
namespace test {

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void SleepS(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// Polls `done` every `poll_s` until it holds or `timeout_s` passed.
inline bool WaitUntil(const std::function<bool()>& done, double timeout_s,
                      double poll_s = 0.02) {
  const double end = Now() + timeout_s;
  while (true) {
    if (done()) return true;
    if (Now() >= end) return false;
    SleepS(poll_s);
  }
}

// A child process with stdout and stderr in files, in its own process group
// (so that a shell and what it started can be stopped together). The
// destructor kills whatever is still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Starts argv[0] (a path, or a name looked up in PATH) with `env` applied
  // to the environment: "NAME=value" sets, "-NAME" unsets.
  void Start(const std::vector<std::string>& argv,
             const std::filesystem::path& out, const std::filesystem::path& err,
             const std::vector<std::string>& env = {}) {
    out_ = out;
    err_ = err;
    std::fflush(nullptr);  // or the child's freopen writes our buffers too
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::setpgid(0, 0);
      (void)!std::freopen(out.c_str(), "w", stdout);
      (void)!std::freopen(err.c_str(), "w", stderr);
      for (const std::string& e : env) {
        if (e[0] == '-') {
          ::unsetenv(e.c_str() + 1);
        } else {
          ::putenv(::strdup(e.c_str()));
        }
      }
      std::vector<std::string> args = argv;
      std::vector<char*> c;
      for (std::string& a : args) c.push_back(a.data());
      c.push_back(nullptr);
      ::execvp(c[0], c.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // either this or the child's call wins
  }

  // True once the process has exited (reaped here); exit_code() then holds
  // its exit code, or 128 + the signal that ended it.
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    Reaped(status);
    return true;
  }

  // Waits up to `timeout_s` for the exit; false on timeout.
  bool Wait(double timeout_s) {
    return WaitUntil([this] { return Exited(); }, timeout_s);
  }

  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // SIGKILL now; waits for the exit.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    Reaped(status);
  }

  // Sends `sig`, then returns the exit code within `timeout_s` (128 + the
  // signal if one ended it); -1 on timeout, and the process group is
  // killed then.
  int Stop(int sig, double timeout_s) {
    Signal(sig);
    if (Wait(timeout_s)) return exit_code_;
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
    Kill();
    return -1;
  }
  int Terminate(double timeout_s) { return Stop(SIGTERM, timeout_s); }

  // The port the process wrote to `port_file` (--port-file), or 0 if it
  // exited or `timeout_s` passed first.
  int WaitForPort(const std::filesystem::path& port_file, double timeout_s) {
    int port = 0;
    WaitUntil(
        [&] {
          std::ifstream in(port_file);
          return (in >> port && port > 0) || Exited();
        },
        timeout_s, 0.05);
    return port > 0 ? port : 0;
  }

  int exit_code() const { return exit_code_; }
  std::string out() const { return ReadFile(out_); }
  std::string err() const { return ReadFile(err_); }

 private:
  void Reaped(int status) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                 : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                       : -1;
  }

  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::filesystem::path out_, err_;
};

}  // namespace test
}  // namespace freshet

#endif  // FRESHET_TESTS_CHILD_PROCESS_H_
