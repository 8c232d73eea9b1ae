// shardtcp-echo's per-core server: every byte received is sent back (RFC 862).
//
// Backpressure: send() may take fewer bytes than arrived; the rest waits in a
// per-connection queue, flushed from on_writable. The engine counts every
// delivered byte as consumed (no receive-side pause in the API yet), so the
// queue is bounded: a peer that sends kMaxPending bytes more than it reads is
// aborted (and counted) instead of growing memory without limit.
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
  static constexpr std::size_t kMaxPending = std::size_t{4} * 1024 * 1024;

  EchoServer() = default;
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  ~EchoServer();

  static const tcp::Handlers& handlers();
  void teardown();  // aborts what is left
  std::uint64_t overflow_aborts() const { return overflow_aborts_; }

  // Internal (used by the callbacks).
  void accept(tcp::Connection& c);
  void release(EchoConn* e);
  void count_overflow() { ++overflow_aborts_; }

 private:
  ConnRegistry<EchoConn> conns_;
  std::uint64_t overflow_aborts_ = 0;
};

}  // namespace shardtcp::app
