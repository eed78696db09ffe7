// Training/serving skew: for the same records, the score /v1/predict gives
// (a JSON request through ParsePredictRequest and the Predictor, over a
// ServingReplica synced from the trained model) equals the training forward
// pass (the record parser, BatchEmbedder::Embed(kServe) and Model::Forward
// on the trained model).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "freshet/base/config.h"
#include "freshet/base/hash.h"
#include "freshet/data/data_test_util.h"
#include "freshet/data/generator.h"
#include "freshet/data/make_source.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"
#include "freshet/serve/predictor.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/sync/sync_publisher.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ServingSkewTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  testing_util::TempDir temp_;
  const fs::path dir_{temp_.path()};
};

// Trains `job` in process, publishes every row to a ServingReplica, and
// returns, per record of `records` (lines of the job's source format), the
// training score: sigmoid(forward pass + the serving logit offset).
struct Trained {
  std::shared_ptr<const Schema> schema;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<ServingReplica> replica;
  std::vector<float> training_scores;
};

void Train(const JobConfig& job, std::string_view header_line,
           const std::vector<std::string>& records, Trained* t) {
  auto schema = Schema::Compile(job.schema, job.dir);
  ASSERT_TRUE(schema.ok()) << schema.status();
  t->schema = *schema;
  TrainerOptions topt;
  topt.deterministic = true;
  auto trainer = Trainer::Create(job, topt);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  t->trainer = std::move(*trainer);
  const absl::Status run = t->trainer->Run();
  ASSERT_TRUE(run.ok()) << run;
  LocalStore& model = t->trainer->model();

  auto replica = ServingReplica::Create(job, t->schema);
  ASSERT_TRUE(replica.ok()) << replica.status();
  t->replica = std::move(*replica);
  ReplicaSink sink(t->replica.get());
  SyncPublisher publisher(&model, &sink, SyncPublisherOptions());
  ASSERT_TRUE(publisher.PublishNow().ok());

  auto parser = MakeRecordParser(t->schema, job.source, header_line);
  ASSERT_TRUE(parser.ok()) << parser.status();
  std::vector<Example> examples(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_TRUE((*parser)->Parse(records[i], &examples[i]).ok()) << records[i];
  }
  BatchEmbedder embedder(&model);
  ASSERT_TRUE(
      embedder.Embed(examples, LookupMode::kServe, EmbeddingTable::kNoEventTime)
          .ok());
  std::vector<float> logits(examples.size());
  ModelWorkspace ws;
  model.dense().Forward(embedder.input(), &ws, logits.data());
  const double offset = model.dense().serving_logit_offset();
  for (float logit : logits) {
    const double z = static_cast<double>(logit) + offset;
    t->training_scores.push_back(
        static_cast<float>(1.0 / (1.0 + std::exp(-z))));
  }
}

// The served score of each candidate of `request`.
std::vector<float> Serve(const Trained& t, const json& request) {
  auto req = ParsePredictRequest(request.dump(), *t.schema, 1000);
  EXPECT_TRUE(req.ok()) << req.status();
  if (!req.ok()) return {};
  Predictor predictor(t.replica.get(), {});
  PredictResult result;
  EXPECT_TRUE(predictor.Predict(*req, &result).ok());
  return result.scores;
}

