// Stateful fuzz target of the TCP engine (issue 9). Two tcp::Stacks (A =
// 198.18.0.1, B = 198.18.0.2) joined by an in-memory link, plus fake peers
// (198.19.0.0/16) whose segments the input writes field by field, driven by
// a sequence of actions decoded from the fuzzer's bytes: incoming segments
// (every header field and option free: MSS 0-65535, window scale 0-255,
// SACK blocks, timestamps, payload), link moves (deliver, drop, duplicate,
// reorder), virtual time steps, and application calls (listen, connect,
// send, pause/resume, shutdown, close, abort, and the same from inside
// callbacks).
//
// After every step it checks what the engine states about itself:
// * every emitted OutSegment serializes into ONE frame of at most 1500 bytes
//   (20 B IPv4 + TCP header + payload), its payload fits the connection's
//   MSS, copy_payload() stays inside a buffer of exactly payload_len bytes
//   (ASan), the payload is the bytes the application queued at that
//   sequence number, and the frame parses back to what was emitted;
// * per connection (tcb.h): SND.UNA <= SND.NXT <= SND.MAX <= end of queued
//   data (+ FIN), 0 < MSS <= the configured MSS, window scales <= 14, the
//   receive window plus held bytes within rcv_buf, reassembly accounting,
//   options only when configured, the timer armed at the earliest deadline,
//   a retransmission timer while anything is outstanding;
// * per stack: each state gauge equals the real count, connection_count(),
//   time_wait_count(), the oldest-CLOSE-WAIT gauge, next_expiry() a lower
//   bound of every deadline, chunks in use cover the queued bytes;
// * the callback contract (stack.h): on_closed exactly once, nothing after
//   it, a Connection* valid until then, on_data bytes in order and equal to
//   what the peer sent, nothing after on_peer_closed;
// * at the end: with the application gone and no peer answering, every
//   connection ends in bounded virtual time and every chunk comes back.
//
// A broken invariant prints one line and aborts (a finding, like a crash).
//
// Encoding (stable, so the corpus stays meaningful; tests/fuzz/make_corpus.py
// writes the seeds): 2 config bytes, then actions, each an opcode byte
// (value % kNumOps) followed by that action's fixed-size fields; bytes past
// the end read as 0. See the field layouts at each action below.
#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/stack.h"
#include "stack_impl.h"  // white-box: Tcb fields and the table (test-only helpers)

namespace {

using namespace shardtcp::tcp;

constexpr Ipv4 kStackIp[2] = {0xC6120001u, 0xC6120002u};  // 198.18.0.1 (A), 198.18.0.2 (B)
constexpr Ipv4 kFakeNet = 0xC6130000u;                    // 198.19.0.0/16: fake peers
constexpr std::uint16_t kPorts[4] = {80, 81, 443, 50000};
constexpr std::size_t kMtu = 1500;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kLinkCap = 64;      // packets per direction; the oldest goes beyond
constexpr std::size_t kMaxSend = 65536;   // bytes per application send call
constexpr std::size_t kMaxActions = 200;  // per input (bounds the time per execution)
// Bytes the applications may queue in one execution, all connections together.
// Without a bound two echoing applications answer each other's data forever
// (a ping-pong of some 55,000 segments in one execution, reported as slow
// units); 1 MiB still fills every send buffer of several connections.
constexpr std::size_t kAppSendBudget = 1u << 20;
constexpr TimeUs kStart = 1000 * kUsPerSec;

enum Op : std::uint8_t {
  kOpInject,       // a segment from a peer (fake or spoofed)
  kOpLink,         // one move on the A<->B link
  kOpRun,          // deliver what is on the link, several packets
  kOpTime,         // advance the virtual clock and poll both stacks
  kOpApp,          // an application call on a connection
  kOpConnect,      // active open
  kOpListen,       // passive open
  kOpPauseAccept,  // Stack::pause_accept
  kOpRunTimed,     // deliver, and when the link is idle jump to the next timer
  kNumOps,
};

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::fputs("fuzz_stack: invariant broken: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::abort();
}

// FUZZ_STACK_TRACE=1 prints every segment in and out (to read a finding).
bool g_trace = false;
bool g_no_tcb_mss = false;

void trace_segment(const char* dir, int side, const FourTuple& t, std::uint8_t flags,
                   std::uint32_t seq, std::uint32_t ack, std::uint32_t len, std::uint16_t win,
                   const TcpOptions& o) {
  std::fprintf(stderr,
               "%s %c port %u->%u flags 0x%02x seq %u ack %u len %u win %u mss %u%s%s ws %d\n", dir,
               side == 0 ? 'A' : 'B', t.remote_port, t.local_port, flags, seq, ack, len, win,
               o.has_mss ? o.mss : 0u, o.has_timestamps ? " ts" : "",
               o.sack_permitted ? " sackok" : "", o.has_wscale ? o.wscale : -1);
}

// The bytes a sender queues at stream offset `off` (both the applications
// and the fake peers use it), so every receiver can check every byte.
std::uint8_t pattern(std::uint32_t off) {
  return static_cast<std::uint8_t>((off * 2654435761u) >> 24);
}

// The per-byte loops over payloads carry no useful coverage feedback and,
// instrumented (two comparison callbacks per byte), were the largest item of
// the profile; they are kept out of the coverage instrumentation.
#if defined(__clang__)
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FUZZ_NO_COVERAGE  // gcc: the replay driver has no coverage instrumentation
#endif

FUZZ_NO_COVERAGE void fill_pattern(std::uint8_t* p, std::uint32_t off, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = pattern(off + static_cast<std::uint32_t>(i));
}

// Index of the first byte of p[0, n) that is not the pattern from `off`, or n.
FUZZ_NO_COVERAGE std::size_t pattern_mismatch(const std::uint8_t* p, std::uint32_t off,
                                              std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != pattern(off + static_cast<std::uint32_t>(i))) return i;
  }
  return n;
}

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  std::size_t i = 0;
  bool done() const { return i >= n; }
  std::uint8_t u8() { return i < n ? p[i++] : 0; }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>((hi << 8) | u8());
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
};

