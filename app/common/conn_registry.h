// Per-core bookkeeping of an application's live connections, shared by the
// servers (echo, httpd): the per-connection state is allocated in on_accept,
// hung on the Connection's user pointer, linked into an intrusive list (O(1)
// link/unlink, no allocation beyond the state itself) and freed in
// on_closed. teardown aborts whatever is left when the loop stops.
//
// Lifetime follows the Stack's callback contract (shardtcp/tcp/stack.h):
// a Connection* is valid until on_closed returns, and abort() runs on_closed
// inside the call, so aborting is also how the state gets freed at teardown.
// Everything runs on the owning core: no locks.
#pragma once

#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {

// Base of a server's per-connection state T (CRTP: the links point at T).
template <typename T>
struct ConnEntry {
  tcp::Connection* conn = nullptr;
  T* prev = nullptr;
  T* next = nullptr;
  bool closing = false;  // close()/abort() called: ignore further input
};

template <typename T>
class ConnRegistry {
 public:
  ConnRegistry() = default;
  ConnRegistry(const ConnRegistry&) = delete;
  ConnRegistry& operator=(const ConnRegistry&) = delete;

  // on_accept: allocates T for `c`, attaches it as the user pointer, turns
  // Nagle off (request/response and echo answer at once) and links it.
  T* adopt(tcp::Connection& c) {
    auto* t = new T;
    t->conn = &c;
    c.set_user(t);
    c.set_nodelay(true);
    link(t);
    return t;
  }

  // on_closed: the state attached to `c` (nullptr if none), detached from
  // the dying Connection. The caller frees it with release().
  static T* detach(tcp::Connection& c) {
    auto* t = static_cast<T*>(c.user());
    if (t != nullptr) c.set_user(nullptr);
    return t;
  }

  // Unlinks and frees `t`.
  void release(T* t) {
    unlink(t);
    delete t;
  }

  // Loop stopped: aborts every connection. abort() calls on_closed, whose
  // handler unlinks and frees; if the engine did not (no on_closed), the
  // entry is still first and `release_fn(t)` must unlink and free it.
  template <typename ReleaseFn>
  void abort_all(ReleaseFn release_fn) {
    while (all_ != nullptr) {
      T* t = all_;
      t->closing = true;
      t->conn->abort();
      if (all_ == t) release_fn(t);
    }
  }
  void abort_all() {
    abort_all([this](T* t) { release(t); });
  }

  // Calls f(T&) for every live connection. f may close or abort the one it
  // is given (its successor is read first), no other.
  template <typename F>
  void for_each(F f) {
    for (T* t = all_; t != nullptr;) {
      T* next = t->next;  // taken first anyway
      f(*t);
      t = next;
    }
  }

 private:
  void link(T* t) {
    t->prev = nullptr;
    t->next = all_;
    if (all_ != nullptr) all_->prev = t;
    all_ = t;
  }

  void unlink(T* t) {
    if (t->prev != nullptr) t->prev->next = t->next;
    if (t->next != nullptr) t->next->prev = t->prev;
    if (all_ == t) all_ = t->next;
    t->prev = t->next = nullptr;
  }

  T* all_ = nullptr;  // intrusive list of live connections
};

// The bookkeeping callbacks of a server built on ConnRegistry: on_accept
// hands the Connection to Server::accept() (the listener's user pointer is
// the Server*), on_closed detaches T and hands it to T::server->release().
template <typename Server, typename T>
struct RegistryCallbacks {
  static void on_accept(tcp::Connection& c, void* listener_user) {
    static_cast<Server*>(listener_user)->accept(c);
  }
  static void on_closed(tcp::Connection& c, tcp::CloseReason) {
    if (T* t = ConnRegistry<T>::detach(c)) t->server->release(t);
  }
};

// A server's Handlers: the bookkeeping above plus its own data callbacks.
template <typename Server, typename T>
tcp::Handlers registry_handlers(void (*on_data)(tcp::Connection&, tcp::ByteView),
                                void (*on_writable)(tcp::Connection&),
                                void (*on_peer_closed)(tcp::Connection&)) {
  return tcp::Handlers{.on_accept = RegistryCallbacks<Server, T>::on_accept,
                       .on_data = on_data,
                       .on_writable = on_writable,
                       .on_peer_closed = on_peer_closed,
                       .on_closed = RegistryCallbacks<Server, T>::on_closed};
}

}  // namespace shardtcp::app