// MovieLens-shaped ratings with the movie's genres joined from a side table:
// the served score of a request naming the user and the movie equals the
// training score of the rating, genres included. (Before the request parser
// went through the FeatureEncoder, serving left `genres` empty.)
TEST_F(ServingSkewTest, SideTableSlotIsJoinedInServingAsInTraining) {
  Write("movies.csv",
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children\n"
        "2,\"American President, The (1995)\",Comedy|Drama|Romance\n"
        "3,Heat (1995),Action|Crime|Thriller\n"
        "4,Sabrina (1995),Comedy|Romance\n");
  std::string ratings = "userId,movieId,rating,timestamp\n";
  std::vector<std::string> records;
  for (int i = 0; i < 400; ++i) {
    // Movie 5 is not in movies.csv: a miss, no genres in either path.
    const int user = 1 + (i * 7) % 13, movie = 1 + (i * 3) % 5;
    const double rating = (user + movie * (movie % 2 ? 2 : 1)) % 5 + 0.5;
    records.push_back(
        absl::StrCat(user, ",", movie, ",", rating, ",", 1000000 + i * 60));
    ratings += records.back() + "\n";
  }
  const std::string data = Write("ratings.csv", ratings);
  const std::string yaml = absl::StrCat(R"(
schema:
  label: {name: liked, column: rating, threshold: 4}
  timestamp: {column: timestamp, unit: s}
  slots:
    - {name: user, column: userId}
    - {name: movie, column: movieId}
    - {name: genres, column: movies.genres, multi_valued: true, separator: "|", pooling: mean}
  side_tables:
    - {name: movies, path: movies.csv, key: movieId}
table_defaults:
  dim: 8
  initializer: {type: normal, stddev: 0.05}
model: {type: deepfm, hidden: [16]}
source: {type: file, path: )",
                                        data, R"(, format: csv, header: true}
train: {batch_size: 8}
)");
  auto job = ParseJobConfig(yaml, "movielens_side.yaml", dir_.string());
  ASSERT_TRUE(job.ok()) << job.status();
  // The last rows of the stream, movies 1..5 each.
  std::vector<std::string> probe(records.end() - 10, records.end());
  Trained t;
  ASSERT_NO_FATAL_FAILURE(
      Train(*job, "userId,movieId,rating,timestamp", probe, &t));

  json by_slot = {{"candidates", json::array()}};
  json by_column = {{"candidates", json::array()}};
  for (const std::string& r : probe) {
    std::vector<std::string> v = absl::StrSplit(r, ',');
    by_slot["candidates"].push_back({{"user", v[0]}, {"movie", v[1]}});
    by_column["candidates"].push_back({{"userId", v[0]},
                                       {"movieId", v[1]},
                                       {"rating", v[2]},
                                       {"timestamp", v[3]}});
  }
  const std::vector<float> a = Serve(t, by_slot);
  ASSERT_EQ(a.size(), probe.size());
  for (size_t i = 0; i < probe.size(); ++i) {
    EXPECT_EQ(a[i], t.training_scores[i]) << "by slot: " << probe[i];
  }
  const std::vector<float> b = Serve(t, by_column);
  ASSERT_EQ(b.size(), probe.size());
  for (size_t i = 0; i < probe.size(); ++i) {
    EXPECT_EQ(b[i], t.training_scores[i]) << "by column: " << probe[i];
  }

  // The user in the context, the movies as candidates: the same scores.
  std::vector<std::string> first = absl::StrSplit(probe[0], ',');
  json split = {{"context", {{"user", first[0]}}},
                {"candidates", json::array()}};
  for (const std::string& r : probe) {
    std::vector<std::string> v = absl::StrSplit(r, ',');
    if (v[0] == first[0]) split["candidates"].push_back({{"movieId", v[1]}});
  }
  const std::vector<float> c = Serve(t, split);
  size_t k = 0;
  for (size_t i = 0; i < probe.size(); ++i) {
    std::vector<std::string> v = absl::StrSplit(probe[i], ',');
    if (v[0] != first[0]) continue;
    ASSERT_LT(k, c.size());
    EXPECT_EQ(c[k++], t.training_scores[i]) << probe[i];
  }
}

