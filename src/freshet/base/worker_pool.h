// WorkerPool: a fixed set of threads that run one function over indices
// 0..n-1 and wait for all of them (fork-join), for splitting a batch across
// cores without creating threads per batch.
//
// Run(n, fn) calls fn(i) for every i in [0, n): index 0 on the calling
// thread, the others on the pool's threads, and returns when all are done.
// Run() is called by one thread at a time; fn must be safe to run
// concurrently for distinct indices. Built on freshet::Mutex (std::mutex),
// whose synchronisation ThreadSanitizer sees.
#ifndef FRESHET_BASE_WORKER_POOL_H_
#define FRESHET_BASE_WORKER_POOL_H_

#include <functional>
#include <thread>
#include <vector>

#include "freshet/base/mutex.h"

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
      MutexLock lock(&mu_);
      shutdown_ = true;
      work_.SignalAll();
    }
    for (auto& t : threads_) t.join();
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int width() const { return static_cast<int>(threads_.size()) + 1; }

  // REQUIRES: 1 <= n <= width().
  void Run(int n, const std::function<void(int)>& fn) {
    {
      MutexLock lock(&mu_);
      fn_ = &fn;
      active_ = n;
      pending_ = n - 1;
      ++generation_;
      work_.SignalAll();
    }
    fn(0);
    MutexLock lock(&mu_);
    done_.Wait([this]()
                   ABSL_NO_THREAD_SAFETY_ANALYSIS { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void Loop(int index) {
    uint64_t seen = 0;
    while (true) {
      const std::function<void(int)>* fn;
      {
        MutexLock lock(&mu_);
        work_.Wait([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return shutdown_ || generation_ != seen;
        });
        if (shutdown_) return;
        seen = generation_;
        if (index >= active_) continue;
        fn = fn_;
      }
      (*fn)(index);
      MutexLock lock(&mu_);
      if (--pending_ == 0) done_.Signal();
    }
  }

  Mutex mu_;
  CondVar work_{&mu_};  // a new generation, or shutdown
  CondVar done_{&mu_};  // pending_ reached 0
  std::vector<std::thread> threads_;
  const std::function<void(int)>* fn_ ABSL_GUARDED_BY(mu_) = nullptr;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace freshet

#endif  // FRESHET_BASE_WORKER_POOL_H_
