// ImpressionsGenerator: a synthetic recommendation feed whose users' interests
// drift, as an impression stream, an action stream and their join.
//
// The world: `users` users and `items` items; each item belongs to one of
// `topics` topics (item_category). Both user activity and item exposure
// follow power laws. Requests arrive at a steady rate (impressions_per_second
// of event time, 1000 by default); each request shows `slate` items (distinct,
// drawn by popularity) to one user at positions 0..slate-1.
//
// A user clicks an item with probability
//   sigmoid(-3.5 + user_bias + item_bias + affinity(user, topic, t)
//           + device effect + hour-of-day effect - 0.35 * position)
// where affinity is 3.0 on the user's first favourite topic, 2.2 on the
// second, and up to 2.0 on a "wandering" topic.
//
// Drift, in stream order:
//   - gradual: the stream is cut into 8 equal spans; across span s the
//     wandering interest fades linearly from topic g(user, s) to
//     g(user, s + 1), so interests move all the time;
//   - abrupt: at drift_fraction of the rows (default 0.5, the request that
//     contains row floor(rows * drift_fraction) onward) every user's two
//     favourite topics are redrawn. A model trained before the drift point
//     scores worse right after it (windowed AUC drops) and recovers as it
//     learns the new favourites.
//
// A click arrives after a delay of 0.5 s plus an exponential with a mean of
// 20 s (92% of clicks) or 10 minutes (8%), so about 5% of the clicks come
// later than a 5-minute join window.
//
// Files (CSV with a header line, "\n" line ends):
//   impressions.csv  request_id,user_id,item_id,item_category,position,hour,
//                    device,event_time_ms   (event_time_ms non-decreasing)
//   actions.csv      request_id,item_id,action,event_time_ms   (action is
//                    "click"; rows ordered by event_time_ms, then by
//                    impression)
//   joined.csv       the impression columns then click (0/1): what a perfect
//                    online joiner with an unbounded window would emit, in
//                    impression order.
// request_id is 16 lowercase hex digits; ids are decimal integers; hour is
// the UTC hour of event_time_ms; device is ios, android or web.
//
// Row i (impression i, in stream order) is a pure function of (seed, rows,
// options, i): each request is generated from its own seeded SplitMix64. Only
// the order of actions.csv needs more than one row (it is sorted by arrival).
//
// Thread-safe: const methods may be called from many threads at once.
#ifndef FRESHET_DATA_GENERATOR_IMPRESSIONS_H_
#define FRESHET_DATA_GENERATOR_IMPRESSIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "freshet/data/generator_random.h"

namespace freshet {

struct ImpressionsOptions {
  int64_t users = 20000;
  int64_t items = 5000;
  int topics = 16;  // at least 4
  int slate = 3;    // impressions per request, 1..16
  double impressions_per_second = 1000.0;
  double drift_fraction = 0.5;       // abrupt drift point, fraction of the rows
  int64_t start_ms = 1767592800000;  // 2026-01-05 06:00:00 UTC
};

// One impression and its outcome.
struct Impression {
  int64_t row = 0;      // index in the impression stream
  int64_t request = 0;  // request index
  uint64_t request_id = 0;
  int64_t user = 0;
  int64_t item = 0;
  int topic = 0;
  int position = 0;
  int hour = 0;
  int device = 0;  // index into {"ios", "android", "web"}
  int64_t event_time_ms = 0;
  bool click = false;
  int64_t click_time_ms = 0;  // when the click arrives; valid if click
};

class ImpressionsGenerator {
 public:
  static constexpr char kImpressionsHeader[] =
      "request_id,user_id,item_id,item_category,position,hour,device,"
      "event_time_ms";
  static constexpr char kActionsHeader[] =
      "request_id,item_id,action,event_time_ms";
  static constexpr char kJoinedHeader[] =
      "request_id,user_id,item_id,item_category,position,hour,device,"
      "event_time_ms,click";

  // REQUIRES: rows >= 0; options within the ranges documented above.
  ImpressionsGenerator(uint64_t seed, int64_t rows,
                       const ImpressionsOptions& options = {});

  int64_t rows() const { return rows_; }
  int64_t num_requests() const;
  // First row of the abrupt drift (a request boundary).
  int64_t drift_row() const { return drift_row_; }
  const ImpressionsOptions& options() const { return options_; }

  // Replaces *out with the impressions of request `request` (rows
  // request * slate .. min(rows, (request + 1) * slate) - 1).
  void MakeRequest(int64_t request, std::vector<Impression>* out) const;

  // Fills `imp` with impression `row`. REQUIRES: 0 <= row < rows().
  void MakeImpression(int64_t row, Impression* imp) const;

  // The user's affinity for each topic (size topics) at stream row `row`.
  std::vector<double> Affinity(int64_t user, int64_t row) const;

  // Line formats, without the newline.
  static void AppendImpression(const Impression& imp, std::string* out);
  static void AppendJoined(const Impression& imp, std::string* out);
  static void AppendAction(const Impression& imp, std::string* out);

 private:
  struct Interest {
    int fav1, fav2, wander_from, wander_to;
    double wander_mix;  // weight of wander_to
  };
  Interest InterestAt(int64_t user, int64_t row) const;
  double AffinityFor(const Interest& interest, int topic) const;

  uint64_t seed_;
  int64_t rows_;
  ImpressionsOptions options_;
  int64_t drift_row_;
  int64_t gap_us_;  // event time between requests
  ZipfSampler user_zipf_;
  ZipfSampler item_zipf_;
};

}  // namespace freshet

#endif  // FRESHET_DATA_GENERATOR_IMPRESSIONS_H_
