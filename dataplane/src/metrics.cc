// MetricsExporter: prometheus-cpp's HTTP exposer (civetweb) on threads that
// are not dataplane lcores, serving the scrape-time Collector.
#include "shardtcp/dataplane/metrics.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "metrics_collector.h"

namespace shardtcp::dataplane {
namespace {

// civetweb inherits the CPU affinity of the thread that starts it, and the
// thread calling start() is usually the EAL main lcore, pinned to a dataplane
// CPU. So the server is started from a helper thread pinned to every other
// online CPU: the exporter then never competes with a polling loop.
void pin_away_from(const std::vector<unsigned>& avoid) {
  if (avoid.empty()) return;
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  int count = 0;
  for (long cpu = 0; cpu < n && cpu < CPU_SETSIZE; ++cpu) {
    if (std::find(avoid.begin(), avoid.end(), static_cast<unsigned>(cpu)) != avoid.end()) continue;
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    ++count;
  }
  // No spare CPU (or a cpuset that forbids them): keep the caller's affinity.
  if (count != 0) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// "host:port" -> a numeric listening spec civetweb accepts ("1.2.3.4:9100",
// "[::1]:9100"); names are resolved once here.
std::string numeric_listen(const std::string& listen, std::string* host_for_url) {
  const auto hp = config::parse_host_port(listen);
  if (!hp) {
    throw std::runtime_error(
        "metrics.listen: expected \"host:port\" like \"127.0.0.1:9100\" (got \"" + listen + "\")");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(hp->host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    throw std::runtime_error("metrics.listen: cannot resolve \"" + hp->host + "\" (" +
                             gai_strerror(rc) + ")");
  }
  char buf[NI_MAXHOST];
  const int ni =
      getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST);
  const bool v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  if (ni != 0) throw std::runtime_error("metrics.listen: cannot resolve \"" + hp->host + "\"");
  *host_for_url = v6 ? "[" + std::string(buf) + "]" : std::string(buf);
  return *host_for_url + ":" + std::to_string(hp->port);
}

// civetweb only says "null context ... binding to port"; find the errno.
std::string bind_error(const std::string& numeric) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  const auto colon = numeric.rfind(':');
  std::string host = numeric.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), numeric.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return "invalid address";
  }
  std::string reason = "the HTTP server did not start";
  const int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) reason = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  return reason;
}

// Opens and closes a TCP connection to a numeric "host:port" (best effort).
void poke(const std::string& numeric) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  const auto colon = numeric.rfind(':');
  std::string host = numeric.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), numeric.substr(colon + 1).c_str(), &hints, &res) != 0) return;
  const int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    connect(fd, res->ai_addr, res->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(res);
}

}  // namespace

MetricsExporter::MetricsExporter(const config::MetricsConfig& cfg, std::vector<CoreSource> cores,
                                 MetricsHooks hooks)
    : cfg_(cfg), collector_(std::make_shared<Collector>(std::move(cores), std::move(hooks))) {}

MetricsExporter::~MetricsExporter() { stop(); }

void MetricsExporter::start() {
  if (exposer_) return;
  const std::string numeric = numeric_listen(cfg_.listen, &url_host_);
  std::unique_ptr<prometheus::Exposer> exposer;
  std::thread helper([&] {
    pin_away_from(collector_->hooks().avoid_cpus);
    try {
      // Two HTTP threads: a slow scraper never blocks another one.
      exposer = std::make_unique<prometheus::Exposer>(numeric, 2);
    } catch (const std::exception&) {
      // civetweb's message names no cause; bind_error() below finds it.
    }
  });
  helper.join();
  if (!exposer) {
    throw std::runtime_error("metrics.listen: cannot listen on " + cfg_.listen + " (" +
                             bind_error(numeric) + ")");
  }
  exposer->RegisterCollectable(collector_);
  exposer_ = std::move(exposer);
}

void MetricsExporter::stop() {
  if (!exposer_) return;
  // The Exposer's destructor stops civetweb and joins its threads; the
  // collector (and thus the counters) is not used afterwards. civetweb's
  // accept loop only looks at its stop flag between polls of up to 2 s, so a
  // helper connects to the listening socket until the destructor returns:
  // shutdown takes milliseconds instead of seconds.
  std::string host = url_host_;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  const std::string target = host + ":" + std::to_string(port());
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    for (int i = 0; i < 200 && !stopped.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      poke(target);
    }
  });
  exposer_.reset();
  stopped = true;
  waker.join();
}

std::uint16_t MetricsExporter::port() const {
  if (!exposer_) return 0;
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

std::string MetricsExporter::url() const {
  if (!exposer_) return "";
  return "http://" + url_host_ + ":" + std::to_string(port()) + "/metrics";
}

std::string MetricsExporter::render() const {
  return prometheus::TextSerializer().Serialize(collector_->Collect());
}

}  // namespace shardtcp::dataplane