// The records of `job`'s stream (its first `n`, after a header line, which
// goes to `header`).
std::vector<std::string> StreamRecords(const JobConfig& job, size_t n,
                                       std::string* header) {
  std::vector<std::string> out;
  auto source = MakeSource(job.source);
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return out;
  if (job.source.type == "generator" && FormatHasHeader(job.source)) {
    *header = *GeneratorHeader(job.source.generator_kind);
  }
  const bool header_in_stream =
      FormatHasHeader(job.source) && job.source.type != "generator";
  RecordBatch batch;
  bool first = true;
  while (out.size() < n) {
    EXPECT_TRUE((*source)->Poll(256, 0, &batch).ok());
    if (batch.records.empty()) break;
    for (const RecordBatch::Record& r : batch.records) {
      if (first && header_in_stream) {
        *header = std::string(r.data);
      } else if (out.size() < n) {
        out.emplace_back(r.data);
      }
      first = false;
    }
  }
  return out;
}

// A request with one candidate per record, carrying the record's raw column
// values by column name (criteo, csv and tsv records).
json RequestOf(const JobConfig& job, std::string_view header,
               const std::vector<std::string>& records) {
  const char delim = job.source.format == "csv" ? ',' : '\t';
  std::vector<std::string> columns =
      job.source.format == "criteo" ? CriteoColumns()
                                    : std::vector<std::string>(absl::StrSplit(
                                          std::string(header), delim));
  json req = {{"candidates", json::array()}};
  for (const std::string& r : records) {
    std::vector<std::string> values = absl::StrSplit(r, delim);
    EXPECT_EQ(values.size(), columns.size()) << r;
    json c = json::object();
    for (size_t i = 0; i < values.size() && i < columns.size(); ++i) {
      c[columns[i]] = values[i];
    }
    req["candidates"].push_back(c);
  }
  return req;
}

// Trains `job` (its stream's first `train_rows` records), then checks that
// for the next `probe_rows` records of the stream and for `extra` records the
// served scores equal the training scores: exactly with fp32 serving tables,
// within fp16 rounding (`tolerance`) otherwise.
void CheckServedEqualsTrained(const JobConfig& job,
                              const std::vector<std::string>& extra,
                              float tolerance) {
  std::string header;
  std::vector<std::string> probe = StreamRecords(job, 64, &header);
  ASSERT_FALSE(probe.empty());
  probe.insert(probe.end(), extra.begin(), extra.end());
  Trained t;
  ASSERT_NO_FATAL_FAILURE(Train(job, header, probe, &t));
  const std::vector<float> served = Serve(t, RequestOf(job, header, probe));
  ASSERT_EQ(served.size(), probe.size());
  for (size_t i = 0; i < probe.size(); ++i) {
    if (tolerance == 0) {
      EXPECT_EQ(served[i], t.training_scores[i]) << probe[i];
    } else {
      EXPECT_NEAR(served[i], t.training_scores[i], tolerance) << probe[i];
    }
  }
}

