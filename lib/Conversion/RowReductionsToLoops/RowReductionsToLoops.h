//===- RowReductionsToLoops.h - norms as vector row kernels -----*- C++ -*-===//

#ifndef RASPC_CONVERSION_ROWREDUCTIONSTOLOOPS_H
#define RASPC_CONVERSION_ROWREDUCTIONSTOLOOPS_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_CONVERTROWREDUCTIONSTOLOOPS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_ROWREDUCTIONSTOLOOPS_H
