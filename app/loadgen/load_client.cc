#include "load_client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "shardtcp/dataplane/runtime.h"

namespace shardtcp::app {

namespace {
constexpr std::size_t kMaxHeader = 16 * 1024;

LoadClient::Conn* conn_of(tcp::Connection& c) { return static_cast<LoadClient::Conn*>(c.user()); }
}  // namespace

bool ConnResult::ok() const {
  return connected && closed && status == 200 && body == content_length && first_mismatch < 0 &&
         reason == tcp::CloseReason::kNormal;
}

LoadClient::LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores)
    : opt_(opt), core_(core), num_cores_(num_cores) {
  // Connection i belongs to core i % num_cores.
  for (unsigned i = core; i < opt_.connections; i += num_cores) {
    ConnResult r;
    r.id = i;
    results_.push_back(r);
  }
  conns_.resize(results_.size());  // never resized again: Conn* stay valid
  if (results_.empty()) done_ = true;
}

tcp::Handlers LoadClient::handlers() {
  tcp::Handlers h;
  h.on_connected = on_connected;
  h.on_data = on_data;
  h.on_peer_closed = on_peer_closed;
  h.on_closed = on_closed;
  return h;
}

void LoadClient::tick(tcp::Stack& stack, tcp::TimeUs now) {
  if (done_) return;
  if (!started_) {
    started_ = true;
    start_ = now;
    static const tcp::Handlers kHandlers = handlers();
    // Source ports: scan the range from a per-core offset and keep those whose
    // flow hash lands on this core (DESIGN.md: active opens).
    std::uint32_t port = opt_.src_port_min;
    for (std::size_t i = 0; i < results_.size(); ++i) {
      Conn& k = conns_[i];
      k.owner = this;
      k.res = &results_[i];
      for (; port <= opt_.src_port_max; ++port) {
        tcp::FourTuple t;
        t.local_ip = opt_.local_ip;
        t.local_port = static_cast<std::uint16_t>(port);
        t.remote_ip = opt_.target_ip;
        t.remote_port = opt_.target_port;
        if (dataplane::owner_core(t, num_cores_) != core_) continue;
        k.c = stack.connect(t, kHandlers, &k, now);
        if (k.c != nullptr) {
          k.res->src_port = static_cast<std::uint16_t>(port++);
          k.res->opened = true;
          ++open_;
          break;
        }
      }
      if (!k.res->opened) {
        std::fprintf(stderr, "shardtcp-loadgen: core %u: no usable source port for connection %u\n",
                     core_, k.res->id);
        k.res->closed = true;
      }
    }
    if (open_ == 0) done_ = true;
    return;
  }
  if (now - start_ > opt_.timeout) {
    std::fprintf(stderr, "shardtcp-loadgen: core %u: timeout, aborting %u connection(s)\n", core_,
                 open_);
    for (Conn& k : conns_) {
      if (k.c != nullptr && !k.res->closed) k.c->abort();  // on_closed runs inside
    }
    done_ = true;
  }
}

void LoadClient::on_connected(tcp::Connection& c) {
  Conn& k = *conn_of(c);
  k.res->connected = true;
  char ip[16];
  const tcp::Ipv4 a = k.owner->opt_.target_ip;
  std::snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  const std::string req = "GET " + k.owner->opt_.path + " HTTP/1.0\r\nHost: " + ip +
                          "\r\nUser-Agent: shardtcp-loadgen\r\nConnection: close\r\n\r\n";
  if (c.send(req.data(), req.size()) != req.size()) {
    std::fprintf(stderr, "shardtcp-loadgen: request did not fit the send buffer\n");
    c.abort();
  }
}

void LoadClient::parse_header(Conn& k) {
  // Status line: "HTTP/1.x 200 ..."
  const std::size_t sp = k.header.find(' ');
  if (sp != std::string::npos) k.res->status = std::atoi(k.header.c_str() + sp + 1);
  std::string lower = k.header;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const std::size_t cl = lower.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    k.res->content_length = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
  }
}

void LoadClient::body_bytes(Conn& k, const std::uint8_t* p, std::size_t n) {
  if (opt_.verify_pattern && k.res->first_mismatch < 0) {
    const std::uint64_t base = k.res->body;
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] != pattern_byte(base + i)) {
        k.res->first_mismatch = static_cast<std::int64_t>(base + i);
        break;
      }
    }
  }
  k.res->body += n;
}

void LoadClient::on_data(tcp::Connection& c, tcp::ByteView v) {
  Conn& k = *conn_of(c);
  const std::uint8_t* p = v.data;
  std::size_t n = v.size;
  if (!k.header_done) {
    // Append up to the end of the header; the rest is body.
    const std::size_t before = k.header.size();
    k.header.append(reinterpret_cast<const char*>(p), n);
    const std::size_t end = k.header.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (k.header.size() > kMaxHeader) c.abort();
      return;
    }
    const std::size_t used = end + 4 - before;
    k.header.resize(end + 4);
    k.header_done = true;
    k.owner->parse_header(k);
    p += used;
    n -= used;
  }
  if (n > 0) k.owner->body_bytes(k, p, n);
}

void LoadClient::on_peer_closed(tcp::Connection& c) { c.close(); }

void LoadClient::on_closed(tcp::Connection& c, tcp::CloseReason r) {
  Conn& k = *conn_of(c);
  k.res->reason = r;
  k.res->closed = true;
  k.c = nullptr;
  k.owner->finished_one();
}

void LoadClient::finished_one() {
  if (open_ > 0) --open_;
  if (open_ == 0) done_ = true;
}

}  // namespace shardtcp::app
