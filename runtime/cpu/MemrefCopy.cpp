//===- MemrefCopy.cpp - copies between strided buffers ----------*- C++ -*-===//
//
// MLIR lowers a memref.copy between buffers of the same contiguous layout
// to memcpy, and any other to a call of `memrefCopy` (the ABI of MLIR's C
// runner utilities, mlir/ExecutionEngine/CRunnerUtils.h), which compiled
// code then needs from its runtime: bufferization copies an scf.if's
// result, whose layout it leaves general, into the buffer a function
// returns.
//
//===----------------------------------------------------------------------===//

#include "rasprt/rasprt.h"

#include <cstdint>
#include <cstring>

namespace {

/// MLIR's unranked memref: a rank and a pointer to a descriptor
/// {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct Unranked {
  int64_t rank;
  void *descriptor;
};

struct View {
  char *data;
  const int64_t *sizes, *strides;
};

View viewOf(const Unranked &m, int64_t elementSize) {
  auto *words = static_cast<int64_t *>(m.descriptor);
  char *aligned = reinterpret_cast<char *>(words[1]);
  return {aligned + words[2] * elementSize, words + 3, words + 3 + m.rank};
}

void copy(const View &from, const View &to, int64_t rank, int64_t dim, int64_t elementSize,
          int64_t fromOffset, int64_t toOffset) {
  if (dim == rank) {
    std::memcpy(to.data + toOffset * elementSize, from.data + fromOffset * elementSize,
                static_cast<size_t>(elementSize));
    return;
  }
  if (dim == rank - 1 && from.strides[dim] == 1 && to.strides[dim] == 1) {
    std::memcpy(to.data + toOffset * elementSize, from.data + fromOffset * elementSize,
                static_cast<size_t>(from.sizes[dim] * elementSize));
    return;
  }
  for (int64_t i = 0; i < from.sizes[dim]; ++i)
    copy(from, to, rank, dim + 1, elementSize, fromOffset + i * from.strides[dim],
         toOffset + i * to.strides[dim]);
}

} // namespace

extern "C" RASPRT_API void memrefCopy(int64_t elementSize, Unranked *src, Unranked *dst) {
  View from = viewOf(*src, elementSize), to = viewOf(*dst, elementSize);
  for (int64_t d = 0; d < src->rank; ++d)
    if (from.sizes[d] == 0)
      return;
  copy(from, to, src->rank, 0, elementSize, 0, 0);
}
