//===- AttnToLinalg.h - attn to linalg on tensors ---------------*- C++ -*-===//

#ifndef RASPC_CONVERSION_ATTNTOLINALG_H
#define RASPC_CONVERSION_ATTNTOLINALG_H

#include "Attn/IR/AttnOps.h"

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
class TypeConverter;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

/// phi(x) of linear attention for a scalar or vector float `x`.
mlir::Value emitFeatureMap(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::attn::FeatureMap map, mlir::Value x);

/// Selectors become tensor<?x?xi1> of shape [queries, keys].
void addAttnToLinalgTypeConversions(mlir::TypeConverter &converter);

/// The patterns of convert-attn-to-linalg.
void populateAttnToLinalgPatterns(mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns);

#define GEN_PASS_DECL_CONVERTATTNTOLINALG
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_ATTNTOLINALG_H
