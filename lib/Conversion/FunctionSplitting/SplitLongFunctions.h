//===- SplitLongFunctions.h - long functions as calls of parts --*- C++ -*-===//

#ifndef RASPC_CONVERSION_FUNCTIONSPLITTING_SPLITLONGFUNCTIONS_H
#define RASPC_CONVERSION_FUNCTIONSPLITTING_SPLITLONGFUNCTIONS_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_SPLITLONGFUNCTIONS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_FUNCTIONSPLITTING_SPLITLONGFUNCTIONS_H
