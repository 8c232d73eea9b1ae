#include "load_client.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "body_pattern.h"
#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/runtime.h"

namespace shardtcp::app {

namespace {

constexpr std::size_t kMaxHeader = 16 * 1024;

LoadClient::Conn* conn_of(tcp::Connection& c) { return static_cast<LoadClient::Conn*>(c.user()); }

tcp::TimeUs since(tcp::TimeUs now, tcp::TimeUs from) { return now > from ? now - from : 0; }

}  // namespace

const char* to_string(Failure f) {
  switch (f) {
    case Failure::kNone:
      return "none";
    case Failure::kTupleExhausted:
      return "tuple_exhausted";
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
    case Failure::kFraming:
      return "framing";
    case Failure::kClose:
      return "abnormal_close";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kCount:
      break;
  }
  return "?";
}

void LoadStats::add(const LiveStats& o) {
  opened_in_time += o.opened_in_time.get();
  opened += o.opened.get();
  connected += o.connected.get();
  closed += o.closed.get();
  ok += o.ok.get();
  failed += o.failed.get();
  requests += o.requests.get();
  responses += o.responses.get();
  body_bytes += o.body_bytes.get();
  for (int i = 0; i < kNumCloseReasons; ++i) by_reason[i] += o.by_reason[i].get();
  for (int i = 0; i < kNumFailures; ++i) by_failure[i] += o.by_failure[i].get();
  const tcp::TimeUs fo = o.first_open.get();
  if (o.opened.get() != 0 && (first_open == 0 || fo < first_open)) first_open = fo;
  last_close = std::max<tcp::TimeUs>(last_close, o.last_close.get());
}

LoadClient::LoadClient(const LoadOptions& opt, unsigned core, unsigned num_cores,
                       std::function<tcp::TimeUs()> now, tcp::TimeUs start)
    : opt_(opt),
      core_(core),
      num_cores_(num_cores == 0 ? 1 : num_cores),
      now_(std::move(now)),
      next_id_(core),
      port_cursor_(opt.src_port_start >= opt.src_port_min && opt.src_port_start <= opt.src_port_max
                       ? opt.src_port_start
                       : opt.src_port_min),
      stats_(std::make_unique<LiveStats>()),
      start_(start),
      rng_(0x9e3779b97f4a7c15ull ^ core) {
  // This core's share of the connections (numbers core, core + n, ...) and
  // of the slots (rounded up, so every core has at least one).
  std::uint64_t share = ~std::uint64_t{0};
  if (opt_.connections != 0) {
    share = opt_.connections > core_ ? (opt_.connections - core_ + num_cores_ - 1) / num_cores_ : 0;
  }
  std::uint64_t total_slots = 1;
  if (opt_.rate > 0) {
    total_slots = opt_.max_open;
    per_core_rate_ = opt_.rate / num_cores_;
    next_due_ = static_cast<double>(start_);
  } else if (opt_.concurrency != 0) {
    total_slots = opt_.concurrency;
  } else if (opt_.connections != 0) {
    total_slots = opt_.connections;
  }
  const std::uint64_t per_core = (total_slots + num_cores_ - 1) / num_cores_;
  slots_.resize(static_cast<std::size_t>(std::min(share, per_core)));  // never resized again
  free_.reserve(slots_.size());
  for (Conn& k : slots_) {
    k.owner = this;
    k.header.reserve(1024);
    free_.push_back(&k);
  }
  for (const Target& t : opt_.targets) {
    std::string base = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + config::ipv4_to_string(t.ip) +
                       ":" + std::to_string(t.port) +
                       "\r\nUser-Agent: shardtcp-loadgen\r\nAccept: */*\r\n";
    for (const std::string& h : opt_.headers) base += h + "\r\n";
    requests_.push_back({base + "\r\n", base + "Connection: close\r\n\r\n"});
  }
  if (opt_.raw) {
    raw_request_.assign(reinterpret_cast<const char*>(body_pattern_at(0)),
                        std::min(opt_.raw_send, kBodyPatternChunk));
  }
  if (slots_.empty()) done_ = true;
}

bool LoadClient::want_more(tcp::TimeUs now) const {
  if (stopping_) return false;
  if (opt_.connections != 0 && next_id_ >= opt_.connections) return false;
  // Open loop: every arrival scheduled inside --duration is made, late ones
  // included (their latency counts from the schedule).
  const tcp::TimeUs t = opt_.rate > 0 ? static_cast<tcp::TimeUs>(next_due_) : now;
  if (opt_.duration != 0 && t - start_ >= opt_.duration) return false;
  return true;
}

bool LoadClient::more_requests(const Conn& k, tcp::TimeUs now) const {
  if (stopping_ || k.finishing) return false;
  if (opt_.requests_per_conn != 0) return k.sent < opt_.requests_per_conn;
  return opt_.duration == 0 || now - start_ < opt_.duration;  // keep-alive until the end
}

void LoadClient::tick(tcp::Stack& stack) {
  if (done_) return;
  stack_ = &stack;
  const tcp::TimeUs now = now_();
  if (!stopping_ && now - start_ > opt_.timeout) {
    std::fprintf(stderr,
                 "shardtcp-loadgen: core %u: --timeout-s reached, aborting %u connection(s)\n",
                 core_, open_);
    stopping_ = true;
  }
  // Per-response deadline (--request-timeout; the whole run's with --timeout-s).
  for (Conn& k : slots_) {
    if (k.c == nullptr) continue;
    const tcp::TimeUs from = k.done < k.sent ? k.req_start[k.done % kMaxPipeline] : k.intended;
    if (stopping_ || since(now, from) > opt_.request_timeout) {
      k.timed_out = true;
      k.aborted_by_us = true;
      k.c->abort();  // on_closed runs inside (CloseReason kAborted)
    }
  }
  if (!warm_up(now)) return;
  if (opt_.rate > 0) {
    poll(stack);
  } else {
    fill(now);
  }
  check_done();
}

bool LoadClient::warm_up(tcp::TimeUs now) {
  if (warm_) return true;
  if (stopping_) {
    done_ = warm_conn_ == nullptr;
    return false;
  }
  if (warm_conn_ != nullptr) return false;  // one at a time, answered in on_connected
  if (warm_target_ == opt_.targets.size() || free_.empty()) {
    // Every target answered: the run starts now on this core.
    warm_ = true;
    start_ = now;
    started_.set(now);
    next_due_ = static_cast<double>(now);
    return true;
  }
  Conn* k = free_.back();
  free_.pop_back();
  k->warmup = true;
  const std::uint64_t saved_id = next_id_;
  next_id_ = warm_target_;  // open_one() picks targets[id % n]
  const bool opened = open_one(*k, now, now);
  next_id_ = saved_id;
  if (opened) warm_conn_ = k;
  return false;
}

void LoadClient::advance_schedule() {
  const double mean_gap = 1e6 / per_core_rate_;
  if (opt_.poisson) {
    // Exponential gaps (a Poisson process): -ln(U) * mean, U in (0, 1].
    const double u = 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    next_due_ += -std::log(u) * mean_gap;
  } else {
    next_due_ += mean_gap;
  }
}

void LoadClient::poll(tcp::Stack& stack) {
  if (done_ || opt_.rate <= 0 || !warm_) return;
  stack_ = &stack;
  const tcp::TimeUs now = now_();
  // Every arrival that is due gets a slot; without a free slot it waits and
  // keeps its intended start (its latency then includes the wait).
  while (!free_.empty() && static_cast<double>(now) >= next_due_ && want_more(now)) {
    const auto intended = static_cast<tcp::TimeUs>(next_due_);
    Conn* k = free_.back();
    free_.pop_back();
    advance_schedule();
    if (!open_one(*k, intended, now)) break;  // no tuple: counted; next poll goes on
  }
}

void LoadClient::fill(tcp::TimeUs now) {
  if (opt_.rate > 0 || !warm_) return;  // open loop: arrivals come from poll()
  while (!free_.empty() && want_more(now)) {
    Conn* k = free_.back();
    free_.pop_back();
    if (!open_one(*k, now, now)) break;  // no tuple: counted; the next tick tries again
  }
}

bool LoadClient::open_one(Conn& k, tcp::TimeUs intended, tcp::TimeUs now) {
  k.c = nullptr;
  k.res = ConnResult{};
  k.res.id = next_id_;
  k.intended = intended;
  k.header.clear();
  k.in_body = opt_.raw;
  k.got_first = false;
  k.has_len = opt_.raw;
  k.body_len = opt_.raw ? opt_.raw_expect : 0;
  k.body_got = 0;
  k.sent = k.done = 0;
  k.connected = k.finishing = k.aborted_by_us = k.timed_out = false;
  if (!opt_.sha256.empty()) k.sha.reset();
  const Target& target = opt_.targets[next_id_ % opt_.targets.size()];
  next_id_ += num_cores_;
  // DESIGN.md "active opens choose a source port whose RSS hash lands on the
  // opening core": scan the configured range from the cursor, keep only the
  // ports owner_core() maps here. A port whose 4-tuple is still in use (or
  // in our TIME-WAIT) makes connect() return null; the scan moves on.
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
    t.remote_ip = target.ip;
    t.remote_port = target.port;
    if (dataplane::owner_core(t, num_cores_) != core_) continue;
    k.c = stack_->connect(t, h, &k, now);
    if (k.c == nullptr) continue;
    k.res.src_port = t.local_port;
    ++open_;
    if (k.warmup) return true;
    stats_->opened.inc();
    if (opt_.duration == 0 || now - start_ < opt_.duration) stats_->opened_in_time.inc();
    if (stats_->first_open.get() == 0) stats_->first_open.set(now);
    return true;
  }
  if (k.warmup) {
    k.warmup = false;
    free_.push_back(&k);
    return false;  // the warm-up tries again on the next tick
  }
  // No free tuple: an explicit, counted failure of this connection number
  // (never a wait). Reported once on stderr.
  if (stats_->by_failure[static_cast<int>(Failure::kTupleExhausted)].get() == 0) {
    std::fprintf(stderr, "shardtcp-loadgen: core %u: no free 4-tuple (source ports %u-%u)\n", core_,
                 opt_.src_port_min, opt_.src_port_max);
  }
  k.res.failure = Failure::kTupleExhausted;
  stats_->by_failure[static_cast<int>(Failure::kTupleExhausted)].inc();
  stats_->failed.inc();
  record(k.res);
  free_.push_back(&k);
  return false;
}

