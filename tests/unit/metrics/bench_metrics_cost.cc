// Per-packet cost of metrics on the data path (issue 5: "within noise").
// A dataplane core bumps ~4 counters per packet (rx frames/bytes, TCP
// segments, one per-reason or per-state slot). Compare a packet's worth of
// stand-in work with no counters, with plain uint64_t, and with the shipped
// relaxed tcp::Counter, also while another thread scrapes continuously.
// Prints numbers; never passes or fails on time.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>

#include "shardtcp/dataplane/metrics.h"

namespace {

using shardtcp::dataplane::CoreSource;
using shardtcp::dataplane::DataplaneCounters;
using shardtcp::dataplane::MetricsExporter;
using shardtcp::dataplane::MetricsHooks;
namespace tcp = shardtcp::tcp;

// Stand-in for per-packet work: a 16-bit ones-complement sum over a 64-byte
// header area (roughly what a software checksum of the headers costs).
std::array<std::uint8_t, 64> g_frame{};

std::uint32_t packet_work(std::uint32_t seed) {
  g_frame[0] = static_cast<std::uint8_t>(seed);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < g_frame.size(); i += 2) {
    sum += static_cast<std::uint32_t>(g_frame[i] << 8 | g_frame[i + 1]);
  }
  return (sum & 0xffff) + (sum >> 16);
}

void BM_PacketNoCounters(benchmark::State& state) {
  std::uint32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(packet_work(i++));
}
BENCHMARK(BM_PacketNoCounters);

struct Plain {
  std::uint64_t rx_packets = 0, rx_bytes = 0, in_segs = 0;
  std::array<std::uint64_t, 16> drops{};
};

void BM_PacketPlainCounters(benchmark::State& state) {
  Plain c;
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::uint32_t v = packet_work(i++);
    c.rx_packets++;
    c.rx_bytes += 64;
    c.in_segs++;
    c.drops[v & 15]++;
    benchmark::DoNotOptimize(v);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(c);
}
BENCHMARK(BM_PacketPlainCounters);

struct Shipped {
  DataplaneCounters dp;
  tcp::TcpCounters tcp;
};

void bump(Shipped& c, std::uint32_t v) {
  c.dp.rx_packets.inc();
  c.dp.rx_bytes.add(64);
  c.tcp.in_segs.inc();
  c.tcp.drops[v % tcp::kNumDropReasons].inc();
}

void BM_PacketRelaxedCounters(benchmark::State& state) {
  static Shipped c;
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::uint32_t v = packet_work(i++);
    bump(c, v);
    benchmark::DoNotOptimize(v);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_PacketRelaxedCounters);

// The same while the exporter renders /metrics in a loop on another thread:
// the reader pulls the counters' cache lines (the worst case; a real scrape
// happens every few seconds).
void BM_PacketRelaxedCountersWhileScraped(benchmark::State& state) {
  static Shipped c;
  shardtcp::config::MetricsConfig cfg;
  MetricsExporter exporter(cfg, {CoreSource{0, &c.tcp, &c.dp}}, MetricsHooks{});
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> scrapes{0};
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      benchmark::DoNotOptimize(exporter.render().size());
      scrapes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::uint32_t v = packet_work(i++);
    bump(c, v);
    benchmark::DoNotOptimize(v);
    benchmark::ClobberMemory();
  }
  stop = true;
  reader.join();
  state.counters["scrapes"] = static_cast<double>(scrapes.load());
}
BENCHMARK(BM_PacketRelaxedCountersWhileScraped)->UseRealTime();

// Scrape cost (exporter thread, not the data path) per number of cores.
void BM_Scrape(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<Shipped> cores(n);
  std::vector<CoreSource> src;
  for (std::size_t k = 0; k < n; ++k)
    src.push_back({static_cast<unsigned>(k), &cores[k].tcp, &cores[k].dp});
  shardtcp::config::MetricsConfig cfg;
  MetricsExporter exporter(cfg, src, MetricsHooks{});
  for (auto _ : state) benchmark::DoNotOptimize(exporter.render());
}
BENCHMARK(BM_Scrape)->Arg(1)->Arg(8)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
