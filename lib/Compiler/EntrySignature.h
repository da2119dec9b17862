//===- EntrySignature.h - what a compiled entry point takes -----*- C++ -*-===//

#ifndef RASPC_COMPILER_ENTRYSIGNATURE_H
#define RASPC_COMPILER_ENTRYSIGNATURE_H

#include "raspc/Compiler.h"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace raspc {

/// The entry point's arguments and results as MLIRGen declared them: types
/// from the function type, names, vocabularies and encodings from the
/// `raspc.*` argument and result attributes (see docs/abi.md).
EntrySignature describeEntry(mlir::func::FuncOp entry, bool isModel);

} // namespace raspc

#endif // RASPC_COMPILER_ENTRYSIGNATURE_H
