// Internal: the custom prometheus::Collectable behind MetricsExporter. It
// reads the per-core counters (relaxed loads) only when Prometheus scrapes.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <deque>
#include <mutex>
#include <vector>

#include "shardtcp/dataplane/metrics.h"

namespace shardtcp::dataplane {

class MetricsExporter::Collector : public prometheus::Collectable {
 public:
  Collector(std::vector<CoreSource> cores, MetricsHooks hooks);
  // Serialized: two scrapes never run this at the same time.
  std::vector<prometheus::MetricFamily> Collect() const override;

  const MetricsHooks& hooks() const { return hooks_; }

 private:
  // Loop counters at the previous scrape, for the per-interval gauges.
  struct LoopSample {
    std::uint64_t busy_cycles = 0, total_cycles = 0, rx_packets = 0, rx_bursts = 0;
  };
  void collect_tcp(std::deque<prometheus::MetricFamily>& out) const;
  void collect_dataplane(std::deque<prometheus::MetricFamily>& out) const;
  void collect_hooks(std::deque<prometheus::MetricFamily>& out) const;

  std::vector<CoreSource> cores_;
  MetricsHooks hooks_;
  mutable std::mutex mu_;
  mutable std::vector<LoopSample> last_;
};

}  // namespace shardtcp::dataplane
