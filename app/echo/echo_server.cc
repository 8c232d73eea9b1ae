#include "echo_server.h"

#include <string>

namespace shardtcp::app {

struct EchoConn : ConnEntry<EchoConn> {
  EchoServer* server = nullptr;
  std::string pending;  // bytes received but not yet taken by send()
  std::size_t pending_off = 0;
  bool peer_closed = false;
  tcp::TimeUs last_active = 0;  // last byte in, or of our echo taken
};

namespace {

void close_conn(EchoConn& e) {
  e.closing = true;
  // The close must complete within one idle period (on_deadline aborts).
  const tcp::TimeUs idle = e.server->idle_timeout();
  if (idle != 0) e.conn->set_deadline(e.conn->now() + idle);
  e.conn->close();  // RST instead of FIN if the engine holds unread bytes
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
  e->last_active = c.now();
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
  if (e == nullptr || e->closing) return;
  e->last_active = c.now();
  flush(*e);
}

// The idle deadline: moved on if there was activity since it was armed.
void on_deadline(tcp::Connection& c) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr) return;
  const tcp::TimeUs idle = e->server->idle_timeout();
  if (e->closing) {
    // Closed an idle period ago and still not gone (our FIN or echo never
    // taken): give up with RST; on_closed (inside) frees e.
    c.abort();
    return;
  }
  if (c.now() - e->last_active < idle) {
    c.set_deadline(e->last_active + idle);
    return;
  }
  e->server->count_idle_timeout();
  close_conn(*e);
}

void on_peer_closed(tcp::Connection& c) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr || e->closing) return;
  e->peer_closed = true;
  flush(*e);
}

}  // namespace

const tcp::Handlers& EchoServer::handlers() {
  static const tcp::Handlers h = [] {
    tcp::Handlers x = registry_handlers<EchoServer, EchoConn>(on_data, on_writable, on_peer_closed);
    x.on_deadline = on_deadline;
    return x;
  }();
  return h;
}

EchoServer::~EchoServer() { teardown(); }

void EchoServer::accept(tcp::Connection& c) {
  EchoConn* e = conns_.adopt(c);
  e->server = this;
  e->last_active = c.now();
  if (idle_timeout_ != 0) c.set_deadline(c.now() + idle_timeout_);
}

void EchoServer::release(EchoConn* e) { conns_.release(e); }

void EchoServer::teardown() { conns_.abort_all(); }

}  // namespace shardtcp::app
