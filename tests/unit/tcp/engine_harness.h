// Test harness for the TCP engine: feeds Segments into one Stack under a
// virtual clock and records EXACTLY what comes out (flags, seq, ack, window,
// options, payload bytes) and what the application was told.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shardtcp/tcp/stack.h"
#include "stack_impl.h"

namespace shardtcp::tcp::testing {

inline constexpr Ipv4 kLocalIp = 0xC6120001;   // 198.18.0.1
inline constexpr Ipv4 kRemoteIp = 0xC6120002;  // 198.18.0.2
inline constexpr std::uint16_t kPort = 80;
inline constexpr std::uint16_t kPeerPort = 40000;
// Sequence numbers chosen so that every test crosses 2^32.
inline constexpr std::uint32_t kPeerIsn = 0xFFFFFFF0u;
inline constexpr std::uint32_t kOurIss = 0xFFFFFF00u;

struct Out {
  OutSegment seg;
  std::string payload;
  std::uint8_t flags() const { return seg.flags; }
};

std::string flags_str(std::uint8_t f);

// Serializes `o` (header, options, payload) into `frame` of exactly `room`
// bytes and parses it back into `back`; fails when it does not fit or when
// the frame does not hold what its header says.
::testing::AssertionResult serialize_frame(const OutSegment& o, std::size_t room,
                                           std::vector<std::uint8_t>& frame, Segment& back);

inline TcpOptions mss_option(std::uint16_t mss = 1460) {
  TcpOptions o;
  o.has_mss = true;
  o.mss = mss;
  return o;
}

struct AppLog {
  std::vector<Connection*> accepted;
  std::vector<Connection*> connected;
  std::string data;
  int data_calls = 0;
  int writable = 0;
  int peer_closed = 0;
  std::vector<CloseReason> closed;
  std::vector<Connection*> closed_conns;
  std::string events;  // callback order: D on_data, P on_peer_closed, C on_closed
  // Scripted reactions.
  bool close_on_peer_fin = false;
  bool echo = false;
  bool close_on_accept = false;
  bool abort_on_data = false;
  bool pause_on_data = false;  // set_receive_paused(true) on every on_data
  std::string send_on_accept;
};

class Harness {
 public:
  explicit Harness(TcpConfig cfg = default_config());
  static TcpConfig default_config();

  // --- driving --------------------------------------------------------------
  void listen(std::uint16_t port = kPort, ListenOptions opts = {});
  Connection* connect(FourTuple t = {});
  // Feeds one segment from the peer; output is collected into out().
  void in(const Segment& s);
  void in(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, const std::string& data = "",
          std::uint16_t window = 65535, const TcpOptions& opts = {});
  // Advances the virtual clock by dt and polls.
  void advance(TimeUs dt);
  void advance_to(TimeUs t);

  Segment seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
              const std::string& data = "", std::uint16_t window = 65535,
              const TcpOptions& opts = {}) const;

  // --- inspection -------------------------------------------------------------
  std::vector<Out> take();  // everything sent since the last take()
  Out take_one();           // exactly one segment must have been sent
  void expect_none();       // nothing was sent

  // A passive open with plain options (MSS only): SYN -> SYN-ACK -> ACK.
  // Our ISS is kOurIss unless told otherwise. Returns the accepted Connection.
  Connection* open(std::uint32_t peer_isn = kPeerIsn, std::uint32_t our_iss = kOurIss,
                   const TcpOptions& syn_opts = mss_option());
  static TcpOptions mss_only(std::uint16_t mss = 1460) { return mss_option(mss); }

  Tcb& tcb(Connection* c) const { return *static_cast<Tcb*>(c); }
  StackImpl& impl() { return stack->impl_for_testing(); }
  std::int64_t gauge(State s) const { return counters.state[state_index(s)].get(); }
  std::uint64_t drops(DropReason r) const { return counters.drops[static_cast<int>(r)].get(); }

  TcpConfig cfg;
  TcpCounters counters;
  std::unique_ptr<Stack> stack;
  TimeUs now = 1'000 * kUsPerSec;
  FourTuple tuple{kLocalIp, kRemoteIp, kPort, kPeerPort};
  AppLog app;
  Handlers handlers;

  // Peer-side bookkeeping for open(): next sequence number the peer sends.
  std::uint32_t peer_nxt = 0;
  std::uint32_t our_nxt = 0;

 private:
  void collect();
  std::vector<Out> out_;
};

// A fixture with one passive connection already ESTABLISHED and its
// handshake output taken; p/u are the peer's and our next sequence numbers.
template <TcpConfig (*Config)() = &Harness::default_config>
class EstablishedWith : public ::testing::Test {
 protected:
  void SetUp() override {
    h.listen();
    c = h.open();
    ASSERT_NE(c, nullptr);
    h.take();
    p = h.peer_nxt;
    u = h.our_nxt;
  }
  Harness h{Config()};
  Connection* c = nullptr;
  std::uint32_t p = 0;  // peer's next sequence number
  std::uint32_t u = 0;  // ours
};
using EstablishedTest = EstablishedWith<>;

}  // namespace shardtcp::tcp::testing
