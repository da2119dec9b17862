//===- ParallelToRasprt.h - scf.parallel on the runtime's threads -*- C++ -*-===//

#ifndef RASPC_CONVERSION_PARALLELTORASPRT_H
#define RASPC_CONVERSION_PARALLELTORASPRT_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTPARALLELTORASPRT
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_PARALLELTORASPRT_H