void LoadClient::send_requests(Conn& k, tcp::TimeUs now) {
  while (k.sent - k.done < opt_.pipeline && more_requests(k, now)) {
    const bool last = opt_.requests_per_conn != 0 && k.sent + 1 == opt_.requests_per_conn;
    const std::string& req =
        opt_.raw ? raw_request_
                 : requests_[k.res.id % requests_.size()][last && opt_.close == CloseMode::kServer];
    if (k.c->send(req.data(), req.size()) != req.size()) {
      // Requests are small and the window is at most --pipeline of them;
      // a send buffer that cannot take one is a configuration problem.
      fail(k, Failure::kFraming);
      return;
    }
    // The first request of a connection starts at the connection's intended
    // start (connect time is part of its latency); later ones when sent.
    k.req_start[k.sent % kMaxPipeline] = k.sent == 0 ? k.intended : now;
    ++k.sent;
    stats_->requests.inc();
  }
  if (k.done == k.sent && !more_requests(k, now) && !k.finishing) {
    // Nothing outstanding and nothing more to ask: close as --close says
    // (with keep-alive until the end, "server" falls back to a client FIN:
    // the last request was not known in advance).
    k.finishing = true;
    if (opt_.close == CloseMode::kRst) {
      k.aborted_by_us = true;
      k.c->abort();
    } else if (opt_.close == CloseMode::kClient || opt_.requests_per_conn == 0 || opt_.raw) {
      k.c->close();
    }
    // kServer: the server closes after the `Connection: close` response.
  }
}

