//===- NpyTest.cpp - rasprt .npy reading and writing ------------*- C++ -*-===//
//
// The reference files here are built byte by byte from the format's
// specification (numpy.lib.format), not by the code under test.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "rasprt_" + name;
}

bool fileExists(const std::string &path) {
  return static_cast<bool>(std::ifstream(path));
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A version 1.0 file as NumPy writes it: the dict padded with spaces and a
/// newline so that the data starts at a multiple of 64 bytes.
std::string npyFile(const std::string &dict, const std::string &data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string file = "\x93NUMPY";
  file += '\x01';
  file += '\x00';
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  return file + header + data;
}

template <typename T> std::string littleEndianBytes(std::vector<T> values) {
  std::string out;
  for (T value : values) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    for (size_t i = 0; i < sizeof(T); ++i)
      out += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  return out;
}

std::string lastError() { return rasprt_last_error(); }

TEST(Npy, ReadsAFileWrittenToTheSpec) {
  std::string path = tempPath("spec.npy");
  writeBytes(path,
             npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                     littleEndianBytes<float>({0, 1, 2, 3, 4, 5.5f})));
  rasprt_tensor t;
  ASSERT_EQ(rasprt_npy_read(path.c_str(), &t), RASPRT_OK) << lastError();
  EXPECT_EQ(t.dtype, RASPRT_F32);
  ASSERT_EQ(t.rank, 2);
  EXPECT_EQ(t.shape[0], 2);
  EXPECT_EQ(t.shape[1], 3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % RASPRT_ALIGNMENT, 0u);
  const float *data = static_cast<const float *>(t.data);
  EXPECT_EQ(data[1], 1.0f);
  EXPECT_EQ(data[5], 5.5f);
  rasprt_tensor_free(&t);
}

TEST(Npy, ReadsVersionTwoAndOneTupleShapes) {
  std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  std::string header = dict;
  while ((12 + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string file = std::string("\x93NUMPY\x02\x00", 8);
  file += static_cast<char>(header.size());
  file += std::string("\0\0\0", 3);
  file += header + littleEndianBytes<int64_t>({7, -2, 3});
  std::string path = tempPath("v2.npy");
  writeBytes(path, file);
  rasprt_tensor t;
  ASSERT_EQ(rasprt_npy_read(path.c_str(), &t), RASPRT_OK) << lastError();
  ASSERT_EQ(t.rank, 1);
  EXPECT_EQ(t.shape[0], 3);
  EXPECT_EQ(static_cast<int64_t *>(t.data)[1], -2);
  rasprt_tensor_free(&t);
}

TEST(Npy, WritesWhatTheSpecSays) {
  const int64_t shape[] = {2, 2};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_I32, 2, shape), RASPRT_OK);
  int32_t *data = static_cast<int32_t *>(t.data);
  for (int i = 0; i < 4; ++i)
    data[i] = 10 * i - 5;
  std::string path = tempPath("written.npy");
  ASSERT_EQ(rasprt_npy_write(path.c_str(), &t), RASPRT_OK) << lastError();
  EXPECT_EQ(readBytes(path),
            npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }",
                    littleEndianBytes<int32_t>({-5, 5, 15, 25})));
  rasprt_tensor_free(&t);
}

// bfloat16 as ml_dtypes saves it: NumPy knows no bfloat16, so the array
// is two-byte voids ('<V2'), which numpy users view as ml_dtypes.bfloat16.
TEST(Npy, BFloat16IsTwoByteVoidsAsMlDtypesSavesIt) {
  const int64_t shape[] = {2};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_BF16, 1, shape), RASPRT_OK);
  uint16_t *data = static_cast<uint16_t *>(t.data);
  data[0] = 0x3fc0; // 1.5
  data[1] = 0xc000; // -2
  std::string path = tempPath("bf16.npy");
  ASSERT_EQ(rasprt_npy_write(path.c_str(), &t), RASPRT_OK) << lastError();
  EXPECT_EQ(readBytes(path), npyFile("{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }",
                                     littleEndianBytes<uint16_t>({0x3fc0, 0xc000})));
  rasprt_tensor_free(&t);
}

TEST(Npy, RoundTripsEveryNumpyDtypeAndRank) {
  const rasprt_dtype dtypes[] = {RASPRT_F32, RASPRT_F16, RASPRT_BF16, RASPRT_I32,
                                 RASPRT_I64, RASPRT_BOOL};
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {1}, {5}, {3, 0}, {2, 3, 4}, {1, 1, 1, 1, 1, 1, 1, 2}};
  for (rasprt_dtype dtype : dtypes) {
    for (const auto &shape : shapes) {
      SCOPED_TRACE(std::string(rasprt_dtype_name(dtype)) + " rank " +
                   std::to_string(shape.size()));
      rasprt_tensor t;
      ASSERT_EQ(rasprt_tensor_alloc(&t, dtype, static_cast<int32_t>(shape.size()),
                                    shape.data()),
                RASPRT_OK);
      size_t bytes = rasprt_tensor_numel(&t) * rasprt_dtype_size(dtype);
      auto *raw = static_cast<unsigned char *>(t.data);
      for (size_t i = 0; i < bytes; ++i)
        raw[i] = dtype == RASPRT_BOOL ? i % 2 : static_cast<unsigned char>(i * 7 + 1);
      std::string path = tempPath("roundtrip.npy");
      ASSERT_EQ(rasprt_npy_write(path.c_str(), &t), RASPRT_OK) << lastError();
      rasprt_tensor back;
      ASSERT_EQ(rasprt_npy_read(path.c_str(), &back), RASPRT_OK) << lastError();
      EXPECT_EQ(back.dtype, dtype);
      ASSERT_EQ(back.rank, t.rank);
      for (int32_t d = 0; d < t.rank; ++d)
        EXPECT_EQ(back.shape[d], t.shape[d]);
      EXPECT_EQ(std::memcmp(back.data, t.data, bytes), 0);
      rasprt_tensor_free(&t);
      rasprt_tensor_free(&back);
    }
  }
}

