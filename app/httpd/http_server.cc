#include "http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <string>
#include <string_view>

#include "http_parser.h"

namespace shardtcp::app {

namespace {

constexpr std::size_t kMaxBuffered =
    std::size_t{64} * 1024;  // unparsed request bytes per connection
constexpr std::string_view kRootBody = "Hello from shardtcp\n";

std::atomic<std::uint32_t> g_release_gen{0};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Body bytes for /bytes/N: byte i is 'a' + i % 26. The pattern table is 64 KiB
// plus one period so any offset can be sent as one contiguous slice.
constexpr std::size_t kPeriod = 26;
constexpr std::size_t kChunk = std::size_t{64} * 1024;
const std::array<char, kChunk + kPeriod>& pattern() {
  static const auto table = [] {
    std::array<char, kChunk + kPeriod> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<char>('a' + i % kPeriod);
    return t;
  }();
  return table;
}

}  // namespace

struct HttpConn : ConnEntry<HttpConn> {
  HttpServer* server = nullptr;
  std::string in;    // received, not yet parsed
  std::string head;  // response head being sent
  std::size_t head_off = 0;
  std::uint64_t body_pos = 0;  // body bytes sent
  std::uint64_t body_len = 0;  // pattern body bytes of the response in progress
  bool responding = false;
  bool close_after = false;  // close once the response in progress is sent
  bool peer_closed = false;
  bool held = false;
  bool close_pending = false;  // close() once the engine's held bytes are read
  // Timeouts (see http_server.h): the deadline armed is for `phase`.
  HttpTimeout phase = HttpTimeout::kHeader;
  bool answered = false;         // a response was completed: idle means keep-alive
  bool restart = false;          // a response ended since the deadline was armed
  std::uint64_t sent_total = 0;  // bytes send() took
  std::uint64_t acked_mark = 0;  // bytes acknowledged at the last progress check
};

namespace {

void start_response(HttpConn& h, int status, std::string_view reason, std::uint64_t body_len,
                    bool head_only, bool keep_alive, int version_minor) {
  h.head.clear();
  h.head += "HTTP/1.1 ";
  h.head += std::to_string(status);
  h.head += ' ';
  h.head += reason;
  h.head += "\r\nServer: shardtcp\r\nContent-Type: text/plain\r\nContent-Length: ";
  h.head += std::to_string(body_len);
  if (!keep_alive) {
    h.head += "\r\nConnection: close";
  } else if (version_minor == 0) {
    h.head += "\r\nConnection: keep-alive";
  }
  h.head += "\r\n\r\n";
  h.head_off = 0;
  h.body_pos = 0;
  h.body_len = head_only ? 0 : body_len;
  h.responding = true;
  h.close_after = !keep_alive;
}

void respond_text(HttpConn& h, int status, std::string_view reason, std::string_view body,
                  bool head_only, bool keep_alive, int version_minor) {
  start_response(h, status, reason, body.size(), head_only, keep_alive, version_minor);
  // Small bodies travel with the head: one segment instead of two.
  if (!head_only) h.head += body;
  h.body_len = 0;
}

// Routes one parsed request to a response.
void route(HttpConn& h, const HttpRequest& req) {
  const bool is_head = req.method == "HEAD";
  if (req.method != "GET" && !is_head) {
    // A body we would have to skip (or a method we do not serve): answer and
    // close rather than guess where the next request starts.
    return respond_text(h, 501, "Not Implemented", "not implemented\n", false, false,
                        req.version_minor);
  }
  if (req.has_body) {
    return respond_text(h, 400, "Bad Request", "bad request\n", is_head, false, req.version_minor);
  }
  if (req.target == "/") {
    return respond_text(h, 200, "OK", kRootBody, is_head, req.keep_alive, req.version_minor);
  }
  constexpr std::string_view kBytes = "/bytes/";
  if (req.target.substr(0, kBytes.size()) == kBytes) {
    const std::int64_t n = parse_bytes_path(req.target.substr(kBytes.size()));
    if (n < 0) {
      return respond_text(h, 400, "Bad Request", "N must be 0..10485760\n", is_head, req.keep_alive,
                          req.version_minor);
    }
    return start_response(h, 200, "OK", static_cast<std::uint64_t>(n), is_head, req.keep_alive,
                          req.version_minor);
  }
  respond_text(h, 404, "Not Found", "not found\n", is_head, req.keep_alive, req.version_minor);
}

// Sends as much of the response in progress as the send buffer takes.
// Returns true when the response is complete.
bool flush(HttpConn& h) {
  tcp::Connection& c = *h.conn;
  while (h.head_off < h.head.size()) {
    const std::size_t n = c.send(h.head.data() + h.head_off, h.head.size() - h.head_off);
    if (n == 0) return false;
    h.head_off += n;
    h.sent_total += n;
  }
  while (h.body_pos < h.body_len) {
    const std::uint64_t left = h.body_len - h.body_pos;
    const std::size_t off = static_cast<std::size_t>(h.body_pos % kPeriod);
    const std::size_t n = c.send(pattern().data() + off,
                                 static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk)));
    if (n == 0) return false;  // backpressure: on_writable resumes
    h.body_pos += n;
    h.sent_total += n;
  }
  h.responding = false;
  return true;
}

