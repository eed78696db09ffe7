// Histogram: a Prometheus-style cumulative histogram of durations (seconds),
// plus the most recent samples for exact percentiles.
//
// Bucket bounds are fixed at construction. Record() is O(log buckets). The
// last `keep_samples` samples are kept in a ring so that Percentile() can
// report exact values over recent history (freshness p50/p99 in logs and
// benchmarks) while the buckets cover all time.
//
// Thread-safe: every method may be called from any thread.
#ifndef FRESHET_SERVE_HISTOGRAM_H_
#define FRESHET_SERVE_HISTOGRAM_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace freshet {

class Histogram {
 public:
  Histogram(std::vector<double> bounds, size_t keep_samples = 100000);

  // Bounds for latencies from 50 µs to 10 s, and for freshness from 10 ms to
  // 60 s.
  static std::vector<double> LatencyBounds();
  static std::vector<double> FreshnessBounds();

  void Record(double seconds);

  int64_t count() const;
  double sum() const;
  // Exact p-quantile (0 <= p <= 1) of the kept samples (nearest rank); 0
  // when empty.
  double Percentile(double p) const;

  // Appends the Prometheus text form (# HELP, # TYPE, _bucket, _sum,
  // _count) of metric `name`.
  void AppendPrometheus(const std::string& name, const std::string& help,
                        std::string* out) const;

 private:
  const std::vector<double> bounds_;
  const size_t keep_;
  mutable std::mutex mu_;
  std::vector<int64_t> counts_;  // bounds_.size() + 1 (+Inf)
  int64_t count_ = 0;
  double sum_ = 0;
  std::vector<double> samples_;
  size_t next_sample_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_SERVE_HISTOGRAM_H_
