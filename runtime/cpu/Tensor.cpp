//===- Tensor.cpp - tensor descriptors --------------------------*- C++ -*-===//

#include "Error.h"

#include <cstdlib>
#include <cstring>
#include <limits>

using rasprt::fail;
using rasprt::succeed;

extern "C" size_t rasprt_dtype_size(rasprt_dtype dtype) {
  switch (dtype) {
  case RASPRT_F32:
  case RASPRT_I32:
    return 4;
  case RASPRT_F16:
  case RASPRT_BF16:
    return 2;
  case RASPRT_I64:
    return 8;
  case RASPRT_BOOL:
    return 1;
  }
  return 0;
}

extern "C" const char *rasprt_dtype_name(rasprt_dtype dtype) {
  switch (dtype) {
  case RASPRT_F32:
    return "f32";
  case RASPRT_F16:
    return "f16";
  case RASPRT_BF16:
    return "bf16";
  case RASPRT_I32:
    return "i32";
  case RASPRT_I64:
    return "i64";
  case RASPRT_BOOL:
    return "bool";
  }
  return "unknown";
}

extern "C" int64_t rasprt_tensor_numel(const rasprt_tensor *tensor) {
  int64_t numel = 1;
  for (int32_t i = 0; i < tensor->rank; ++i)
    numel *= tensor->shape[i];
  return numel;
}

extern "C" int rasprt_tensor_is_contiguous(const rasprt_tensor *tensor) {
  int64_t expected = 1;
  for (int32_t i = tensor->rank - 1; i >= 0; --i) {
    // Strides of size-1 dimensions never matter.
    if (tensor->shape[i] != 1 && tensor->strides[i] != expected)
      return 0;
    expected *= tensor->shape[i];
  }
  return 1;
}

namespace {
/// Checks the arguments of a new tensor and fills `t` with them and the
/// row-major strides; `caller` names the API function in messages.
rasprt_status describeRowMajor(const char *caller, rasprt_tensor *out,
                               rasprt_dtype dtype, int32_t rank,
                               const int64_t *shape, rasprt_tensor &t) {
  std::string name = caller;
  if (!out || (rank > 0 && !shape))
    return fail(RASPRT_ERROR_INVALID_ARGUMENT, name + ": null descriptor or shape");
  if (rasprt_dtype_size(dtype) == 0)
    return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                name + ": unknown dtype " + std::to_string(static_cast<int>(dtype)));
  if (rank < 0 || rank > RASPRT_MAX_RANK)
    return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                name + ": rank " + std::to_string(rank) + " is outside [0, " +
                    std::to_string(RASPRT_MAX_RANK) + "]");
  t = rasprt_tensor{};
  t.dtype = dtype;
  t.rank = rank;
  int64_t stride = 1;
  for (int32_t i = rank - 1; i >= 0; --i) {
    if (shape[i] < 0)
      return fail(RASPRT_ERROR_INVALID_ARGUMENT,
                  name + ": dimension " + std::to_string(i) + " has negative size " +
                      std::to_string(shape[i]));
    t.shape[i] = shape[i];
    t.strides[i] = stride;
    // Saturates on overflow; alloc's byte count catches it.
    if (shape[i] != 0)
      stride = stride > std::numeric_limits<int64_t>::max() / shape[i]
                   ? std::numeric_limits<int64_t>::max()
                   : stride * shape[i];
  }
  return RASPRT_OK;
}
} // namespace

extern "C" rasprt_status rasprt_tensor_view(rasprt_tensor *out, void *data,
                                            rasprt_dtype dtype, int32_t rank,
                                            const int64_t *shape) {
  rasprt_tensor t;
  if (rasprt_status status = describeRowMajor("rasprt_tensor_view", out, dtype, rank, shape, t))
    return status;
  t.data = data;
  *out = t;
  return succeed();
}

extern "C" rasprt_status rasprt_tensor_alloc(rasprt_tensor *out,
                                             rasprt_dtype dtype, int32_t rank,
                                             const int64_t *shape) {
  rasprt_tensor t;
  if (rasprt_status status = describeRowMajor("rasprt_tensor_alloc", out, dtype, rank, shape, t))
    return status;
  // A byte count that must not overflow.
  size_t bytes = rasprt_dtype_size(dtype);
  for (int32_t i = 0; i < rank; ++i) {
    if (shape[i] != 0 && bytes > std::numeric_limits<size_t>::max() / shape[i])
      return fail(RASPRT_ERROR_OUT_OF_MEMORY, "rasprt_tensor_alloc: size overflows");
    bytes *= static_cast<size_t>(shape[i]);
  }
  // aligned_alloc wants a multiple of the alignment, and a non-zero size.
  size_t rounded = (bytes + RASPRT_ALIGNMENT - 1) / RASPRT_ALIGNMENT *
                   RASPRT_ALIGNMENT;
  if (rounded == 0)
    rounded = RASPRT_ALIGNMENT;
  t.data = std::aligned_alloc(RASPRT_ALIGNMENT, rounded);
  if (!t.data)
    return fail(RASPRT_ERROR_OUT_OF_MEMORY,
                "rasprt_tensor_alloc: cannot allocate " +
                    std::to_string(bytes) + " bytes");
  std::memset(t.data, 0, rounded);
  t.owns_data = 1;
  *out = t;
  return succeed();
}

extern "C" void rasprt_tensor_free(rasprt_tensor *tensor) {
  if (!tensor)
    return;
  if (tensor->owns_data)
    rasprt_buffer_free(tensor->data);
  *tensor = rasprt_tensor{};
}

extern "C" void rasprt_descriptor_from_tensor(const rasprt_tensor *tensor,
                                              int64_t *descriptor) {
  descriptor[0] = descriptor[1] = reinterpret_cast<int64_t>(tensor->data);
  descriptor[2] = 0;
  for (int32_t i = 0; i < tensor->rank; ++i) {
    descriptor[3 + i] = tensor->shape[i];
    descriptor[3 + tensor->rank + i] = tensor->strides[i];
  }
}

extern "C" void rasprt_tensor_from_descriptor(const int64_t *descriptor,
                                              rasprt_dtype dtype, int32_t rank,
                                              rasprt_tensor *out) {
  rasprt_tensor t{};
  t.dtype = dtype;
  t.rank = rank;
  size_t elementSize = rasprt_dtype_size(dtype);
  // The tensor views aligned + offset; freeing goes through `allocated`,
  // which rasprt_tensor_free cannot see, so results are owned only when
  // the two agree (compiled code allocates them that way).
  t.data = reinterpret_cast<char *>(descriptor[1]) + descriptor[2] * elementSize;
  for (int32_t i = 0; i < rank; ++i) {
    t.shape[i] = descriptor[3 + i];
    t.strides[i] = descriptor[3 + rank + i];
  }
  t.owns_data = descriptor[0] == reinterpret_cast<int64_t>(t.data);
  *out = t;
}