void LoadClient::on_connected(tcp::Connection& c) {
  Conn& k = *conn_of(c);
  LoadClient& o = *k.owner;
  if (k.warmup) {
    ++o.warm_target_;
    k.aborted_by_us = true;
    c.abort();  // RST: nothing to keep on either side
    return;
  }
  k.connected = true;
  o.stats_->connected.inc();
  const tcp::TimeUs now = o.now_();
  o.stats_->connect.record(since(now, k.intended));
  o.send_requests(k, now);
}

void LoadClient::parse_header(Conn& k) {
  // Status line: "HTTP/1.x 200 ..."
  const std::size_t sp = k.header.find(' ');
  k.res.status = sp != std::string::npos ? std::atoi(k.header.c_str() + sp + 1) : 0;
  k.has_len = false;
  // Header names are case-insensitive (RFC 9110 §5.1).
  for (std::size_t pos = k.header.find("\r\n");
       pos != std::string::npos && pos + 2 < k.header.size();
       pos = k.header.find("\r\n", pos + 2)) {
    static constexpr char kName[] = "content-length:";
    constexpr std::size_t kLen = sizeof(kName) - 1;
    if (k.header.size() - (pos + 2) < kLen) break;
    bool match = true;
    for (std::size_t i = 0; i < kLen && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(k.header[pos + 2 + i])) == kName[i];
    }
    if (!match) continue;
    k.body_len = std::strtoull(k.header.c_str() + pos + 2 + kLen, nullptr, 10);
    k.has_len = true;
    break;
  }
  k.res.has_content_length = k.has_len;
  k.res.content_length = k.body_len;
  k.body_got = 0;
}

