//===- HeaderEmitter.h - C headers for compiled entry points ----*- C++ -*-===//

#ifndef RASPC_TARGET_CPU_HEADEREMITTER_H
#define RASPC_TARGET_CPU_HEADEREMITTER_H

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace raspc {

/// Writes a C header declaring the C interface of `entry` (see docs/abi.md):
/// descriptor structs for the ranks it uses, the `_mlir_ciface_` prototype
/// with one parameter per input and parameter, and each token vocabulary as
/// a string array. `entry` is the function as MLIRGen emits it (tensors).
/// With `cuda`, a note on where buffers live and how errors come back.
void emitCHeader(mlir::func::FuncOp entry, llvm::raw_ostream &os, bool cuda = false);

} // namespace raspc

#endif // RASPC_TARGET_CPU_HEADEREMITTER_H
