/* synflood: a bounded flood of spoofed TCP SYNs for the lab's SYN-flood test
 * (tests/integration/test_synflood.sh, issue 4 "SYN floods").
 *
 *   synflood --dst 198.18.0.1 --port 80 --src-net 198.19.0.0/16 \
 *            --count 100000 [--pps 0] [--max-seconds 30] [--seed N]
 *
 * Sends `count` SYNs (bounded also by --max-seconds) through one raw IPv4
 * socket (IP_HDRINCL), each from a random source address in --src-net and a
 * random source port, with a random ISN and the options a Linux client sends
 * (MSS 1460, SACK-permitted, timestamps, window scale 7), so the server's
 * SYN-cookie path has to encode them.
 *
 * SAFETY: every address (destination and the whole source range) must lie in
 * 198.18.0.0/15, the RFC 2544 benchmarking range the lab uses; anything else
 * is refused before a socket is opened. Run it only inside the lab's
 * namespace (ip netns exec stcp-peer ...).
 *
 * Prints one line: "sent N in S s (R pps), send errors E". Exit 0 when every
 * SYN was sent, 1 when the time bound cut it short or sends failed, 2 on
 * usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NET 0xC6120000u  /* 198.18.0.0 */
#define BENCH_MASK 0xFFFE0000u /* /15 */

static int in_bench_range(uint32_t a) { return (a & BENCH_MASK) == BENCH_NET; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: fast, seeded, good enough to spread sources. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static uint32_t csum_add(uint32_t sum, const void* data, size_t len) {
  const uint8_t* p = data;
  while (len > 1) {
    sum += (uint32_t)((p[0] << 8) | p[1]);
    p += 2;
    len -= 2;
  }
  if (len) sum += (uint32_t)(p[0] << 8);
  return sum;
}
static uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return (uint16_t)~sum;
}

static void usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s --dst A.B.C.D [--port P] --src-net A.B.C.D/LEN --count N\n"
          "          [--pps R (0 = as fast as possible)] [--max-seconds S] [--seed N]\n"
          "All addresses must be inside 198.18.0.0/15.\n",
          argv0);
}

