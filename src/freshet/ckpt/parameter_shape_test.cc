#include "freshet/ckpt/parameter_shape.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

ParameterShape TwoTables() {
  ParameterShape s;
  s.tables = {{"C1", 8, 1}, {"C2", 4, 1}};
  s.dense_params = 100;
  s.dense_state = 200;
  return s;
}

absl::Status Check(const ParameterShape& checkpoint,
                   const ParameterShape& model) {
  return CheckParameterShape(checkpoint, model, "ckpt-1", "the model");
}

TEST(ParameterShapeTest, EqualShapesFitInAnyTableOrder) {
  ParameterShape reordered = TwoTables();
  std::swap(reordered.tables[0], reordered.tables[1]);
  EXPECT_TRUE(Check(reordered, TwoTables()).ok());
}

TEST(ParameterShapeTest, NamesTheFirstDifference) {
  ParameterShape ckpt = TwoTables();
  ckpt.tables[0].dim = 16;
  absl::Status st = Check(ckpt, TwoTables());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "ckpt-1: table \"C1\" has dim 16 and 1 state floats, the model "
            "has 8 and 1");

  ckpt = TwoTables();
  ckpt.tables[1].state_floats = 2;
  EXPECT_THAT(Check(ckpt, TwoTables()).message(),
              HasSubstr("table \"C2\" has dim 4 and 2 state floats"));

  ckpt = TwoTables();
  ckpt.tables.pop_back();
  EXPECT_EQ(Check(ckpt, TwoTables()).message(),
            "ckpt-1 has no table \"C2\", which the model needs");

  ckpt = TwoTables();
  ckpt.tables.push_back({"C3", 4, 1});
  EXPECT_EQ(Check(ckpt, TwoTables()).message(),
            "ckpt-1: table \"C3\" is not in the model");

  ckpt = TwoTables();
  ckpt.tables.push_back({"C1", 8, 1});
  EXPECT_EQ(Check(ckpt, TwoTables()).message(),
            "ckpt-1: table \"C1\" appears twice");

  ckpt = TwoTables();
  ckpt.dense_state = 199;
  EXPECT_EQ(Check(ckpt, TwoTables()).message(),
            "ckpt-1: dense part of 100 parameters and 199 optimizer floats, "
            "the model has 100 and 200");
}

TEST(ParameterShapeTest, UnknownOptimizerStateIsNotCompared) {
  // A serving replica holds weights only.
  ParameterShape replica = TwoTables();
  for (TableShape& t : replica.tables) t.state_floats = TableShape::kUnknown;
  replica.dense_state = ParameterShape::kUnknown;
  ParameterShape ckpt = TwoTables();
  ckpt.tables[0].state_floats = 3;
  ckpt.dense_state = 7;
  EXPECT_TRUE(Check(ckpt, replica).ok());

  ckpt.tables[0].dim = 16;
  EXPECT_EQ(Check(ckpt, replica).message(),
            "ckpt-1: table \"C1\" has dim 16, the model has 8");
  ckpt = TwoTables();
  ckpt.dense_params = 99;
  EXPECT_EQ(Check(ckpt, replica).message(),
            "ckpt-1: dense part of 99 parameters, the model has 100");
}

}  // namespace
}  // namespace freshet
