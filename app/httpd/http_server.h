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
// Peer EOF (on_peer_closed): the response in progress is finished, then the
// connection is closed. With app.hold_close_wait = true (test mode) the
// connection is instead held in CLOSE-WAIT until the process receives
// SIGUSR1, which closes every connection held at that moment (later ones are
// held again).
#pragma once

#include <cstdint>
#include <string>

#include "conn_registry.h"
#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct HttpConn;

class HttpServer {
 public:
  explicit HttpServer(bool hold_close_wait) : hold_close_wait_(hold_close_wait) {}
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
  // Requests parsed and answered (any status); on /metrics as
  // shardtcp_http_requests_total{core}. Written by the owning core only.
  void count_request() { requests_.inc(); }
  std::uint64_t requests() const { return requests_.get(); }

 private:
  bool hold_close_wait_;
  ConnRegistry<HttpConn> conns_;
  std::size_t held_count_ = 0;
  std::uint32_t release_seen_ = 0;
  tcp::Counter requests_;
};

}  // namespace shardtcp::app
