#include "freshet/base/text_columns.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(AlignColumnsTest, LeftAlignedTwoSpacesApartNoTrailingSpaces) {
  EXPECT_EQ(AlignColumns({{"ID", "KIND", "STATUS"},
                          {"1", "full", "ok"},
                          {"12", "incremental", "ok"}}),
            "ID  KIND         STATUS\n"
            "1   full         ok\n"
            "12  incremental  ok\n");
}

TEST(AlignColumnsTest, ShortRowsAndNoRows) {
  EXPECT_EQ(AlignColumns({}), "");
  EXPECT_EQ(AlignColumns({{"a", "bb", "c"}, {"aaa"}, {}}),
            "a    bb  c\n"
            "aaa\n"
            "\n");
}

}  // namespace
}  // namespace freshet