// A constant initializer: an id with no row (never seen, or not admitted)
// reads as the constant in training and in serving alike, fp32 and fp16.
// (Serving used to read such ids as zeros: 0.500 served against 0.731
// trained in one probe.)
TEST_F(ServingSkewTest, UnseenIdsGetTheTableDefaultInServingAsInTraining) {
  std::string csv = "user,item,clicked\n";
  for (int i = 0; i < 600; ++i) {
    const int user = i % 17, item = (i * 5) % 23;
    csv += absl::StrCat("u", user, ",i", item, ",", int{(user + item) % 3 == 0},
                        "\n");
  }
  const std::string data = Write("clicks.csv", csv);
  // Rows of ids never seen in training, and of ids seen once: with
  // min_count 3 only ids seen three times have rows.
  const std::vector<std::string> unseen = {
      "never-seen-user,i3,0", "u4,never-seen-item,1",
      "never-seen-user,never-seen-item,0", "u1,i1,1"};
  for (const std::string precision : {"fp32", "fp16"}) {
    SCOPED_TRACE(precision);
    const std::string yaml = absl::StrCat(R"(
schema:
  label: {name: clicked, column: clicked}
  slots:
    - {name: user, column: user}
    - {name: item, column: item}
table_defaults:
  dim: 4
  initializer: {type: constant, value: 0.25}
  admission: {min_count: 3}
  serving_precision: )",
                                          precision, R"(
model: {type: deepfm, hidden: [8]}
source: {type: file, path: )",
                                          data, R"(, format: csv, header: true}
train: {batch_size: 16}
)");
    auto job = ParseJobConfig(yaml, "constant.yaml", dir_.string());
    ASSERT_TRUE(job.ok()) << job.status();
    std::string header;
    std::vector<std::string> probe = StreamRecords(*job, 16, &header);
    probe.insert(probe.end(), unseen.begin(), unseen.end());
    Trained t;
    ASSERT_NO_FATAL_FAILURE(Train(*job, header, probe, &t));
    // The serving tables read a missing id as the constant.
    t.replica->Read([&](const ServingReplica::View& view) {
      for (int i = 0; i < t.replica->num_tables(); ++i) {
        float row[4];
        EXPECT_FALSE(view.table(i).Lookup(FeatureId(1, "absent"), row));
        const float want =
            absl::EndsWith(t.replica->table_name(i), "/wide") ? 0.0f : 0.25f;
        for (int k = 0; k < view.table(i).dim(); ++k) EXPECT_EQ(row[k], want);
      }
    });
    const std::vector<float> served = Serve(t, RequestOf(*job, header, probe));
    ASSERT_EQ(served.size(), probe.size());
    const float tolerance = precision == std::string("fp16") ? 2e-3f : 0.0f;
    for (size_t i = 0; i < probe.size(); ++i) {
      EXPECT_NEAR(served[i], t.training_scores[i], tolerance) << probe[i];
      if (tolerance == 0) EXPECT_EQ(served[i], t.training_scores[i]);
    }
  }
}

// The skew test of every shipped example job: for the same records, the
// served score equals the training forward pass (the examples serve fp32:
// exactly). File-sourced jobs read generated data or a small MovieLens-shaped
// file; the generator-sourced one is made small.
TEST_F(ServingSkewTest, EveryExampleJobServesWhatItTrains) {
  const std::string examples = std::string(FRESHET_SOURCE_DIR) + "/examples/";
  GeneratorOptions gen;
  gen.rows = 600;
  gen.kind = GeneratorKind::kCriteo;
  const std::string criteo = dir_ / "criteo.tsv";
  ASSERT_TRUE(GenerateToPath(gen, criteo).ok());
  gen.kind = GeneratorKind::kImpressions;
  ASSERT_TRUE(GenerateToPath(gen, dir_ / "impressions").ok());
  const std::string impressions = dir_ / "impressions" / "joined.csv";
  Write("movies.csv",
        "movieId,title,genres\n1,A,Comedy|Drama\n2,B,Action\n3,C,Drama\n");
  std::string ratings = "userId,movieId,rating,timestamp\n";
  for (int i = 0; i < 300; ++i) {
    ratings += absl::StrCat(1 + i % 11, ",", 1 + i % 4, ",", (i * 7) % 5 + 1,
                            ",", 1000 + i, "\n");
  }
  const std::string movielens = Write("ratings.csv", ratings);
  const std::vector<std::pair<std::string, std::vector<std::string>>> jobs = {
      {"criteo.yaml", {"source.path=" + criteo}},
      {"impressions.yaml", {"source.path=" + impressions}},
      {"synthetic.yaml", {"source.rows=600", "train.threads=1"}},
      {"movielens.yaml",
       {"source.path=" + movielens,
        "schema.side_tables.0.path=" + (dir_ / "movies.csv").string()}},
  };
  for (const auto& [file, overrides] : jobs) {
    SCOPED_TRACE(file);
    auto job = LoadJobConfig(examples + file, overrides);
    ASSERT_TRUE(job.ok()) << job.status();
    CheckServedEqualsTrained(*job, {}, 0.0f);
  }
}

}  // namespace
}  // namespace freshet