std::int32_t s16(std::uint32_t v) { return static_cast<std::int16_t>(v & 0xFFFF); }

class Harness;

// One connection handed to an application (on_accept or connect()).
struct Conn {
  Harness* h = nullptr;
  int side = 0;
  FourTuple tuple;
  Connection* c = nullptr;  // null once on_closed ran
  std::uint32_t sent = 0;   // stream offset of the next byte the application queues
  std::uint32_t received = 0;
  std::uint8_t react = 0;    // what the callbacks do (kReact*)
  TimeUs deadline = kNever;  // the latest set_deadline()
  int deadline_calls = 0;
  bool established = false;
  bool peer_closed = false;
  bool closed = false;
};

// What a fake peer last saw from a stack on one 4-tuple.
struct PeerView {
  int side = 0;
  FourTuple tuple;
  std::uint32_t seq = 0, end = 0, ack = 0, ts_val = 0;
  std::uint16_t window = 0;
};

struct SideCtx {
  Harness* h = nullptr;
  int side = 0;
  std::uint8_t accept_react = 0;
};

// React bits (Conn::react): what an application does from inside callbacks.
constexpr std::uint8_t kReactMask = 7;  // on_data: 0 nothing, see Harness::on_data
constexpr std::uint8_t kReactWritableFill = 8;
constexpr std::uint8_t kReactSendOnOpen = 16;
constexpr std::uint8_t kReactCloseOnPeerFin = 32;
constexpr std::uint8_t kReactAbortOnDeadline = 64;  // else the deadline is set again, 1 s later

class Harness {
 public:
  explicit Harness(const std::uint8_t c0, const std::uint8_t c1) {
    cfg_.isn_secret[0] = 0x0123456789ABCDEFull;  // deterministic ISNs: reproducible inputs
    cfg_.isn_secret[1] = 0xFEDCBA9876543210ull;
    cfg_.timestamps = !(c0 & 1);
    cfg_.sack = !(c0 & 2);
    cfg_.window_scaling = !(c0 & 4);
    cfg_.syn_cookies = !(c0 & 8);
    cfg_.nagle = (c0 & 16) != 0;
    if (c0 & 32) {
      cfg_.rcv_buf = 4096;
      cfg_.snd_buf = 8192;
    }
    if (c0 & 64) cfg_.congestion_control = CongestionControl::kNewReno;
    cfg_.syn_backlog = (c0 & 128) ? 1 : 16;
    static constexpr std::uint16_t kMss[4] = {1460, 1460, 536, 1200};
    cfg_.mss = kMss[c1 & 3];
    cfg_.keepalive = (c1 & 4) != 0;
    cfg_.max_connections = (c1 & 8) ? 4 : 64;
    cfg_.time_wait_capacity = (c1 & 16) ? 2 : 64;
    cfg_.challenge_ack_limit = (c1 & 32) ? 2 : 1000;
    cfg_.syn_rcvd_timeout = (c1 & 64) ? 3 * kUsPerSec : 0;
    cfg_.initial_window_segments = (c1 & 128) ? 1 : 10;
    for (int s = 0; s < 2; ++s) {
      ctx_[s].h = this;
      ctx_[s].side = s;
      stack_[s] = std::make_unique<Stack>(cfg_, ctr_[s], static_cast<unsigned>(s), now_);
    }
    // A serves port 80 from the start (the common case needs no action).
    listen(0, 80);
  }

  void run(Reader& in) {
    for (std::size_t n = 0; n < kMaxActions && !in.done(); ++n) {
      switch (static_cast<Op>(in.u8() % kNumOps)) {
        case kOpInject:
          inject(in);
          break;
        case kOpLink:
          link_move(in.u8());
          break;
        case kOpRun:
          deliver_some(4u * (1u + in.u8() % 64u));
          break;
        case kOpTime:
          time_step(in.u8());
          break;
        case kOpApp:
          app(in);
          break;
        case kOpConnect:
          connect(in.u8());
          break;
        case kOpListen: {
          const std::uint8_t b = in.u8();
          listen(b & 1, kPorts[(b >> 1) & 3]);
          break;
        }
        case kOpPauseAccept: {
          const std::uint8_t b = in.u8();
          stack_[b & 1]->pause_accept((b & 2) != 0);
          break;
        }
        case kOpRunTimed:
          run_timed(1u + in.u8() % 32u);
          break;
        case kNumOps:
          break;
      }
      check_all();
    }
    quiesce();
  }

