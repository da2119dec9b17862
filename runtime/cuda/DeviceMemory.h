//===- DeviceMemory.h - CUDA buffers among rasprt's buffers -----*- C++ -*-===//

#ifndef RASPRT_CUDA_DEVICEMEMORY_H
#define RASPRT_CUDA_DEVICEMEMORY_H

namespace rasprt::cuda {

/// Frees `buffer` if the CUDA runtime allocated it (returns false for any
/// other pointer, which the caller frees as host memory).
bool releaseDeviceBuffer(void *buffer);

} // namespace rasprt::cuda

#endif // RASPRT_CUDA_DEVICEMEMORY_H
