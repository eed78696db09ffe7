#include "freshet/base/stop_signal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>

#include "freshet/base/clock.h"

namespace freshet {
namespace {

std::atomic<int> g_calls{0};

void CountCall(void* arg) {
  g_calls.fetch_add(1);
  static_cast<std::atomic<bool>*>(arg)->store(true);
}

TEST(StopSignalTest, WaitReturnsAfterTheDuration) {
  StopSignal signals;
  int ticks = 0;
  const double start = MonotonicSeconds();
  signals.Wait(0.2, [&](double) {
    ++ticks;
    return true;
  });
  EXPECT_GE(MonotonicSeconds() - start, 0.2);
  EXPECT_GE(ticks, 1);
  EXPECT_FALSE(signals.stop_requested());
}

TEST(StopSignalTest, WaitReturnsWhenTickSaysSo) {
  StopSignal signals;
  int ticks = 0;
  signals.Wait(0, [&](double) { return ++ticks < 3; });
  EXPECT_EQ(ticks, 3);
}

TEST(StopSignalTest, SigtermStopsTheWaitAndCallsTheFunction) {
  g_calls.store(0);
  std::atomic<bool> flag{false};
  StopSignal signals(CountCall, &flag);
  int ticks = 0;
  signals.Wait(0, [&](double) {
    if (++ticks == 2) std::raise(SIGTERM);
    return true;
  });
  EXPECT_EQ(ticks, 2);
  EXPECT_TRUE(signals.stop_requested());
  EXPECT_TRUE(flag.load());
  EXPECT_EQ(g_calls.load(), 1);
}

TEST(StopSignalTest, SigintStopsTooAndANewStopSignalStartsClear) {
  {
    StopSignal signals;
    std::raise(SIGINT);
    EXPECT_TRUE(signals.stop_requested());
    int ticks = 0;
    signals.Wait(0, [&](double) { return ++ticks < 100; });
    EXPECT_EQ(ticks, 0);  // stopped before the first step
  }
  StopSignal again;
  EXPECT_FALSE(again.stop_requested());
}

TEST(StopSignalTest, TheDefaultHandlersAreBackAfterwards) {
  { StopSignal signals; }
  struct sigaction action;
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &action), 0);
  EXPECT_EQ(action.sa_handler, SIG_DFL);
  ASSERT_EQ(sigaction(SIGINT, nullptr, &action), 0);
  EXPECT_EQ(action.sa_handler, SIG_DFL);
}

}  // namespace
}  // namespace freshet
