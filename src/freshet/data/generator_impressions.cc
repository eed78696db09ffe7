#include "freshet/data/generator_impressions.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace freshet {
namespace {

constexpr uint64_t kRequestSalt = 0x696d707265737373ULL;  // "impresss"
constexpr uint64_t kRequestIdSalt = 0x7265717565737469ULL;
constexpr uint64_t kFavouriteSalt = 0x666176;
constexpr uint64_t kWanderSalt = 0x77616e64;
constexpr uint64_t kUserSalt = 0x75736572;
constexpr uint64_t kItemSalt = 0x6974656d;

constexpr int kDriftSpans = 8;
constexpr double kFav1 = 3.0;
constexpr double kFav2 = 2.2;
constexpr double kWander = 2.0;
constexpr double kBaseLogit = -3.5;
constexpr double kPositionEffect = -0.35;
constexpr double kDeviceEffect[3] = {0.1, 0.0, -0.2};
constexpr const char* kDevices[3] = {"ios", "android", "web"};
constexpr double kPi = 3.14159265358979323846;

// Click delays.
constexpr double kMinDelayMs = 500.0;
constexpr double kFastShare = 0.92;
constexpr double kFastMeanMs = 20e3;
constexpr double kSlowMeanMs = 600e3;

constexpr char kHex[] = "0123456789abcdef";

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  char* end = std::to_chars(buf, buf + sizeof(buf), v).ptr;
  out->append(buf, end - buf);
}

void AppendRequestId(uint64_t id, std::string* out) {
  char buf[16];
  for (int i = 0; i < 16; ++i) buf[i] = kHex[(id >> (60 - 4 * i)) & 15];
  out->append(buf, 16);
}

}  // namespace

ImpressionsGenerator::ImpressionsGenerator(uint64_t seed, int64_t rows,
                                           const ImpressionsOptions& options)
    : seed_(seed),
      rows_(rows),
      options_(options),
      user_zipf_(static_cast<uint64_t>(std::max<int64_t>(1, options.users)),
                 1.0),
      item_zipf_(static_cast<uint64_t>(std::max<int64_t>(1, options.items)),
                 1.05) {
  const int slate = options_.slate;
  int64_t at = static_cast<int64_t>(static_cast<double>(rows_) *
                                    options_.drift_fraction);
  drift_row_ = (at / slate) * slate;
  gap_us_ = std::max<int64_t>(
      1, std::llround(slate * 1e6 / options_.impressions_per_second));
}

int64_t ImpressionsGenerator::num_requests() const {
  return (rows_ + options_.slate - 1) / options_.slate;
}

ImpressionsGenerator::Interest ImpressionsGenerator::InterestAt(
    int64_t user, int64_t row) const {
  const int k = options_.topics;
  const uint64_t phase = row >= drift_row_ ? 1 : 0;
  Interest in;
  uint64_t f = Mix64(StreamSeed(seed_, kFavouriteSalt, user) + phase);
  in.fav1 = static_cast<int>(f % k);
  in.fav2 = static_cast<int>((in.fav1 + 1 + (f >> 32) % (k - 1)) % k);
  double span = std::max(1.0, static_cast<double>(rows_) / kDriftSpans);
  double pos = static_cast<double>(row) / span;
  int s = std::min(kDriftSpans - 1, static_cast<int>(pos));
  in.wander_mix = std::min(1.0, pos - s);
  uint64_t w = StreamSeed(seed_, kWanderSalt, user);
  in.wander_from = static_cast<int>(Mix64(w + s) % k);
  in.wander_to = static_cast<int>(Mix64(w + s + 1) % k);
  return in;
}

double ImpressionsGenerator::AffinityFor(const Interest& in, int topic) const {
  double a = 0.0;
  if (topic == in.fav1) a += kFav1;
  if (topic == in.fav2) a += kFav2;
  if (topic == in.wander_from) a += kWander * (1.0 - in.wander_mix);
  if (topic == in.wander_to) a += kWander * in.wander_mix;
  return a;
}

std::vector<double> ImpressionsGenerator::Affinity(int64_t user,
                                                   int64_t row) const {
  Interest in = InterestAt(user, row);
  std::vector<double> a(options_.topics);
  for (int t = 0; t < options_.topics; ++t) a[t] = AffinityFor(in, t);
  return a;
}

