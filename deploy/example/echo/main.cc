// The README's echo server ("API"), as an application outside the tree:
//   echo-example CONFIG [KEY=VALUE ...]
// Echoes on port 7 on every core until SIGINT/SIGTERM (exit 0 then); a bad
// config or override prints one line naming the key and exits 2, as the
// shipped programs do.
#include <cstdio>

#include "shardtcp/config/config.h"
#include "shardtcp/dataplane/runtime.h"
#include "shardtcp/tcp/stack.h"
using namespace shardtcp;

static void on_data(tcp::Connection& c, tcp::ByteView v) {
  c.send(v.data, v.size);  // echo; send() copies and returns how much it took
}
static void on_peer_closed(tcp::Connection& c) { c.close(); }

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo-example CONFIG [KEY=VALUE ...]\n");
    return 2;
  }
  config::Config cfg;
  try {
    cfg = config::load_file(argv[1]);
    for (int i = 2; i < argc; ++i) config::apply_override(cfg, argv[i]);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "echo-example: %s\n", e.what());
    return 2;
  }
  tcp::Handlers h;
  h.on_data = on_data;
  h.on_peer_closed = on_peer_closed;
  dataplane::AppSetup app;
  app.setup = [&](tcp::Stack& stack, unsigned /*core*/) { stack.listen(7, h, nullptr); };
  return dataplane::run(cfg, app);  // until SIGINT/SIGTERM
}
