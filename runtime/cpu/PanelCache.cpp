//===- PanelCache.cpp - GEMM weights packed once ----------------*- C++ -*-===//
//
// A GEMM's block product copies the block of B it works on into a stack
// panel before every pass of its rows (convert-matmul-to-tiled-loops):
// nn.Linear's [out, in] weights by transposing squares. For a model called
// one sentence at a time that copy is a third of a call. Weights do not
// change between calls, so a host that says so (by adding them to a cache)
// gets them packed once, in the layout the micro-kernel reads, and the
// compiled code reads from there instead.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"
#include "Error.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

struct rasprt_panel_cache {
  struct Range {
    const char *begin, *end;
  };
  struct Key {
    const void *data;
    int64_t rows, cols, rowStride, blockCols;
    int32_t dtype, transposed;
    bool operator<(const Key &o) const {
      return std::tie(data, rows, cols, rowStride, blockCols, dtype, transposed) <
             std::tie(o.data, o.rows, o.cols, o.rowStride, o.blockCols, o.dtype, o.transposed);
    }
  };
  struct Panels {
    float *data;
    int64_t size;
  };
  mutable std::mutex mutex;
  std::vector<Range> tensors;
  std::map<Key, Panels> panels;
  size_t bytes = 0;
};

namespace {

thread_local rasprt_panel_cache *current = nullptr;

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) { // Inf, NaN
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalize
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

float load(const char *p, int32_t dtype) {
  switch (dtype) {
  case RASPRT_F32: {
    float f;
    std::memcpy(&f, p, sizeof(f));
    return f;
  }
  case RASPRT_BF16: {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
  default: {
    uint16_t h;
    std::memcpy(&h, p, sizeof(h));
    return halfToFloat(h);
  }
  }
}

} // namespace

extern "C" {

rasprt_panel_cache *rasprt_panel_cache_create(void) {
  return new (std::nothrow) rasprt_panel_cache();
}

void rasprt_panel_cache_free(rasprt_panel_cache *cache) {
  if (!cache)
    return;
  for (auto &entry : cache->panels)
    std::free(entry.second.data);
  delete cache;
}

rasprt_status rasprt_panel_cache_add(rasprt_panel_cache *cache, const rasprt_tensor *tensor) {
  if (!cache || !tensor || (!tensor->data && rasprt_tensor_numel(tensor) > 0))
    return rasprt::fail(RASPRT_ERROR_INVALID_ARGUMENT, "rasprt_panel_cache_add: null argument");
  if (tensor->dtype != RASPRT_F32 && tensor->dtype != RASPRT_F16 && tensor->dtype != RASPRT_BF16)
    return rasprt::succeed();
  if (!rasprt_tensor_is_contiguous(tensor))
    return rasprt::fail(RASPRT_ERROR_INVALID_ARGUMENT,
                        "rasprt_panel_cache_add: the tensor is not contiguous");
  const char *begin = static_cast<const char *>(tensor->data);
  size_t bytes = static_cast<size_t>(rasprt_tensor_numel(tensor)) * rasprt_dtype_size(tensor->dtype);
  std::lock_guard<std::mutex> lock(cache->mutex);
  cache->tensors.push_back({begin, begin + bytes});
  return rasprt::succeed();
}

rasprt_panel_cache *rasprt_panel_cache_use(rasprt_panel_cache *cache) {
  rasprt_panel_cache *previous = current;
  current = cache;
  return previous;
}

size_t rasprt_panel_cache_bytes(const rasprt_panel_cache *cache) {
  if (!cache)
    return 0;
  std::lock_guard<std::mutex> lock(cache->mutex);
  return cache->bytes;
}

void _mlir_ciface_rasprt_gemm_panels(int64_t *result, int64_t aligned, int64_t offset,
                                     int64_t rows, int64_t cols, int64_t rowStride,
                                     int32_t dtype, int32_t transposed, int64_t blockCols) {
  // {allocated, aligned, offset, size, stride}: empty unless found.
  result[0] = result[1] = result[2] = result[3] = 0;
  result[4] = 1;
  rasprt_panel_cache *cache = current;
  if (!cache || rows <= 0 || cols <= 0 || rowStride < cols || blockCols <= 0 || offset < 0)
    return;
  if (dtype != RASPRT_F32 && dtype != RASPRT_F16 && dtype != RASPRT_BF16)
    return;
  size_t elementSize = rasprt_dtype_size(static_cast<rasprt_dtype>(dtype));
  const char *data = reinterpret_cast<const char *>(aligned) + offset * elementSize;
  const char *last = data + ((rows - 1) * rowStride + cols) * elementSize;
  std::lock_guard<std::mutex> lock(cache->mutex);
  bool known = std::any_of(cache->tensors.begin(), cache->tensors.end(),
                           [&](const rasprt_panel_cache::Range &r) {
                             return r.begin <= data && last <= r.end;
                           });
  if (!known)
    return;
  rasprt_panel_cache::Key key{data, rows, cols, rowStride, blockCols, dtype, transposed};
  auto found = cache->panels.find(key);
  if (found == cache->panels.end()) {
    // B [K, N] is the matrix or its transpose; block j holds B's columns
    // [j * blockCols, + width) as [K, width].
    int64_t depth = transposed ? cols : rows, n = transposed ? rows : cols;
    size_t bytes = static_cast<size_t>(depth * n) * sizeof(float);
    void *buffer = nullptr;
    // Not the calls' allocator: the panels outlive the call.
    if (posix_memalign(&buffer, RASPRT_ALIGNMENT, std::max<size_t>(bytes, 1)) != 0)
      return; // the GEMM packs per call as without a cache
    auto *out = static_cast<float *>(buffer);
    auto at = [&](int64_t r, int64_t c) { return data + (r * rowStride + c) * elementSize; };
    for (int64_t c0 = 0; c0 < n; c0 += blockCols) {
      int64_t width = std::min(blockCols, n - c0);
      float *block = out + c0 * depth;
      // Along the matrix's rows, which are contiguous.
      if (transposed) {
        for (int64_t c = 0; c < width; ++c)
          for (int64_t k = 0; k < depth; ++k)
            block[k * width + c] = load(at(c0 + c, k), dtype);
      } else {
        for (int64_t k = 0; k < depth; ++k)
          for (int64_t c = 0; c < width; ++c)
            block[k * width + c] = load(at(k, c0 + c), dtype);
      }
    }
    found = cache->panels.emplace(key, rasprt_panel_cache::Panels{out, depth * n}).first;
    cache->bytes += bytes;
  }
  // Allocated null: compiled code frees the buffers calls return to it
  // (buffer deallocation), and the cache's panels are not its to free.
  result[1] = reinterpret_cast<int64_t>(found->second.data);
  result[3] = found->second.size;
}

} // extern "C"