void ImpressionsGenerator::MakeRequest(int64_t request,
                                       std::vector<Impression>* out) const {
  out->clear();
  const int slate = options_.slate;
  const int64_t first = request * slate;
  const int n = static_cast<int>(std::min<int64_t>(slate, rows_ - first));
  if (n <= 0) return;
  SplitMix64 rng(StreamSeed(seed_, kRequestSalt, request));
  const int64_t user = static_cast<int64_t>(user_zipf_.Sample(rng.Uniform()));
  const int64_t t_us =
      request * gap_us_ + static_cast<int64_t>(rng.Below(gap_us_));
  const int64_t time_ms = options_.start_ms + t_us / 1000;
  const int hour = static_cast<int>((time_ms / 3600000) % 24);
  const uint64_t user_hash = StreamSeed(seed_, kUserSalt, user);
  int device = static_cast<int>(user_hash % 3);
  if (rng.Uniform() >= 0.8) device = static_cast<int>(rng.Below(3));
  const double user_bias = 0.4 * HashNormal(Mix64(user_hash));
  const Interest interest = InterestAt(user, first);
  const double context = kDeviceEffect[device] +
                         0.3 * std::sin(2.0 * kPi * hour / 24.0) + kBaseLogit +
                         user_bias;
  const uint64_t request_id = StreamSeed(seed_, kRequestIdSalt, request);
  const int64_t num_items = item_zipf_.n();

  int64_t shown[16];
  for (int p = 0; p < n; ++p) {
    int64_t item = static_cast<int64_t>(item_zipf_.Sample(rng.Uniform()));
    auto seen = [&](int64_t it) {
      return std::find(shown, shown + p, it) != shown + p;
    };
    for (int attempt = 0; attempt < 8 && seen(item); ++attempt) {
      item = static_cast<int64_t>(item_zipf_.Sample(rng.Uniform()));
    }
    while (seen(item)) item = (item + 1) % num_items;
    shown[p] = item;

    const uint64_t item_hash = StreamSeed(seed_, kItemSalt, item);
    Impression imp;
    imp.row = first + p;
    imp.request = request;
    imp.request_id = request_id;
    imp.user = user;
    imp.item = item;
    imp.topic = static_cast<int>(item_hash % options_.topics);
    imp.position = p;
    imp.hour = hour;
    imp.device = device;
    imp.event_time_ms = time_ms;
    const double logit = context + 0.5 * HashNormal(Mix64(item_hash)) +
                         AffinityFor(interest, imp.topic) + kPositionEffect * p;
    imp.click = rng.Uniform() < Sigmoid(logit);
    const bool fast = rng.Uniform() < kFastShare;
    const double delay =
        kMinDelayMs + rng.Exponential(fast ? kFastMeanMs : kSlowMeanMs);
    imp.click_time_ms = imp.click ? time_ms + static_cast<int64_t>(delay) : 0;
    out->push_back(imp);
  }
}

void ImpressionsGenerator::MakeImpression(int64_t row, Impression* imp) const {
  std::vector<Impression> request;
  MakeRequest(row / options_.slate, &request);
  *imp = request[row % options_.slate];
}

void ImpressionsGenerator::AppendImpression(const Impression& imp,
                                            std::string* out) {
  AppendRequestId(imp.request_id, out);
  out->push_back(',');
  AppendInt(imp.user, out);
  out->push_back(',');
  AppendInt(imp.item, out);
  out->push_back(',');
  AppendInt(imp.topic, out);
  out->push_back(',');
  AppendInt(imp.position, out);
  out->push_back(',');
  AppendInt(imp.hour, out);
  out->push_back(',');
  out->append(kDevices[imp.device]);
  out->push_back(',');
  AppendInt(imp.event_time_ms, out);
}

void ImpressionsGenerator::AppendJoined(const Impression& imp,
                                        std::string* out) {
  AppendImpression(imp, out);
  out->append(imp.click ? ",1" : ",0");
}

void ImpressionsGenerator::AppendAction(const Impression& imp,
                                        std::string* out) {
  AppendRequestId(imp.request_id, out);
  out->push_back(',');
  AppendInt(imp.item, out);
  out->append(",click,");
  AppendInt(imp.click_time_ms, out);
}

}  // namespace freshet
