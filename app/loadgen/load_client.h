// Client side of shardtcp-loadgen: active opens from one core's Stack, an
// HTTP/1.0 GET per connection, the body verified byte for byte against the
// lab's deterministic pattern (pattern_byte below).
//
// Runs entirely on its core: connections are opened from the runtime's
// housekeeping callback (about every 10 ms, never per packet) and everything
// else happens in the Stack's callbacks. Source ports are chosen so that the
// flow's RSS / software-steering hash returns to the opening core
// (dataplane::owner_core), as DESIGN.md requires for active opens.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

// Byte i of every file the lab serves to loadgen. The test generates the same
// bytes (tests/integration/test_client_netem.sh); a reordered, duplicated or
// lost range changes them, so comparing every byte detects it.
inline std::uint8_t pattern_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>(i * 7 + (i >> 8) * 3 + (i >> 16) * 5);
}

struct LoadOptions {
  tcp::Ipv4 local_ip = 0;
  tcp::Ipv4 target_ip = 0;
  std::uint16_t target_port = 80;
  std::string path = "/";
  std::int64_t expect_bytes = -1;  // -1: whatever Content-Length says
  bool verify_pattern = true;
  unsigned connections = 1;        // in total, spread over the cores
  std::uint16_t src_port_min = 20000;
  std::uint16_t src_port_max = 60000;
  tcp::TimeUs timeout = 120 * tcp::kUsPerSec;
};

struct ConnResult {
  unsigned id = 0;
  std::uint16_t src_port = 0;
  int status = 0;                  // HTTP status, 0 = no response header
  std::uint64_t content_length = 0;
  std::uint64_t body = 0;          // body bytes received
  std::int64_t first_mismatch = -1;
  tcp::CloseReason reason = tcp::CloseReason::kNormal;
  bool opened = false;
  bool connected = false;
  bool closed = false;
  bool ok() const;
};

class LoadClient {
 public:
  LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores);

  // From the runtime's housekeeping on this core. `now` is the Stack's clock.
  // Opens this core's connections on the first call; enforces the timeout.
  void tick(tcp::Stack& stack, tcp::TimeUs now);
  bool done() const { return done_; }
  const std::vector<ConnResult>& results() const { return results_; }

  static tcp::Handlers handlers();

  // Per-connection state; Connection::user() points at it.
  struct Conn {
    LoadClient* owner = nullptr;
    ConnResult* res = nullptr;
    tcp::Connection* c = nullptr;
    std::string header;
    bool header_done = false;
  };

 private:
  static void on_connected(tcp::Connection& c);
  static void on_data(tcp::Connection& c, tcp::ByteView v);
  static void on_peer_closed(tcp::Connection& c);
  static void on_closed(tcp::Connection& c, tcp::CloseReason r);
  void body_bytes(Conn& k, const std::uint8_t* p, std::size_t n);
  void parse_header(Conn& k);
  void finished_one();

  LoadOptions opt_;
  unsigned core_;
  unsigned num_cores_;
  std::vector<ConnResult> results_;
  std::vector<Conn> conns_;
  bool started_ = false;
  bool done_ = false;
  unsigned open_ = 0;  // connections not yet closed
  tcp::TimeUs start_ = 0;
};

}  // namespace shardtcp::app
