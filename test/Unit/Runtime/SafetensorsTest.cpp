//===- SafetensorsTest.cpp - rasprt .safetensors loading --------*- C++ -*-===//
//
// Files are built byte by byte from the format's description, not by the
// code under test.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "rasprt_st_" + name;
}

/// header length (u64 LE) + JSON + data.
std::string safetensors(const std::string &json, const std::string &data) {
  std::string out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + data;
}

std::string floats(std::vector<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string write(const std::string &name, const std::string &bytes) {
  std::string path = tempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string lastError() { return rasprt_last_error(); }

const char *kJson =
    R"({"__metadata__": {"format": "pt"},)"
    R"( "b": {"dtype": "F32", "shape": [3], "data_offsets": [24, 36]},)"
    R"( "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})";

TEST(Safetensors, LoadsTensorsByName) {
  std::string path = write("ok.safetensors",
                           safetensors(kJson, floats({1, 2, 3, 4, 5, 6, -1, -2, -3})));
  rasprt_safetensors *file = nullptr;
  ASSERT_EQ(rasprt_safetensors_open(path.c_str(), &file), RASPRT_OK) << lastError();
  ASSERT_EQ(rasprt_safetensors_count(file), 2);
  EXPECT_STREQ(rasprt_safetensors_name(file, 0), "b");

  const int64_t wShape[] = {2, 3};
  rasprt_tensor w;
  ASSERT_EQ(rasprt_safetensors_load(file, "w", RASPRT_F32, 2, wShape, &w), RASPRT_OK)
      << lastError();
  EXPECT_EQ(static_cast<float *>(w.data)[5], 6.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data) % RASPRT_ALIGNMENT, 0u);

  const int64_t any[] = {-1};
  rasprt_tensor b;
  ASSERT_EQ(rasprt_safetensors_load(file, "b", RASPRT_F32, 1, any, &b), RASPRT_OK);
  EXPECT_EQ(static_cast<float *>(b.data)[0], -1.0f);
  rasprt_tensor_free(&w);
  rasprt_tensor_free(&b);
  rasprt_safetensors_close(file);
}

TEST(Safetensors, MismatchesNameTheTensorAndTheDifference) {
  std::string path = write("mismatch.safetensors",
                           safetensors(kJson, floats({1, 2, 3, 4, 5, 6, -1, -2, -3})));
  rasprt_safetensors *file = nullptr;
  ASSERT_EQ(rasprt_safetensors_open(path.c_str(), &file), RASPRT_OK);
  rasprt_tensor t;
  const int64_t shape[] = {3, 2};
  EXPECT_EQ(rasprt_safetensors_load(file, "w", RASPRT_F32, 2, shape, &t), RASPRT_ERROR_FORMAT);
  EXPECT_NE(lastError().find("tensor 'w' has shape [2, 3], but [3, 2] is expected"),
            std::string::npos) << lastError();
  const int64_t wShape[] = {2, 3};
  EXPECT_EQ(rasprt_safetensors_load(file, "w", RASPRT_F16, 2, wShape, &t), RASPRT_ERROR_FORMAT);
  EXPECT_NE(lastError().find("tensor 'w' is F32, but f16 (F16) is expected"), std::string::npos)
      << lastError();
  EXPECT_EQ(rasprt_safetensors_load(file, "wq", RASPRT_F32, 2, wShape, &t), RASPRT_ERROR_FORMAT);
  EXPECT_NE(lastError().find("no tensor named 'wq' (the file has: b, w)"), std::string::npos)
      << lastError();
  rasprt_safetensors_close(file);
}

// A checkpoint holds hundreds of tensors: a missing name lists the closest
// few (here: the prefix is off by one part), not all of them.
TEST(Safetensors, MissingNameListsTheClosest) {
  std::string json = "{";
  std::vector<std::string> names = {"pooler.dense.bias", "embeddings.norm.weight"};
  for (int layer = 0; layer < 6; ++layer)
    names.push_back("encoder.layer." + std::to_string(layer) + ".query.weight");
  for (size_t i = 0; i < names.size(); ++i)
    json += std::string(i ? ", " : "") + "\"" + names[i] + "\": {\"dtype\": \"F32\", " +
            "\"shape\": [1], \"data_offsets\": [" + std::to_string(4 * i) + ", " +
            std::to_string(4 * i + 4) + "]}";
  json += "}";
  std::string path = write("many.safetensors",
                           safetensors(json, floats(std::vector<float>(names.size(), 1.0f))));
  rasprt_safetensors *file = nullptr;
  ASSERT_EQ(rasprt_safetensors_open(path.c_str(), &file), RASPRT_OK) << lastError();
  rasprt_tensor t;
  const int64_t shape[] = {1};
  EXPECT_EQ(rasprt_safetensors_load(file, "bert.encoder.layer.3.query.weight", RASPRT_F32, 1,
                                    shape, &t),
            RASPRT_ERROR_FORMAT);
  EXPECT_NE(lastError().find("no tensor named 'bert.encoder.layer.3.query.weight' (the closest "
                             "of its 8 tensors: encoder.layer.3.query.weight, "
                             "encoder.layer.0.query.weight, encoder.layer.1.query.weight, "
                             "encoder.layer.2.query.weight)"),
            std::string::npos)
      << lastError();
  rasprt_safetensors_close(file);
}

TEST(Safetensors, MalformedFilesAreRejected) {
  struct Case {
    const char *name;
    std::string bytes;
    const char *message;
  } cases[] = {
      {"short", "abc", "shorter than its 8-byte header length"},
      {"huge-header", safetensors("{}", "").replace(0, 8, std::string("\xff\xff\xff\x0f\0\0\0\0", 8)),
       "exceeds the file size"},
      {"not-json", safetensors("[1, 2]", ""), "the header is not a JSON object"},
      {"no-offsets", safetensors(R"({"w": {"dtype": "F32", "shape": [1]}})", floats({1})),
       "tensor 'w': needs dtype, shape and data_offsets"},
      {"truncated", safetensors(kJson, floats({1, 2, 3})),
       "tensor 'b' ends at byte 36 of the data, but the data has 12 bytes (truncated?)"},
      {"bad-offsets",
       safetensors(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", floats({1})),
       "data_offsets must be [begin, end] with begin <= end"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.name);
    std::string path = write(std::string(c.name) + ".safetensors", c.bytes);
    rasprt_safetensors *file = nullptr;
    EXPECT_EQ(rasprt_safetensors_open(path.c_str(), &file), RASPRT_ERROR_FORMAT);
    EXPECT_EQ(file, nullptr);
    EXPECT_NE(lastError().find(path), std::string::npos) << lastError();
    EXPECT_NE(lastError().find(c.message), std::string::npos) << lastError();
  }
  rasprt_safetensors *file = nullptr;
  EXPECT_EQ(rasprt_safetensors_open(tempPath("missing").c_str(), &file), RASPRT_ERROR_IO);
}

TEST(Safetensors, DataSizeMustMatchTheShape) {
  std::string path = write(
      "size.safetensors",
      safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", floats({1})));
  rasprt_safetensors *file = nullptr;
  ASSERT_EQ(rasprt_safetensors_open(path.c_str(), &file), RASPRT_OK) << lastError();
  const int64_t shape[] = {2};
  rasprt_tensor t;
  EXPECT_EQ(rasprt_safetensors_load(file, "w", RASPRT_F32, 1, shape, &t), RASPRT_ERROR_FORMAT);
  EXPECT_NE(lastError().find("has 4 bytes of data, but its shape needs 8"), std::string::npos)
      << lastError();
  rasprt_safetensors_close(file);
}

} // namespace