void LoadClient::response_bytes(Conn& k, const std::uint8_t* p, std::size_t n) {
  if (!opt_.raw && opt_.verify_pattern && k.res.first_mismatch < 0) {
    const std::int64_t at = body_pattern_mismatch(k.body_got, p, n);
    if (at >= 0) k.res.first_mismatch = static_cast<std::int64_t>(k.body_got) + at;
  }
  if (!opt_.sha256.empty()) k.sha.update(p, n);
  k.body_got += n;
  k.res.body += n;
  stats_->body_bytes.add(n);
}

void LoadClient::on_data(tcp::Connection& c, tcp::ByteView v) {
  Conn& k = *conn_of(c);
  LoadClient& o = *k.owner;
  const std::uint8_t* p = v.data;
  std::size_t n = v.size;
  // A failure aborts the connection, and finish() may hand the slot to a new
  // connection at once: stop as soon as this slot holds another number.
  const std::uint64_t id = k.res.id;
  while (n > 0 && k.c != nullptr && k.res.id == id) {
    if (k.done >= k.sent) {
      o.fail(k, Failure::kFraming);  // bytes nobody asked for
      return;
    }
    if (!k.got_first) {
      k.got_first = true;
      o.stats_->ttfb.record(since(o.now_(), k.req_start[k.done % kMaxPipeline]));
    }
    if (!k.in_body) {
      // Append up to the end of the header; the rest is body.
      const std::size_t before = k.header.size();
      const std::size_t take = std::min(n, kMaxHeader + 4 - before);
      k.header.append(reinterpret_cast<const char*>(p), take);
      const std::size_t end = k.header.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
      if (end == std::string::npos) {
        if (k.header.size() >= kMaxHeader) o.fail(k, Failure::kFraming);
        return;
      }
      const std::size_t used = end + 4 - before;
      k.header.resize(end + 4);
      o.parse_header(k);
      k.in_body = true;
      p += used;
      n -= used;
      if (k.has_len && k.body_len == 0) {
        o.response_done(k);
        continue;
      }
      if (n == 0) return;
    }
    std::size_t take = n;
    if (k.has_len)
      take = static_cast<std::size_t>(std::min<std::uint64_t>(n, k.body_len - k.body_got));
    o.response_bytes(k, p, take);
    p += take;
    n -= take;
    if (k.has_len && k.body_got == k.body_len) o.response_done(k);
  }
}

