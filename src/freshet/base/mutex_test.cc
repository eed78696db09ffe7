#include "freshet/base/mutex.h"

#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace freshet {
namespace {

TEST(MutexTest, GuardsACounterAcrossThreads) {
  Mutex mu;
  int64_t counter ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  MutexLock lock(&mu);
  EXPECT_EQ(counter, 40000);
}

TEST(MutexTest, SharedMutexAdmitsReadersTogether) {
  SharedMutex mu;
  ReaderLock a(&mu);
  bool second_reader_entered = false;
  std::thread t([&] {
    ReaderLock b(&mu);
    second_reader_entered = true;
  });
  t.join();  // would deadlock if readers excluded each other
  EXPECT_TRUE(second_reader_entered);
}

TEST(CondVarTest, WaitReturnsOnceThePredicateHolds) {
  Mutex mu;
  CondVar cv(&mu);
  bool ready = false;
  std::thread t([&] {
    MutexLock lock(&mu);
    ready = true;
    cv.SignalAll();
  });
  {
    MutexLock lock(&mu);
    cv.Wait([&] { return ready; });
    EXPECT_TRUE(ready);
  }
  t.join();
}

TEST(CondVarTest, WaitUntilTimesOutWithThePredicateFalse) {
  Mutex mu;
  CondVar cv(&mu);
  MutexLock lock(&mu);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  EXPECT_FALSE(cv.WaitUntil(deadline, [] { return false; }));
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
}

}  // namespace
}  // namespace freshet
