// A parser for the Prometheus text exposition format (version 0.0.4), enough
// for shardtcp-stat: samples with labels, HELP/TYPE comments skipped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shardtcp::stat {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;

  // The value of label `key`, "" if absent.
  const std::string& label(std::string_view key) const;
};

struct Scrape {
  std::vector<Sample> samples;

  // Sum of every series of `name` whose labels include all of `match`.
  double sum(std::string_view name,
             const std::vector<std::pair<std::string, std::string>>& match = {}) const;
  // The series of `name` with exactly these label values (subset match), if any.
  std::optional<double> get(std::string_view name,
                            const std::vector<std::pair<std::string, std::string>>& match) const;
  bool has(std::string_view name) const;
  // Distinct values of label `key` on `name`, in first-seen order.
  std::vector<std::string> label_values(std::string_view name, std::string_view key) const;
};

// Throws std::runtime_error("line N: reason") on malformed input.
Scrape parse_text(std::string_view text);

}  // namespace shardtcp::stat
