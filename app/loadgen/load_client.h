// Client side of shardtcp-loadgen: active opens from one core's Stack, one
// HTTP/1.1 GET (`Connection: close`) per connection, the body checked by
// length, by SHA-256 and/or byte for byte against the lab's deterministic
// pattern (pattern_byte below).
//
// Runs entirely on its core: the first connections are opened from the
// runtime's housekeeping callback (about every 10 ms, never per packet), and
// a finished connection's slot is refilled from its on_closed callback (the
// Stack's callback contract allows connect() there), so the concurrency
// stays at its limit. Source ports are chosen so that the flow's RSS /
// software-steering hash returns to the opening core
// (dataplane::owner_core()), as DESIGN.md requires for active opens.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sha256.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

// Byte i of every pattern file the lab serves to loadgen. The test generates
// the same bytes (tests/integration/test_client_netem.sh); a reordered,
// duplicated or lost range changes them, so comparing every byte detects it.
inline std::uint8_t pattern_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>(i * 7 + (i >> 8) * 3 + (i >> 16) * 5);
}

struct LoadOptions {
  tcp::Ipv4 local_ip = 0;
  tcp::Ipv4 target_ip = 0;
  std::uint16_t target_port = 80;
  std::string path = "/";
  std::int64_t expect_bytes = -1;  // -1: whatever Content-Length says
  bool verify_pattern = true;      // off with --sha256 / --no-verify
  std::string sha256;              // lower-case hex; empty: not checked
  unsigned connections = 1;        // in total (--count); 0 = until --duration
  unsigned concurrency = 0;        // open at once, in total; 0 = connections
  tcp::TimeUs duration = 0;        // no new connections after this; 0 = none
  std::uint16_t src_port_min = 20000;
  std::uint16_t src_port_max = 60000;
  // Where the scan of the range starts (main.cc picks it at random): a rerun
  // does not hit the server's TIME-WAIT entries of the previous run's 4-tuples
  // first (Linux answers those SYNs with an ACK; we reset and retry after the
  // SYN RTO, RFC 9293 §3.10.7.3, which costs a second each).
  std::uint16_t src_port_start = 0;            // 0: random (main.cc)
  tcp::TimeUs timeout = 120 * tcp::kUsPerSec;  // hard bound on the whole run
};

// Why a connection did not count as a verified download.
enum class Failure : std::uint8_t {
  kNone,
  kNoSourcePort,  // every source port of this core was in use
  kConnect,       // never reached ESTABLISHED (see its CloseReason)
  kNoResponse,    // connected, no complete response header
  kStatus,        // status other than 200
  kShortBody,     // body length != Content-Length / --expect-bytes
  kPattern,       // a body byte differed from pattern_byte()
  kSha256,        // body digest != --sha256
  kClose,         // body complete but the close was not normal
  kTimeout,       // aborted at --timeout-s
  kCount,
};
inline constexpr int kNumFailures = static_cast<int>(Failure::kCount);
const char* to_string(Failure f);

inline constexpr int kNumCloseReasons = 6;  // tcp::CloseReason values

struct ConnResult {
  unsigned id = 0;
  std::uint16_t src_port = 0;
  int status = 0;  // HTTP status, 0 = no response header
  std::uint64_t content_length = 0;
  bool has_content_length = false;
  std::uint64_t body = 0;  // body bytes received
  std::int64_t first_mismatch = -1;
  tcp::CloseReason reason = tcp::CloseReason::kNormal;
  Failure failure = Failure::kNone;
  std::string sha256;  // hex digest of the body (when --sha256)
  bool ok() const { return failure == Failure::kNone; }
};

// Per-core totals; summed over cores by main.cc after the loops stopped.
struct LoadStats {
  std::uint64_t opened = 0, connected = 0, ok = 0, failed = 0;
  std::uint64_t body_bytes = 0;
  std::array<std::uint64_t, kNumCloseReasons> by_reason{};
  std::array<std::uint64_t, kNumFailures> by_failure{};
  tcp::TimeUs first_open = 0, last_close = 0;
  void add(const LoadStats& o);
};

class LoadClient {
 public:
  // Connections are numbered 0..connections-1; number i belongs to core
  // i % num_cores. Results are kept for the first kKeepResults connections
  // and for up to kKeepResults failures (totals are always exact).
  static constexpr std::size_t kKeepResults = 64;

  LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores,
             std::function<tcp::TimeUs()> now);
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  // From the runtime's housekeeping on this core: fills free slots, enforces
  // --duration and --timeout-s.
  void tick(tcp::Stack& stack);
  bool done() const { return done_; }
  const LoadStats& stats() const { return stats_; }
  const std::vector<ConnResult>& results() const { return kept_; }

  // Per-connection state; Connection::user() points at it. Slots are reused.
  struct Conn {
    LoadClient* owner = nullptr;
    tcp::Connection* c = nullptr;
    ConnResult res;
    std::string header;
    bool header_done = false;
    bool connected = false;
    bool timed_out = false;  // aborted by the --timeout-s bound
    Sha256 sha;
  };

 private:
  static void on_connected(tcp::Connection& c);
  static void on_data(tcp::Connection& c, tcp::ByteView v);
  static void on_peer_closed(tcp::Connection& c);
  static void on_closed(tcp::Connection& c, tcp::CloseReason r);

  bool want_more(tcp::TimeUs now) const;
  void fill(tcp::TimeUs now);
  bool open_one(Conn& k, tcp::TimeUs now);
  void finish(Conn& k, tcp::CloseReason r, bool timed_out);
  void record(const ConnResult& r);
  void body_bytes(Conn& k, const std::uint8_t* p, std::size_t n);
  void parse_header(Conn& k);
  void check_done();

  LoadOptions opt_;
  unsigned core_;
  unsigned num_cores_;
  std::function<tcp::TimeUs()> now_;
  tcp::Stack* stack_ = nullptr;  // set by the first tick(); same core
  std::string request_;
  std::vector<Conn> slots_;  // never resized after construction
  std::vector<Conn*> free_;
  unsigned next_id_;  // next connection number of this core
  std::uint32_t port_cursor_;
  std::vector<ConnResult> kept_;
  std::size_t kept_failures_ = 0;
  LoadStats stats_;
  unsigned open_ = 0;
  bool started_ = false;
  bool stopping_ = false;  // timeout hit: aborting, no new connections
  bool done_ = false;
  tcp::TimeUs start_ = 0;
};

}  // namespace shardtcp::app
