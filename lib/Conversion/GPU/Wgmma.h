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

/// Declares the memory effects of the NVVM operations the wgmma kernels use
/// (the MMA, its fence, commit and wait, fence.proxy.async): upstream
/// declares none, and bufferization's deallocation rejects operations of
/// unknown effects in the kernels it walks. A pass that emits them adds this
/// to its dependent dialects.
void addWgmmaMemoryEffects(mlir::DialectRegistry &registry);

/// The 128-byte swizzled layout of 16-bit operands: rows of 128 bytes (64
/// elements), the pattern repeating every 8 rows (1024 bytes: tiles start
/// that aligned); an MMA takes 16 of K.
inline constexpr int64_t kSwizzleRowBytes = 128, kSwizzleRowElements = 64,
                         kSwizzleAtomBytes = 8 * kSwizzleRowBytes, kWgmmaK = 16;

/// Where element (row, column) of a rows x C tile of 16-bit elements goes
/// in the 128-byte swizzled layout both majors use: C / 64 panels of `rows`
/// rows of 128 bytes (64 columns), panel after panel, and in each row of
/// 128 bytes (tile row r) 16-byte chunk c stored at chunk c ^ (r % 8). As
/// [tile row, column] of a (C / 64 * rows) x 64 memref. The tile must start
/// 1024-aligned: the swizzle is a function of the address.
llvm::SmallVector<mlir::Value, 2> placeSwizzled128(mlir::ImplicitLocOpBuilder &b,
                                                    mlir::Value row, mlir::Value column,
                                                    int64_t rows);

/// Matrix descriptors of the `kStep`-th 16 of K of a tile placed by
/// placeSwizzled128 (panels of `panelRows` rows) at shared address
/// `tile` (an index). K-major (K along the rows of 64 elements): panel
/// kStep / 4, 32 bytes per 16 of K into its rows -- the swizzle applies to
/// the address -- 8-row groups 1024 bytes apart. MN-major (K down the
/// rows): rows 16 kStep on, 8-row groups 1024 bytes apart, panels of 64 of
/// M or N `panelRows` rows apart (the leading offset).
mlir::Value emitKMajorDescriptor(mlir::ImplicitLocOpBuilder &b, mlir::Value tile,
                                 int64_t panelRows, int64_t kStep);
mlir::Value emitMNMajorDescriptor(mlir::ImplicitLocOpBuilder &b, mlir::Value tile,
                                  int64_t panelRows, int64_t kStep);

/// fence.proxy.async.shared::cta: a thread's writes to shared memory (cp.async
/// and plain stores: the generic proxy) become visible to the MMAs, which
/// read through the async proxy. Before the barrier that shows the tiles.
void emitAsyncProxyFence(mlir::ImplicitLocOpBuilder &b);

/// The accumulator of an m64nNk16 wgmma: N / 2 f32 per thread.
mlir::Type wgmmaAccumulatorType(mlir::MLIRContext *context, int64_t n);

/// Pins the registers of `values` (f32 or i32; a struct's fields) in
/// place: an empty volatile inline asm that reads and writes them, returning
/// them as `type` (their struct, or the one value). wgmma's ordering
/// (registers written before `wgmma.fence`, accumulators read after the
/// wait) is not a data dependence LLVM sees; this makes it one.
mlir::Value emitRegisterFence(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange values,
                              mlir::Type type);
/// The same for the fields of an accumulator struct.
mlir::Value emitAccumulatorFence(mlir::ImplicitLocOpBuilder &b, mlir::Value accumulator);

/// d = A.B + d, m64nNk16 with f32 accumulators, A from registers (`a`: four
/// i32 of two f16/bf16 each, in mma.sync's A fragment layout for the warp's
/// 16 rows) and B from shared memory (`bDescriptor`, N-major if
/// `bTransposed`). NVVM's op has descriptors for A only, so this is inline
/// PTX; the warp emulator recognizes it by its text.
mlir::Value emitWgmmaRegisterA(mlir::ImplicitLocOpBuilder &b, mlir::Value d,
                               mlir::ArrayRef<mlir::Value> a, mlir::Value bDescriptor, int64_t n,
                               bool bf16, bool bTransposed);

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_WGMMA_H
