// BoundedQueue: a blocking FIFO of fixed capacity connecting pipeline stages.
//
// Push blocks while the queue is full and Pop while it is empty, so a slow
// stage throttles the ones before it instead of letting memory grow. Close()
// wakes every waiter: Push then fails and Pop drains what is left, then fails.
// Thread-safe for any number of producers and consumers.
#ifndef FRESHET_BASE_BOUNDED_QUEUE_H_
#define FRESHET_BASE_BOUNDED_QUEUE_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace freshet {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Appends `item`, waiting for room. Returns false (dropping nothing the
  // caller still needs: `item` is left untouched) once the queue is closed.
  bool Push(T& item) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::CanPush));
    if (closed_) return false;
    items_.push_back(std::move(item));
    return true;
  }
  bool Push(T&& item) { return Push(item); }

  // Removes the oldest item, waiting for one. Returns nullopt once the queue is
  // closed and empty.
  std::optional<T> Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BoundedQueue::CanPop));
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  // Pop() waiting at most `timeout`; nullopt with *timed_out set when no
  // item came in time.
  std::optional<T> PopFor(absl::Duration timeout, bool* timed_out) {
    absl::MutexLock lock(&mu_);
    *timed_out = !mu_.AwaitWithTimeout(
        absl::Condition(this, &BoundedQueue::CanPop), timeout);
    if (items_.empty()) return std::nullopt;
    *timed_out = false;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  // Wakes all waiters; later Pushes fail, Pops drain then fail.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }

 private:
  bool CanPush() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || items_.size() < capacity_;
  }
  bool CanPop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !items_.empty();
  }

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace freshet

#endif  // FRESHET_BASE_BOUNDED_QUEUE_H_
