// Checkpointer: when a training job writes checkpoints, and the writing.
//
// The trainer calls OnBatch() after each batch (and while it waits for a
// followed stream), while no update is in flight. When a checkpoint is due
// (every N examples, every T of wall time, or asked for by Request()) and no
// write is running, OnBatch() takes a cut of the model (ModelCut::Begin: the
// only pause of training, a pass over the tables' bitmaps and a copy of the
// dense part) and hands it to a writer thread, which writes it while training
// goes on and then applies retention. A checkpoint due while a write runs is
// taken at the first batch after that write.
//
// Kind: the first checkpoint of a Checkpointer is full (so a chain never
// builds on a checkpoint this process did not write or restore exactly), so
// is the first after a failed write (the failed write took the tables'
// change bits), and every full_every-th; the others are incremental.
//
// A failed write is logged (FRESHET_LOG_ERROR) and counted in Stats(), the
// half-written ckpt-<id>.tmp is removed and training goes on; the published
// checkpoints are not touched.
//
// Final() writes one last checkpoint synchronously once training has stopped
// (end of stream, SIGTERM). After Final() (or TrainingStopped()), Request()
// cuts at once on the calling thread, since no update can be in flight.
//
// Thread safety: OnBatch() from the training thread only; Request(),
// WaitFor(), Stats() from any thread; Final() and TrainingStopped() from the
// thread that ran training, after it stopped.
#ifndef FRESHET_CKPT_CHECKPOINTER_H_
#define FRESHET_CKPT_CHECKPOINTER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/store/local_store.h"

namespace freshet {

struct CheckpointerOptions {
  std::string dir;
  int64_t every_examples = 0;  // 0: off
  int64_t every_ms = 0;        // 0: off
  int full_every = 8;
  int keep_full = 2;
  int zstd_level = kDefaultZstdLevel;
  // Nice value of the writer thread, so that training keeps the cores and
  // a write takes longer instead (0: same priority as training).
  int writer_nice = 10;
  // Cap on the rate a write reads rows at (MB/s of raw rows; 0: none): a
  // write leaves training its memory bandwidth (docs/benchmarks.md).
  double max_write_mbps = 150;
  std::string model_config_hash;
  // Examples trained before this process (a resumed run): the first
  // every_examples checkpoint falls due every_examples after them.
  int64_t start_examples = 0;
  // Where checkpoints are written and retention deletes (null:
  // FileSystem::Default()).
  FileSystem* file_system = nullptr;
  // The wall clock of the `every_ms` trigger, the manifests' created_unix_ms
  // and Stats().last_unix_ms (null: SystemClock::Default()); tests move a
  // ManualClock instead of sleeping.
  const Clock* clock = nullptr;
};

// CheckpointSpec (the job's `checkpoint` section) as options.
CheckpointerOptions CheckpointerOptionsFromSpec(const CheckpointSpec& spec,
                                                std::string model_config_hash);

// A hash of a model's shape (each table's name, dim and optimizer state
// size, the dense parameter and state sizes), as 16 hex digits: the
// checkpoints of a model fit any model of the same hash.
std::string ModelShapeHash(const LocalStore& model);

struct CheckpointerStats {
  int64_t cuts = 0;     // cuts taken
  int64_t written = 0;  // checkpoints published
  int64_t full_written = 0;
  int64_t failed = 0;  // writes that failed
  uint64_t last_id = 0;
  std::string last_kind;
  int64_t last_unix_ms = 0;  // when the last one was published
  int64_t last_rows = 0;     // rows in the last one
  uint64_t last_bytes = 0;
  double last_write_s = 0;   // duration of the last successful write
  double last_stall_ms = 0;  // pause of training for the last cut
  double max_stall_ms = 0;
  std::string last_error;  // of the last failed write
  bool writing = false;
};

class Checkpointer {
 public:
  // Does not touch `dir` yet: it is created by the first write.
  // InvalidArgument for an empty dir or bad options.
  static absl::StatusOr<std::unique_ptr<Checkpointer>> Create(
      LocalStore* model, const CheckpointerOptions& options);
  ~Checkpointer();  // waits for a write in progress

  // After a batch: `examples` trained on so far and the stream position
  // after them; `sync_version` goes into the manifest.
  void OnBatch(int64_t examples, const std::string& position,
               uint64_t sync_version = 0);

  // Asks for a checkpoint at the next batch (at once after training
  // stopped). Returns a ticket for WaitFor().
  uint64_t Request();
  // Waits until the checkpoint for `ticket` is written (its manifest) or
  // failed; DeadlineExceeded after timeout_s.
  absl::StatusOr<Manifest> WaitFor(uint64_t ticket, double timeout_s);

  // Training has stopped: waits for the running write, then writes a
  // checkpoint at `position` unless the newest one is already there.
  absl::StatusOr<Manifest> Final(int64_t examples, const std::string& position,
                                 uint64_t sync_version = 0);
  // Training has stopped at `position` (Final() implies it): later
  // requests cut at once.
  void TrainingStopped(int64_t examples, const std::string& position,
                       uint64_t sync_version = 0);

  CheckpointerStats Stats() const;
  const CheckpointerOptions& options() const { return options_; }

  // Prometheus text for /metrics.
  void AppendMetrics(std::string* out) const;

 private:
  Checkpointer(LocalStore* model, const CheckpointerOptions& options);

  // Takes a cut and queues it. REQUIRES: mu_ held, no write running, no
  // update in flight.
  void CutLocked(int64_t examples, const std::string& position,
                 uint64_t sync_version);
  void WriterLoop();
  void WaitIdleLocked(std::unique_lock<std::mutex>& lock);

  LocalStore* const model_;
  const CheckpointerOptions options_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<ModelCut> pending_;  // cut waiting for the writer
  bool writing_ = false;               // pending_ taken, being written
  bool stopping_ = false;
  bool stopped_training_ = false;
  bool force_full_ = true;
  int since_full_ = 0;
  int64_t next_examples_ = 0;
  int64_t next_time_us_ = 0;        // clock_ time of the next `every_ms` cut
  int64_t last_cut_examples_ = -1;  // of the newest cut
  int64_t stopped_examples_ = 0;
  std::string stopped_position_;
  uint64_t stopped_sync_version_ = 0;
  uint64_t requested_ = 0;       // tickets handed out
  uint64_t cut_ticket_ = 0;      // tickets <= this are covered by a cut taken
  uint64_t pending_ticket_ = 0;  // ... by the cut being written
  // Outcome of each cut, by the highest ticket it covered (the last few).
  std::map<uint64_t, absl::StatusOr<Manifest>> results_;
  std::optional<Manifest> last_manifest_;  // of the newest published
  CheckpointerStats stats_;
  std::thread writer_;
};

}  // namespace freshet

#endif  // FRESHET_CKPT_CHECKPOINTER_H_
