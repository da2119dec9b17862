//===- MLIRGen.h - a checked program to the attn dialect --------*- C++ -*-===//

#ifndef RASPC_FRONTEND_MLIRGEN_H
#define RASPC_FRONTEND_MLIRGEN_H

#include "Program.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace raspc {

/// The dialects MLIRGen emits: attn, func, arith, math, tensor, linalg.
void registerMLIRGenDialects(mlir::DialectRegistry &registry);

/// Loads those dialects into `context`.
void loadMLIRGenDialects(mlir::MLIRContext &context);

/// Emits `program` as a func.func named after the entry point, in the attn
/// dialect and upstream dialects, with FileLineColLoc locations into
/// `sourceMgr`'s buffer `bufferId`. The ABI the function follows is written
/// in docs/language.md ("What the compiler emits"). With `exposeSelectors`
/// the function also returns every selector it builds, materialized as a
/// [queries, keys] i1 tensor, each result named by `raspc.selector`. With
/// `outlineCalls`, a model's calls of helpers become calls of private
/// functions placed after the entry, one function for calls that come out
/// the same but for their arguments (a model's layers).
mlir::OwningOpRef<mlir::ModuleOp> generateMLIR(mlir::MLIRContext &context,
                                               const program::Program &program,
                                               const llvm::SourceMgr &sourceMgr,
                                               unsigned bufferId,
                                               bool exposeSelectors = false,
                                               bool outlineCalls = false);

} // namespace raspc

#endif // RASPC_FRONTEND_MLIRGEN_H
