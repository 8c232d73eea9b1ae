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
  EXPECT_EQ(parse_request(std::string(kMaxRequestHead + 1, 'a'), r), ParseResult::kBad);
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