  // --- application callbacks (stack.h contract) --------------------------------------
  static void on_accept(Connection& c, void* listener_user) {
    SideCtx& x = *static_cast<SideCtx*>(listener_user);
    Harness& h = *x.h;
    Conn& r = h.conns_.emplace_back();
    r.h = &h;
    r.side = x.side;
    r.tuple = c.tuple();
    r.c = &c;
    r.react = x.accept_react;
    r.established = true;
    c.set_user(&r);
    if (c.state() != State::kEstablished && c.state() != State::kCloseWait) {
      fail("on_accept in state %d", static_cast<int>(c.state()));
    }
    if (r.react & kReactSendOnOpen) h.app_send(r, 4000);
  }
  static void on_connected(Connection& c) {
    Conn& r = conn_of(c, "on_connected");
    if (r.established) fail("on_connected twice");
    r.established = true;
    if (r.react & kReactSendOnOpen) r.h->app_send(r, 4000);
  }
  static void on_data(Connection& c, ByteView v) {
    Conn& r = conn_of(c, "on_data");
    if (r.peer_closed) fail("on_data after on_peer_closed");
    if (v.size == 0 || v.data == nullptr) fail("on_data with an empty view");
    if (const std::size_t i = pattern_mismatch(v.data, r.received, v.size); i != v.size) {
      const std::uint32_t off = r.received + static_cast<std::uint32_t>(i);
      fail("side %d port %u: received byte at stream offset %u is %u, sent %u", r.side,
           r.tuple.remote_port, off, v.data[i], pattern(off));
    }
    r.received += static_cast<std::uint32_t>(v.size);
    switch (r.react & kReactMask) {
      case 1:  // slow reader: pause after every delivery
        c.set_receive_paused(true);
        break;
      case 2:  // echo
        r.h->app_send(r, v.size);
        break;
      case 3:
        c.close();
        break;
      case 4:
        c.abort();
        break;
      case 5:
        c.shutdown();
        break;
      case 6:  // pause and resume from inside on_data (re-entrant delivery)
        c.set_receive_paused(true);
        c.set_receive_paused(false);
        break;
      case 7:  // pause, and resume only if nothing is held
        c.set_receive_paused(true);
        if (c.received_unread() == 0) c.set_receive_paused(false);
        break;
      default:
        break;
    }
  }
  static void on_writable(Connection& c) {
    Conn& r = conn_of(c, "on_writable");
    if (r.react & kReactWritableFill) r.h->app_send(r, 65536);
  }
  static void on_peer_closed(Connection& c) {
    Conn& r = conn_of(c, "on_peer_closed");
    if (r.peer_closed) fail("on_peer_closed twice");
    if (c.received_unread() != 0) fail("on_peer_closed with %zu bytes unread", c.received_unread());
    r.peer_closed = true;
    if (r.react & kReactCloseOnPeerFin) c.close();
  }
  static void on_deadline(Connection& c) {
    Conn& r = conn_of(c, "on_deadline");
    if (c.deadline() != kNever) fail("on_deadline with the deadline still set");
    if (c.now() < r.deadline) fail("on_deadline before the deadline");
    if (r.react & kReactAbortOnDeadline) {
      c.abort();
    } else if (++r.deadline_calls < 4) {
      r.deadline = c.now() + kUsPerSec;
      c.set_deadline(r.deadline);
    }
  }
  static void on_closed(Connection& c, CloseReason why) {
    Conn& r = conn_of(c, "on_closed");
    r.closed = true;
    r.c = nullptr;
    (void)why;
  }

 private:
  static Conn& conn_of(Connection& c, const char* cb) {
    Conn* r = static_cast<Conn*>(c.user());
    if (r == nullptr) fail("%s on a connection never handed to the application", cb);
    if (r->closed || r->c != &c) fail("%s after on_closed (port %u)", cb, r->tuple.remote_port);
    return *r;
  }

  StackImpl& impl(int side) { return stack_[side]->impl_for_testing(); }
  Handlers handlers() const {
    return Handlers{.on_accept = &on_accept,
                    .on_connected = &on_connected,
                    .on_data = &on_data,
                    .on_writable = &on_writable,
                    .on_peer_closed = &on_peer_closed,
                    .on_closed = &on_closed,
                    .on_deadline = &on_deadline};
  }

  void listen(int side, std::uint16_t port) {
    if (stack_[side]->listen(port, handlers(), &ctx_[side])) ++listeners_[side];
    drain(side);
  }

  // Layout: 1 byte: bit 0 side, bits 1-2 target, bits 3-4 local port choice,
  // bits 5-7 the new connection's react bits (kReactMask part).
  void connect(std::uint8_t b) {
    const int side = b & 1;
    const int other = 1 - side;
    const std::uint16_t lport = static_cast<std::uint16_t>(50000 + ((b >> 3) & 3));
    FourTuple t{.local_ip = kStackIp[side], .remote_ip = kStackIp[other]};
    switch ((b >> 1) & 3) {
      case 0:  // to the other stack's port 80
        t.local_port = lport;
        t.remote_port = 80;
        break;
      case 1:  // to a fake server (the input answers it with kOpInject)
        t.remote_ip = kFakeNet + 0x101;
        t.local_port = lport;
        t.remote_port = 443;
        break;
      case 2:  // to the other stack's port 81 (listening only after kOpListen)
        t.local_port = lport;
        t.remote_port = 81;
        break;
      default:  // mirror of case 0: both sides connecting cross (simultaneous open)
        t.local_port = side == 0 ? 80 : 50000;
        t.remote_port = side == 0 ? 50000 : 80;
        break;
    }
    Conn& r = conns_.emplace_back();
    r.h = this;
    r.side = side;
    r.tuple = t;
    r.react = static_cast<std::uint8_t>(b >> 5);
    note_tuple(side, t);
    Connection* c = stack_[side]->connect(t, handlers(), &r, now_);
    drain(side);
    if (c == nullptr) {
      conns_.pop_back();
      return;
    }
    r.c = c;
    if (c->tuple() != t) fail("connect: tuple differs");
  }

