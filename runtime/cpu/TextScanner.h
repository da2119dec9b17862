//===- TextScanner.h - tokens of the file headers rasprt reads --*- C++ -*-===//
//
// The scanning under the .npy header (a Python dict literal) and the
// .safetensors header (JSON) readers: whitespace, punctuation, words and
// non-negative integers, from a position in a string.
//
//===----------------------------------------------------------------------===//

#ifndef RASPRT_CPU_TEXTSCANNER_H
#define RASPRT_CPU_TEXTSCANNER_H

#include <cstdint>
#include <cstring>
#include <string>

namespace rasprt {

class TextScanner {
public:
  explicit TextScanner(const std::string &text) : text(text) {}

protected:
  const std::string &text;
  size_t pos = 0;

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  /// Skips whitespace, then `c` if it comes next.
  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  /// Skips whitespace, then `word` if it comes next.
  bool consumeWord(const char *word) {
    skipSpace();
    size_t n = std::strlen(word);
    if (text.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }
  /// Skips whitespace and reads decimal digits; false when there are none or
  /// the value would come near `limit`.
  bool parseUnsigned(uint64_t &out, uint64_t limit) {
    skipSpace();
    size_t start = pos;
    out = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (out > (limit - 9) / 10)
        return false;
      out = out * 10 + static_cast<uint64_t>(text[pos++] - '0');
    }
    return pos > start;
  }
};

} // namespace rasprt

#endif // RASPRT_CPU_TEXTSCANNER_H
