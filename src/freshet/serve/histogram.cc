#include "freshet/serve/histogram.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace freshet {

Histogram::Histogram(std::vector<double> bounds, size_t keep_samples)
    : bounds_(std::move(bounds)),
      keep_(keep_samples),
      counts_(bounds_.size() + 1, 0) {}

std::vector<double> Histogram::LatencyBounds() {
  return {50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
          50e-3, 0.1,    0.2,    0.5,    1,    2,    5,    10};
}

std::vector<double> Histogram::FreshnessBounds() {
  return {0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
          1,    1.25,  1.5,  2,   3,    5,   10,  30,  60};
}

void Histogram::Record(double seconds) {
  const size_t b = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
      bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[b];
  ++count_;
  sum_ += seconds;
  if (keep_ == 0) return;
  if (samples_.size() < keep_) {
    samples_.push_back(seconds);
  } else {
    samples_[next_sample_] = seconds;
    next_sample_ = (next_sample_ + 1) % keep_;
  }
}

int64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

double Histogram::sum() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sum_;
}

double Histogram::Percentile(double p) const {
  std::vector<double> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = samples_;
  }
  if (s.empty()) return 0;
  p = std::clamp(p, 0.0, 1.0);
  size_t rank = static_cast<size_t>(std::ceil(p * s.size()));
  if (rank > 0) --rank;
  std::nth_element(s.begin(), s.begin() + rank, s.end());
  return s[rank];
}

void Histogram::AppendPrometheus(const std::string& name,
                                 const std::string& help,
                                 std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StrAppendFormat(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
                        name);
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    absl::StrAppendFormat(out, "%s_bucket{le=\"%g\"} %d\n", name, bounds_[i],
                          cumulative);
  }
  absl::StrAppendFormat(out, "%s_bucket{le=\"+Inf\"} %d\n", name, count_);
  absl::StrAppendFormat(out, "%s_sum %.9g\n%s_count %d\n", name, sum_, name,
                        count_);
}

}  // namespace freshet