  // --- segments in -------------------------------------------------------------------
  // Layout (43 bytes): b0 [bit 0 side, bits 1-3 tuple, bits 4-5 seq mode,
  // bits 6-7 ack mode], conn index, flags, seq u32, ack u32, window u16,
  // options byte [bit 0 MSS, 1 WS, 2 SACK-perm, 3 TS, bits 4-6 SACK blocks
  // (% 5), bit 7 TS relative], mss u16, wscale u8, TSval u32, TSecr u32,
  // 4 x SACK block (left delta u16, length u16), payload length u16 (& 0x7FF).
  void inject(Reader& in) {
    const std::uint8_t b0 = in.u8();
    const std::uint8_t idx = in.u8();
    const std::uint8_t flags = in.u8();
    const std::uint32_t seq_raw = in.u32();
    const std::uint32_t ack_raw = in.u32();
    const std::uint16_t window = in.u16();
    const std::uint8_t ob = in.u8();
    const std::uint16_t mss = in.u16();
    const std::uint8_t ws = in.u8();
    const std::uint32_t tsv_raw = in.u32();
    const std::uint32_t tse_raw = in.u32();
    std::uint16_t sack_d[4], sack_len[4];
    for (int i = 0; i < 4; ++i) {
      sack_d[i] = in.u16();
      sack_len[i] = in.u16();
    }
    const std::uint32_t plen = in.u16() & 0x7FFu;

    int side = b0 & 1;
    FourTuple t{.local_ip = kStackIp[side]};
    const unsigned sel = (b0 >> 1) & 7;
    if (sel < 4) {  // fake clients 1-4 to port 80
      t.remote_ip = kFakeNet + 1 + sel;
      t.local_port = 80;
      t.remote_port = static_cast<std::uint16_t>(40000 + sel);
    } else if (sel == 5) {  // fake client 5 to any of the ports
      t.remote_ip = kFakeNet + 5;
      t.local_port = kPorts[idx & 3];
      t.remote_port = 40005;
    } else if (sel == 6 && !conns_.empty()) {  // on a known connection's tuple
      const Conn& r = conns_[idx % conns_.size()];
      side = r.side;
      t = r.tuple;
    } else if (sel == 7) {  // spoofing the other stack's first connection
      t.remote_ip = kStackIp[1 - side];
      t.local_port = side == 0 ? 80 : 50000;
      t.remote_port = side == 0 ? 50000 : 80;
    } else {  // a port nobody listens on
      t.remote_ip = kFakeNet + 6;
      t.local_port = 8080;
      t.remote_port = 40006;
    }

    // Relative fields: from the connection if there is one, else from what
    // the stack last sent on this tuple (a peer knows no more than that).
    note_tuple(side, t);
    const Tcb* tcb = impl(side).find_tcb(t);
    const PeerView* pv = find_view(side, t);
    const std::uint32_t rcv_nxt = tcb ? tcb->rcv_nxt : pv ? pv->ack : 0;
    const std::uint32_t rcv_adv = tcb ? tcb->rcv_adv : pv ? pv->ack + pv->window : 0;
    const std::uint32_t snd_una = tcb ? tcb->snd_una : pv ? pv->seq : 0;
    const std::uint32_t snd_max = tcb ? tcb->snd_max : pv ? pv->end : 0;
    const std::uint32_t snd_nxt = tcb ? tcb->snd_nxt : pv ? pv->end : 0;
    std::uint32_t seq = seq_raw;
    switch ((b0 >> 4) & 3) {
      case 1:
        seq = rcv_nxt + static_cast<std::uint32_t>(s16(seq_raw));
        break;
      case 2:
        seq = rcv_adv + static_cast<std::uint32_t>(s16(seq_raw));
        break;
      case 3:
        seq = rcv_nxt + seq_raw;
        break;
      default:
        break;
    }
    std::uint32_t ack = ack_raw;
    switch ((b0 >> 6) & 3) {
      case 1:
        ack = snd_una + static_cast<std::uint32_t>(s16(ack_raw));
        break;
      case 2:
        ack = snd_max + static_cast<std::uint32_t>(s16(ack_raw));
        break;
      case 3:
        ack = snd_nxt + static_cast<std::uint32_t>(s16(ack_raw));
        break;
      default:
        break;
    }
    std::uint32_t tsv = tsv_raw;
    std::uint32_t tse = tse_raw;
    if (ob & 0x80) {
      const std::uint32_t recent = tcb ? tcb->ts_recent : 0;
      tsv = recent + static_cast<std::uint32_t>(s16(tsv_raw));
      tse = pv ? pv->ts_val : 0;
    }

    // The wire bytes, options in the order a Linux peer writes them, then
    // the pattern payload at its stream offset.
    std::uint8_t opt[40];
    std::size_t on = 0;
    if (ob & 1) {
      opt[on++] = 2;
      opt[on++] = 4;
      opt[on++] = static_cast<std::uint8_t>(mss >> 8);
      opt[on++] = static_cast<std::uint8_t>(mss);
    }
    if (ob & 2) {
      opt[on++] = 3;
      opt[on++] = 3;
      opt[on++] = ws;
    }
    if (ob & 4) {
      opt[on++] = 4;
      opt[on++] = 2;
    }
    if (ob & 8) {
      opt[on++] = 8;
      opt[on++] = 10;
      put32(opt + on, tsv);
      put32(opt + on + 4, tse);
      on += 8;
    }
    std::size_t nsack = ((ob >> 4) & 7) % 5;
    while (nsack > 0 && on + 2 + 8 * nsack > sizeof opt) --nsack;
    if (nsack > 0) {
      opt[on++] = 5;
      opt[on++] = static_cast<std::uint8_t>(2 + 8 * nsack);
      for (std::size_t i = 0; i < nsack; ++i) {
        const std::uint32_t left = snd_una + static_cast<std::uint32_t>(s16(sack_d[i]));
        put32(opt + on, left);
        put32(opt + on + 4, left + sack_len[i]);
        on += 8;
      }
    }
    while (on % 4 != 0) opt[on++] = 0;  // EOL padding
    const std::size_t hl = 20 + on;
    std::uint8_t p[60] = {};
    put16(p, t.remote_port);
    put16(p + 2, t.local_port);
    put32(p + 4, seq);
    put32(p + 8, ack);
    p[12] = static_cast<std::uint8_t>((hl / 4) << 4);
    p[13] = flags;
    put16(p + 14, window);
    std::memcpy(p + 20, opt, on);
    const std::uint32_t data_seq = seq + ((flags & kSyn) ? 1u : 0u);
    // A SYN's own sequence number is the IRS it announces (RFC 9293 §3.4),
    // whatever a Tcb in SYN-SENT holds yet.
    const std::uint32_t irs = (flags & kSyn) ? seq : tcb ? tcb->irs : data_seq - 1;
    std::vector<std::uint8_t> pkt;
    pkt.reserve(hl + plen);  // exactly: ASan sees a read past the end
    pkt.assign(p, p + hl);
    pkt.resize(hl + plen);
    fill_pattern(pkt.data() + hl, data_seq - irs - 1, plen);

    Segment seg;
    const ParseStatus st = parse_segment(pkt.data(), pkt.size(), seg);
    if (st != ParseStatus::kOk)
      fail("a well-formed segment does not parse (%d)", static_cast<int>(st));
    if (seg.payload_len != plen || seg.seq != seq || seg.ack != ack || seg.flags != flags ||
        seg.opts.has_mss != ((ob & 1) != 0) || seg.opts.num_sack != nsack) {
      fail("parse_segment misread a segment we wrote");
    }
    seg.tuple = t;
    if (g_trace) {
      std::fprintf(stderr, "t=%llu ", static_cast<unsigned long long>(now_ - kStart));
      trace_segment("in ", side, t, seg.flags, seg.seq, seg.ack, seg.payload_len, seg.window,
                    seg.opts);
    }
    stack_[side]->input(seg, now_);
    drain(0);
    drain(1);
  }

