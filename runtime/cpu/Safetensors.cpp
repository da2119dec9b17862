//===- Safetensors.cpp - weights by name from .safetensors files -*- C++ -*-===//
//
// The format: an unsigned 64-bit little-endian header length N, N bytes of
// JSON mapping each tensor name to {"dtype", "shape", "data_offsets"} (and
// an optional "__metadata__" of strings), then the data, each tensor at
// [begin, end) relative to the end of the header. The header is parsed at
// open; tensors are read when loaded.
//
//===----------------------------------------------------------------------===//

#include "Error.h"
#include "TextScanner.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using rasprt::fail;
using rasprt::succeed;

namespace {

struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

/// Just enough JSON for safetensors headers: objects, arrays, strings,
/// non-negative integers; anything else is an error.
class JsonReader : rasprt::TextScanner {
public:
  using TextScanner::TextScanner;

  std::optional<std::string> parseHeader(std::vector<std::pair<std::string, Entry>> &entries) {
    if (!consume('{'))
      return std::string("the header is not a JSON object");
    if (consume('}'))
      return std::nullopt;
    do {
      std::string name;
      if (!parseString(name) || !consume(':'))
        return "expected \"name\": {...} at byte " + std::to_string(pos);
      if (name == "__metadata__") {
        if (!skipStringMap())
          return std::string("__metadata__ must map strings to strings");
        continue;
      }
      Entry entry;
      if (auto problem = parseEntry(entry))
        return "tensor '" + name + "': " + *problem;
      entries.emplace_back(name, entry);
    } while (consume(','));
    if (!consume('}'))
      return "expected ',' or '}' at byte " + std::to_string(pos);
    skipSpace();
    if (pos != text.size())
      return std::string("trailing bytes after the header object");
    return std::nullopt;
  }

private:
  bool parseString(std::string &out) {
    skipSpace();
    if (pos >= text.size() || text[pos] != '"')
      return false;
    ++pos;
    out.clear();
    while (pos < text.size() && text[pos] != '"') {
      char c = text[pos++];
      if (c == '\\') {
        if (pos >= text.size())
          return false;
        char e = text[pos++];
        switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'u': // keep \uXXXX as written; names in practice are ASCII
          out += "\\u";
          break;
        default: out += e;
        }
      } else {
        out += c;
      }
    }
    if (pos >= text.size())
      return false;
    ++pos;
    return true;
  }
  bool parseUnsignedList(std::vector<uint64_t> &out) {
    if (!consume('['))
      return false;
    if (consume(']'))
      return true;
    do {
      uint64_t v;
      if (!parseUnsigned(v, UINT64_MAX))
        return false;
      out.push_back(v);
    } while (consume(','));
    return consume(']');
  }
  bool skipStringMap() {
    if (!consume('{'))
      return false;
    if (consume('}'))
      return true;
    do {
      std::string key, value;
      if (!parseString(key) || !consume(':') || !parseString(value))
        return false;
    } while (consume(','));
    return consume('}');
  }
  std::optional<std::string> parseEntry(Entry &entry) {
    if (!consume('{'))
      return std::string("expected an object");
    bool sawDtype = false, sawShape = false, sawOffsets = false;
    do {
      std::string key;
      if (!parseString(key) || !consume(':'))
        return std::string("expected \"key\": value");
      if (key == "dtype") {
        if (!parseString(entry.dtype))
          return std::string("dtype must be a string");
        sawDtype = true;
      } else if (key == "shape") {
        std::vector<uint64_t> dims;
        if (!parseUnsignedList(dims))
          return std::string("shape must be a list of non-negative integers");
        for (uint64_t d : dims) {
          if (d > static_cast<uint64_t>(INT64_MAX))
            return std::string("a dimension is too large");
          entry.shape.push_back(static_cast<int64_t>(d));
        }
        sawShape = true;
      } else if (key == "data_offsets") {
        std::vector<uint64_t> offsets;
        if (!parseUnsignedList(offsets) || offsets.size() != 2 || offsets[0] > offsets[1])
          return std::string("data_offsets must be [begin, end] with begin <= end");
        entry.begin = offsets[0];
        entry.end = offsets[1];
        sawOffsets = true;
      } else {
        return "unexpected key '" + key + "'";
      }
    } while (consume(','));
    if (!consume('}'))
      return std::string("expected ',' or '}'");
    if (!sawDtype || !sawShape || !sawOffsets)
      return std::string("needs dtype, shape and data_offsets");
    return std::nullopt;
  }
};

const char *safetensorsName(rasprt_dtype dtype) {
  switch (dtype) {
  case RASPRT_F32: return "F32";
  case RASPRT_F16: return "F16";
  case RASPRT_BF16: return "BF16";
  case RASPRT_I32: return "I32";
  case RASPRT_I64: return "I64";
  case RASPRT_BOOL: return "BOOL";
  }
  return "?";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

} // namespace

struct rasprt_safetensors {
  std::string path;
  std::FILE *file = nullptr;
  uint64_t dataStart = 0, dataSize = 0;
  std::vector<std::pair<std::string, Entry>> entries;
  ~rasprt_safetensors() {
    if (file)
      std::fclose(file);
  }
};

