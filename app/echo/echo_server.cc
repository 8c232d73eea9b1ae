#include "echo_server.h"

#include <string>

namespace shardtcp::app {

struct EchoConn : ConnEntry<EchoConn> {
  EchoServer* server = nullptr;
  std::string pending;  // bytes received but not yet taken by send()
  std::size_t pending_off = 0;
  bool peer_closed = false;
};

namespace {

void close_conn(EchoConn& e) {
  e.closing = true;
  e.conn->close();
}

// Sends queued bytes; closes after peer EOF once everything is queued.
void flush(EchoConn& e) {
  while (e.pending_off < e.pending.size()) {
    const std::size_t n =
        e.conn->send(e.pending.data() + e.pending_off, e.pending.size() - e.pending_off);
    if (n == 0) break;
    e.pending_off += n;
  }
  if (e.pending_off == e.pending.size()) {
    e.pending.clear();
    e.pending_off = 0;
  } else if (e.pending_off > e.pending.size() / 2) {
    e.pending.erase(0, e.pending_off);  // compact: amortized O(1) per byte
    e.pending_off = 0;
  }
  if (e.peer_closed && e.pending.empty() && !e.closing) close_conn(e);
}

void on_data(tcp::Connection& c, tcp::ByteView data) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr || e->closing) return;
  std::size_t taken = 0;
  if (e->pending.empty()) taken = c.send(data.data, data.size);  // common case: no copy
  if (taken == data.size) return;
  if (e->pending.size() - e->pending_off + (data.size - taken) > EchoServer::kMaxPending) {
    e->server->count_overflow();
    e->closing = true;
    c.abort();
    return;
  }
  e->pending.append(reinterpret_cast<const char*>(data.data) + taken, data.size - taken);
}

void on_writable(tcp::Connection& c) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e != nullptr && !e->closing) flush(*e);
}

void on_peer_closed(tcp::Connection& c) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr || e->closing) return;
  e->peer_closed = true;
  flush(*e);
}

}  // namespace

const tcp::Handlers& EchoServer::handlers() {
  static const tcp::Handlers h =
      registry_handlers<EchoServer, EchoConn>(on_data, on_writable, on_peer_closed);
  return h;
}

EchoServer::~EchoServer() { teardown(); }

void EchoServer::accept(tcp::Connection& c) { conns_.adopt(c)->server = this; }

void EchoServer::release(EchoConn* e) { conns_.release(e); }

void EchoServer::teardown() { conns_.abort_all(); }

}  // namespace shardtcp::app
