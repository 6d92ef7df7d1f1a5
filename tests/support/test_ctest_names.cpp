// The test-name check that guards against ctest entries which run nothing.
#include <catch2/catch.hpp>

#include "support/ctest.hpp"

TEST_CASE("ctest names: a name with a semicolon is rejected, others pass", "[support]") {
    using gdr::testing::names_ctest_would_split;
    CHECK(names_ctest_would_split({"runner: a, b and c", "judge_slice: [x] (y)"}).empty());
    const auto bad = names_ctest_would_split({"fine", "one part; another part", "also fine"});
    REQUIRE(bad.size() == 1);
    CHECK(bad.front() == "one part; another part");
}
