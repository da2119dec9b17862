//===- TensorTest.cpp - rasprt tensor descriptors ---------------*- C++ -*-===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace {

TEST(Dtype, SizesAndNames) {
  EXPECT_EQ(rasprt_dtype_size(RASPRT_F32), 4u);
  EXPECT_EQ(rasprt_dtype_size(RASPRT_F16), 2u);
  EXPECT_EQ(rasprt_dtype_size(RASPRT_BF16), 2u);
  EXPECT_EQ(rasprt_dtype_size(RASPRT_I32), 4u);
  EXPECT_EQ(rasprt_dtype_size(RASPRT_I64), 8u);
  EXPECT_EQ(rasprt_dtype_size(RASPRT_BOOL), 1u);
  EXPECT_EQ(rasprt_dtype_size(static_cast<rasprt_dtype>(99)), 0u);
  EXPECT_STREQ(rasprt_dtype_name(RASPRT_BF16), "bf16");
  EXPECT_STREQ(rasprt_dtype_name(RASPRT_I64), "i64");
}

TEST(Tensor, AllocIsAlignedZeroedAndRowMajor) {
  const int64_t shape[] = {3, 5, 7};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, 3, shape), RASPRT_OK)
      << rasprt_last_error();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % RASPRT_ALIGNMENT, 0u);
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.strides[0], 35);
  EXPECT_EQ(t.strides[1], 7);
  EXPECT_EQ(t.strides[2], 1);
  EXPECT_EQ(rasprt_tensor_numel(&t), 105);
  EXPECT_TRUE(rasprt_tensor_is_contiguous(&t));
  const float *data = static_cast<const float *>(t.data);
  for (int i = 0; i < 105; ++i)
    ASSERT_EQ(data[i], 0.0f) << "element " << i;
  rasprt_tensor_free(&t);
  EXPECT_EQ(t.data, nullptr);
  EXPECT_EQ(t.owns_data, 0);
}

TEST(Tensor, RankZeroAndEmptyTensors) {
  rasprt_tensor scalar;
  ASSERT_EQ(rasprt_tensor_alloc(&scalar, RASPRT_I64, 0, nullptr), RASPRT_OK);
  EXPECT_EQ(rasprt_tensor_numel(&scalar), 1);
  EXPECT_NE(scalar.data, nullptr);
  rasprt_tensor_free(&scalar);

  const int64_t shape[] = {4, 0};
  rasprt_tensor empty;
  ASSERT_EQ(rasprt_tensor_alloc(&empty, RASPRT_F16, 2, shape), RASPRT_OK);
  EXPECT_EQ(rasprt_tensor_numel(&empty), 0);
  rasprt_tensor_free(&empty);
}

TEST(Tensor, ViewDescribesCallerDataRowMajor) {
  float data[24];
  const int64_t shape[] = {2, 3, 4};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_view(&t, data, RASPRT_F32, 3, shape), RASPRT_OK);
  EXPECT_EQ(t.data, data);
  EXPECT_EQ(t.owns_data, 0);
  EXPECT_EQ(t.strides[0], 12);
  EXPECT_EQ(t.strides[1], 4);
  EXPECT_EQ(t.strides[2], 1);
  EXPECT_TRUE(rasprt_tensor_is_contiguous(&t));
  rasprt_tensor_free(&t); // does not free caller data
  const int64_t negative[] = {-2};
  EXPECT_EQ(rasprt_tensor_view(&t, data, RASPRT_F32, 1, negative),
            RASPRT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(rasprt_last_error()).find("rasprt_tensor_view: dimension 0 has negative size -2"),
            std::string::npos) << rasprt_last_error();
}

TEST(Tensor, TransposedViewIsNotContiguous) {
  rasprt_tensor t{};
  t.rank = 2;
  t.shape[0] = 2;
  t.shape[1] = 3;
  t.strides[0] = 1;
  t.strides[1] = 2;
  EXPECT_FALSE(rasprt_tensor_is_contiguous(&t));
  // Size-1 dimensions may carry any stride.
  t.shape[0] = 1;
  t.strides[0] = 42;
  t.strides[1] = 1;
  EXPECT_TRUE(rasprt_tensor_is_contiguous(&t));
}

