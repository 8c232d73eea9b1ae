#include "load_client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/runtime.h"

namespace shardtcp::app {

namespace {

constexpr std::size_t kMaxHeader = 16 * 1024;

LoadClient::Conn* conn_of(tcp::Connection& c) { return static_cast<LoadClient::Conn*>(c.user()); }

}  // namespace

const char* to_string(Failure f) {
  switch (f) {
    case Failure::kNone:
      return "none";
    case Failure::kNoSourcePort:
      return "no_source_port";
    case Failure::kConnect:
      return "connect";
    case Failure::kNoResponse:
      return "no_response";
    case Failure::kStatus:
      return "http_status";
    case Failure::kShortBody:
      return "body_length";
    case Failure::kPattern:
      return "pattern_mismatch";
    case Failure::kSha256:
      return "sha256_mismatch";
    case Failure::kClose:
      return "abnormal_close";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kCount:
      break;
  }
  return "?";
}

void LoadStats::add(const LoadStats& o) {
  opened += o.opened;
  connected += o.connected;
  ok += o.ok;
  failed += o.failed;
  body_bytes += o.body_bytes;
  for (int i = 0; i < kNumCloseReasons; ++i) by_reason[i] += o.by_reason[i];
  for (int i = 0; i < kNumFailures; ++i) by_failure[i] += o.by_failure[i];
  if (o.opened != 0 && (first_open == 0 || o.first_open < first_open)) first_open = o.first_open;
  last_close = std::max(last_close, o.last_close);
}

LoadClient::LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores,
                       std::function<tcp::TimeUs()> now)
    : opt_(opt),
      core_(core),
      num_cores_(num_cores == 0 ? 1 : num_cores),
      now_(std::move(now)),
      next_id_(core),
      port_cursor_(opt.src_port_start >= opt.src_port_min && opt.src_port_start <= opt.src_port_max
                       ? opt.src_port_start
                       : opt.src_port_min) {
  // This core's share of the connections (ids core, core + n, ...) and of
  // the concurrency (rounded up, so every core has at least one slot).
  std::uint64_t share = ~std::uint64_t{0};
  if (opt_.connections != 0) {
    share = opt_.connections > core_ ? (opt_.connections - core_ + num_cores_ - 1) / num_cores_ : 0;
  }
  const unsigned total_conc = opt_.concurrency != 0   ? opt_.concurrency
                              : opt_.connections != 0 ? opt_.connections
                                                      : 1;
  const std::uint64_t per_core = (total_conc + num_cores_ - 1) / num_cores_;
  slots_.resize(static_cast<std::size_t>(std::min(share, per_core)));  // never resized again
  for (Conn& k : slots_) {
    k.owner = this;
    free_.push_back(&k);
  }
  const std::string ip = config::ipv4_to_string(opt_.target_ip);
  request_ = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + ip + ":" +
             std::to_string(opt_.target_port) +
             "\r\nUser-Agent: shardtcp-loadgen\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  if (slots_.empty()) done_ = true;
}

bool LoadClient::want_more(tcp::TimeUs now) const {
  if (stopping_) return false;
  if (opt_.connections != 0 && next_id_ >= opt_.connections) return false;
  if (opt_.duration != 0 && now - start_ >= opt_.duration) return false;
  return true;
}

void LoadClient::tick(tcp::Stack& stack) {
  if (done_) return;
  const tcp::TimeUs now = now_();
  if (!started_) {
    started_ = true;
    stack_ = &stack;
    start_ = now;
  }
  if (!stopping_ && now - start_ > opt_.timeout) {
    std::fprintf(stderr,
                 "shardtcp-loadgen: core %u: --timeout-s reached, aborting %u connection(s)\n",
                 core_, open_);
    stopping_ = true;
    for (Conn& k : slots_) {
      if (k.c == nullptr) continue;
      k.timed_out = true;
      k.c->abort();  // on_closed runs inside (CloseReason kAborted)
    }
  }
  fill(now);
  check_done();
}

void LoadClient::fill(tcp::TimeUs now) {
  while (!free_.empty() && want_more(now)) {
    Conn* k = free_.back();
    free_.pop_back();
    if (!open_one(*k, now)) {
      // No usable source port now: try again on the next tick.
      break;
    }
  }
}

