// StopSignal: while one lives, SIGINT (Ctrl-C) and SIGTERM ask the process
// to stop instead of killing it, so that a command can finish cleanly: write
// its final checkpoint, print its summary. The handler only stores an atomic
// flag and calls the function given to the constructor, which must itself be
// async-signal-safe (store an atomic, nothing more).
//
// Wait() is the loop of a command that serves until it is told to stop:
// `freshet run` and `freshet serve`.
//
// Thread safety: one StopSignal at a time per process, created and destroyed
// on one thread; stop_requested() from any thread.
#ifndef FRESHET_BASE_STOP_SIGNAL_H_
#define FRESHET_BASE_STOP_SIGNAL_H_

#include <functional>

namespace freshet {

class StopSignal {
 public:
  // Clears the flag and installs the handlers; a signal then also calls
  // `on_signal(arg)` when `on_signal` is not null.
  explicit StopSignal(void (*on_signal)(void*) = nullptr, void* arg = nullptr);
  // Restores the default handlers (a signal kills the process again).
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // True once SIGINT or SIGTERM arrived.
  bool stop_requested() const;

  // Sleeps in steps of 50 ms until a signal arrives, `duration_s` seconds
  // have passed since the call (0: no limit) or `tick` returns false. After
  // each step that stops for none of the first two, calls `tick` with the
  // time (MonotonicSeconds()).
  void Wait(double duration_s,
            const std::function<bool(double now)>& tick) const;
};

}  // namespace freshet

#endif  // FRESHET_BASE_STOP_SIGNAL_H_
