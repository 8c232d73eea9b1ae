// RFC 9293 connection states. States are bit flags so that
// in_state(s, kFinWait1 | kClosing) reads like the RFC.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardtcp::tcp {

enum class State : std::uint16_t {
  kClosed = 1u << 0,
  kListen = 1u << 1,
  kSynSent = 1u << 2,
  kSynReceived = 1u << 3,
  kEstablished = 1u << 4,
  kFinWait1 = 1u << 5,
  kFinWait2 = 1u << 6,
  kCloseWait = 1u << 7,
  kClosing = 1u << 8,
  kLastAck = 1u << 9,
  kTimeWait = 1u << 10,
};
inline constexpr int kNumStates = 11;

constexpr std::uint16_t operator|(State a, State b) {
  return static_cast<std::uint16_t>(static_cast<std::uint16_t>(a) | static_cast<std::uint16_t>(b));
}
constexpr std::uint16_t operator|(std::uint16_t a, State b) {
  return static_cast<std::uint16_t>(a | static_cast<std::uint16_t>(b));
}
constexpr bool in_state(State s, std::uint16_t mask) {
  return (static_cast<std::uint16_t>(s) & mask) != 0;
}
constexpr bool in_state(State s, State one) { return s == one; }

// Dense index 0..kNumStates-1 (for gauge arrays).
constexpr int state_index(State s) {
  return __builtin_ctz(static_cast<unsigned>(s));
}
constexpr State state_from_index(int i) { return static_cast<State>(1u << i); }

// RFC spelling: "SYN-RECEIVED", "TIME-WAIT", ...
constexpr std::string_view to_string(State s) {
  switch (s) {
    case State::kClosed: return "CLOSED";
    case State::kListen: return "LISTEN";
    case State::kSynSent: return "SYN-SENT";
    case State::kSynReceived: return "SYN-RECEIVED";
    case State::kEstablished: return "ESTABLISHED";
    case State::kFinWait1: return "FIN-WAIT-1";
    case State::kFinWait2: return "FIN-WAIT-2";
    case State::kCloseWait: return "CLOSE-WAIT";
    case State::kClosing: return "CLOSING";
    case State::kLastAck: return "LAST-ACK";
    case State::kTimeWait: return "TIME-WAIT";
  }
  return "?";
}

// Synchronized states (RFC 9293 §3.5.2 / RFC 5961 apply).
inline constexpr std::uint16_t kSynchronized =
    State::kEstablished | State::kFinWait1 | State::kFinWait2 | State::kCloseWait |
    State::kClosing | State::kLastAck | State::kTimeWait;

}  // namespace shardtcp::tcp
