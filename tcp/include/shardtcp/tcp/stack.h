// The public API of the TCP engine: one Stack per core, Connections, and the
// application callback contract.
//
// CALLBACK CONTRACT (read this before writing an application)
// * Threading: a Stack and all its Connections belong to one core. Every
//   callback runs on that core, from inside Stack::input() or Stack::poll()
//   (or from a Connection method the application called). Never call into a
//   Stack from another thread.
// * What may be called from inside a callback: any Connection method of any
//   connection of the same Stack (send, shutdown, close, abort, set_user...)
//   and Stack::listen/connect. Not Stack::input/poll (no re-entry).
// * Ownership of received bytes: on_data's ByteView points into the packet
//   buffer (zero copy). It is valid only until on_data returns; copy what you
//   need to keep. All delivered bytes count as consumed.
// * Receive flow control: set_receive_paused(true) stops on_data; bytes that
//   arrive meanwhile are held by the engine (copied) and count against the
//   receive window, which closes when rcv_buf is full, so the peer stops
//   sending. set_receive_paused(false) delivers the held bytes (on_data runs
//   inside the call) and sends a window update. A pause requested inside
//   on_data takes effect after that view (its bytes count as consumed).
//   on_peer_closed waits until held bytes are read. close() with unread
//   bytes resets the connection (RST, on_closed(kAborted)), as Linux does;
//   bytes a resume is still delivering count as unread (received_unread()
//   tells, from inside on_data). A connection that ends normally while bytes
//   are held (entering TIME-WAIT, or LAST-ACK acknowledged) gets them, and
//   on_peer_closed, before on_closed, whatever the pause.
// * Ownership of sent bytes: send() copies the bytes into the connection's
//   send buffer and returns how many it took (<= len; 0 when the buffer is
//   full). It also takes less when the core's payload memory budget
//   (TcpConfig::mem_budget) is exhausted. When space or memory frees up,
//   on_writable is called.
// * Lifetime: a Connection* is valid from on_accept (passive) or connect()
//   (active) until on_closed returns. on_closed is called exactly once per
//   connection handed to the application, whatever the reason (including
//   abort(), from inside the abort() call). After that the pointer is dead.
//   TCB memory is reclaimed at the start of the next input()/poll() call, so a
//   pointer used later inside the same callback is still safe to compare.
// * on_closed is called when the application's part is over: on entering
//   TIME-WAIT (the compact TIME-WAIT entry no longer has a Connection) or
//   CLOSED, on RST, on timeout, on abort.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "shardtcp/tcp/config.h"
#include "shardtcp/tcp/counters.h"
#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/state.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

class Connection;
class StackImpl;

enum class CloseReason : std::uint8_t {
  kNormal,           // both FINs exchanged (TIME-WAIT entered or LAST-ACK acked)
  kReset,            // the peer sent an acceptable RST
  kAborted,          // the application called abort()
  kTimeout,          // retransmissions (or SYN retries / keepalive) exhausted
  kRefused,          // active open answered with RST
  kFinWait2Timeout,  // peer never sent its FIN
  kEvicted,          // reset (RST sent) to make room for a new connection at
                     // tcp.max_connections: the longest idle one goes first
};
const char* to_string(CloseReason r);

struct Handlers {
  // Passive open completed (ESTABLISHED). `listener_user` is listen()'s user.
  void (*on_accept)(Connection& c, void* listener_user) = nullptr;
  // Active open completed (ESTABLISHED).
  void (*on_connected)(Connection& c) = nullptr;
  // In-order bytes arrived (zero-copy view, see contract above).
  void (*on_data)(Connection& c, ByteView data) = nullptr;
  // Send buffer space became available after send() returned short.
  void (*on_writable)(Connection& c) = nullptr;
  // Peer sent FIN (no more data will arrive): CLOSE-WAIT or later.
  void (*on_peer_closed)(Connection& c) = nullptr;
  // The connection is over for the application; last callback.
  void (*on_closed)(Connection& c, CloseReason reason) = nullptr;
  // The deadline set with Connection::set_deadline() has passed (see the
  // contract above); it is cleared before the call.
  void (*on_deadline)(Connection& c) = nullptr;
};

struct ListenOptions {
  std::uint32_t syn_backlog = 0;  // 0 = TcpConfig::syn_backlog
  // Per-listener on/off; unset = TcpConfig::keepalive / TcpConfig::nagle.
  std::optional<bool> keepalive;
  std::optional<bool> nagle;
};

