// shardtcp-echo's per-core server: every byte received is sent back (RFC 862).
//
// Backpressure: send() may take fewer bytes than arrived; the rest of that
// view waits in a per-connection queue and the connection stops reading
// (Connection::set_receive_paused), so the engine holds what follows and the
// receive window closes: a peer that sends faster than it reads is slowed by
// TCP flow control, never aborted, and memory stays bounded (one view plus
// the receive window). on_writable flushes the queue and resumes reading.
// Peer EOF: the queue is flushed, then the connection is closed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "conn_registry.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

struct EchoConn;

class EchoServer {
 public:
  EchoServer() = default;
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  ~EchoServer();

  static const tcp::Handlers& handlers();
  void teardown();  // aborts what is left

  // Internal (used by the callbacks).
  void accept(tcp::Connection& c);
  void release(EchoConn* e);

 private:
  ConnRegistry<EchoConn> conns_;
};

}  // namespace shardtcp::app
