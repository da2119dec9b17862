//===- ExpandBF16.h - bf16 conversions as integer arithmetic ----*- C++ -*-===//

#ifndef RASPC_CONVERSION_EXPANDBF16_H
#define RASPC_CONVERSION_EXPANDBF16_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_EXPANDBF16CONVERSIONS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_EXPANDBF16_H
