//===- LoopNestOutlining.h - one function per loop nest ---------*- C++ -*-===//

#ifndef RASPC_CONVERSION_LOOPNESTOUTLINING_H
#define RASPC_CONVERSION_LOOPNESTOUTLINING_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_OUTLINELOOPNESTS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_LOOPNESTOUTLINING_H
