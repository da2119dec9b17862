//===- ElementwiseFusion.h - fuse chains of elementwise ops -----*- C++ -*-===//

#ifndef RASPC_CONVERSION_FUSION_ELEMENTWISEFUSION_H
#define RASPC_CONVERSION_FUSION_ELEMENTWISEFUSION_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_FUSEELEMENTWISEOPS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_FUSION_ELEMENTWISEFUSION_H
