// HTTP/1.x request-head parser (RFC 9112): what shardtcp-httpd accepts,
// rejects, and how it decides keep-alive.
#include "http_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace shardtcp::app {
namespace {

TEST(HttpParser, SimpleGet) {
  HttpRequest r;
  const std::string in = "GET /bytes/10?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n";
  ASSERT_EQ(parse_request(in, r), ParseResult::kOk);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/bytes/10");  // query stripped
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.has_body);
  EXPECT_EQ(r.head_len, in.find("GET /", 1));  // pipelined request untouched
}

TEST(HttpParser, IncompleteUntilBlankLine) {
  HttpRequest r;
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\n", r), ParseResult::kIncomplete);
  EXPECT_EQ(parse_request("GET / HT", r), ParseResult::kIncomplete);
  EXPECT_EQ(parse_request("", r), ParseResult::kIncomplete);
}

TEST(HttpParser, KeepAliveRules) {
  HttpRequest r;
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", r), ParseResult::kOk);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n\r\n", r),
            ParseResult::kOk);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\n\r\n", r), ParseResult::kOk);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r), ParseResult::kOk);
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpParser, Malformed) {
  HttpRequest r;
  EXPECT_EQ(parse_request("GARBAGE\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET / HTTP/2.0\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET x HTTP/1.1\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET  / HTTP/1.1\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nNoColon\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", r), ParseResult::kBad);
  // RFC 9112 §2.2: a CR that does not end a line is invalid.
  EXPECT_EQ(parse_request("GET / HTTP/1.1\rX\r\n\r\n", r), ParseResult::kBad);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", r), ParseResult::kBad);
}

TEST(HttpParser, HeadLargerThanTheLimitIsTooLarge) {
  HttpRequest r;
  // No end of head within kMaxRequestHead bytes: 431, however it is framed.
  EXPECT_EQ(parse_request(std::string(kMaxRequestHead + 1, 'a'), r), ParseResult::kTooLarge);
  EXPECT_EQ(parse_request(std::string(kMaxRequestHead, 'a'), r), ParseResult::kIncomplete);
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'x') + "\r\n\r\n";
  EXPECT_EQ(parse_request(big, r), ParseResult::kTooLarge);
  std::string lfs(kMaxRequestHead + 1, '\n');  // only empty lines
  EXPECT_EQ(parse_request(lfs, r), ParseResult::kTooLarge);
  // Exactly at the limit is still a head.
  std::string fit = "GET / HTTP/1.1\r\nX: ";
  fit += std::string(kMaxRequestHead - fit.size() - 4, 'x') + "\r\n\r\n";
  ASSERT_EQ(fit.size(), kMaxRequestHead);
  EXPECT_EQ(parse_request(fit, r), ParseResult::kOk);
}

// RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator
// and ignore any preceding CR" (nginx does): such a request is answered, not
// left waiting for a CRLFCRLF that never comes.
TEST(HttpParser, BareLfEndsLines) {
  HttpRequest r;
  const std::string in = "GET /bytes/5 HTTP/1.1\nHost: a\nConnection: close\n\nGET / HTTP/1.1\n";
  ASSERT_EQ(parse_request(in, r), ParseResult::kOk);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/bytes/5");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(r.head_len, in.find("GET /", 1));
  EXPECT_EQ(parse_request("GET / HTTP/1.1\nHost: a\n", r), ParseResult::kIncomplete);
  ASSERT_EQ(parse_request("GET / HTTP/1.1\n\n", r), ParseResult::kOk);
  EXPECT_EQ(r.head_len, 16u);
}

TEST(HttpParser, MixedLineEndings) {
  HttpRequest r;
  for (const std::string in : {"GET / HTTP/1.1\r\nHost: a\n\r\n", "GET / HTTP/1.1\nHost: a\r\n\n",
                               "GET / HTTP/1.1\r\nHost: a\r\n\n", "\n\r\nGET / HTTP/1.1\n\n"}) {
    ASSERT_EQ(parse_request(in, r), ParseResult::kOk) << in;
    EXPECT_EQ(r.head_len, in.size()) << in;
    EXPECT_EQ(r.target, "/");
  }
}

TEST(HttpParser, BodyDetection) {
  HttpRequest r;
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 000\r\n\r\n", r), ParseResult::kOk);
  EXPECT_FALSE(r.has_body);
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", r), ParseResult::kOk);
  EXPECT_TRUE(r.has_body);
  ASSERT_EQ(parse_request("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", r),
            ParseResult::kOk);
  EXPECT_TRUE(r.has_body);
}

TEST(HttpParser, LeadingEmptyLinesIgnored) {
  HttpRequest r;
  const std::string in = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(parse_request(in, r), ParseResult::kOk);
  EXPECT_EQ(r.head_len, in.size());
}

TEST(HttpParser, BytesPath) {
  EXPECT_EQ(parse_bytes_path("0"), 0);
  EXPECT_EQ(parse_bytes_path("10000000"), 10000000);
  EXPECT_EQ(parse_bytes_path("10485760"), 10485760);  // 10 MiB
  EXPECT_EQ(parse_bytes_path("10485761"), -1);
  EXPECT_EQ(parse_bytes_path("999999999"), -1);
  EXPECT_EQ(parse_bytes_path(""), -1);
  EXPECT_EQ(parse_bytes_path("12a"), -1);
  EXPECT_EQ(parse_bytes_path("-1"), -1);
  EXPECT_EQ(parse_bytes_path("1234567890"), -1);
}

}  // namespace
}  // namespace shardtcp::app
