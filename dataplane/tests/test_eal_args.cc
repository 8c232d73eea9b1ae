// EAL argv planning: hugepage fallback, --in-memory vs --no-huge, vdev fixes.
#include "eal_args.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace shardtcp::dataplane {
namespace {

bool has(const EalPlan& p, const std::string& a) {
  return std::find(p.args.begin(), p.args.end(), a) != p.args.end();
}

config::Config base() {
  config::Config c;
  c.eal.vdevs = {"net_af_packet0,iface=stcp-dp0"};
  c.eal.lcores = "0";
  c.eal.file_prefix = "";
  return c;
}

TEST(EalArgs, NoHugeUsesNoShconfAndDropsInMemory) {
  config::Config c = base();
  c.eal.no_huge = true;
  c.eal.args = {"--no-pci", "--in-memory"};
  const EalPlan p = plan_eal(c, "x", 1);
  EXPECT_FALSE(p.hugepages);
  EXPECT_TRUE(has(p, "--no-huge"));
  EXPECT_TRUE(has(p, "--no-shconf"));
  EXPECT_TRUE(has(p, "-m"));
  // DPDK refuses --in-memory together with --no-huge (legacy memory).
  EXPECT_FALSE(has(p, "--in-memory"));
  EXPECT_EQ(std::count(p.args.begin(), p.args.end(), "--no-pci"), 1);
}

TEST(EalArgs, TooLittleHugepageMemoryFallsBack) {
  config::Config c = base();
  c.mempool.mbufs = 0xFFFFFFF;  // far more than any test host reserves
  const EalPlan p = plan_eal(c, "x", 1);
  EXPECT_FALSE(p.hugepages);
  EXPECT_TRUE(has(p, "--no-huge"));
  EXPECT_FALSE(p.notes.empty());
}

TEST(EalArgs, UserMemoryFlagIsKept) {
  config::Config c = base();
  c.eal.no_huge = true;
  c.eal.args = {"-m", "256"};
  const EalPlan p = plan_eal(c, "x", 1);
  EXPECT_EQ(std::count(p.args.begin(), p.args.end(), "-m"), 1);
  EXPECT_TRUE(has(p, "256"));
}

TEST(EalArgs, AfPacketGetsOneQueuePairPerCore) {
  config::Config c = base();
  c.eal.lcores = "0-1";
  const EalPlan p = plan_eal(c, "x", 2);
  EXPECT_TRUE(has(p, "net_af_packet0,iface=stcp-dp0,qpairs=2"));
  c.eal.vdevs = {"net_af_packet0,iface=x,qpairs=4"};
  EXPECT_TRUE(has(plan_eal(c, "x", 2), "net_af_packet0,iface=x,qpairs=4"));
  c.eal.vdevs = {"net_tap0"};
  EXPECT_TRUE(has(plan_eal(c, "x", 2), "net_tap0"));
}

TEST(EalArgs, FilePrefixReplacesInMemory) {
  config::Config c = base();
  c.eal.file_prefix = "stcp1";
  c.eal.no_huge = false;
  c.mempool.mbufs = 1;  // tiny: hugepages decision does not matter here
  const EalPlan p = plan_eal(c, "x", 1);
  EXPECT_TRUE(has(p, "--file-prefix"));
  EXPECT_TRUE(has(p, "stcp1"));
  EXPECT_FALSE(has(p, "--in-memory"));
}

TEST(EalArgs, LcoresAndNoPci) {
  config::Config c = base();
  c.eal.lcores = "0-1";
  const EalPlan p = plan_eal(c, "prog", 2);
  ASSERT_GE(p.args.size(), 3u);
  EXPECT_EQ(p.args[0], "prog");
  EXPECT_EQ(p.args[1], "-l");
  EXPECT_EQ(p.args[2], "0-1");
  EXPECT_TRUE(has(p, "--no-pci"));
  c.eal.args = {"-a", "0000:01:00.0"};
  EXPECT_FALSE(has(plan_eal(c, "prog", 2), "--no-pci"));
}

}  // namespace
}  // namespace shardtcp::dataplane
