//===- PanelCacheTest.cpp - GEMM weights packed once ----------------------===//
//
// rasprt_gemm_panels as compiled GEMMs call it: the layout (blocks of
// columns of B, each [K, width], the last narrower), the widening of 16-bit
// weights, and the cases that must give nothing (no cache in use, a matrix
// the host did not add), checked against element-by-element indexing here.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

namespace {

struct Descriptor {
  int64_t words[5] = {-1, -1, -1, -1, -1}; // allocated, aligned, offset, size, stride
  const float *data() const { return reinterpret_cast<const float *>(words[1]); }
  int64_t size() const { return words[3]; }
};

Descriptor panels(const void *data, int64_t offset, int64_t rows, int64_t cols,
                  int64_t rowStride, rasprt_dtype dtype, bool transposed, int64_t blockCols) {
  Descriptor d;
  _mlir_ciface_rasprt_gemm_panels(d.words, reinterpret_cast<int64_t>(data), offset, rows, cols,
                                  rowStride, dtype, transposed, blockCols);
  return d;
}

rasprt_tensor view(void *data, rasprt_dtype dtype, std::vector<int64_t> shape) {
  rasprt_tensor t;
  rasprt_tensor_view(&t, data, dtype, static_cast<int32_t>(shape.size()), shape.data());
  return t;
}

/// B[k][n] of the stored matrix m ([rows, cols], row stride `ld`).
float bAt(const std::vector<float> &m, int64_t ld, bool transposed, int64_t k, int64_t n) {
  return transposed ? m[n * ld + k] : m[k * ld + n];
}

/// Every element of the panels against B, block by block.
void expectLayout(const Descriptor &d, const std::vector<float> &m, int64_t ld, bool transposed,
                  int64_t K, int64_t N, int64_t blockCols) {
  ASSERT_EQ(d.size(), K * N);
  EXPECT_EQ(d.words[0], 0) << "the compiled code must not free the panels";
  EXPECT_EQ(d.words[2], 0);
  EXPECT_EQ(d.words[4], 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(d.data()) % RASPRT_ALIGNMENT, 0u);
  for (int64_t c0 = 0; c0 < N; c0 += blockCols) {
    int64_t width = std::min(blockCols, N - c0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < width; ++c)
        ASSERT_EQ(d.data()[c0 * K + k * width + c], bAt(m, ld, transposed, k, c0 + c))
            << "block at column " << c0 << ", k " << k << ", c " << c;
  }
}

std::vector<float> iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i) * 0.5f - 3.0f;
  return v;
}

TEST(PanelCache, NothingWithoutACacheInUse) {
  std::vector<float> w = iota(6 * 8);
  EXPECT_EQ(panels(w.data(), 0, 6, 8, 8, RASPRT_F32, false, 4).size(), 0);
  rasprt_panel_cache *cache = rasprt_panel_cache_create();
  rasprt_tensor t = view(w.data(), RASPRT_F32, {6, 8});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &t), RASPRT_OK);
  // Added but not in use on this thread.
  EXPECT_EQ(panels(w.data(), 0, 6, 8, 8, RASPRT_F32, false, 4).size(), 0);
  EXPECT_EQ(rasprt_panel_cache_bytes(cache), 0u);
  rasprt_panel_cache_free(cache);
}

TEST(PanelCache, OnlyTheTensorsAdded) {
  std::vector<float> w = iota(6 * 8), other = iota(6 * 8);
  rasprt_panel_cache *cache = rasprt_panel_cache_create();
  rasprt_tensor t = view(w.data(), RASPRT_F32, {6, 8});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &t), RASPRT_OK);
  EXPECT_EQ(rasprt_panel_cache_use(cache), nullptr);
  EXPECT_EQ(panels(other.data(), 0, 6, 8, 8, RASPRT_F32, false, 4).size(), 0);
  // A matrix reaching past the tensor's end is not it.
  EXPECT_EQ(panels(w.data(), 1, 6, 8, 8, RASPRT_F32, false, 4).size(), 0);
  EXPECT_GT(panels(w.data(), 0, 6, 8, 8, RASPRT_F32, false, 4).size(), 0);
  EXPECT_EQ(rasprt_panel_cache_use(nullptr), cache);
  rasprt_panel_cache_free(cache);
}

