// Source and destination address checks (RFC 1122 §3.2.1.3, §4.2.3.10;
// RFC 6890 special-purpose registry). DPDK-free so the dataplane's rx path
// and the engine share one definition and a unit test covers it directly.
//
// A TCP segment (or any datagram we would answer) from an address no reply
// can reach is dropped silently: answering creates state that retransmits
// into failed ARP lookups (a SYN from 255.255.255.255 made a SYN-RECEIVED
// connection that lived a minute) or reflects traffic onto a broadcast or
// multicast group, or onto ourselves (LAND).
#pragma once

#include <cstdint>
#include <string_view>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

enum class AddrClass : std::uint8_t {
  kUnicast,      // a valid peer address
  kUnspecified,  // 0.0.0.0/8: "this host on this network", never a peer (RFC 1122 §3.2.1.3 (a),
                 // (b))
  kLoopback,     // 127.0.0.0/8: MUST NOT appear outside a host (RFC 1122 §3.2.1.3 (g))
  kMulticast,    // 224.0.0.0/4 (class D): never a source (RFC 1112 §4)
  kReserved,     // 240.0.0.0/4 (class E): not valid as source or destination (RFC 6890)
  kLimitedBroadcast,   // 255.255.255.255 (RFC 1122 §3.2.1.3 (c))
  kDirectedBroadcast,  // our subnet's broadcast address (RFC 1122 §3.2.1.3 (d), RFC 919)
  kOurs,               // our own address arriving from the wire: LAND, or spoofed
};

constexpr std::string_view to_string(AddrClass c) {
  switch (c) {
    case AddrClass::kUnicast:
      return "unicast";
    case AddrClass::kUnspecified:
      return "unspecified";
    case AddrClass::kLoopback:
      return "loopback";
    case AddrClass::kMulticast:
      return "multicast";
    case AddrClass::kReserved:
      return "reserved";
    case AddrClass::kLimitedBroadcast:
      return "limited_broadcast";
    case AddrClass::kDirectedBroadcast:
      return "directed_broadcast";
    case AddrClass::kOurs:
      return "ours";
  }
  return "?";
}

// Host byte order. `ours` is our address (0 = not known: no LAND check);
// `netmask` our subnet's mask (0 = not known: no directed-broadcast check).
// A /31 (RFC 3021) or /32 has no directed broadcast.
constexpr AddrClass classify_address(Ipv4 a, Ipv4 ours = 0, Ipv4 netmask = 0) {
  const std::uint32_t top = a >> 24;
  if (a == 0xFFFFFFFFu) return AddrClass::kLimitedBroadcast;
  if (top == 0) return AddrClass::kUnspecified;
  if (top == 127) return AddrClass::kLoopback;
  if ((top & 0xF0u) == 0xE0u) return AddrClass::kMulticast;
  if ((top & 0xF0u) == 0xF0u) return AddrClass::kReserved;
  if (ours != 0 && a == ours) return AddrClass::kOurs;
  const std::uint32_t host_bits = ~netmask;
  if (netmask != 0 && host_bits >= 3 && (a & netmask) == (ours & netmask) &&
      (a & host_bits) == host_bits) {
    return AddrClass::kDirectedBroadcast;
  }
  return AddrClass::kUnicast;
}

// A source address we may answer (RFC 1122 §4.2.3.10: a SYN from a
// broadcast or multicast source is ignored; §3.2.1.3: datagrams whose source
// is invalid are discarded silently).
constexpr bool valid_source(Ipv4 src, Ipv4 ours = 0, Ipv4 netmask = 0) {
  return classify_address(src, ours, netmask) == AddrClass::kUnicast;
}

// A destination a TCP segment may have: unicast only (RFC 1122 §4.2.3.10:
// TCP MUST ignore a SYN to a broadcast or multicast address; a connection
// has one peer). Our own address is the expected destination.
constexpr bool valid_tcp_destination(Ipv4 dst, Ipv4 ours = 0, Ipv4 netmask = 0) {
  const AddrClass c = classify_address(dst, ours, netmask);
  return c == AddrClass::kUnicast || c == AddrClass::kOurs;
}

}  // namespace shardtcp::tcp
