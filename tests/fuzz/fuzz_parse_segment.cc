// Fuzz target for the TCP header parser (untrusted bytes from the wire).
// Built two ways: with libFuzzer (clang, -DSHARDTCP_FUZZ_LIBFUZZER=ON) and, in
// every build, linked with replay_main.cc, which replays the committed corpus
// in ctest (gcc has no libFuzzer).
//
// Beyond "does not crash" (ASan/UBSan in sanitizer builds), it checks the
// parser's promises and that what we serialize from a parsed segment parses
// back to the same thing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "shardtcp/tcp/segment.h"

namespace {

using namespace shardtcp::tcp;

void check(bool ok) {
  if (!ok) std::abort();  // a broken invariant is a finding, like a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Segment s;
  const ParseStatus st = parse_segment(data, size, s);
  // The checksum runs on every received segment before parsing: any length.
  (void)tcp_checksum(0xC6120002, 0xC6120001, data, size);
  if (st != ParseStatus::kOk) return 0;

  // Payload lies inside the input, after a header of 20..60 bytes.
  const std::size_t hdr = size - s.payload_len;
  check(s.payload == data + hdr);
  check(hdr >= 20 && hdr <= 60 && hdr % 4 == 0);
  check(s.opts.num_sack <= 4);
  check(!s.opts.has_wscale || s.opts.wscale <= 14);

  // Re-serialize what we understood; it must parse back identically.
  OutSegment o;
  o.tuple.local_port = s.tuple.remote_port;
  o.tuple.remote_port = s.tuple.local_port;
  o.seq = s.seq;
  o.ack = s.ack;
  o.flags = s.flags;
  o.window = s.window;
  o.opts = s.opts;
  std::uint8_t buf[64];
  const std::size_t n = write_tcp_header(o, buf);
  check(n == tcp_header_len(o) && n <= 60 && n % 4 == 0);
  Segment r;
  check(parse_segment(buf, n, r) == ParseStatus::kOk);
  check(r.seq == s.seq && r.ack == s.ack && r.flags == s.flags && r.window == s.window);
  check(r.tuple.local_port == s.tuple.local_port && r.tuple.remote_port == s.tuple.remote_port);
  check(r.opts.has_mss == s.opts.has_mss && r.opts.mss == s.opts.mss);
  check(r.opts.has_wscale == s.opts.has_wscale && r.opts.wscale == s.opts.wscale);
  check(r.opts.sack_permitted == s.opts.sack_permitted);
  check(r.opts.has_timestamps == s.opts.has_timestamps && r.opts.ts_val == s.opts.ts_val &&
        r.opts.ts_ecr == s.opts.ts_ecr);
  check(r.opts.num_sack <= s.opts.num_sack);  // trimmed to fit 40 option bytes
  for (unsigned i = 0; i < r.opts.num_sack; ++i) {
    check(r.opts.sack[i].left == s.opts.sack[i].left &&
          r.opts.sack[i].right == s.opts.sack[i].right);
  }
  check(r.payload_len == 0);
  return 0;
}
