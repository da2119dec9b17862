//===- Wgmma.h - warpgroup MMA (sm_90a) in the kernels ----------*- C++ -*-===//
//
// What kernels need to multiply with wgmma.mma_async: its operands are
// shared-memory tiles named by 64-bit matrix descriptors, in the layouts the
// PTX ISA calls canonical (here: 128-byte swizzled), its accumulators an
// LLVM struct of f32 spread over the 128 threads of a warpgroup.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_GPU_WGMMA_H
#define RASPC_CONVERSION_GPU_WGMMA_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <string>

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace raspc {

/// Whether `chip` has wgmma.mma_async: sm_90a only (sm_100 has other MMAs).
bool hasWgmma(const std::string &chip);

/// Declares the memory effects of the NVVM operations the wgmma kernels use
/// (the MMA, its fence, commit and wait, fence.proxy.async): upstream
/// declares none, and bufferization's deallocation rejects operations of
/// unknown effects in the kernels it walks. A pass that emits them adds this
/// to its dependent dialects.
void addWgmmaMemoryEffects(mlir::DialectRegistry &registry);

/// The 128-byte swizzle of a shared tile, in 16-byte chunks: within each row
/// of 128 bytes (row = address / 128), chunk c is stored at chunk
/// c ^ (row % 8). `chunk` and `row` are index values.
mlir::Value swizzle128(mlir::ImplicitLocOpBuilder &b, mlir::Value chunk, mlir::Value row);

/// The matrix descriptor of a 128-byte swizzled operand at shared address
/// `address` (an index; its 1024-byte pattern must start 1024-aligned),
/// with leading and stride byte offsets as the PTX ISA defines them for the
/// operand's major-ness.
mlir::Value emitSwizzled128Descriptor(mlir::ImplicitLocOpBuilder &b, mlir::Value address,
                                      int64_t leadingBytes, int64_t strideBytes);

/// The accumulator of an m64nNk16 wgmma: N / 2 f32 per thread.
mlir::Type wgmmaAccumulatorType(mlir::MLIRContext *context, int64_t n);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_WGMMA_H
