// The text-format parser shardtcp-stat relies on.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "prom_text.h"

namespace shardtcp::stat {
namespace {

TEST(PromText, SamplesLabelsCommentsAndSpecialValues) {
  const Scrape s = parse_text(
      "# HELP a_total help text\n"
      "# TYPE a_total counter\n"
      "a_total{core=\"0\",state=\"TIME-WAIT\"} 7\n"
      "a_total{core=\"1\",state=\"TIME-WAIT\",} 2 1700000000000\n"
      "\n"
      "  b 1.5e3\r\n"
      "c{v=\"q\\\"x\\\\y\\nz\"} NaN\n"
      "d +Inf\n"
      "e -Inf\n");
  ASSERT_EQ(s.samples.size(), 6u);
  EXPECT_EQ(s.sum("a_total"), 9);
  EXPECT_EQ(s.sum("a_total", {{"core", "1"}}), 2);
  EXPECT_EQ(s.get("a_total", {{"core", "0"}, {"state", "TIME-WAIT"}}), 7);
  EXPECT_FALSE(s.get("a_total", {{"core", "2"}}));
  EXPECT_EQ(s.sum("b"), 1500);
  EXPECT_EQ(s.samples[3].label("v"), "q\"x\\y\nz");
  EXPECT_TRUE(std::isnan(s.samples[3].value));
  EXPECT_TRUE(std::isinf(s.samples[4].value));
  EXPECT_LT(s.samples[5].value, 0);
  EXPECT_EQ(s.label_values("a_total", "core"), (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(s.has("d"));
  EXPECT_FALSE(s.has("zzz"));
}

TEST(PromText, MalformedLinesNameTheLine) {
  for (const char* bad : {"x{a=\"1\" 2\n", "x{a=1} 2\n", "x 1 2 3\n", "x\n", "x{a=\"1\"} abc\n",
                          "{a=\"1\"} 1\n", "x{a=\"1} 1\n"}) {
    try {
      parse_text(std::string("ok 1\n") + bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("line 2: ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace shardtcp::stat