TEST(Tensor, BadArgumentsAreReportedNotFatal) {
  rasprt_tensor t;
  const int64_t negative[] = {2, -1};
  EXPECT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, 2, negative),
            RASPRT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(rasprt_last_error()).find("negative size -1"),
            std::string::npos)
      << rasprt_last_error();

  const int64_t shape[RASPRT_MAX_RANK + 1] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, RASPRT_MAX_RANK + 1, shape),
            RASPRT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(rasprt_last_error()).find("rank 9"),
            std::string::npos);

  EXPECT_EQ(rasprt_tensor_alloc(&t, static_cast<rasprt_dtype>(42), 1, shape),
            RASPRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(rasprt_tensor_alloc(nullptr, RASPRT_F32, 1, shape),
            RASPRT_ERROR_INVALID_ARGUMENT);

  const int64_t huge[] = {INT64_MAX / 2, INT64_MAX / 2};
  EXPECT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, 2, huge),
            RASPRT_ERROR_OUT_OF_MEMORY);
}

TEST(Status, NamesAndErrorClearedOnSuccess) {
  EXPECT_STREQ(rasprt_status_name(RASPRT_ERROR_FORMAT), "format error");
  rasprt_tensor t;
  const int64_t bad[] = {-3};
  ASSERT_NE(rasprt_tensor_alloc(&t, RASPRT_F32, 1, bad), RASPRT_OK);
  EXPECT_STRNE(rasprt_last_error(), "");
  const int64_t good[] = {3};
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, 1, good), RASPRT_OK);
  EXPECT_STREQ(rasprt_last_error(), "");
  rasprt_tensor_free(&t);
}

TEST(Descriptor, RoundTripsATensor) {
  const int64_t shape[] = {2, 3};
  rasprt_tensor t;
  ASSERT_EQ(rasprt_tensor_alloc(&t, RASPRT_F32, 2, shape), RASPRT_OK);
  int64_t words[3 + 2 * 2];
  rasprt_descriptor_from_tensor(&t, words);
  EXPECT_EQ(words[0], reinterpret_cast<int64_t>(t.data));
  EXPECT_EQ(words[1], reinterpret_cast<int64_t>(t.data));
  EXPECT_EQ(words[2], 0);
  EXPECT_EQ(words[3], 2);
  EXPECT_EQ(words[4], 3);
  EXPECT_EQ(words[5], 3);
  EXPECT_EQ(words[6], 1);

  rasprt_tensor view;
  rasprt_tensor_from_descriptor(words, RASPRT_F32, 2, &view);
  EXPECT_EQ(view.data, t.data);
  EXPECT_EQ(view.shape[1], 3);
  EXPECT_EQ(view.strides[0], 3);
  EXPECT_TRUE(view.owns_data);

  // An offset view does not own: freeing it would free the wrong pointer.
  words[2] = 3;
  rasprt_tensor_from_descriptor(words, RASPRT_F32, 2, &view);
  EXPECT_EQ(view.data, static_cast<float *>(t.data) + 3);
  EXPECT_FALSE(view.owns_data);
  rasprt_tensor_free(&t);
}

} // namespace

// Compiled code's buffers of 64 KiB and more are kept when freed and handed
// out again (an activation of a layer at L = 512 is 512 KiB; faulting in
// fresh pages for it on every call cost a tenth of the call); smaller ones
// go back to malloc. A kept block is reused for a request of its size.
TEST(Buffers, FreedBlocksFromSixtyFourKiBAreReused) {
  const size_t bytes = 96 << 10;
  size_t before = rasprt_buffer_cached_bytes();
  void *first = rasprt_buffer_alloc(64, bytes);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  rasprt_buffer_free(first);
  EXPECT_GE(rasprt_buffer_cached_bytes(), before + bytes);
  void *second = rasprt_buffer_alloc(64, bytes);
  EXPECT_EQ(second, first);
  EXPECT_EQ(rasprt_buffer_cached_bytes(), before);
  rasprt_buffer_free(second);

  size_t kept = rasprt_buffer_cached_bytes();
  void *small = rasprt_buffer_alloc(64, 32 << 10);
  rasprt_buffer_free(small);
  EXPECT_EQ(rasprt_buffer_cached_bytes(), kept) << "a 32 KiB block is not kept";
}
