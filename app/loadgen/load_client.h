// Client side of shardtcp-loadgen: active opens from one core's Stack.
//
// Per connection: HTTP/1.1 GETs (--path, --header) or raw exchanges
// (--raw SEND:EXPECT), --requests-per-conn of them (1: short-lived, 0: until
// the run ends), up to --pipeline outstanding at once, then the close chosen
// by --close (client FIN, server FIN through `Connection: close`, or RST).
// HTTP bodies are checked by length, by SHA-256 (libcrypto) and/or byte for
// byte against the project's body pattern (app/common/body_pattern.h).
//
// Load models:
//  * closed loop (--concurrency C): C connections in flight over all cores;
//    a finished connection's slot is refilled from its on_closed callback
//    (the Stack's callback contract allows connect() there);
//  * before either starts, each core makes one uncounted connection to each
//    target (then resets it), so ARP and the link are ready and the first
//    measured connections do not pay for them;
//  * open loop (--rate R): each core opens R/cores connections per second,
//    evenly spaced or with exponential gaps (--arrivals poisson), from the
//    per-iteration poll hook. Every connection has an intended start (its
//    slot in the schedule); connect, ttfb and total latencies are measured
//    from it, so a server stall that delays later connections shows up in
//    their latency (coordinated omission, as wrk2 corrects it) instead of
//    silently lowering the rate. When --max-open slots are all busy, due
//    arrivals wait (keeping their intended start) until a slot frees.
//
// Source ports are chosen so that the flow's RSS / software-steering hash
// returns to the opening core (dataplane::owner_core()), as DESIGN.md
// requires for active opens; the cores' port sets are therefore disjoint.
// When no 4-tuple is free, the attempt fails with error kind
// "tuple_exhausted" (counted, the connection number is used up): the run
// goes on and ends by its bounds, it never waits for a tuple.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "latency_histogram.h"
#include "sha256.h"
#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct Target {
  tcp::Ipv4 ip = 0;
  std::uint16_t port = 80;
};

enum class CloseMode : std::uint8_t { kClient, kServer, kRst };

struct LoadOptions {
  tcp::Ipv4 local_ip = 0;
  std::vector<Target> targets;  // round-robin by connection number
  std::string path = "/";
  std::vector<std::string> headers;  // extra "Name: value" lines
  bool raw = false;                  // --raw SEND:EXPECT instead of HTTP
  std::size_t raw_send = 0, raw_expect = 0;
  std::int64_t expect_bytes = -1;  // -1: whatever Content-Length says
  bool verify_pattern = true;      // off with --sha256 / --no-verify / --raw
  std::string sha256;              // lower-case hex; empty: not checked
  std::uint64_t connections = 1;   // in total; 0 = until --duration
  unsigned concurrency = 0;        // closed loop: open at once, in total
  double rate = 0;                 // open loop: connections/s in total (0: closed loop)
  bool poisson = false;            // open loop: exponential inter-arrival gaps
  unsigned max_open = 10000;       // open loop: connections open at once, in total
  unsigned requests_per_conn = 1;  // 0: keep-alive until the run ends
  unsigned pipeline = 1;           // requests outstanding per connection
  CloseMode close = CloseMode::kServer;
  tcp::TimeUs duration = 0;                           // no new work after this; 0 = none
  tcp::TimeUs request_timeout = 10 * tcp::kUsPerSec;  // per response
  std::uint16_t src_port_min = 20000;
  std::uint16_t src_port_max = 60000;
  // Where the scan of the range starts (main.cc picks it at random): a rerun
  // does not hit the server's TIME-WAIT entries of the previous run's 4-tuples
  // first (Linux answers those SYNs with an ACK; we reset and retry after the
  // SYN RTO, RFC 9293 §3.10.7.3, which costs a second each).
  std::uint16_t src_port_start = 0;            // 0: random (main.cc)
  tcp::TimeUs timeout = 120 * tcp::kUsPerSec;  // hard bound on the whole run
};

inline constexpr unsigned kMaxPipeline = 64;

// Why a connection did not count as good (the "errors by kind" of the
// summary and of --json; names are stable).
enum class Failure : std::uint8_t {
  kNone,
  kTupleExhausted,  // no free 4-tuple (source port) on this core
  kConnect,         // never reached ESTABLISHED (see its CloseReason)
  kNoResponse,      // connected, a request got no complete response header
  kStatus,          // status other than 200
  kShortBody,       // body length != Content-Length / --expect-bytes
  kPattern,         // a body byte differed from the body pattern
  kSha256,          // body digest != --sha256
  kFraming,         // response not delimited as expected (bytes after the last, no length)
  kClose,           // responses complete but the close was not the expected one
  kTimeout,         // --request-timeout or --timeout-s hit
  kCount,
};
inline constexpr int kNumFailures = static_cast<int>(Failure::kCount);
const char* to_string(Failure f);

inline constexpr int kNumCloseReasons = 6;  // tcp::CloseReason values

struct ConnResult {
  std::uint64_t id = 0;
  std::uint16_t src_port = 0;
  int status = 0;  // HTTP status of the last response, 0 = none
  std::uint64_t content_length = 0;
  bool has_content_length = false;
  std::uint64_t body = 0;  // body bytes received (all responses)
  std::uint64_t responses = 0;
  std::int64_t first_mismatch = -1;  // offset in the failing response's body
  tcp::CloseReason reason = tcp::CloseReason::kNormal;
  Failure failure = Failure::kNone;
  std::string sha256;  // hex digest of the last body (when --sha256)
  bool ok() const { return failure == Failure::kNone; }
};

