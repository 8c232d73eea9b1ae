#include "engine_harness.h"
namespace shardtcp::tcp::testing {
TEST(CookieDbg, AckThenData) {
  TcpConfig cfg = Harness::default_config();
  cfg.rcv_buf = 256*1024;
  Harness h(cfg);
  ListenOptions lo; lo.syn_backlog = 1;
  h.listen(kPort, lo);
  h.tuple.remote_port = 50000;
  h.in(kSyn, 5, 0, "", 65535, mss_option());
  h.tuple.remote_port = 50001;
  TcpOptions o = mss_option(); o.has_wscale = true; o.wscale = 7; o.sack_permitted = true; o.has_timestamps = true; o.ts_val = 4242;
  h.take();
  h.in(kSyn, 100, 0, "", 65535, o);
  Out sa = h.take_one();
  TcpOptions a; a.has_timestamps = true; a.ts_val = 4243; a.ts_ecr = sa.seg.opts.ts_val;
  h.in(kAck, 101, sa.seg.seq + 1, "", 256, a);
  for (auto& x : h.take()) printf("out %s seq=%u ack=%u\n", flags_str(x.seg.flags).c_str(), x.seg.seq, x.seg.ack);
  h.in(kAck, 101, sa.seg.seq + 1, std::string(1448,'a'), 256, a);
  for (auto& x : h.take()) printf("out %s seq=%u ack=%u\n", flags_str(x.seg.flags).c_str(), x.seg.seq, x.seg.ack);
  printf("accepted %zu data %zu\n", h.app.accepted.size(), h.app.data.size());
}
}
