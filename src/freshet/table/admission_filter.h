// AdmissionFilter: decides when a new id of one table stripe gets a row.
//
// Two policies, combined: an id is admitted once it has been seen
// `min_count` times, counted by a count-min sketch of 16-bit saturating
// counters (so thresholds go up to 65535), and then, if `probability` < 1,
// with that probability per sighting. With a half-life set, the counters are
// halved once per half-life of event time, so an id must be seen min_count
// times within about that time to get in; old, rare ids are forgotten.
//
// The probability draws come from a counter-based generator seeded by the
// table, so a replay of the same stream admits the same ids.
//
// Not thread-safe: the owning stripe's lock guards it. Keys reaching one
// filter all belong to its stripe, so per-stripe filters together behave as
// one sketch of the summed width.
#ifndef FRESHET_TABLE_ADMISSION_FILTER_H_
#define FRESHET_TABLE_ADMISSION_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/base/config.h"

namespace freshet {

class AdmissionFilter {
 public:
  static constexpr int kDepth = 4;

  // `width`: counters per sketch row (rounded up to a power of two in
  // [64, 65536]).
  // `seed`: table seed for the hash of the sketch and the draws.
  AdmissionFilter(const AdmissionSpec& spec, size_t width, uint64_t seed);

  // True when every sighting is admitted at once (min_count <= 1 and
  // probability >= 1): the table skips the filter.
  bool AdmitsAll() const { return admits_all_; }

  // Records one sighting of `key` (whose mixed hash is `hash`) at event time
  // `now_ms` and returns whether the id is admitted now.
  bool Admit(uint64_t hash, int64_t now_ms);

  // Estimated sightings of `hash` (the sketch's minimum counter).
  uint32_t Estimate(uint64_t hash) const;

  size_t bytes() const { return counters_.size() * sizeof(uint16_t); }

  // The filter's changing state (counters, decay clock, draw counter),
  // appended to `out`, little-endian; LoadState() reads it back from the
  // front of `*in` into a filter of the same spec and width and advances
  // `*in`. False (and the filter unchanged) when `*in` does not fit.
  void SaveState(std::string* out) const;
  bool LoadState(std::string_view* in);

 private:
  void Decay(int64_t now_ms);

  bool admits_all_;
  uint32_t min_count_;
  double probability_;
  int64_t half_life_ms_;
  uint64_t seed_;
  uint64_t draws_ = 0;
  size_t mask_ = 0;
  int64_t last_decay_ms_ = INT64_MIN;
  std::vector<uint16_t> counters_;  // kDepth rows of width
};

}  // namespace freshet

#endif  // FRESHET_TABLE_ADMISSION_FILTER_H_
