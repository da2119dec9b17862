//===- EntryPoints.h - what an object exports --------------------*- C++ -*-===//

#ifndef RASPC_CONVERSION_ENTRYPOINTS_H
#define RASPC_CONVERSION_ENTRYPOINTS_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_EXPORTENTRYPOINTS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_ENTRYPOINTS_H
