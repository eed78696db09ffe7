#include "freshet/base/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace freshet {
namespace {

TEST(BoundedQueueTest, KeepsOrderAndBlocksWhenFull) {
  BoundedQueue<int> q(2);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(q.Push(i));
      pushed.fetch_add(1);
    }
    q.Close();
  });
  std::vector<int> got;
  while (auto v = q.Pop()) {
    EXPECT_LE(q.size(), 2u);
    got.push_back(*v);
  }
  producer.join();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
}

TEST(BoundedQueueTest, CloseWakesBlockedProducerAndDrains) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1));
  std::atomic<bool> result{true};
  std::thread producer([&] { result = q.Push(2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.Close();
  producer.join();
  EXPECT_FALSE(result.load());
  auto v = q.Pop();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 1);
  EXPECT_FALSE(q.Pop().has_value());
}

}  // namespace
}  // namespace freshet
