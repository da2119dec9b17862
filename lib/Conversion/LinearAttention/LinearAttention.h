//===- LinearAttention.h - linear attention in linear time ------*- C++ -*-===//

#ifndef RASPC_CONVERSION_LINEARATTENTION_H
#define RASPC_CONVERSION_LINEARATTENTION_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class Region;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTLINEARATTENTIONTOLOOPS
#include "Conversion/Passes.h.inc"

/// The masks the linear-time lowerings of linear attention take: none (or
/// one that is always true) and exactly causal (`key <= query`, on index or
/// integer positions); anything else is Other and keeps the reference
/// lowering.
enum class LinearMask { None, Causal, Other };
LinearMask classifyLinearMask(mlir::Region &mask);

} // namespace raspc

#endif // RASPC_CONVERSION_LINEARATTENTION_H
