//===- Npy.cpp - NumPy .npy files -------------------------------*- C++ -*-===//
//
// The .npy format (numpy.lib.format): a magic string, a version, a header
// length, a Python dict literal describing dtype, order and shape, then the
// raw data. Every malformed input gets a message that names the file and what
// is wrong with it.
//
//===----------------------------------------------------------------------===//

#include "Error.h"
#include "TextScanner.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using rasprt::fail;
using rasprt::succeed;

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct FileCloser {
  void operator()(std::FILE *f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// A recursive-descent reader of the header's dict literal, which numpy writes
/// as e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
class HeaderParser : rasprt::TextScanner {
public:
  using TextScanner::TextScanner;

  /// Parses the dict; on failure returns a description of the problem.
  std::optional<std::string> parse(NpyHeader &header) {
    bool sawDescr = false, sawOrder = false, sawShape = false;
    if (!consume('{'))
      return std::string("header is not a dict");
    while (!consume('}')) {
      std::string key;
      if (!parseString(key))
        return std::string("expected a quoted key in the header");
      if (!consume(':'))
        return "expected ':' after '" + key + "'";
      if (key == "descr") {
        if (!parseString(header.descr))
          return std::string("'descr' must be a string");
        sawDescr = true;
      } else if (key == "fortran_order") {
        if (!parseBool(header.fortranOrder))
          return std::string("'fortran_order' must be True or False");
        sawOrder = true;
      } else if (key == "shape") {
        if (!parseShape(header.shape))
          return std::string("'shape' must be a tuple of non-negative ints");
        sawShape = true;
      } else {
        return "unexpected key '" + key + "' in the header";
      }
      if (!consume(',')) {
        if (!consume('}'))
          return std::string("expected ',' or '}' in the header");
        break;
      }
    }
    if (!sawDescr || !sawOrder || !sawShape)
      return std::string(
          "header lacks one of 'descr', 'fortran_order' and 'shape'");
    return std::nullopt;
  }

private:
  bool parseString(std::string &out) {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      return false;
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == std::string::npos)
      return false;
    out = text.substr(pos, end - pos);
    pos = end + 1;
    return true;
  }
  bool parseBool(bool &out) {
    if (consumeWord("True"))
      return out = true, true;
    if (consumeWord("False"))
      return out = false, true;
    return false;
  }
  bool parseInt(int64_t &out) {
    uint64_t value;
    if (!parseUnsigned(value, INT64_MAX))
      return false;
    if (pos < text.size() && text[pos] == 'L') // Python 2 longs
      ++pos;
    out = static_cast<int64_t>(value);
    return true;
  }
  bool parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return false;
    while (!consume(')')) {
      int64_t dim;
      if (!parseInt(dim))
        return false;
      shape.push_back(dim);
      if (!consume(',')) {
        if (!consume(')'))
          return false;
        break;
      }
    }
    return true;
  }
};

/// Maps a NumPy type string to a dtype. Returns false with a message for what
/// rasprt cannot hold.
bool dtypeFromDescr(const std::string &descr, rasprt_dtype &dtype,
                    std::string &why) {
  if (descr.size() < 3) {
    why = "unknown dtype '" + descr + "'";
    return false;
  }
  char order = descr[0];
  std::string kind = descr.substr(1);
  if (order == '>') {
    why = "big-endian data ('" + descr + "') is not supported";
    return false;
  }
  if (order != '<' && order != '|' && order != '=') {
    why = "unknown dtype '" + descr + "'";
    return false;
  }
  if (kind == "f4")
    dtype = RASPRT_F32;
  else if (kind == "f2")
    dtype = RASPRT_F16;
  else if (kind == "i4")
    dtype = RASPRT_I32;
  else if (kind == "i8")
    dtype = RASPRT_I64;
  else if (kind == "b1")
    dtype = RASPRT_BOOL;
  else if (kind == "V2")
    // NumPy has no bfloat16: ml_dtypes' bfloat16 arrays are saved as
    // two-byte voids, and read back with .view(ml_dtypes.bfloat16).
    dtype = RASPRT_BF16;
  else {
    why = "dtype '" + descr +
          "' is not supported (use float32, float16, bfloat16 (ml_dtypes), int32, int64 "
          "or bool)";
    return false;
  }
  return true;
}

