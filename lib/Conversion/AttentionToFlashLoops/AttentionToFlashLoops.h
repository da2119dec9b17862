//===- AttentionToFlashLoops.h - attention as online-softmax tiles -*- C++ -*-===//

#ifndef RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_H
#define RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_H

#include "mlir/Pass/Pass.h"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace raspc {

#define GEN_PASS_DECL_CONVERTATTENTIONTOFLASHLOOPS
#define GEN_PASS_DECL_SELECTATTENTIONSTRATEGY
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_H