void LoadClient::response_done(Conn& k) {
  const tcp::TimeUs now = now_();
  const tcp::TimeUs from = k.req_start[k.done % kMaxPipeline];
  if (!opt_.raw) {
    if (k.res.status != 200) return fail(k, Failure::kStatus);
    if (opt_.expect_bytes >= 0 && k.body_got != static_cast<std::uint64_t>(opt_.expect_bytes)) {
      return fail(k, Failure::kShortBody);
    }
    if (k.res.first_mismatch >= 0) return fail(k, Failure::kPattern);
    if (!opt_.sha256.empty()) {
      k.res.sha256 = Sha256::hex(k.sha.finish());
      k.sha.reset();
      if (k.res.sha256 != opt_.sha256) return fail(k, Failure::kSha256);
    }
  }
  stats_->total.record(since(now, from));
  stats_->responses.inc();
  ++k.done;
  ++k.res.responses;
  k.header.clear();
  k.in_body = opt_.raw;
  k.got_first = false;
  k.has_len = opt_.raw;
  k.body_len = opt_.raw ? opt_.raw_expect : 0;
  k.body_got = 0;
  send_requests(k, now);
}

void LoadClient::on_peer_closed(tcp::Connection& c) {
  Conn& k = *conn_of(c);
  // A response without Content-Length ends with the connection (RFC 9112 §6.3).
  if (k.in_body && !k.has_len && k.done < k.sent && !k.owner->opt_.raw) {
    const std::uint64_t id = k.res.id;
    k.owner->response_done(k);
    if (k.c == nullptr || k.res.id != id) return;  // failed: aborted, slot maybe reused
  }
  k.finishing = true;
  c.close();
}

void LoadClient::on_closed(tcp::Connection& c, tcp::CloseReason r) {
  Conn& k = *conn_of(c);
  k.owner->finish(k, r);
}

void LoadClient::fail(Conn& k, Failure f) {
  if (k.res.failure == Failure::kNone) k.res.failure = f;
  if (k.c != nullptr && !k.aborted_by_us) {
    k.aborted_by_us = true;
    k.finishing = true;
    k.c->abort();  // on_closed -> finish() runs inside
  }
}

void LoadClient::finish(Conn& k, tcp::CloseReason r) {
  if (k.warmup) {  // not part of the run: no statistics
    k.warmup = false;
    k.c = nullptr;
    --open_;
    warm_conn_ = nullptr;
    free_.push_back(&k);
    return;
  }
  ConnResult& res = k.res;
  res.reason = r;
  if (res.failure == Failure::kNone) {
    const bool want_rst = opt_.close == CloseMode::kRst && k.aborted_by_us && !k.timed_out;
    if (k.timed_out) {
      res.failure = Failure::kTimeout;
    } else if (!k.connected) {
      res.failure = Failure::kConnect;
    } else if (k.done < k.sent || k.sent == 0) {
      res.failure = k.header.empty() && !k.in_body ? Failure::kNoResponse
                    : k.in_body                    ? Failure::kShortBody
                                                   : Failure::kNoResponse;
    } else if (opt_.requests_per_conn != 0 && k.done < opt_.requests_per_conn) {
      res.failure = Failure::kNoResponse;  // the server closed before all were asked
    } else if (r != tcp::CloseReason::kNormal && !(want_rst && r == tcp::CloseReason::kAborted)) {
      res.failure = Failure::kClose;
    }
  }
  if (res.failure == Failure::kTimeout && k.done < k.sent) {
    // A response that never came still shows in the latency it has cost so
    // far (open loop: from its intended start), not only as an error.
    stats_->total.record(since(now_(), k.req_start[k.done % kMaxPipeline]));
  }
  const tcp::TimeUs now = now_();
  stats_->last_close.set(now);
  stats_->closed.inc();
  stats_->by_reason[static_cast<int>(r) % kNumCloseReasons].inc();
  if (res.ok()) {
    stats_->ok.inc();
  } else {
    stats_->by_failure[static_cast<int>(res.failure)].inc();
    stats_->failed.inc();
  }
  record(res);
  k.c = nullptr;
  --open_;
  free_.push_back(&k);
  // Closed loop: keep the concurrency by reusing the slot at once (connect()
  // is allowed from inside a callback, stack.h contract).
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
  if (open_ != 0 || !warm_) return;
  if (want_more(now_())) return;
  done_ = true;
}

}  // namespace shardtcp::app
