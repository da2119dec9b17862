//===- SelectScans.h - aggregates over index ranges as scans ----*- C++ -*-===//

#ifndef RASPC_CONVERSION_SELECTSCANS_SELECTSCANS_H
#define RASPC_CONVERSION_SELECTSCANS_SELECTSCANS_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTSELECTSTOSCANS
#include "Conversion/Passes.h.inc"

/// attn.aggregate and attn.selector_width over a select of every key, of
/// no key, or comparing `indices` with `indices`, as O(L) scans.
void populateSelectScanPatterns(mlir::RewritePatternSet &patterns);

} // namespace raspc

#endif // RASPC_CONVERSION_SELECTSCANS_SELECTSCANS_H
