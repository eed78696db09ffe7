// WorkerPool: a fixed set of threads that run one function over indices
// 0..n-1 and wait for all of them (fork-join), for splitting a batch across
// cores without creating threads per batch.
//
// Run(n, fn) calls fn(i) for every i in [0, n): index 0 on the calling
// thread, the others on the pool's threads, and returns when all are done.
// Run() is called by one thread at a time; fn must be safe to run
// concurrently for distinct indices.
#ifndef FRESHET_BASE_WORKER_POOL_H_
#define FRESHET_BASE_WORKER_POOL_H_

#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace freshet {

class WorkerPool {
 public:
  // A pool able to run `width` indices at once (width - 1 threads).
  explicit WorkerPool(int width) {
    for (int i = 1; i < width; ++i) {
      threads_.emplace_back([this, i] { Loop(i); });
    }
  }

  ~WorkerPool() {
    {
      absl::MutexLock lock(&mu_);
      shutdown_ = true;
    }
    for (auto& t : threads_) t.join();
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int width() const { return static_cast<int>(threads_.size()) + 1; }

  // REQUIRES: 1 <= n <= width().
  void Run(int n, const std::function<void(int)>& fn) {
    {
      absl::MutexLock lock(&mu_);
      fn_ = &fn;
      active_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    fn(0);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &pending_));
    fn_ = nullptr;
  }

 private:
  void Loop(int index) {
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* fn;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [&] { return shutdown_ || generation_ != seen; };
        mu_.Await(absl::Condition(&ready));
        if (shutdown_) return;
        seen = generation_;
        if (index >= active_) continue;
        fn = fn_;
      }
      (*fn)(index);
      absl::MutexLock lock(&mu_);
      --pending_;
    }
  }

  absl::Mutex mu_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* fn_ ABSL_GUARDED_BY(mu_) = nullptr;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace freshet

#endif  // FRESHET_BASE_WORKER_POOL_H_
