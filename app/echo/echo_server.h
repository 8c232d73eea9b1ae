// shardtcp-echo's per-core server: every byte received is sent back (RFC 862).
//
// Backpressure: send() may take fewer bytes than arrived; the rest of that
// view waits in a per-connection queue and the connection stops reading
// (Connection::set_receive_paused), so the engine holds what follows and the
// receive window closes: a peer that sends faster than it reads is slowed by
// TCP flow control, never aborted, and memory stays bounded (one view plus
// the receive window). on_writable flushes the queue and resumes reading.
// Peer EOF: the queue is flushed, then the connection is closed.
//
// Idle timeout (app.idle_timeout_ms; 0 = never): a connection that neither
// delivered bytes nor took any of our echo for that long is closed (FIN; RST
// if the engine still holds bytes it sent), and a connection still closing
// one more idle period later is aborted (RST). On the engine's deadline, armed
// lazily: activity only records the time, the deadline moves when it fires.
// Counted (idle_timeouts(), shardtcp_echo_idle_timeouts_total).
#pragma once

#include <cstddef>
#include <cstdint>

#include "conn_registry.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct EchoConn;

class EchoServer {
 public:
  explicit EchoServer(tcp::TimeUs idle_timeout = 0) : idle_timeout_(idle_timeout) {}
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  ~EchoServer();

  static const tcp::Handlers& handlers();
  void teardown();  // aborts what is left

  // Internal (used by the callbacks).
  void accept(tcp::Connection& c);
  void release(EchoConn* e);
  tcp::TimeUs idle_timeout() const { return idle_timeout_; }
  const tcp::Counter& idle_timeouts() const { return idle_timeouts_; }
  void count_idle_timeout() { idle_timeouts_.inc(); }

 private:
  tcp::TimeUs idle_timeout_;
  tcp::Counter idle_timeouts_;
  ConnRegistry<EchoConn> conns_;
};

}  // namespace shardtcp::app