bool LoadClient::open_one(Conn& k, tcp::TimeUs now) {
  k.c = nullptr;
  k.res = ConnResult{};
  k.res.id = next_id_;
  k.header.clear();
  k.header_done = false;
  k.connected = false;
  k.timed_out = false;
  k.sha.reset();
  // DESIGN.md "active opens choose a source port whose RSS hash lands on the
  // opening core": scan the configured range from the cursor, keep only the
  // ports owner_core() maps here. Other cores take the others, so the cores'
  // port sets are disjoint. A port whose 4-tuple is still in use (or in our
  // TIME-WAIT) makes connect() return null; the scan moves on.
  const std::uint32_t range = std::uint32_t{opt_.src_port_max} - opt_.src_port_min + 1;
  static const tcp::Handlers h = [] {
    tcp::Handlers x;
    x.on_connected = on_connected;
    x.on_data = on_data;
    x.on_peer_closed = on_peer_closed;
    x.on_closed = on_closed;
    return x;
  }();
  for (std::uint32_t tried = 0; tried < range; ++tried) {
    const std::uint32_t port = port_cursor_;
    port_cursor_ = port_cursor_ == opt_.src_port_max ? opt_.src_port_min : port_cursor_ + 1;
    tcp::FourTuple t;
    t.local_ip = opt_.local_ip;
    t.local_port = static_cast<std::uint16_t>(port);
    t.remote_ip = opt_.target_ip;
    t.remote_port = opt_.target_port;
    if (dataplane::owner_core(t, num_cores_) != core_) continue;
    k.c = stack_->connect(t, h, &k, now);
    if (k.c == nullptr) continue;
    k.res.src_port = t.local_port;
    next_id_ += num_cores_;
    ++open_;
    ++stats_.opened;
    if (stats_.first_open == 0) stats_.first_open = now;
    return true;
  }
  // The connection number is not consumed: the slot goes back and the next
  // tick tries again (ports free up as connections close). Reported once.
  if (stats_.by_failure[static_cast<int>(Failure::kNoSourcePort)]++ == 0) {
    std::fprintf(stderr, "shardtcp-loadgen: core %u: no usable source port in %u-%u\n", core_,
                 opt_.src_port_min, opt_.src_port_max);
  }
  free_.push_back(&k);
  return false;
}

void LoadClient::on_connected(tcp::Connection& c) {
  Conn& k = *conn_of(c);
  k.connected = true;
  ++k.owner->stats_.connected;
  const std::string& req = k.owner->request_;
  if (c.send(req.data(), req.size()) != req.size()) {
    std::fprintf(stderr, "shardtcp-loadgen: request did not fit the send buffer\n");
    c.abort();
  }
}

void LoadClient::parse_header(Conn& k) {
  // Status line: "HTTP/1.x 200 ..."
  const std::size_t sp = k.header.find(' ');
  if (sp != std::string::npos) k.res.status = std::atoi(k.header.c_str() + sp + 1);
  std::string lower = k.header;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const std::size_t cl = lower.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    k.res.content_length = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
    k.res.has_content_length = true;
  }
}

void LoadClient::body_bytes(Conn& k, const std::uint8_t* p, std::size_t n) {
  if (opt_.verify_pattern && k.res.first_mismatch < 0) {
    const std::uint64_t base = k.res.body;
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] != pattern_byte(base + i)) {
        k.res.first_mismatch = static_cast<std::int64_t>(base + i);
        break;
      }
    }
  }
  if (!opt_.sha256.empty()) k.sha.update(p, n);
  k.res.body += n;
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
  k.owner->finish(k, r, k.timed_out);
}

void LoadClient::finish(Conn& k, tcp::CloseReason r, bool timed_out) {
  ConnResult& res = k.res;
  res.reason = r;
  const bool size_ok =
      (!res.has_content_length || res.body == res.content_length) &&
      (opt_.expect_bytes < 0 || res.body == static_cast<std::uint64_t>(opt_.expect_bytes));
  if (!opt_.sha256.empty() && k.header_done) res.sha256 = Sha256::hex(k.sha.finish());
  if (timed_out) {
    res.failure = Failure::kTimeout;
  } else if (!k.connected) {
    res.failure = Failure::kConnect;
  } else if (!k.header_done) {
    res.failure = Failure::kNoResponse;
  } else if (res.status != 200) {
    res.failure = Failure::kStatus;
  } else if (!size_ok) {
    res.failure = Failure::kShortBody;
  } else if (res.first_mismatch >= 0) {
    res.failure = Failure::kPattern;
  } else if (!opt_.sha256.empty() && res.sha256 != opt_.sha256) {
    res.failure = Failure::kSha256;
  } else if (r != tcp::CloseReason::kNormal) {
    res.failure = Failure::kClose;
  }
  const tcp::TimeUs now = now_();
  stats_.last_close = now;
  stats_.body_bytes += res.body;
  ++stats_.by_reason[static_cast<int>(r) % kNumCloseReasons];
  ++stats_.by_failure[static_cast<int>(res.failure)];
  if (res.ok()) {
    ++stats_.ok;
  } else {
    ++stats_.failed;
  }
  record(res);
  k.c = nullptr;
  --open_;
  // Keep the concurrency: reuse the slot at once (connect() is allowed from
  // inside a callback, stack.h contract).
  free_.push_back(&k);
  fill(now);
  check_done();
}

void LoadClient::record(const ConnResult& r) {
  if (kept_.size() < kKeepResults) {
    kept_.push_back(r);
  } else if (!r.ok() && kept_failures_ < kKeepResults) {
    kept_.push_back(r);
  } else {
    return;
  }
  if (!r.ok()) ++kept_failures_;
}

void LoadClient::check_done() {
  if (!started_ || open_ != 0) return;
  if (want_more(now_())) return;
  done_ = true;
}

}  // namespace shardtcp::app
