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
  if (e.pending_off != e.pending.size()) return;
  e.pending.clear();
  e.pending_off = 0;
  if (e.peer_closed) {
    if (!e.closing) close_conn(e);
    return;
  }
  // Everything echoed: read again (held bytes may arrive inside this call).
  if (e.conn->receive_paused()) e.conn->set_receive_paused(false);
}

void on_data(tcp::Connection& c, tcp::ByteView data) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr || e->closing) return;
  std::size_t taken = 0;
  if (e->pending.empty()) taken = c.send(data.data, data.size);  // common case: no copy
  if (taken == data.size) return;
  // The peer sends faster than it reads our echo: keep the rest of this view
  // and stop reading, so the engine holds further bytes and our receive
  // window closes; on_writable resumes. The backlog is at most one view.
  e->pending.append(reinterpret_cast<const char*>(data.data) + taken, data.size - taken);
  c.set_receive_paused(true);
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