  static void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
  }
  static void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
  }

  // Every tuple a Tcb can have: a Tcb is created only by a segment in or a
  // connect(), both noted here. Checking these (a table lookup each) instead
  // of walking the whole table keeps an execution cheap; the count is
  // compared with connection_count(), so no Tcb escapes the checks.
  void note_tuple(int side, const FourTuple& t) {
    auto& v = tuples_[side];
    if (std::find(v.begin(), v.end(), t) == v.end()) v.push_back(t);
  }

  PeerView* find_view(int side, const FourTuple& t) {
    for (PeerView& v : views_) {
      if (v.side == side && v.tuple == t) return &v;
    }
    return nullptr;
  }

  // --- segments out ------------------------------------------------------------------
  void drain(int side) {
    for (const OutSegment& o : stack_[side]->output()) emitted(side, o);
    stack_[side]->clear_output();
  }

  // Every segment the engine emits, checked as the dataplane would build it
  // (dataplane/src/core_tx.cc): header and payload in buffers of exactly
  // their length, one frame of at most the MTU.
  void emitted(int side, const OutSegment& o) {
    if (g_trace) {
      std::fprintf(stderr, "t=%llu ", static_cast<unsigned long long>(now_ - kStart));
      trace_segment("out", side, o.tuple, o.flags, o.seq, o.ack, o.payload_len, o.window, o.opts);
    }
    if (o.tuple.local_ip != kStackIp[side]) fail("segment from a foreign address");
    const std::size_t hl = tcp_header_len(o);
    if (hl < 20 || hl > 60 || hl % 4 != 0) fail("TCP header length %zu", hl);
    const std::uint64_t frame = kIpv4Header + hl + std::uint64_t{o.payload_len};
    if (frame > kMtu) {
      fail(
          "side %d emitted a %llu-byte frame (TCP header %zu + payload %u + IPv4 20) > MTU %zu; "
          "flags 0x%02x seq %u",
          side, static_cast<unsigned long long>(frame), hl, o.payload_len, kMtu, o.flags, o.seq);
    }
    if ((o.payload_len == 0) != (o.payload_src == nullptr))
      fail("payload_src/payload_len mismatch");
    if (o.payload_len > cfg_.mss) fail("payload %u > configured MSS %u", o.payload_len, cfg_.mss);
    if ((o.flags & kSyn) && !o.opts.has_mss) fail("SYN without MSS option");
    if ((o.flags & kRst) && o.payload_len != 0) fail("RST with payload");
    if (o.opts.has_wscale && o.opts.wscale > 14) fail("window scale %u emitted", o.opts.wscale);
    if (o.opts.num_sack > 4) fail("%u SACK blocks", o.opts.num_sack);

    std::vector<std::uint8_t> hdr(hl);
    if (write_tcp_header(o, hdr.data()) != hl) fail("write_tcp_header length");
    std::vector<std::uint8_t> pay(o.payload_len);
    if (o.payload_len > 0) copy_payload(o, pay.data());

    const Tcb* t = impl(side).find_tcb(o.tuple);
    if (t != nullptr && o.payload_len > 0) {
      if (o.payload_len > t->mss) fail("payload %u > connection MSS %u", o.payload_len, t->mss);
      // The payload is what the application queued at those sequence numbers.
      const std::uint32_t off0 = o.seq - (t->iss + 1);
      if (const std::size_t i = pattern_mismatch(pay.data(), off0, o.payload_len);
          i != o.payload_len) {
        const std::uint32_t off = off0 + static_cast<std::uint32_t>(i);
        fail("side %d: emitted byte at stream offset %u is %u, queued %u", side, off, pay[i],
             pattern(off));
      }
      if (seq_lt(o.seq, t->snd_una) || seq_gt(o.seq + o.payload_len, t->snd_max)) {
        fail("data [%u, +%u) outside [SND.UNA %u, SND.MAX %u]", o.seq, o.payload_len, t->snd_una,
             t->snd_max);
      }
    }

    // It parses back to what was emitted.
    std::vector<std::uint8_t> frame_bytes(hdr);
    frame_bytes.insert(frame_bytes.end(), pay.begin(), pay.end());
    Segment r;
    if (parse_segment(frame_bytes.data(), frame_bytes.size(), r) != ParseStatus::kOk) {
      fail("an emitted segment does not parse");
    }
    const TcpOptions& a = o.opts;
    const TcpOptions& b = r.opts;
    bool same = r.tuple.local_port == o.tuple.remote_port &&
                r.tuple.remote_port == o.tuple.local_port && r.seq == o.seq && r.ack == o.ack &&
                r.flags == o.flags && r.window == o.window && r.payload_len == o.payload_len &&
                b.has_mss == a.has_mss && (!a.has_mss || b.mss == a.mss) &&
                b.has_wscale == a.has_wscale && (!a.has_wscale || b.wscale == a.wscale) &&
                b.sack_permitted == a.sack_permitted && b.has_timestamps == a.has_timestamps &&
                (!a.has_timestamps || (b.ts_val == a.ts_val && b.ts_ecr == a.ts_ecr)) &&
                b.num_sack == a.num_sack;
    for (unsigned i = 0; same && i < a.num_sack; ++i) {
      same = b.sack[i].left == a.sack[i].left && b.sack[i].right == a.sack[i].right;
    }
    if (!same) fail("an emitted segment parses back differently (flags 0x%02x)", o.flags);

    // What a peer learns from it.
    PeerView* v = find_view(side, o.tuple);
    if (v == nullptr && views_.size() < 64) {
      v = &views_.emplace_back();
      v->side = side;
      v->tuple = o.tuple;
    }
    if (v != nullptr) {
      v->seq = o.seq;
      v->end = o.seq + o.payload_len + ((o.flags & kSyn) ? 1u : 0u) + ((o.flags & kFin) ? 1u : 0u);
      if (o.flags & kAck) v->ack = o.ack;
      v->window = o.window;
      if (a.has_timestamps) v->ts_val = a.ts_val;
    }
    // Addressed to the other stack: onto the link.
    if (o.tuple.remote_ip == kStackIp[1 - side]) {
      auto& q = link_[side];
      if (q.size() >= kLinkCap) q.pop_front();
      q.push_back(std::move(frame_bytes));
    }
  }

  // --- the link ----------------------------------------------------------------------
  void deliver_head(int from) {
    auto& q = link_[from];
    if (q.empty()) return;
    std::vector<std::uint8_t> bytes = std::move(q.front());
    q.pop_front();
    const int to = 1 - from;
    Segment seg;
    if (parse_segment(bytes.data(), bytes.size(), seg) != ParseStatus::kOk) {
      fail("a frame on the link does not parse");
    }
    seg.tuple.local_ip = kStackIp[to];
    seg.tuple.remote_ip = kStackIp[from];
    note_tuple(to, seg.tuple);
    stack_[to]->input(seg, now_);
    drain(0);
    drain(1);
  }

  // Layout: 1 byte: bit 0 direction (0 = A to B), bits 1-2 move.
  void link_move(std::uint8_t b) {
    const int from = b & 1;
    auto& q = link_[from];
    if (q.empty()) return;
    switch ((b >> 1) & 3) {
      case 0:
        deliver_head(from);
        break;
      case 1:  // loss
        q.pop_front();
        break;
      case 2:  // duplication
        if (q.size() < kLinkCap) q.push_back(q.front());
        deliver_head(from);
        break;
      default:  // reordering: the head goes behind the rest
        q.push_back(std::move(q.front()));
        q.pop_front();
        break;
    }
  }

  // Up to `max` packets, alternating directions; returns how many.
  unsigned deliver_some(unsigned max) {
    unsigned n = 0;
    int from = 0;
    while (n < max && (!link_[0].empty() || !link_[1].empty())) {
      if (link_[from].empty()) from = 1 - from;
      deliver_head(from);
      from = 1 - from;
      ++n;
      check_all();
    }
    return n;
  }

  void run_timed(unsigned rounds) {
    for (unsigned i = 0; i < rounds; ++i) {
      if (deliver_some(64) > 0) continue;
      const TimeUs next = std::min(stack_[0]->next_expiry(), stack_[1]->next_expiry());
      if (next == kNever || next - std::min(next, now_) > 600 * kUsPerSec) return;
      advance(std::max(next, now_));
    }
  }

  // --- time ---------------------------------------------------------------------------
  void advance(TimeUs to) {
    now_ = to;
    for (int s = 0; s < 2; ++s) {
      stack_[s]->poll(now_);
      drain(0);
      drain(1);
    }
  }

  // Layout: 1 byte: step (% 16) from the table; 15 = to the next timer.
  void time_step(std::uint8_t b) {
    static constexpr TimeUs kSteps[15] = {
        1,
        kUsPerMs,
        10 * kUsPerMs,
        40 * kUsPerMs,  // the delayed-ACK timer
        200 * kUsPerMs,
        kUsPerSec,
        3 * kUsPerSec,
        10 * kUsPerSec,
        30 * kUsPerSec,
        61 * kUsPerSec,  // FIN-WAIT-2 and TIME-WAIT (2 MSL) timeouts
        121 * kUsPerSec,
        600 * kUsPerSec,
        7201 * kUsPerSec,                    // keepalive idle
        TimeUs{25} * 24 * 3600 * kUsPerSec,  // beyond RFC 7323 §5.5's 24 days
        TimeUs{3} * kUsPerSec / 2,
    };
    const unsigned i = b % 16u;
    if (i < 15) {
      advance(now_ + kSteps[i]);
      return;
    }
    const TimeUs next = std::min(stack_[0]->next_expiry(), stack_[1]->next_expiry());
    if (next != kNever) advance(std::max(next, now_));
  }

  // --- the application ----------------------------------------------------------------
  std::size_t app_send(Conn& r, std::size_t n) {
    if (r.c == nullptr) return 0;
    if (n > 0 && send_budget_ == 0) return 0;
    n = std::min({n, kMaxSend, send_budget_});
    // Only the first send_space() bytes can be taken (checked below), so only
    // they are written with the pattern; the rest of the fixed-size scratch
    // holds stale bytes that fail the receivers' checks if they ever travel.
    // The n bytes end where the heap block ends, so ASan still sees a read
    // past them (as with a buffer of exactly n bytes).
    static std::uint8_t* const scratch = new std::uint8_t[kMaxSend];
    std::uint8_t* const data = scratch + (kMaxSend - n);
    const std::size_t space = r.c->send_space();
    fill_pattern(data, r.sent, std::min(n, space));
    const std::size_t took = r.c->send(data, n);
    if (took > n || took > space) fail("send took %zu of %zu (space %zu)", took, n, space);
    r.sent += static_cast<std::uint32_t>(took);
    send_budget_ -= took;
    return took;
  }

  // Layout (4 bytes): connection index, call (% 13), argument u16.
  void app(Reader& in) {
    const std::uint8_t idx = in.u8();
    const std::uint8_t call = in.u8();
    const std::uint16_t arg = in.u16();
    if (call % 13 == 11) {  // react bits of connections accepted from now on
      ctx_[idx & 1].accept_react = static_cast<std::uint8_t>(arg);
      return;
    }
    if (conns_.empty()) return;
    Conn& r = conns_[idx % conns_.size()];
    if (r.c == nullptr) return;
    Connection& c = *r.c;
    switch (call % 13) {
      case 0:  // send: up to 32 KiB as given, beyond in 16-byte units (to 512 KiB)
        app_send(r, arg < 32768 ? arg : (arg - 32768u) * 16u);
        break;
      case 1:
        c.set_receive_paused(true);
        break;
      case 2:
        c.set_receive_paused(false);
        break;
      case 3:
        c.shutdown();
        break;
      case 4:
        c.close();
        break;
      case 5:
        c.abort();
        break;
      case 6:
        c.set_nodelay((arg & 1) != 0);
        break;
      case 7:
        c.set_keepalive((arg & 1) != 0);
        break;
      case 8:
        r.react = static_cast<std::uint8_t>(arg);
        break;
      case 9:  // fill the send buffer
        while (r.c != nullptr && app_send(r, 65536) > 0) {
        }
        break;
      case 10:  // read-only calls must agree with the Tcb
        if (c.received_unread() != static_cast<const Tcb&>(c).rcv_held()) fail("received_unread");
        if (c.send_queued() != static_cast<const Tcb&>(c).sndbuf.size()) fail("send_queued");
        if (c.now() != now_) fail("Connection::now() is not the engine's time");
        break;
      default:  // an application deadline in 0-65 s (or none)
        r.deadline = arg == 0 ? kNever : now_ + TimeUs{arg} * kUsPerMs;
        c.set_deadline(r.deadline);
        if (c.deadline() != r.deadline) fail("deadline() after set_deadline()");
        break;
    }
    drain(0);
    drain(1);
  }

  // --- invariants ---------------------------------------------------------------------
  void check_all() {
    check_stack(0);
    check_stack(1);
    for (const Conn& r : conns_) {
      if (r.c == nullptr) continue;
      // A Connection* is valid until on_closed: it is still in the table.
      if (impl(r.side).find_tcb(r.tuple) != static_cast<const Tcb*>(r.c)) {
        fail("side %d port %u: connection gone without on_closed", r.side, r.tuple.remote_port);
      }
    }
  }

  void check_tcb(int side, const Tcb& t) {
    const unsigned port = t.tuple.remote_port;
    if (t.dead) fail("a dead Tcb in the table");
    if (!in_state(t.state, State::kSynSent | State::kSynReceived | kSynchronized) ||
        t.state == State::kTimeWait) {
      fail("Tcb in state %d", static_cast<int>(t.state));
    }
    // Sequence space (tcb.h): SND.UNA <= SND.NXT <= SND.MAX <= data end (+ FIN).
    if (!seq_le(t.snd_una, t.snd_nxt) || !seq_le(t.snd_nxt, t.snd_max)) {
      fail("side %d port %u: SND.UNA %u SND.NXT %u SND.MAX %u out of order", side, port, t.snd_una,
           t.snd_nxt, t.snd_max);
    }
    const std::uint32_t limit = t.data_end() + (t.fin_queued ? 1u : 0u);
    if (!seq_le(t.snd_max, limit)) {
      fail("side %d port %u: SND.MAX %u beyond queued data end %u", side, port, t.snd_max, limit);
    }
    if (t.sndbuf.size() > cfg_.snd_buf) fail("send buffer %u > snd_buf", t.sndbuf.size());
    // The negotiated MSS: the peer's, at most ours, never 0 (RFC 9293 §3.7.1).
    // (FUZZ_STACK_NO_TCB_MSS=1 leaves this to the frame checks alone.)
    if (!g_no_tcb_mss && (t.mss == 0 || t.mss > cfg_.mss)) {
      fail("side %d port %u: connection MSS %u not in [1, %u] (state %d, timestamps %d)", side,
           port, t.mss, cfg_.mss, static_cast<int>(t.state), t.ts_ok ? 1 : 0);
    }
    if (t.snd_wscale > 14 || t.rcv_wscale > 14) fail("window scale > 14");
    if ((t.ws_ok && !cfg_.window_scaling) || (t.ts_ok && !cfg_.timestamps) ||
        (t.sack_ok && !cfg_.sack)) {
      fail("an option in use that is not configured");
    }
    if (t.sacks != nullptr && !t.sack_ok) fail("SACK scoreboard without SACK");
    if (t.cc.cwnd() == 0) fail("cwnd 0");
    // Receive window: the right edge at most one (a FIN) behind RCV.NXT;
    // what we advertised plus what we hold fits rcv_buf.
    const std::int32_t wnd = seq_diff(t.rcv_adv, t.rcv_nxt);
    if (wnd < -1)
      fail("side %d port %u: RCV.ADV %u behind RCV.NXT %u", side, port, t.rcv_adv, t.rcv_nxt);
    const std::uint64_t held = t.rcv_held();
    if (wnd > 0 && held + static_cast<std::uint32_t>(wnd) > cfg_.rcv_buf) {
      fail("side %d port %u: window %d + held %llu > rcv_buf %u", side, port, wnd,
           static_cast<unsigned long long>(held), cfg_.rcv_buf);
    }
    if (t.reasm != nullptr) {
      if (t.reasm->bytes() > cfg_.rcv_buf) fail("reassembly holds %u > rcv_buf", t.reasm->bytes());
      if (t.reasm->held_in_order() > t.reasm->bytes()) fail("held in order > bytes held");
    } else if (t.peer_fin_owed) {
      fail("on_peer_closed owed with nothing held");
    }
    // Timers (tcb_timers.cc): one wheel slot at the earliest deadline.
    const TimeUs d = std::min({t.rtx_at, t.delack_at, t.idle_at, t.app_at, t.rack_at});
    if (d == kNever ? t.timer.armed() : (!t.timer.armed() || t.timer.deadline != d)) {
      fail("side %d port %u: timer not armed at the earliest deadline", side, port);
    }
    // Timers fire at the deadline rounded up to the wheel's 1 ms tick.
    if (d != kNever)
      next_lower_bound_[side] = std::min(next_lower_bound_[side], (d + 999) / 1000 * 1000);
    // RFC 6298 (5.1): a retransmission timer while anything is outstanding
    // (or the SYN / SYN-ACK / persist timer).
    const bool sends = in_state(t.state, State::kEstablished | State::kCloseWait |
                                             State::kFinWait1 | State::kClosing | State::kLastAck);
    const bool outstanding = t.snd_max != t.snd_una;
    const bool unsent = seq_lt(t.snd_nxt, t.data_end());
    if (t.rtx_at == kNever && (t.syn_unacked() || (sends && (outstanding || unsent)))) {
      fail("side %d port %u: data outstanding %d / unsent %d without a timer (state %d)", side,
           port, outstanding ? 1 : 0, unsent ? 1 : 0, static_cast<int>(t.state));
    }
    ++state_count_[state_index(t.state)];
    if (t.state == State::kCloseWait && t.close_wait_since < oldest_cw_) {
      oldest_cw_ = t.close_wait_since;
    }
    queued_ += t.sndbuf.size();
  }

  void check_stack(int side) {
    StackImpl& s = impl(side);
    state_count_.fill(0);
    oldest_cw_ = kNever;
    next_lower_bound_[side] = kNever;
    queued_ = 0;
    std::size_t tcbs = 0;
    for (const FourTuple& tuple : tuples_[side]) {
      if (const Tcb* t = s.find_tcb(tuple)) {
        ++tcbs;
        check_tcb(side, *t);
      }
    }
    TcpCounters& c = ctr_[side];
    if (tcbs != stack_[side]->connection_count()) {
      fail("side %d: %zu Tcbs found, connection_count() %zu", side, tcbs,
           stack_[side]->connection_count());
    }
    for (int i = 0; i < kNumStates; ++i) {
      const State st = state_from_index(i);
      std::int64_t want = state_count_[i];
      if (st == State::kListen) want = listeners_[side];
      if (st == State::kTimeWait) want = static_cast<std::int64_t>(stack_[side]->time_wait_count());
      if (st == State::kClosed) want = 0;
      if (c.in(st).get() != want) {
        fail("side %d: gauge %.*s is %lld, real count %lld", side,
             static_cast<int>(to_string(st).size()), to_string(st).data(),
             static_cast<long long>(c.in(st).get()), static_cast<long long>(want));
      }
    }
    // emit() drops (and counts) a segment that breaks its contract: that is
    // an engine bug, which the checks above must see.
    if (c.out_oversize.get() != 0) fail("side %d: emit() refused a segment (out_oversize)", side);
    const std::int64_t oldest = oldest_cw_ == kNever ? 0 : static_cast<std::int64_t>(oldest_cw_);
    if (c.oldest_close_wait_since.get() != oldest) fail("oldest_close_wait_since gauge");
    // A deadline already past (input() runs no timers) is due at the next
    // poll: any hint up to now says so.
    const TimeUs now_tick = (now_ + 999) / 1000 * 1000;
    if (stack_[side]->next_expiry() > std::max(next_lower_bound_[side], now_tick)) {
      fail("side %d: next_expiry() %llu is later than a connection deadline %llu (now %llu)", side,
           static_cast<unsigned long long>(stack_[side]->next_expiry()),
           static_cast<unsigned long long>(next_lower_bound_[side]),
           static_cast<unsigned long long>(now_));
    }
    // Queued bytes live in chunks (the graveyard may hold more until reaped).
    if (s.chunks_in_use() * SendChunk::kSize < queued_)
      fail("chunks in use do not cover queued bytes");
  }

  // The application goes away (abort) and no peer answers: every connection
  // must end in bounded virtual time, and every chunk must come back.
  void quiesce() {
    if (g_trace) {
      for (int s = 0; s < 2; ++s) {
        const TcpCounters& c = ctr_[s];
        std::fprintf(stderr,
                     "%c: in %llu out %llu rtx %llu cookies sent %llu ok %llu, challenge ACKs "
                     "%llu, ooo %llu, conns %zu\n",
                     s == 0 ? 'A' : 'B', static_cast<unsigned long long>(c.in_segs.get()),
                     static_cast<unsigned long long>(c.out_segs.get()),
                     static_cast<unsigned long long>(c.retrans_segs.get()),
                     static_cast<unsigned long long>(c.syncookies_sent.get()),
                     static_cast<unsigned long long>(c.syncookies_validated.get()),
                     static_cast<unsigned long long>(c.challenge_acks.get()),
                     static_cast<unsigned long long>(c.ooo_segs.get()), conns_.size());
      }
    }
    for (Conn& r : conns_) {
      if (r.c != nullptr) r.c->abort();
    }
    drain(0);
    drain(1);
    link_[0].clear();
    link_[1].clear();
    const TimeUs deadline = now_ + 4 * 3600 * kUsPerSec;
    for (int i = 0; i < 4000; ++i) {
      const TimeUs next = std::min(stack_[0]->next_expiry(), stack_[1]->next_expiry());
      if (next == kNever || next > deadline) break;
      advance(std::max(next, now_ + 1));
      link_[0].clear();
      link_[1].clear();
      check_all();
    }
    advance(now_ + 1);  // reaps what the last timers freed
    for (int s = 0; s < 2; ++s) {
      check_stack(s);
      if (stack_[s]->connection_count() != 0 || stack_[s]->time_wait_count() != 0) {
        fail(
            "side %d: %zu connections and %zu TIME-WAIT entries left 4 h after the application "
            "and the peers went away",
            s, stack_[s]->connection_count(), stack_[s]->time_wait_count());
      }
      if (impl(s).chunks_in_use() != 0)
        fail("side %d: %zu send chunks leaked", s, impl(s).chunks_in_use());
    }
  }

  TcpConfig cfg_;
  TcpCounters ctr_[2];
  std::unique_ptr<Stack> stack_[2];
  SideCtx ctx_[2];
  std::int64_t listeners_[2] = {0, 0};
  TimeUs now_ = kStart;
  std::deque<Conn> conns_;  // stable addresses: Connection::user points here
  std::vector<PeerView> views_;
  std::vector<FourTuple> tuples_[2];
  std::deque<std::vector<std::uint8_t>> link_[2];  // [0] = A to B
  // Scratch of check_stack().
  std::array<std::int64_t, kNumStates> state_count_{};
  TimeUs oldest_cw_ = kNever;
  TimeUs next_lower_bound_[2] = {kNever, kNever};
  std::uint64_t queued_ = 0;
  std::size_t send_budget_ = kAppSendBudget;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool trace = std::getenv("FUZZ_STACK_TRACE") != nullptr;
  g_trace = trace;
  static const bool no_tcb_mss = std::getenv("FUZZ_STACK_NO_TCB_MSS") != nullptr;
  g_no_tcb_mss = no_tcb_mss;
  Reader in{data, size};
  const std::uint8_t c0 = in.u8();
  const std::uint8_t c1 = in.u8();
  auto h = std::make_unique<Harness>(c0, c1);
  h->run(in);
  return 0;
}
