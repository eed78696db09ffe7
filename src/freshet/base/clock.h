// Clocks. Freshet distinguishes event time (carried by each record, used for
// expiry, windows and joins so that replays are deterministic) from wall time
// (used for throughput, freshness and sync intervals).
//
// Clock is an interface so that tests can drive time by hand. Implementations
// are thread-safe.
#ifndef FRESHET_BASE_CLOCK_H_
#define FRESHET_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace freshet {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance.
  static SystemClock* Default() {
    static SystemClock clock;
    return &clock;
  }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_micros = 0) : now_(start_micros) {}
  int64_t NowMicros() const override {
    return now_.load(std::memory_order_relaxed);
  }
  void AdvanceMicros(int64_t delta) {
    now_.fetch_add(delta, std::memory_order_relaxed);
  }
  void SetMicros(int64_t t) { now_.store(t, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// Monotonic seconds for measuring durations (throughput, latency).
inline double MonotonicSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace freshet

#endif  // FRESHET_BASE_CLOCK_H_
