// Standalone driver for LLVMFuzzerTestOneInput: replays corpus files (and
// directories of them) so the fuzz corpus runs in ctest with any compiler.
//
//   fuzz_parse_segment_replay [--mutations N] PATH...
//
// --mutations N additionally feeds N deterministic mutants of each file
// (byte flips, truncations, insertions): a cheap, reproducible extension of
// the corpus, not a substitute for a coverage-guided fuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void run(const std::vector<std::uint8_t>& in) {
  // Exact-size heap copy so ASan catches any read past the end.
  std::vector<std::uint8_t> copy(in);
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
}

void mutate_and_run(const std::vector<std::uint8_t>& in, unsigned count, std::uint64_t seed) {
  std::uint64_t s = seed;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(s >> 33);
  };
  for (unsigned i = 0; i < count; ++i) {
    std::vector<std::uint8_t> m(in);
    const unsigned edits = 1 + next() % 4;
    for (unsigned e = 0; e < edits; ++e) {
      switch (next() % 4) {
        case 0:  // flip bits of one byte
          if (!m.empty()) m[next() % m.size()] ^= static_cast<std::uint8_t>(1 + next() % 255);
          break;
        case 1:  // truncate
          if (!m.empty()) m.resize(next() % m.size());
          break;
        case 2:  // insert a byte
          m.insert(m.begin() + static_cast<std::ptrdiff_t>(m.empty() ? 0 : next() % m.size()),
                   static_cast<std::uint8_t>(next()));
          break;
        default:  // set an interesting value (option kinds/lengths, offsets)
          if (!m.empty()) {
            static constexpr std::uint8_t kVals[] = {0, 1, 2, 3, 4, 5, 8, 10, 0x50, 0xf0, 0xff};
            m[next() % m.size()] = kVals[next() % sizeof(kVals)];
          }
          break;
      }
    }
    run(m);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned mutations = 0;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
      continue;
    }
    const std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs (an empty corpus is a setup error)\n");
    return 2;
  }
  std::uint64_t seed = 1;
  for (const auto& f : files) {
    const auto data = read_file(f);
    run(data);
    mutate_and_run(data, mutations, seed++);
  }
  std::printf("replayed %zu inputs (+%u mutants each)\n", files.size(), mutations);
  return 0;
}
