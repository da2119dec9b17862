//===- OutlinedFunctions.h - one function per distinct body -----*- C++ -*-===//
//
// Passes that outline code into functions (parallel loop bodies, loop
// nests) meet the same body many times: a model repeats its layers, a RASP
// program its aggregates, and they differ only in the buffers they are
// given. Keeping one function per distinct body means LLVM compiles each
// once, which is most of a compile's time.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_OUTLINEDFUNCTIONS_H
#define RASPC_CONVERSION_UTILS_OUTLINEDFUNCTIONS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

namespace raspc {

/// A new private function `name` (renamed on a clash in `symbols`) at the
/// builder's point, for code moved out of a longer one: internal linkage in
/// the object (two objects never clash) and LLVM's `noinline` (LLVM would
/// inline a function called once straight back).
mlir::func::FuncOp createOutlinedFunction(mlir::OpBuilder &moduleBuilder, mlir::Location loc,
                                          llvm::StringRef name, mlir::FunctionType type,
                                          mlir::SymbolTable &symbols);

class OutlinedFunctions {
public:
  /// An earlier function whose body does what `body`'s does (same ops,
  /// attributes and types; locations aside), or null after remembering
  /// `body` as a new one.
  mlir::func::FuncOp findEquivalent(mlir::func::FuncOp body);

private:
  /// Functions seen so far, by their number of operations.
  llvm::DenseMap<unsigned, llvm::SmallVector<mlir::func::FuncOp>> bySize;
};

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_OUTLINEDFUNCTIONS_H
