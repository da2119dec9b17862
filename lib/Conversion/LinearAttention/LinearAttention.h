//===- LinearAttention.h - linear attention in linear time ------*- C++ -*-===//

#ifndef RASPC_CONVERSION_LINEARATTENTION_H
#define RASPC_CONVERSION_LINEARATTENTION_H

#include "mlir/Pass/Pass.h"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace raspc {

#define GEN_PASS_DECL_CONVERTLINEARATTENTIONTOLOOPS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_LINEARATTENTION_H