const char *descrFromDtype(rasprt_dtype dtype) {
  switch (dtype) {
  case RASPRT_F32:
    return "<f4";
  case RASPRT_F16:
    return "<f2";
  case RASPRT_I32:
    return "<i4";
  case RASPRT_I64:
    return "<i8";
  case RASPRT_BOOL:
    return "|b1";
  case RASPRT_BF16:
    return "<V2"; // as ml_dtypes' bfloat16 is saved
  }
  return nullptr;
}

uint32_t readLittleEndian(const unsigned char *bytes, int count) {
  uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i)
    value = (value << 8) | bytes[i];
  return value;
}

} // namespace

extern "C" rasprt_status rasprt_npy_read(const char *path, rasprt_tensor *out) {
  if (!path || !out)
    return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                "rasprt_npy_read: null path or descriptor");
  std::string name = path;
  File file(std::fopen(path, "rb"));
  if (!file)
    return fail(RASPRT_ERROR_IO,
                name + ": cannot open: " + std::strerror(errno));
  auto formatError = [&](const std::string &what) {
    return fail(RASPRT_ERROR_FORMAT, name + ": not a valid .npy file: " + what);
  };

  unsigned char prefix[kMagicSize + 2];
  if (std::fread(prefix, 1, sizeof(prefix), file.get()) != sizeof(prefix) ||
      std::memcmp(prefix, kMagic, kMagicSize) != 0)
    return formatError("missing the \\x93NUMPY magic string");
  int major = prefix[kMagicSize];
  if (major < 1 || major > 3)
    return formatError("unknown format version " + std::to_string(major) +
                       "." + std::to_string(prefix[kMagicSize + 1]));
  int lengthBytes = major == 1 ? 2 : 4;
  unsigned char lengthField[4];
  if (std::fread(lengthField, 1, lengthBytes, file.get()) !=
      static_cast<size_t>(lengthBytes))
    return formatError("truncated before the header length");
  uint32_t headerLength = readLittleEndian(lengthField, lengthBytes);
  if (headerLength > (1u << 24))
    return formatError("header length " + std::to_string(headerLength) +
                       " is implausibly large");
  std::string text(headerLength, '\0');
  if (std::fread(text.data(), 1, headerLength, file.get()) != headerLength)
    return formatError("truncated inside the header");

  NpyHeader header;
  if (auto problem = HeaderParser(text).parse(header))
    return formatError(*problem);
  rasprt_dtype dtype;
  std::string why;
  if (!dtypeFromDescr(header.descr, dtype, why))
    return fail(RASPRT_ERROR_UNSUPPORTED, name + ": " + why);
  if (header.fortranOrder && header.shape.size() > 1)
    return fail(RASPRT_ERROR_UNSUPPORTED,
                name + ": Fortran-order arrays are not supported; save a "
                       "C-order copy (numpy.ascontiguousarray)");
  if (header.shape.size() > RASPRT_MAX_RANK)
    return fail(RASPRT_ERROR_UNSUPPORTED,
                name + ": rank " + std::to_string(header.shape.size()) +
                    " exceeds the maximum of " +
                    std::to_string(RASPRT_MAX_RANK));

  // Check the data size against the file before allocating anything.
  long dataStart = std::ftell(file.get());
  if (std::fseek(file.get(), 0, SEEK_END) != 0)
    return fail(RASPRT_ERROR_IO, name + ": cannot seek");
  long fileEnd = std::ftell(file.get());
  std::fseek(file.get(), dataStart, SEEK_SET);
  long double expectedBytes = rasprt_dtype_size(dtype);
  for (int64_t dim : header.shape)
    expectedBytes *= dim;
  long available = fileEnd - dataStart;
  if (expectedBytes != static_cast<long double>(available)) {
    // Printed from the long double: a shape whose size passes 2^64 bytes
    // would convert to an integer as anything (it printed "needs 0 bytes").
    char needed[64];
    std::snprintf(needed, sizeof(needed), "%.0Lf", expectedBytes);
    return formatError("shape needs " + std::string(needed) +
                       " bytes of data but the file holds " + std::to_string(available) +
                       (expectedBytes > available ? " (truncated?)" : ""));
  }

  rasprt_tensor tensor;
  rasprt_status status =
      rasprt_tensor_alloc(&tensor, dtype, static_cast<int32_t>(header.shape.size()),
                          header.shape.data());
  if (status != RASPRT_OK)
    return fail(status, name + ": " + rasprt_last_error());
  size_t bytes = static_cast<size_t>(available);
  if (bytes && std::fread(tensor.data, 1, bytes, file.get()) != bytes) {
    rasprt_tensor_free(&tensor);
    return fail(RASPRT_ERROR_IO, name + ": read failed");
  }
  *out = tensor;
  return succeed();
}

