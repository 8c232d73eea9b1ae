// Deterministic simulation of two shardtcp Stacks joined by an in-memory
// link (issue 3, "A deterministic simulation"). Uses the PUBLIC API only:
// Stack, Connection, Handlers, and the segment wire functions.
//
// What a packet goes through, exactly as on the dataplane:
//   Stack::output() OutSegment -> write_tcp_header + copy_payload + checksum
//   -> link (seeded: loss, duplication, reordering, delay, bottleneck queue,
//   bit corruption) -> tcp_checksum verify (corrupted packets are dropped
//   and counted here, as the dataplane does) -> parse_segment -> input().
// A virtual clock jumps to the next packet arrival, or by at most `tick`
// so the stacks' timers are polled (the public API exposes no next-deadline).
//
// Every segment is recorded in a trace (time, direction, flags, seq, ack,
// len, window, SACK, fate) and the last lines are printed when a check fails.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::tcp::sim {

struct LinkProfile {
  const char* name = "clean";
  double loss = 0;              // probability a packet is dropped
  double dup = 0;               // probability a packet is delivered twice
  double reorder = 0;           // probability of an extra delay in [0, reorder_delay]
  double corrupt = 0;           // probability of one flipped bit
  TimeUs delay = 5 * kUsPerMs;  // one-way propagation delay
  TimeUs jitter = 0;            // uniform extra delay on every packet (keeps order mostly)
  TimeUs reorder_delay = 20 * kUsPerMs;
  std::uint64_t bandwidth = 0;    // bytes per second, 0 = infinite
  std::uint32_t queue_bytes = 0;  // bottleneck queue; beyond it tail drop (0 = unbounded)
  // ECN-marking AQM at the bottleneck (RFC 3168 §5): an ECT packet that finds
  // more than this backlog is marked CE (0 = never marks).
  std::uint32_t ecn_mark_bytes = 0;
};

// The byte at offset `i` of the stream with key `key` (seeded pattern).
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
void fill_pattern(std::uint64_t key, std::uint64_t offset, std::uint8_t* dst, std::size_t n);

class Sim;

// One application endpoint of one connection: sends `to_send` pattern bytes,
// verifies what it receives against the peer's pattern.
struct Endpoint {
  enum class Style : std::uint8_t {
    kShutdown,           // shutdown() once everything is queued
    kCloseAfterPeerFin,  // close() once everything is queued and the peer's FIN arrived
    kNone                // never closes by itself (the test's hook does)
  };

  Sim* sim = nullptr;
  int side = 0;
  std::uint64_t send_key = 0;
  std::uint64_t recv_key = 0;
  std::uint64_t to_send = 0;
  std::uint64_t expect_recv = 0;
  Style style = Style::kShutdown;
  // Failure-test knobs.
  std::uint64_t abort_after = ~0ull;  // abort() once this many bytes arrived
  bool close_on_establish = false;    // close() at once (peer's data then gets RST)
  // Slow reader: set_receive_paused(true) after every on_data; the test's
  // hook resumes it later (receive flow control, zero windows, persist).
  bool pause_after_data = false;

  Connection* conn = nullptr;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t first_bad = ~0ull;
  bool established = false;
  bool finished_sending = false;  // shutdown()/close() called
  int peer_closed_calls = 0;
  int closed_calls = 0;
  int writable_calls = 0;
  CloseReason reason = CloseReason::kNormal;
  std::string last_state;  // state when closed (for messages)

  void pump();
  void on_bytes(ByteView v);
};

struct TraceLine {
  TimeUs t;
  int from;
  std::uint32_t seq, ack, len;
  std::uint16_t port;  // the client-side port (identifies the connection)
  std::uint16_t win;
  std::uint8_t flags;
  std::uint8_t num_sack;
  SackBlock sack[4];
  const char* fate;
};

class Sim {
 public:
  static constexpr Ipv4 kIp[2] = {0xC6120001u, 0xC6120002u};  // 198.18.0.1 / .2
  static constexpr std::uint16_t kServerPort = 80;

  static constexpr TimeUs kDefaultStart = 1000 * kUsPerSec;

  // Side 0 (client) runs cfg_client, side 1 (server, listening on kServerPort)
  // runs cfg_server. `start` is the initial virtual time.
  Sim(const TcpConfig& cfg_client, const TcpConfig& cfg_server, const LinkProfile& link,
      std::uint64_t seed, TimeUs start = kDefaultStart);
  Sim(const TcpConfig& cfg, const LinkProfile& link, std::uint64_t seed,
      TimeUs start = kDefaultStart)
      : Sim(cfg, cfg, link, seed, start) {}
  ~Sim();

