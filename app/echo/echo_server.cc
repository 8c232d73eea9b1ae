#include "echo_server.h"

#include <string>

namespace shardtcp::app {

struct EchoConn {
  tcp::Connection* conn = nullptr;
  EchoServer* server = nullptr;
  EchoConn* prev = nullptr;
  EchoConn* next = nullptr;
  std::string pending;  // bytes received but not yet taken by send()
  std::size_t pending_off = 0;
  bool peer_closed = false;
  bool closing = false;
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

void on_accept(tcp::Connection& c, void* listener_user) {
  auto* server = static_cast<EchoServer*>(listener_user);
  auto* e = new EchoConn;
  e->conn = &c;
  e->server = server;
  c.set_user(e);
  c.set_nodelay(true);
  server->link(e);
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

void on_closed(tcp::Connection& c, tcp::CloseReason) {
  auto* e = static_cast<EchoConn*>(c.user());
  if (e == nullptr) return;
  c.set_user(nullptr);
  e->server->unlink(e);
  delete e;
}

}  // namespace

const tcp::Handlers& EchoServer::handlers() {
  static const tcp::Handlers h = [] {
    tcp::Handlers x;
    x.on_accept = on_accept;
    x.on_data = on_data;
    x.on_writable = on_writable;
    x.on_peer_closed = on_peer_closed;
    x.on_closed = on_closed;
    return x;
  }();
  return h;
}

EchoServer::~EchoServer() { teardown(); }

void EchoServer::link(EchoConn* e) {
  e->prev = nullptr;
  e->next = all_;
  if (all_ != nullptr) all_->prev = e;
  all_ = e;
}

void EchoServer::unlink(EchoConn* e) {
  if (e->prev != nullptr) e->prev->next = e->next;
  if (e->next != nullptr) e->next->prev = e->prev;
  if (all_ == e) all_ = e->next;
  e->prev = e->next = nullptr;
}

void EchoServer::teardown() {
  while (all_ != nullptr) {
    EchoConn* e = all_;
    e->closing = true;
    e->conn->abort();
    if (all_ == e) {
      unlink(e);
      delete e;
    }
  }
}

}  // namespace shardtcp::app
