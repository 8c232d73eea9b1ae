// shardtcp-httpd's HTTP/1.1 server on the tcp::Handlers API, one instance
// per core (listener user pointer). Connection state is allocated on accept
// and freed in on_closed.
//
//   GET /          200, small text body
//   GET /bytes/N   200, exactly N body bytes ('a'..'z' repeating), N <= 10 MiB,
//                  streamed with backpressure (never buffered whole)
//   HEAD           same headers, no body
//   other paths    404; bad N 400; malformed request 400 + close;
//                  a request with a body 501 + close
// Keep-alive by default for HTTP/1.1, `Connection: close` honoured (respond,
// then close); HTTP/1.0 closes unless `Connection: keep-alive`. Pipelined and
// partial requests are handled in order across segments.
//
// Timeouts (nginx's, on the engine's per-connection deadline; 0 = off):
//   header     a complete request head must arrive within this time, counted
//              from accept, from the first byte of a request on an idle
//              keep-alive connection, or from the end of the previous
//              response when part of the next request is already buffered
//              (client_header_timeout). Not restarted by each byte, so a
//              client dribbling a head cannot hold the connection.
//   keepalive  an idle connection (previous response sent, no byte of a new
//              request) is closed after this time (keepalive_timeout).
//   send       while response bytes wait (in the send buffer or not yet
//              taken by it), the peer must acknowledge something at least
//              once per this interval (send_timeout); checked when the
//              deadline fires, so a stalled reader is aborted between one
//              and two intervals after its last progress.
// Header and keep-alive timeouts close quietly with FIN and no response, as
// nginx does (it logs a 408 it does not send); a send timeout aborts with
// RST, which frees the buffered response at once. Each is counted
// (timeouts(kind), exported as shardtcp_http_timeouts_total{kind}).
//
// Peer EOF (on_peer_closed): the response in progress is finished, then the
// connection is closed. With app.hold_close_wait = true (test mode) the
// connection is instead held in CLOSE-WAIT until the process receives
// SIGUSR1, which closes every connection held at that moment (later ones are
// held again).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "conn_registry.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct HttpConn;

// Application timeouts in engine time (microseconds); 0 = never.
struct HttpTimeouts {
  tcp::TimeUs header = 60 * tcp::kUsPerSec;     // nginx client_header_timeout
  tcp::TimeUs keepalive = 75 * tcp::kUsPerSec;  // nginx keepalive_timeout
  tcp::TimeUs send = 60 * tcp::kUsPerSec;       // nginx send_timeout
};

enum class HttpTimeout : std::uint8_t { kHeader, kKeepalive, kSend };
inline constexpr int kNumHttpTimeouts = 3;
const char* to_string(HttpTimeout k);  // "header", "keepalive", "send"

class HttpServer {
 public:
  explicit HttpServer(bool hold_close_wait, const HttpTimeouts& timeouts = {})
      : hold_close_wait_(hold_close_wait), timeouts_(timeouts) {}
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  static const tcp::Handlers& handlers();
  // Every ~10 ms on the owning core: releases held CLOSE-WAIT connections
  // after SIGUSR1.
  void housekeeping();
  // Loop stopped: abort what is left (frees every HttpConn).
  void teardown();
  std::size_t held() const { return held_count_; }

  // SIGUSR1 handler body (async-signal-safe).
  static void request_release();

  // Internal (used by the callbacks).
  void accept(tcp::Connection& c);
  void release(HttpConn* h);  // unlinks and frees
  void hold(HttpConn* h);
  bool hold_close_wait() const { return hold_close_wait_; }
  const HttpTimeouts& timeouts() const { return timeouts_; }
  // Connections ended by each timeout (read by the metrics exporter thread).
  const tcp::Counter& timeout_count(HttpTimeout k) const {
    return timeout_counts_[static_cast<std::size_t>(k)];
  }
  void count_timeout(HttpTimeout k) { timeout_counts_[static_cast<std::size_t>(k)].inc(); }

 private:
  bool hold_close_wait_;
  HttpTimeouts timeouts_;
  std::array<tcp::Counter, kNumHttpTimeouts> timeout_counts_;
  ConnRegistry<HttpConn> conns_;
  std::size_t held_count_ = 0;
  std::uint32_t release_seen_ = 0;
};

}  // namespace shardtcp::app
