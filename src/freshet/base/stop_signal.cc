#include "freshet/base/stop_signal.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "freshet/base/clock.h"

namespace freshet {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<void (*)(void*)> g_on_signal{nullptr};
std::atomic<void*> g_arg{nullptr};

void OnSignal(int) {
  g_stop.store(true);
  if (void (*f)(void*) = g_on_signal.load()) f(g_arg.load());
}

}  // namespace

StopSignal::StopSignal(void (*on_signal)(void*), void* arg) {
  g_stop.store(false);
  g_arg.store(arg);
  g_on_signal.store(on_signal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

StopSignal::~StopSignal() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_on_signal.store(nullptr);
  g_arg.store(nullptr);
}

bool StopSignal::stop_requested() const { return g_stop.load(); }

void StopSignal::Wait(double duration_s,
                      const std::function<bool(double now)>& tick) const {
  const double start = MonotonicSeconds();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double now = MonotonicSeconds();
    if (duration_s > 0 && now - start >= duration_s) return;
    if (!tick(now)) return;
  }
}

}  // namespace freshet
