#include "freshet/data/text_scan.h"

#include <cmath>
#include <random>

#include "freshet/data/schema.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Split(std::string_view line, char delim, bool quotes) {
  std::vector<std::string_view> fields;
  std::string scratch;
  EXPECT_TRUE(SplitFields(line, delim, quotes, &fields, &scratch));
  return std::vector<std::string>(fields.begin(), fields.end());
}

TEST(SplitFieldsTest, MatchesANaiveSplitOnRandomLines) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string line;
    const int len = rng() % 80;
    for (int i = 0; i < len; ++i) line += "ab\t,"[rng() % 4];
    std::vector<std::string> expected;
    size_t start = 0;
    while (true) {
      const size_t d = line.find('\t', start);
      expected.push_back(line.substr(start, d - start));
      if (d == std::string::npos) break;
      start = d + 1;
    }
    ASSERT_EQ(Split(line, '\t', false), expected) << line;
  }
}

TEST(SplitFieldsTest, Quotes) {
  EXPECT_THAT(Split("a,\"b,c\",\"\"\"q\"\"\",", ',', true),
              ElementsAre("a", "b,c", "\"q\"", ""));
  EXPECT_THAT(Split("\"\"", ',', true), ElementsAre(""));
  EXPECT_THAT(Split("x\"y,z", ',', true), ElementsAre("x\"y", "z"));
  std::vector<std::string_view> fields;
  std::string scratch;
  EXPECT_FALSE(SplitFields("\"open,x", ',', true, &fields, &scratch));
  EXPECT_FALSE(SplitFields("\"a\"b,x", ',', true, &fields, &scratch));
}

TEST(ParseDoubleTest, AcceptsNumbersAndRejectsTheRest) {
  double v;
  ASSERT_TRUE(ParseDouble("42", &v));
  EXPECT_EQ(v, 42.0);
  ASSERT_TRUE(ParseDouble("-7", &v));
  EXPECT_EQ(v, -7.0);
  ASSERT_TRUE(ParseDouble("+3", &v));
  EXPECT_EQ(v, 3.0);
  ASSERT_TRUE(ParseDouble(" 2.5 ", &v));
  EXPECT_EQ(v, 2.5);
  ASSERT_TRUE(ParseDouble("1e-3", &v));
  EXPECT_DOUBLE_EQ(v, 0.001);
  ASSERT_TRUE(ParseDouble("12345678901234567890", &v));
  EXPECT_DOUBLE_EQ(v, 12345678901234567890.0);
  for (const char* bad : {"", " ", "-", "+", "1x", "x1", "nan", "inf", "1e999",
                          "--1", "+-1", "+-1.5", "-+1", "1 2"}) {
    EXPECT_FALSE(ParseDouble(bad, &v)) << bad;
  }
  float f;
  EXPECT_FALSE(ParseFloat("1e60", &f));
}

TEST(Utf8Test, ValidatesSequences) {
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough for the fast path"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abcdefgh\x80"));      // lone continuation
}

TEST(Log1pTest, TableMatchesLog1p) {
  for (float x :
       {0.0f, 1.0f, 2.0f, 17.0f, 4095.0f, 4096.0f, 1e6f, 0.5f, 3.25f}) {
    EXPECT_EQ(Schema::Log1pClamped(x), std::log1p(x)) << x;
  }
  EXPECT_EQ(Schema::Log1pClamped(-3.0f), 0.0f);
  EXPECT_EQ(Schema::Log1pClamped(std::nanf("")), 0.0f);
}

}  // namespace
}  // namespace freshet
