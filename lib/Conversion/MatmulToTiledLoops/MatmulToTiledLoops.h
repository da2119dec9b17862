//===- MatmulToTiledLoops.h - the model's matmuls as vector GEMMs ---------===//

#ifndef RASPC_CONVERSION_MATMULTOTILEDLOOPS_H
#define RASPC_CONVERSION_MATMULTOTILEDLOOPS_H

#include "mlir/Pass/Pass.h"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace raspc {

#define GEN_PASS_DECL_CONVERTMATMULTOTILEDLOOPS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_MATMULTOTILEDLOOPS_H