// An ICMP error about a segment this stack sent, parsed by the caller from
// the quoted IP header and the first 8 bytes of the quoted TCP header
// (RFC 792, RFC 1122 §4.2.3.9). Only "fragmentation needed and DF set"
// (type 3 code 4, RFC 1191) is acted on.
struct IcmpFragNeeded {
  FourTuple tuple;                 // the connection's, as input() keys it (local = ours)
  std::uint32_t seq = 0;           // SEQ of the quoted TCP header
  std::uint16_t next_hop_mtu = 0;  // RFC 1191 §4 field; 0 = an old router did not say
  std::uint16_t quoted_len = 0;    // total length of the quoted IP datagram
};

class Connection {
 public:
  // Queues up to `len` bytes; returns how many were taken.
  std::size_t send(const void* data, std::size_t len);
  std::size_t send_space() const;
  // Bytes taken by send() and not yet acknowledged by the peer (Linux's
  // SIOCOUTQ): a send timeout watches it for progress.
  std::size_t send_queued() const;
  // Half-close: FIN after everything queued is sent; receiving continues.
  void shutdown();
  // Full close: FIN after queued data. Data arriving afterwards is answered
  // with RST (RFC 9293 §3.10.4, as Linux does for orphaned sockets).
  void close();
  // Sends RST, frees at once; on_closed(kAborted) runs inside this call.
  void abort();
  void set_nodelay(bool on);  // Nagle off when true
  void set_keepalive(bool on);
  // Receive flow control (see the contract above).
  void set_receive_paused(bool paused);
  bool receive_paused() const;
  std::size_t received_unread() const;  // bytes held while paused
  // Application deadline in engine time (kNever cancels); on_deadline runs
  // from poll() once it has passed. One per connection (see the contract).
  void set_deadline(TimeUs at);
  TimeUs deadline() const;  // kNever when none is set
  // The engine's time: `now` of the latest input()/poll()/connect() call.
  TimeUs now() const;

  void set_user(void* u);
  void* user() const;
  const FourTuple& tuple() const;
  State state() const;

 protected:
  Connection() = default;
  ~Connection() = default;
};

class Stack {
 public:
  Stack(const TcpConfig& cfg, TcpCounters& counters, unsigned core_id = 0, TimeUs now = 0);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Passive open on local_ip:port (local_ip 0 = any). False if already bound.
  bool listen(std::uint16_t port, const Handlers& h, void* user, Ipv4 local_ip = 0,
              const ListenOptions& opts = {});
  // Active open; nullptr if the tuple is in use or limits are hit.
  Connection* connect(const FourTuple& t, const Handlers& h, void* user, TimeUs now);

  // One validated incoming segment (checksum already verified by the caller).
  void input(const Segment& seg, TimeUs now);
  // Run timers due at `now`.
  void poll(TimeUs now);
  // An ICMP fragmentation-needed for one of our connections (RFC 1191). The
  // quoted SEQ must lie in SND.UNA..SND.NXT (RFC 5927 §4.1); then the
  // connection's MSS goes down to fit the reported MTU and what is in flight
  // is sent again in smaller segments. Every outcome is counted
  // (TcpCounters::icmp_frag_needed).
  IcmpResult icmp_frag_needed(const IcmpFragNeeded& e, TimeUs now);

  // The engine's time: `now` of the latest input()/poll()/connect() call
  // (time never goes back). Deadlines are computed from it.
  TimeUs now() const;

  // Segments produced since the last clear_output(). Payload is read through
  // copy_payload() and stays valid until the next input()/poll()/API call.
  std::span<const OutSegment> output() const;
  void clear_output();

  // Earliest time at which poll() has work (a connection timer or a
  // TIME-WAIT expiry), kNever if none; a lower bound a loop may use to skip
  // poll() calls. Calling poll() more often is always correct.
  TimeUs next_expiry() const;
  // Overload shedding (e.g. mbuf pool low water): while paused, new SYNs
  // are dropped and counted (DropReason::kNoMemory); existing connections
  // are unaffected.
  void pause_accept(bool paused);

  std::size_t connection_count() const;  // TCBs (not TIME-WAIT entries)
  std::size_t time_wait_count() const;
  const TcpConfig& config() const;
  TcpCounters& counters();

  // Engine internals (tcp/src/stack_impl.h) for white-box unit tests only.
  StackImpl& impl_for_testing() { return *impl_; }

 private:
  std::unique_ptr<StackImpl> impl_;
};

}  // namespace shardtcp::tcp