extern "C" rasprt_status rasprt_safetensors_open(const char *path,
                                                 rasprt_safetensors **out) {
  if (!path || !out)
    return fail(RASPRT_ERROR_INVALID_ARGUMENT, "rasprt_safetensors_open: null argument");
  auto st = std::make_unique<rasprt_safetensors>();
  st->path = path;
  st->file = std::fopen(path, "rb");
  if (!st->file)
    return fail(RASPRT_ERROR_IO, st->path + ": cannot open: " + std::strerror(errno));
  auto formatError = [&](const std::string &what) {
    return fail(RASPRT_ERROR_FORMAT, st->path + ": not a valid .safetensors file: " + what);
  };
  std::fseek(st->file, 0, SEEK_END);
  long size = std::ftell(st->file);
  std::fseek(st->file, 0, SEEK_SET);
  unsigned char lengthBytes[8];
  if (size < 8 || std::fread(lengthBytes, 1, 8, st->file) != 8)
    return formatError("shorter than its 8-byte header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = (headerLength << 8) | lengthBytes[i];
  if (headerLength > static_cast<uint64_t>(size) - 8 || headerLength > (100u << 20))
    return formatError("header length " + std::to_string(headerLength) +
                       " exceeds the file size " + std::to_string(size));
  std::string header(headerLength, '\0');
  if (std::fread(header.data(), 1, headerLength, st->file) != headerLength)
    return fail(RASPRT_ERROR_IO, st->path + ": read failed");
  if (auto problem = JsonReader(header).parseHeader(st->entries))
    return formatError(*problem);
  st->dataStart = 8 + headerLength;
  st->dataSize = static_cast<uint64_t>(size) - st->dataStart;
  for (auto &[name, entry] : st->entries)
    if (entry.end > st->dataSize)
      return formatError("tensor '" + name + "' ends at byte " + std::to_string(entry.end) +
                         " of the data, but the data has " + std::to_string(st->dataSize) +
                         " bytes (truncated?)");
  *out = st.release();
  return succeed();
}

extern "C" void rasprt_safetensors_close(rasprt_safetensors *file) { delete file; }

extern "C" int64_t rasprt_safetensors_count(const rasprt_safetensors *file) {
  return file ? static_cast<int64_t>(file->entries.size()) : 0;
}

extern "C" const char *rasprt_safetensors_name(const rasprt_safetensors *file, int64_t i) {
  if (!file || i < 0 || i >= static_cast<int64_t>(file->entries.size()))
    return nullptr;
  return file->entries[i].first.c_str();
}

namespace {

/// Levenshtein distance, for suggesting names.
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

extern "C" rasprt_status rasprt_safetensors_load(rasprt_safetensors *file, const char *name,
                                                 rasprt_dtype dtype, int32_t rank,
                                                 const int64_t *shape, rasprt_tensor *out) {
  if (!file || !name || !out || rank < 0 || rank > RASPRT_MAX_RANK || (rank && !shape))
    return fail(RASPRT_ERROR_INVALID_ARGUMENT, "rasprt_safetensors_load: bad argument");
  const Entry *entry = nullptr;
  for (auto &[n, e] : file->entries)
    if (n == name)
      entry = &e;
  if (!entry) {
    // A checkpoint holds hundreds of names: the few closest say whether a
    // prefix or a part is off.
    constexpr size_t kListed = 4;
    std::vector<std::pair<size_t, std::string>> ranked;
    for (auto &[n, e] : file->entries)
      ranked.push_back({editDistance(name, n), n});
    if (ranked.size() > kListed)
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto &a, const auto &b) { return a.first < b.first; });
    std::string known;
    for (size_t i = 0; i < ranked.size() && i < kListed; ++i)
      known += (known.empty() ? "" : ", ") + ranked[i].second;
    std::string listing =
        ranked.empty() ? "the file has nothing"
        : ranked.size() <= kListed
            ? "the file has: " + known
            : "the closest of its " + std::to_string(ranked.size()) + " tensors: " + known;
    return fail(RASPRT_ERROR_FORMAT,
                file->path + ": no tensor named '" + name + "' (" + listing + ")");
  }
  std::string what = file->path + ": tensor '" + name + "'";
  if (entry->dtype != safetensorsName(dtype))
    return fail(RASPRT_ERROR_FORMAT, what + " is " + entry->dtype + ", but " +
                                         rasprt_dtype_name(dtype) + " (" +
                                         safetensorsName(dtype) + ") is expected");
  std::vector<int64_t> expected(shape, shape + rank);
  bool same = entry->shape.size() == expected.size();
  for (size_t i = 0; same && i < expected.size(); ++i)
    same = expected[i] < 0 || expected[i] == entry->shape[i];
  if (!same)
    return fail(RASPRT_ERROR_FORMAT, what + " has shape " + shapeString(entry->shape) +
                                         ", but " + shapeString(expected) + " is expected");
  rasprt_tensor t;
  rasprt_status status = rasprt_tensor_alloc(&t, dtype, rank, entry->shape.data());
  if (status != RASPRT_OK)
    return fail(status, what + ": " + rasprt_last_error());
  uint64_t bytes = static_cast<uint64_t>(rasprt_tensor_numel(&t)) * rasprt_dtype_size(dtype);
  if (entry->end - entry->begin != bytes) {
    rasprt_tensor_free(&t);
    return fail(RASPRT_ERROR_FORMAT, what + " has " + std::to_string(entry->end - entry->begin) +
                                         " bytes of data, but its shape needs " +
                                         std::to_string(bytes));
  }
  if (bytes && (std::fseek(file->file, static_cast<long>(file->dataStart + entry->begin),
                           SEEK_SET) != 0 ||
                std::fread(t.data, 1, bytes, file->file) != bytes)) {
    rasprt_tensor_free(&t);
    return fail(RASPRT_ERROR_IO, what + ": read failed");
  }
  *out = t;
  return succeed();
}