TEST(Npy, WritesStridedViewsInLogicalOrder) {
  // A 3x2 transposed view of the row-major 2x3 matrix [[0 1 2] [3 4 5]].
  float storage[] = {0, 1, 2, 3, 4, 5};
  rasprt_tensor view{};
  view.data = storage;
  view.dtype = RASPRT_F32;
  view.rank = 2;
  view.shape[0] = 3;
  view.shape[1] = 2;
  view.strides[0] = 1;
  view.strides[1] = 3;
  std::string path = tempPath("transposed.npy");
  ASSERT_EQ(rasprt_npy_write(path.c_str(), &view), RASPRT_OK) << lastError();
  EXPECT_EQ(readBytes(path),
            npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
                    littleEndianBytes<float>({0, 3, 1, 4, 2, 5})));
}

struct BadFile {
  const char *name;
  std::string bytes;
  rasprt_status status;
  const char *message;
};

TEST(Npy, MalformedFilesGetClearErrors) {
  std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  std::string data = littleEndianBytes<float>({1, 2, 3, 4});
  std::string whole = npyFile(f4, data);
  const BadFile cases[] = {
      {"empty", "", RASPRT_ERROR_FORMAT, "magic"},
      {"garbage", std::string("\0\xff\x13garbage", 10), RASPRT_ERROR_FORMAT,
       "magic"},
      {"version", std::string("\x93NUMPY\x09\x00\x10\x00", 10),
       RASPRT_ERROR_FORMAT, "version 9.0"},
      {"header-cut", whole.substr(0, 40), RASPRT_ERROR_FORMAT,
       "truncated inside the header"},
      {"data-cut", whole.substr(0, whole.size() - 3), RASPRT_ERROR_FORMAT,
       "needs 16 bytes of data but the file holds 13 (truncated?)"},
      {"extra-data", whole + "xx", RASPRT_ERROR_FORMAT, "holds 18"},
      {"huge-shape",
       npyFile("{'descr': '<f4', 'fortran_order': False, "
               "'shape': (4294967296, 4294967296), }",
               data),
       RASPRT_ERROR_FORMAT, "shape needs 73786976294838206464 bytes of data"},
      {"no-dict", npyFile("[1, 2]", data), RASPRT_ERROR_FORMAT,
       "header is not a dict"},
      {"no-shape", npyFile("{'descr': '<f4', 'fortran_order': False, }", data),
       RASPRT_ERROR_FORMAT, "lacks one of"},
      {"bad-shape",
       npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }",
               data),
       RASPRT_ERROR_FORMAT, "'shape' must be a tuple"},
      {"big-endian",
       npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }",
               data),
       RASPRT_ERROR_UNSUPPORTED, "big-endian"},
      {"float64",
       npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
               data),
       RASPRT_ERROR_UNSUPPORTED, "dtype '<f8' is not supported"},
      {"fortran",
       npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
               data),
       RASPRT_ERROR_UNSUPPORTED, "Fortran-order"},
  };
  for (const BadFile &bad : cases) {
    SCOPED_TRACE(bad.name);
    std::string path = tempPath(std::string("bad-") + bad.name + ".npy");
    writeBytes(path, bad.bytes);
    rasprt_tensor t;
    std::memset(&t, 0xab, sizeof(t));
    rasprt_tensor before = t;
    EXPECT_EQ(rasprt_npy_read(path.c_str(), &t), bad.status);
    std::string message = lastError();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(bad.message), std::string::npos) << message;
    EXPECT_EQ(std::memcmp(&t, &before, sizeof(t)), 0)
        << "the output descriptor must be untouched on failure";
  }
}

TEST(Npy, MissingFileNamesThePath) {
  rasprt_tensor t;
  std::string path = tempPath("does-not-exist.npy");
  EXPECT_EQ(rasprt_npy_read(path.c_str(), &t), RASPRT_ERROR_IO);
  EXPECT_NE(lastError().find(path + ": cannot open"), std::string::npos)
      << lastError();
}

TEST(Npy, FailedWriteLeavesNoFile) {
  const int64_t shape[] = {4};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_F16, 1, shape), RASPRT_OK);

  std::string noDir = tempPath("no/such/dir/out.npy");
  EXPECT_EQ(rasprt_npy_write(noDir.c_str(), &t), RASPRT_ERROR_IO);
  EXPECT_NE(lastError().find("cannot create"), std::string::npos);
  rasprt_tensor_free(&t);
}

} // namespace