TEST(PanelCache, BlocksOfColumnsEachKByWidth) {
  rasprt_panel_cache *cache = rasprt_panel_cache_create();
  rasprt_panel_cache_use(cache);
  // [K=5, N=40] as it is, blocks of 16: 16, 16 and a last block of 8.
  std::vector<float> w = iota(5 * 40);
  rasprt_tensor t = view(w.data(), RASPRT_F32, {5, 40});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &t), RASPRT_OK);
  Descriptor d = panels(w.data(), 0, 5, 40, 40, RASPRT_F32, false, 16);
  expectLayout(d, w, 40, false, 5, 40, 16);
  // Asked again: the same panels, not packed twice.
  EXPECT_EQ(panels(w.data(), 0, 5, 40, 40, RASPRT_F32, false, 16).data(), d.data());
  EXPECT_EQ(rasprt_panel_cache_bytes(cache), 5u * 40 * sizeof(float));

  // nn.Linear's [out=24, in=130] weights: B is their transpose, [130, 24].
  std::vector<float> linear = iota(24 * 130);
  rasprt_tensor l = view(linear.data(), RASPRT_F32, {24, 130});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &l), RASPRT_OK);
  expectLayout(panels(linear.data(), 0, 24, 130, 130, RASPRT_F32, true, 16), linear, 130, true,
               130, 24, 16);

  // A matrix inside a tensor (rows 2 apart, starting at element 1).
  std::vector<float> wide = iota(4 * 10);
  rasprt_tensor s = view(wide.data(), RASPRT_F32, {4, 10});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &s), RASPRT_OK);
  std::vector<float> shifted(wide.begin() + 1, wide.end());
  expectLayout(panels(wide.data(), 1, 4, 8, 10, RASPRT_F32, false, 8), shifted, 10, false, 4, 8,
               8);
  rasprt_panel_cache_use(nullptr);
  rasprt_panel_cache_free(cache);
}

TEST(PanelCache, SixteenBitWeightsWidened) {
  // bf16 and f16 bit patterns of values exact in both: 1.5, -2, 0.25, 0,
  // and an f16 subnormal (2^-24) and infinity.
  std::vector<uint16_t> bf16 = {0x3fc0, 0xc000, 0x3e80, 0x0000};
  std::vector<uint16_t> f16 = {0x3e00, 0xc000, 0x3400, 0x0001, 0x7c00, 0x8000};
  std::vector<float> bf16Want = {1.5f, -2.0f, 0.25f, 0.0f};
  std::vector<float> f16Want = {1.5f, -2.0f, 0.25f, 5.9604644775390625e-8f, INFINITY, -0.0f};
  rasprt_panel_cache *cache = rasprt_panel_cache_create();
  rasprt_panel_cache_use(cache);
  rasprt_tensor b = view(bf16.data(), RASPRT_BF16, {2, 2});
  rasprt_tensor h = view(f16.data(), RASPRT_F16, {3, 2});
  ASSERT_EQ(rasprt_panel_cache_add(cache, &b), RASPRT_OK);
  ASSERT_EQ(rasprt_panel_cache_add(cache, &h), RASPRT_OK);
  Descriptor db = panels(bf16.data(), 0, 2, 2, 2, RASPRT_BF16, false, 2);
  ASSERT_EQ(db.size(), 4);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(db.data()[i], bf16Want[i]) << i;
  Descriptor dh = panels(f16.data(), 0, 3, 2, 2, RASPRT_F16, false, 2);
  ASSERT_EQ(dh.size(), 6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(dh.data()[i], f16Want[i]) << i;
    EXPECT_EQ(std::signbit(dh.data()[i]), std::signbit(f16Want[i])) << i;
  }
  rasprt_panel_cache_use(nullptr);
  rasprt_panel_cache_free(cache);
}

TEST(PanelCache, OtherDtypesAreNotWeights) {
  std::vector<int32_t> ids = {1, 2, 3, 4};
  rasprt_panel_cache *cache = rasprt_panel_cache_create();
  rasprt_tensor t = view(ids.data(), RASPRT_I32, {2, 2});
  EXPECT_EQ(rasprt_panel_cache_add(cache, &t), RASPRT_OK);
  rasprt_panel_cache_use(cache);
  EXPECT_EQ(panels(ids.data(), 0, 2, 2, 2, RASPRT_I32, false, 2).size(), 0);
  rasprt_panel_cache_use(nullptr);
  EXPECT_EQ(rasprt_panel_cache_add(nullptr, &t), RASPRT_ERROR_INVALID_ARGUMENT);
  rasprt_panel_cache_free(cache);
}

} // namespace