extern "C" rasprt_status rasprt_npy_write(const char *path,
                                          const rasprt_tensor *tensor) {
  if (!path || !tensor || (!tensor->data && rasprt_tensor_numel(tensor) > 0))
    return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                "rasprt_npy_write: null path, descriptor or data");
  std::string name = path;
  const char *descr = descrFromDtype(tensor->dtype);
  if (!descr)
    return fail(RASPRT_ERROR_UNSUPPORTED,
                name + ": dtype " + rasprt_dtype_name(tensor->dtype) +
                    " has no NumPy equivalent");
  if (tensor->rank < 0 || tensor->rank > RASPRT_MAX_RANK)
    return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                name + ": invalid rank " + std::to_string(tensor->rank));

  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': (";
  for (int32_t i = 0; i < tensor->rank; ++i)
    dict += (i ? ", " : "") + std::to_string(tensor->shape[i]);
  dict += tensor->rank == 1 ? ",)" : ")"; // (3,) is Python's 1-tuple
  dict += ", }";
  // Pad with spaces so that the data starts on a 64-byte boundary.
  size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';

  std::string temporary = name + ".partial";
  File file(std::fopen(temporary.c_str(), "wb"));
  if (!file)
    return fail(RASPRT_ERROR_IO,
                name + ": cannot create: " + std::strerror(errno));
  auto writeFailed = [&]() {
    file.reset();
    std::remove(temporary.c_str());
    return fail(RASPRT_ERROR_IO, name + ": write failed");
  };
  unsigned char version[4] = {1, 0, static_cast<unsigned char>(dict.size()),
                              static_cast<unsigned char>(dict.size() >> 8)};
  if (std::fwrite(kMagic, 1, kMagicSize, file.get()) != kMagicSize ||
      std::fwrite(version, 1, 4, file.get()) != 4 ||
      std::fwrite(dict.data(), 1, dict.size(), file.get()) != dict.size())
    return writeFailed();

  // Walk the elements in row-major order, whatever the strides.
  size_t elementSize = rasprt_dtype_size(tensor->dtype);
  int64_t numel = rasprt_tensor_numel(tensor);
  const char *base = static_cast<const char *>(tensor->data);
  if (rasprt_tensor_is_contiguous(tensor)) {
    size_t bytes = static_cast<size_t>(numel) * elementSize;
    if (std::fwrite(base, 1, bytes, file.get()) != bytes)
      return writeFailed();
  } else {
    int64_t index[RASPRT_MAX_RANK] = {0};
    for (int64_t n = 0; n < numel; ++n) {
      int64_t offset = 0;
      for (int32_t d = 0; d < tensor->rank; ++d)
        offset += index[d] * tensor->strides[d];
      if (std::fwrite(base + offset * static_cast<int64_t>(elementSize), 1,
                      elementSize, file.get()) != elementSize)
        return writeFailed();
      for (int32_t d = tensor->rank - 1; d >= 0; --d) {
        if (++index[d] < tensor->shape[d])
          break;
        index[d] = 0;
      }
    }
  }
  if (std::fclose(file.release()) != 0) {
    std::remove(temporary.c_str());
    return fail(RASPRT_ERROR_IO, name + ": write failed");
  }
  if (std::rename(temporary.c_str(), path) != 0) {
    std::remove(temporary.c_str());
    return fail(RASPRT_ERROR_IO,
                name + ": cannot rename into place: " + std::strerror(errno));
  }
  return succeed();
}