// --- timeouts -------------------------------------------------------------------

tcp::TimeUs timeout_of(const HttpConn& h, HttpTimeout k) {
  const HttpTimeouts& t = h.server->timeouts();
  switch (k) {
    case HttpTimeout::kHeader:
      return t.header;
    case HttpTimeout::kKeepalive:
      return t.keepalive;
    case HttpTimeout::kSend:
      return t.send;
  }
  return 0;
}

// Bytes of our responses the peer has acknowledged (monotone).
std::uint64_t acked(const HttpConn& h) { return h.sent_total - h.conn->send_queued(); }

// Arms the connection's one deadline for `k`, counted from now.
void arm(HttpConn& h, HttpTimeout k) {
  h.phase = k;
  h.restart = false;
  if (k == HttpTimeout::kSend) h.acked_mark = acked(h);
  const tcp::TimeUs t = timeout_of(h, k);
  h.conn->set_deadline(t == 0 ? tcp::kNever : h.conn->now() + t);
}

// After pump(): the deadline that fits what the connection waits for. The
// header deadline is not restarted while the same head is still arriving.
void update_deadline(HttpConn& h) {
  HttpTimeout want = HttpTimeout::kKeepalive;
  if (h.responding) {
    want = HttpTimeout::kSend;
  } else if (!h.in.empty() || !h.answered) {
    want = HttpTimeout::kHeader;
  }
  if (want != h.phase || h.restart) arm(h, want);
}

void close_conn(HttpConn& h) {
  h.closing = true;
  // What is still queued must drain under the send timeout: a peer that
  // never reads would otherwise keep the closing connection (and its
  // buffered response) forever.
  arm(h, HttpTimeout::kSend);
  // Requests the engine still holds for us will not be answered: read them
  // (on_data ignores them now), so close() sends FIN after the response
  // instead of the RST that closing with unread data draws (RFC 9293 §3.10.4).
  // Inside a delivery of held bytes the rest comes through on_data, which
  // closes once the last of them is read.
  if (h.conn->receive_paused()) h.conn->set_receive_paused(false);
  if (h.conn->received_unread() > 0) {
    h.close_pending = true;
    return;
  }
  h.conn->close();  // FIN after queued data; on_closed frees h later
}

// Drives the connection: finish the response in progress, then parse and
// answer buffered requests in order (pipelining), then close if due.
void pump(HttpConn& h) {
  for (;;) {
    if (h.closing) return;
    if (h.responding) {
      if (!flush(h)) {
        update_deadline(h);  // the send timeout watches a blocked response
        // The client does not read our response as fast as it sends
        // requests: stop reading; TCP flow control holds it back.
        h.conn->set_receive_paused(true);
        return;
      }
      h.answered = true;
      h.restart = true;  // the next head (or idle time) counts from here
      if (h.close_after) return close_conn(h);
    }
    if (h.in.empty()) break;
    HttpRequest req;
    const ParseResult r = parse_request(h.in, req);
    if (r == ParseResult::kIncomplete) break;
    if (r == ParseResult::kBad) {
      h.in.clear();
      respond_text(h, 400, "Bad Request", "bad request\n", false, false, 1);
      continue;
    }
    if (r == ParseResult::kTooLarge) {
      // RFC 6585 §5; then close: where the next request starts is unknown.
      h.in.clear();
      respond_text(h, 431, "Request Header Fields Too Large", "request head too large\n", false,
                   false, 1);
      continue;
    }
    route(h, req);
    h.in.erase(0, req.head_len);
  }
  // Peer EOF with nothing left to answer.
  if (h.peer_closed && !h.responding) {
    if (h.server->hold_close_wait()) return h.server->hold(&h);
    close_conn(h);
    return;
  }
  update_deadline(h);
  // Everything answered: read on (held requests may arrive inside the call,
  // and may end the connection: nothing touches h after this).
  if (h.conn->receive_paused()) h.conn->set_receive_paused(false);
}