// Per-core counters, written by the core only (relaxed, tcp::Counter) and
// read by the live reporter and by main() after the loops stopped.
struct LiveStats {
  // opened_in_time: opened before --duration ran out (the achieved open rate
  // of an open-loop run is this over --duration).
  tcp::Counter opened_in_time;
  tcp::Counter opened, connected, closed, ok, failed, requests, responses, body_bytes;
  std::array<tcp::Counter, kNumCloseReasons> by_reason;
  std::array<tcp::Counter, kNumFailures> by_failure;
  tcp::Counter first_open, last_close;  // engine clock, us
  LatencyHistogram connect, ttfb, total;
};

// Plain totals (sum over cores).
struct LoadStats {
  std::uint64_t opened_in_time = 0;
  std::uint64_t opened = 0, connected = 0, closed = 0, ok = 0, failed = 0, requests = 0,
                responses = 0, body_bytes = 0;
  std::array<std::uint64_t, kNumCloseReasons> by_reason{};
  std::array<std::uint64_t, kNumFailures> by_failure{};
  tcp::TimeUs first_open = 0, last_close = 0;
  void add(const LiveStats& o);
};

class LoadClient {
 public:
  // Results are kept for the first kKeepResults connections and for up to
  // kKeepResults failures (totals are always exact).
  static constexpr std::size_t kKeepResults = 64;

  // `start` is the common start of the run (engine clock) on every core.
  LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores,
             std::function<tcp::TimeUs()> now, tcp::TimeUs start);
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  // From the runtime's housekeeping (~10 ms): timeouts, bounds, refills.
  void tick(tcp::Stack& stack);
  // From the runtime's per-iteration poll hook: open-loop arrivals.
  void poll(tcp::Stack& stack);
  bool done() const { return done_; }
  // Engine time the run started on this core (after the warm-up); 0 before.
  tcp::TimeUs started_at() const { return started_.get(); }
  const LiveStats& stats() const { return *stats_; }
  const std::vector<ConnResult>& results() const { return kept_; }

  // Per-connection state; Connection::user() points at it. Slots are reused.
  struct Conn {
    LoadClient* owner = nullptr;
    tcp::Connection* c = nullptr;
    ConnResult res;
    tcp::TimeUs intended = 0;  // intended start (open loop: schedule slot)
    std::array<tcp::TimeUs, kMaxPipeline> req_start{};
    std::string header;
    bool in_body = false;
    bool got_first = false;  // first byte of the current response seen
    bool has_len = false;
    std::uint64_t body_len = 0, body_got = 0;
    unsigned sent = 0, done = 0;  // requests sent / responses complete
    bool connected = false;
    bool finishing = false;  // no more requests; close under way
    bool aborted_by_us = false;
    bool timed_out = false;
    bool warmup = false;  // not part of the run (see warm_up())
    Sha256 sha;
  };

 private:
  static void on_connected(tcp::Connection& c);
  static void on_data(tcp::Connection& c, tcp::ByteView v);
  static void on_peer_closed(tcp::Connection& c);
  static void on_closed(tcp::Connection& c, tcp::CloseReason r);

  bool want_more(tcp::TimeUs now) const;
  bool more_requests(const Conn& k, tcp::TimeUs now) const;
  void fill(tcp::TimeUs now);
  bool open_one(Conn& k, tcp::TimeUs intended, tcp::TimeUs now);
  void send_requests(Conn& k, tcp::TimeUs now);
  void response_bytes(Conn& k, const std::uint8_t* p, std::size_t n);
  void response_done(Conn& k);
  void fail(Conn& k, Failure f);
  void finish(Conn& k, tcp::CloseReason r);
  void record(const ConnResult& r);
  void parse_header(Conn& k);
  void check_done();
  void advance_schedule();
  bool warm_up(tcp::TimeUs now);

  LoadOptions opt_;
  unsigned core_;
  unsigned num_cores_;
  std::function<tcp::TimeUs()> now_;
  tcp::Stack* stack_ = nullptr;  // set by the first tick()/poll(); same core
  // Requests by target: [0] keep the connection, [1] the last one of a
  // --close server connection (`Connection: close`).
  std::vector<std::array<std::string, 2>> requests_;
  std::string raw_request_;
  std::vector<Conn> slots_;  // never resized after construction
  std::vector<Conn*> free_;
  std::uint64_t next_id_;  // next connection number of this core
  std::uint32_t port_cursor_;
  std::vector<ConnResult> kept_;
  std::size_t kept_failures_ = 0;
  std::unique_ptr<LiveStats> stats_;
  unsigned open_ = 0;
  bool stopping_ = false;  // --timeout-s hit: aborting, no new connections
  bool done_ = false;
  tcp::TimeUs start_ = 0;
  // Warm-up: one connection per target, not counted, before the run starts,
  // so the first measured SYNs do not wait for ARP or the link.
  bool warm_ = false;
  std::size_t warm_target_ = 0;  // targets [0, warm_target_) answered
  Conn* warm_conn_ = nullptr;
  tcp::Counter started_;
  // Open loop: this core's rate and the next arrival's intended start.
  double per_core_rate_ = 0;
  double next_due_ = 0;  // us, engine clock
  std::mt19937_64 rng_;
};

}  // namespace shardtcp::app
