// BoundedQueue: a blocking FIFO of fixed capacity connecting pipeline stages.
//
// Push blocks while the queue is full and Pop while it is empty, so a slow
// stage throttles the ones before it instead of letting memory grow. Close()
// wakes every waiter: Push then fails and Pop drains what is left, then fails.
// Thread-safe for any number of producers and consumers.
//
// Built on freshet::Mutex (std::mutex) rather than absl::Mutex, so that
// ThreadSanitizer, which this system's absl is not built for, sees its
// synchronisation.
#ifndef FRESHET_BASE_BOUNDED_QUEUE_H_
#define FRESHET_BASE_BOUNDED_QUEUE_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "freshet/base/mutex.h"

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
    MutexLock lock(&mu_);
    can_push_.Wait([this]()
                       ABSL_NO_THREAD_SAFETY_ANALYSIS { return CanPush(); });
    if (closed_) return false;
    items_.push_back(std::move(item));
    can_pop_.Signal();
    return true;
  }
  bool Push(T&& item) { return Push(item); }

  // Removes the oldest item, waiting for one. Returns nullopt once the queue is
  // closed and empty.
  std::optional<T> Pop() {
    MutexLock lock(&mu_);
    can_pop_.Wait([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return CanPop(); });
    return TakeFront();
  }

  // Pop() waiting at most `timeout`; nullopt with *timed_out set when no
  // item came in time.
  std::optional<T> PopFor(absl::Duration timeout, bool* timed_out) {
    MutexLock lock(&mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    *timed_out = !can_pop_.WaitUntil(
        deadline, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return CanPop(); });
    if (items_.empty()) return std::nullopt;
    *timed_out = false;
    return TakeFront();
  }

  // Wakes all waiters; later Pushes fail, Pops drain then fail.
  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
    can_push_.SignalAll();
    can_pop_.SignalAll();
  }

  size_t size() const {
    MutexLock lock(&mu_);
    return items_.size();
  }

 private:
  bool CanPush() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || items_.size() < capacity_;
  }
  bool CanPop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !items_.empty();
  }
  // Removes the oldest item, if any, and wakes a producer.
  std::optional<T> TakeFront() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    can_push_.Signal();
    return item;
  }

  const size_t capacity_;
  mutable Mutex mu_;
  CondVar can_push_{&mu_};  // signalled when an item leaves or on Close()
  CondVar can_pop_{&mu_};   // signalled when an item arrives or on Close()
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace freshet

#endif  // FRESHET_BASE_BOUNDED_QUEUE_H_