// A deadline passed (the engine calls this on the owning core, never early).
void on_deadline(tcp::Connection& c) {
  auto* h = static_cast<HttpConn*>(c.user());
  if (h == nullptr || h->held) return;
  if (h->closing || h->phase == HttpTimeout::kSend) {
    // Send timeout: progress since the last check re-arms it; a closing
    // connection with nothing left to send is the engine's to finish.
    if (h->closing && c.send_queued() == 0) return;
    if (acked(*h) > h->acked_mark) return arm(*h, HttpTimeout::kSend);
    h->server->count_timeout(HttpTimeout::kSend);
    h->closing = true;
    c.abort();  // RST; on_closed (inside) frees h
    return;
  }
  // Header or keep-alive timeout: close quietly with FIN (as nginx does).
  h->server->count_timeout(h->phase);
  close_conn(*h);
}

void on_data(tcp::Connection& c, tcp::ByteView data) {
  auto* h = static_cast<HttpConn*>(c.user());
  if (h == nullptr) return;
  if (h->closing) {
    if (h->close_pending && c.received_unread() == 0) {
      h->close_pending = false;
      c.close();
    }
    return;
  }
  if (h->in.size() + data.size > kMaxBuffered) {
    // One request head larger than this: give up on it. (Pipelined
    // requests never pile up here: pump() pauses receiving while a
    // response waits for send space.)
    h->closing = true;
    c.abort();
    return;
  }
  h->in.append(reinterpret_cast<const char*>(data.data), data.size);
  pump(*h);
}

void on_writable(tcp::Connection& c) {
  auto* h = static_cast<HttpConn*>(c.user());
  if (h == nullptr) return;
  // Send progress: the peer acknowledged something, the send timeout restarts.
  if (h->phase == HttpTimeout::kSend && !h->closing && acked(*h) > h->acked_mark) {
    arm(*h, HttpTimeout::kSend);
  }
  pump(*h);
}

void on_peer_closed(tcp::Connection& c) {
  auto* h = static_cast<HttpConn*>(c.user());
  if (h == nullptr) return;
  h->peer_closed = true;
  pump(*h);
}

}  // namespace

const char* to_string(HttpTimeout k) {
  switch (k) {
    case HttpTimeout::kHeader:
      return "header";
    case HttpTimeout::kKeepalive:
      return "keepalive";
    case HttpTimeout::kSend:
      return "send";
  }
  return "?";
}

const tcp::Handlers& HttpServer::handlers() {
  static const tcp::Handlers h = [] {
    tcp::Handlers x = registry_handlers<HttpServer, HttpConn>(on_data, on_writable, on_peer_closed);
    x.on_deadline = on_deadline;
    return x;
  }();
  return h;
}

HttpServer::~HttpServer() { teardown(); }

void HttpServer::accept(tcp::Connection& c) {
  HttpConn* h = conns_.adopt(c);
  h->server = this;
  arm(*h, HttpTimeout::kHeader);  // the first head counts from accept
}

void HttpServer::release(HttpConn* h) {
  if (h->held) --held_count_;
  conns_.release(h);
}

void HttpServer::hold(HttpConn* h) {
  h->conn->set_deadline(tcp::kNever);  // test mode: held until SIGUSR1
  if (!h->held) {
    h->held = true;
    ++held_count_;
  }
}

void HttpServer::request_release() { g_release_gen.fetch_add(1, std::memory_order_relaxed); }

void HttpServer::housekeeping() {
  const std::uint32_t gen = g_release_gen.load(std::memory_order_relaxed);
  if (gen == release_seen_) return;
  release_seen_ = gen;
  // close() never frees synchronously (on_closed comes with the peer's ACK).
  conns_.for_each([](HttpConn& h) {
    if (h.held && !h.closing) close_conn(h);
  });
}

void HttpServer::teardown() {
  // abort() runs on_closed inside the call, which releases h.
  conns_.abort_all([this](HttpConn* h) { release(h); });
}

}  // namespace shardtcp::app