int main(int argc, char** argv) {
  uint32_t dst = 0, src_net = 0, src_len = 32;
  unsigned port = 80;
  unsigned long count = 0;
  double pps = 0, max_seconds = 30;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) {
      usage(argv[0]);
      return 2;
    }
    ++i;
    if (strcmp(a, "--dst") == 0) {
      struct in_addr in;
      if (inet_pton(AF_INET, v, &in) != 1) return usage(argv[0]), 2;
      dst = ntohl(in.s_addr);
    } else if (strcmp(a, "--port") == 0) {
      port = (unsigned)strtoul(v, NULL, 10);
    } else if (strcmp(a, "--src-net") == 0) {
      char buf[64];
      snprintf(buf, sizeof(buf), "%s", v);
      char* slash = strchr(buf, '/');
      if (slash == NULL) return usage(argv[0]), 2;
      *slash = '\0';
      struct in_addr in;
      if (inet_pton(AF_INET, buf, &in) != 1) return usage(argv[0]), 2;
      src_net = ntohl(in.s_addr);
      src_len = (uint32_t)strtoul(slash + 1, NULL, 10);
    } else if (strcmp(a, "--count") == 0) {
      count = strtoul(v, NULL, 10);
    } else if (strcmp(a, "--pps") == 0) {
      pps = strtod(v, NULL);
    } else if (strcmp(a, "--max-seconds") == 0) {
      max_seconds = strtod(v, NULL);
    } else if (strcmp(a, "--seed") == 0) {
      seed = strtoull(v, NULL, 10);
    } else {
      usage(argv[0]);
      return 2;
    }
  }
  if (dst == 0 || count == 0 || port == 0 || port > 65535 || src_len < 15 || src_len > 32 ||
      max_seconds <= 0 || max_seconds > 600 || count > 10000000ul) {
    usage(argv[0]);
    return 2;
  }
  const uint32_t src_mask = src_len == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> src_len);
  src_net &= src_mask;
  /* The whole source range and the destination must be benchmarking addresses. */
  if (!in_bench_range(dst) || !in_bench_range(src_net) ||
      !in_bench_range(src_net | ~src_mask)) {
    fprintf(stderr, "synflood: refusing: addresses must lie inside 198.18.0.0/15\n");
    return 2;
  }
  rng_state ^= seed * 0xD1B54A32D192ED03ull;
  if (rng_state == 0) rng_state = 1;

  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied */
  if (fd < 0) {
    perror("synflood: socket(AF_INET, SOCK_RAW)");
    return 2;
  }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

  struct sockaddr_in to;
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(dst);

  /* 20 B IPv4 + 20 B TCP + 20 B options. */
  uint8_t pkt[60];
  const double t0 = now_s();
  unsigned long sent = 0, errors = 0;
  int cut_short = 0;
  for (unsigned long n = 0; n < count; ++n) {
    if ((n & 255) == 0) {
      const double el = now_s() - t0;
      if (el > max_seconds) {
        cut_short = 1;
        break;
      }
      if (pps > 0) {
        /* Pace: never ahead of n / pps seconds (sleep in small steps). */
        while ((double)n / pps > now_s() - t0) usleep(200);
      }
    }
    uint32_t src = src_net | (rnd32() & ~src_mask);
    if ((src & 0xFF) == 0 || (src & 0xFF) == 0xFF) src ^= 1; /* no .0 / .255 */
    const uint16_t sport = (uint16_t)(1024 + rnd32() % 64511);
    const uint32_t isn = rnd32();
    memset(pkt, 0, sizeof(pkt));
    /* IPv4 header (the kernel fills the checksum and, when 0, the id). */
    pkt[0] = 0x45;
    pkt[2] = 0;
    pkt[3] = sizeof(pkt);
    pkt[6] = 0x40; /* DF */
    pkt[8] = 64;   /* TTL */
    pkt[9] = IPPROTO_TCP;
    const uint32_t nsrc = htonl(src), ndst = htonl(dst);
    memcpy(pkt + 12, &nsrc, 4);
    memcpy(pkt + 16, &ndst, 4);
    /* TCP header. */
    uint8_t* t = pkt + 20;
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(port >> 8);
    t[3] = (uint8_t)port;
    t[4] = (uint8_t)(isn >> 24);
    t[5] = (uint8_t)(isn >> 16);
    t[6] = (uint8_t)(isn >> 8);
    t[7] = (uint8_t)isn;
    t[12] = (40 / 4) << 4; /* data offset: 40 bytes */
    t[13] = 0x02;          /* SYN */
    t[14] = 0xFA;          /* window 64240 */
    t[15] = 0xF0;
    /* Options: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7. */
    uint8_t* o = t + 20;
    const uint32_t tsval = rnd32();
    const uint8_t opts[20] = {2, 4, 0x05, 0xB4, 4, 2, 8, 10, (uint8_t)(tsval >> 24),
                              (uint8_t)(tsval >> 16), (uint8_t)(tsval >> 8), (uint8_t)tsval,
                              0, 0, 0, 0, 1, 3, 3, 7};
    memcpy(o, opts, sizeof(opts));
    /* TCP checksum over the pseudo header. */
    uint8_t pseudo[12];
    memcpy(pseudo, &nsrc, 4);
    memcpy(pseudo + 4, &ndst, 4);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = 0;
    pseudo[11] = 40;
    uint32_t sum = csum_add(0, pseudo, sizeof(pseudo));
    sum = csum_add(sum, t, 40);
    const uint16_t c = csum_fold(sum);
    t[16] = (uint8_t)(c >> 8);
    t[17] = (uint8_t)c;
    if (sendto(fd, pkt, sizeof(pkt), 0, (const struct sockaddr*)&to, sizeof(to)) ==
        (ssize_t)sizeof(pkt)) {
      ++sent;
    } else if (errno == ENOBUFS || errno == EAGAIN) {
      /* Queue full: back off briefly and retry this one. */
      usleep(100);
      --n;
      if (++errors > count) break;
    } else {
      ++errors;
      if (errors > 1000) {
        perror("synflood: sendto");
        break;
      }
    }
  }
  close(fd);
  const double el = now_s() - t0;
  printf("sent %lu in %.2f s (%.0f pps), send errors %lu%s\n", sent, el,
         el > 0 ? (double)sent / el : 0.0, errors, cut_short ? ", cut short by --max-seconds" : "");
  return (sent == count) ? 0 : 1;
}