  // Opens one connection (client side 0 -> server side 1) carrying c2s
  // bytes client->server and s2c bytes server->client.
  // Returns the client endpoint. `port` = server port (another port than
  // kServerPort has no listener).
  // client_port 0 = a fresh port; otherwise that port (reuse after close).
  Endpoint* add_connection(std::uint64_t c2s, std::uint64_t s2c, Endpoint::Style client_style,
                           Endpoint::Style server_style, std::uint16_t port = kServerPort,
                           std::uint16_t client_port = 0);
  // The server endpoint created for the connection from `client_port`.
  Endpoint* server_endpoint(std::uint16_t client_port);
  // Both sides connect() to each other with the same 4-tuple at the same
  // instant: the SYNs cross (RFC 9293 §3.5, simultaneous open).
  void add_simultaneous_open(std::uint64_t a2b, std::uint64_t b2a);
  // Link control for failure tests: when down, every packet is lost.
  void set_link_down(bool down) { link_down_ = down; }
  // Runs until every endpoint has closed and both stacks are empty, or the
  // virtual time limit passes. Returns true when everything finished.
  bool run(TimeUs limit);

  // Drains side's output into the link (call after every Stack call).
  void drain(int side);

  Stack& stack(int side) { return *stacks_[side]; }
  TcpCounters& counters(int side) { return *ctr_[side]; }
  TimeUs now() const { return now_; }
  const std::vector<Endpoint*>& endpoints() const { return eps_; }
  std::string trace_tail(std::size_t lines) const;
  std::string summary() const;
  bool all_done() const;
  // After run(): "" when every endpoint finished normally (on_closed exactly
  // once with kNormal, on_peer_closed once, all bytes sent and verified) and
  // both stacks are empty (connections, TIME-WAIT, state gauges); otherwise a
  // diagnosis with the summary and the trace tail.
  std::string verify(bool finished);

  bool listening() const { return listening_; }
  std::string format(const TraceLine& l) const;

  // Link statistics.
  std::uint64_t sent_pkts = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0,
                bad_checksum = 0, queue_drops = 0, parse_errors = 0, delivered = 0,
                misaddressed = 0, ce_marked = 0;
  std::uint64_t stray_accepts = 0;          // on_accept for a connection we did not open
  std::uint64_t connect_failures = 0;       // connect() returned nullptr
  bool trace_all = false;                   // print every segment as it is sent (debugging)
  std::uint32_t first_syn_seq[2] = {0, 0};  // ISN each side used (first SYN it sent)
  bool syn_seen[2] = {false, false};
  TimeUs tick = 1 * kUsPerMs;  // longest clock jump without polling
  // Called once per clock step, outside any Stack call: tests use it to act
  // at a time or on a condition (reconnect, close later, cut the link).
  // Call drain() after any Stack/Connection call made from here.
  std::function<void()> hook;

 private:
  struct Packet {
    TimeUs at;
    std::uint64_t order;
    int to;
    std::vector<std::uint8_t> bytes;
    std::uint8_t ip_ecn = 0;  // the IP header's ECN field (RFC 3168 §5)
  };
  struct Later {
    bool operator()(const Packet& a, const Packet& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };

  void transmit(int from, const OutSegment& seg);
  void enqueue(int to, std::vector<std::uint8_t> bytes, TimeUs at, std::uint8_t ip_ecn = 0);
  void deliver(Packet& p);
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
  void record(const TraceLine& l);

  static constexpr std::size_t kTraceKeep = 400;

  TcpConfig cfg_[2];
  LinkProfile link_;
  bool link_down_ = false;
  std::uint64_t seed_ = 0;
  bool listening_ = false;
  std::vector<std::unique_ptr<Endpoint>> own_;
  std::mt19937_64 rng_;
  TimeUs now_;
  TcpCounters* ctr_[2];
  Stack* stacks_[2];
  std::priority_queue<Packet, std::vector<Packet>, Later> q_;
  std::uint64_t order_ = 0;
  TimeUs busy_until_[2] = {0, 0};
  std::vector<Endpoint*> eps_;
  std::vector<Endpoint*> by_port_;  // server endpoint by client port - kFirstPort
  static constexpr std::uint16_t kFirstPort = 40000;
  Endpoint* new_endpoint(int side, std::uint64_t send_key, std::uint64_t recv_key,
                         std::uint64_t to_send, std::uint64_t expect_recv, Endpoint::Style st);
  std::uint16_t next_port_ = kFirstPort;
  std::deque<TraceLine> trace_;
  std::uint64_t trace_total_ = 0;

  friend struct Endpoint;
  friend struct Callbacks;
};

}  // namespace shardtcp::tcp::sim
