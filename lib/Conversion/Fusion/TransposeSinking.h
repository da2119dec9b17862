//===- TransposeSinking.h - transposes below elementwise ops ----*- C++ -*-===//

#ifndef RASPC_CONVERSION_FUSION_TRANSPOSESINKING_H
#define RASPC_CONVERSION_FUSION_TRANSPOSESINKING_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_SINKTRANSPOSES
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_FUSION_TRANSPOSESINKING_H
