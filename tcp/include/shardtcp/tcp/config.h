// Engine tunables. Plain struct: config/ fills it from the config file and
// validates it; tests construct it directly.
#pragma once

#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

enum class CongestionControl : std::uint8_t { kCubic, kNewReno };
// RFC 3168 ECN: kPassive accepts it when a peer's SYN asks (Linux tcp_ecn=2,
// its default), kOn also requests it on active opens (tcp_ecn=1).
enum class EcnMode : std::uint8_t { kOff, kPassive, kOn };

struct TcpConfig {
  TimeUs msl = 30 * kUsPerSec;                  // TIME-WAIT lasts 2*MSL
  TimeUs fin_wait2_timeout = 60 * kUsPerSec;    // orphaned FIN-WAIT-2 release
  TimeUs rto_initial = 1 * kUsPerSec;           // RFC 6298 (2.1)
  TimeUs rto_min = 200 * kUsPerMs;              // RFC 6298 (2.4) allows < 1 s
  TimeUs rto_max = 60 * kUsPerSec;              // RFC 6298 (2.5)
  TimeUs delayed_ack = 40 * kUsPerMs;           // RFC 1122 / 9293: < 500 ms
  TimeUs syn_rcvd_timeout = 0;                  // 0 = governed by syn_retries
  std::uint32_t syn_retries = 5;                // SYN / SYN-ACK retransmissions
  std::uint32_t max_retries = 15;               // data retransmissions before giving up
  std::uint16_t mss = 1460;                     // our MSS (from MTU 1500)
  std::uint16_t min_mss = 88;                   // floor for the peer's MSS (CVE-2019-11479)
  std::uint32_t rcv_buf = 256 * 1024;           // receive window we offer (bytes)
  std::uint32_t snd_buf = 256 * 1024;           // per-connection send buffer limit
  std::uint32_t max_connections = 1u << 20;     // per core; SYN beyond is dropped
  std::uint32_t time_wait_capacity = 1u << 20;  // per core; oldest recycled beyond
  std::uint32_t syn_backlog = 4096;             // half-open per listener
  std::uint32_t accept_backlog = 4096;          // reserved for queued-accept APIs
  bool syn_cookies = true;                      // RFC 4987 when SYN queue is full
  bool window_scaling = true;                   // RFC 7323
  bool timestamps = true;                       // RFC 7323
  bool sack = true;                             // RFC 2018
  bool rack = true;                             // RACK loss detection + PRR (RFC 8985, 6937)
  bool tlp = true;                              // tail loss probes (RFC 8985 §7), needs rack
  bool nagle = false;                           // default per connection
  bool keepalive = false;                       // default per connection
  TimeUs keepalive_idle = 7200 * kUsPerSec;     // RFC 1122 §4.2.3.6
  TimeUs keepalive_interval = 75 * kUsPerSec;
  std::uint32_t keepalive_probes = 9;
  std::uint32_t challenge_ack_limit = 1000;     // per second per core, RFC 5961 §7 (randomized)
  TimeUs invalid_ratelimit = 500 * kUsPerMs;    // per-connection out-of-window answers; 0 = off
  bool evict_idle_on_full = true;               // at max_connections, reset the longest idle
  bool time_wait_reuse = true;                  // connect() may take over a TIME-WAIT tuple (TS)
  CongestionControl congestion_control = CongestionControl::kCubic;
  std::uint32_t initial_window_segments = 10;   // RFC 6928
  EcnMode ecn = EcnMode::kPassive;              // RFC 3168
  bool mtu_probing = false;                     // RFC 4821 black-hole fallback
  std::uint64_t isn_secret[2] = {0, 0};         // RFC 6528 key; 0,0 = random at start
  // Payload memory per core (send chunks, reassembly, held bytes), issue 9.
  // mem_budget_mb is the config key (0 = derived from physical memory by the
  // config loader); mem_budget is what the engine enforces, in bytes
  // (0 = unlimited: tests and embedders that do not set it).
  std::uint32_t mem_budget_mb = 0;
  std::uint64_t mem_budget = 0;
};

}  // namespace shardtcp::tcp
