#include "freshet/base/config_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

struct ShapeSpec {
  std::string type = "circle";
  double radius = 1;
  double side = 1;
  std::string color = "red";
};

// Two kinds of shape, each with its own key and range, and a common key.
class ConfigRegistryTest : public ::testing::Test {
 protected:
  ConfigRegistryTest() : shapes_("shape", "type", &ShapeSpec::type) {
    shapes_.SetCommon({"color"}, [](const ConfigSection& s, ShapeSpec* spec) {
      return s.Get("color", &spec->color);
    });
    EXPECT_TRUE(
        shapes_
            .Register({"circle",
                       {"radius"},
                       [](const ConfigSection& s, ShapeSpec* spec) {
                         RETURN_IF_ERROR(s.Get("radius", &spec->radius));
                         if (!(spec->radius > 0)) {
                           return s.Error(
                               "radius",
                               absl::StrCat("must be > 0, got ", spec->radius));
                         }
                         return absl::OkStatus();
                       }})
            .ok());
    EXPECT_TRUE(shapes_
                    .Register({"square",
                               {"side"},
                               [](const ConfigSection& s, ShapeSpec* spec) {
                                 return s.Get("side", &spec->side);
                               }})
                    .ok());
    EXPECT_TRUE(shapes_
                    .Register({"triangle",
                               {"side"},
                               [](const ConfigSection& s, ShapeSpec* spec) {
                                 return s.Get("side", &spec->side);
                               }})
                    .ok());
  }

  // Reads `yaml`'s `shape` key; `set` names a field path that came from an
  // override.
  absl::Status Read(const std::string& yaml, ShapeSpec* spec,
                    const std::string& set = "") {
    root_ = YAML::Load(yaml);
    if (!set.empty()) file_.overridden[set] = set + "=...";
    return shapes_.ReadSection(ConfigSection(&file_, root_["shape"], "shape"),
                               spec);
  }

  ConfigFile file_{"job.yaml", "/jobs", {}};
  YAML::Node root_;
  ConfigRegistry<ShapeSpec> shapes_;
};

TEST_F(ConfigRegistryTest, ReadsTheNamedKindAndTheCommonKeys) {
  ShapeSpec spec;
  ASSERT_TRUE(Read("shape: {type: square, side: 3, color: blue}", &spec).ok());
  EXPECT_EQ(spec.type, "square");
  EXPECT_EQ(spec.side, 3);
  EXPECT_EQ(spec.color, "blue");
  EXPECT_EQ(spec.radius, 1);  // circle's key, not read
}

TEST_F(ConfigRegistryTest, ScalarNamesTheKindAndAbsentKeepsTheDefault) {
  ShapeSpec scalar;
  ASSERT_TRUE(Read("shape: triangle", &scalar).ok());
  EXPECT_EQ(scalar.type, "triangle");
  ShapeSpec absent;
  ASSERT_TRUE(Read("other: 1", &absent).ok());
  EXPECT_EQ(absent.type, "circle");
}

TEST_F(ConfigRegistryTest, UnknownKindListsTheRegisteredNames) {
  ShapeSpec spec;
  absl::Status s = Read("x: 1\nshape:\n  type: hexagon\n", &spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "job.yaml:3: shape.type: unknown shape 'hexagon'; expected one of "
            "circle, square, triangle");
  absl::Status scalar = Read("shape: hexagon", &spec);
  EXPECT_THAT(scalar.message(), HasSubstr("job.yaml:1: shape: unknown shape"));
}

TEST_F(ConfigRegistryTest, OutOfRangeNamesFileLineAndField) {
  ShapeSpec spec;
  absl::Status s = Read("shape:\n  type: circle\n  radius: -2\n", &spec);
  EXPECT_EQ(s.message(), "job.yaml:3: shape.radius: must be > 0, got -2");
  absl::Status set =
      Read("shape:\n  radius: 0\n", &spec, /*set=*/"shape.radius");
  EXPECT_EQ(set.message(),
            "job.yaml (--set shape.radius=...): shape.radius: must be > 0, "
            "got 0");
}

TEST_F(ConfigRegistryTest, UnknownKeyIsAnErrorAndOtherKindsKeysAreNot) {
  ShapeSpec spec;
  absl::Status s = Read("shape:\n  type: square\n  sides: 4\n", &spec);
  EXPECT_EQ(s.message(),
            "job.yaml:3: shape.sides: unknown key; expected one of type, "
            "color, radius, side");
  // `radius` belongs to circle: accepted (with a warning) and ignored.
  ShapeSpec square;
  ASSERT_TRUE(Read("shape: {type: square, radius: 5}", &square).ok());
  EXPECT_EQ(square.radius, 1);
}

TEST_F(ConfigRegistryTest, NamesAreRegisteredOnce) {
  EXPECT_EQ(shapes_.Register({"circle", {}, nullptr}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(shapes_.Names(),
            (std::vector<std::string>{"circle", "square", "triangle"}));
}

TEST(ExpectedOneOfTest, ListsTwoAsAlternativesAndMoreAsAList) {
  EXPECT_EQ(ExpectedOneOf({"file", "generator"}), "file or generator");
  EXPECT_EQ(ExpectedOneOf({"a", "b", "c"}), "one of a, b, c");
}

}  // namespace
}  // namespace freshet
