//===- MaskIntervals.h - mask regions over blocks of positions --*- C++ -*-===//
//
// Evaluates an attn.attention mask region over a whole block of (query, key)
// positions at once by interval arithmetic, so that a tiled lowering can skip
// blocks where no key is visible and drop the mask where every key is.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_MASKINTERVALS_H
#define RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_MASKINTERVALS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <optional>

namespace raspc {

/// An i1 over a block: whether it can be true, whether it can be false.
struct BlockTruth {
  mlir::Value mayBeTrue, mayBeFalse;
};

/// Emits code that evaluates the mask `region` (arguments batch, head,
/// query, key: index) for batch `b`, head `h`, queries in [queryLo, queryHi]
/// and keys in [keyLo, keyHi], all inclusive. Integer operations that are
/// monotone or bounded (add, sub, mul, div and rem by constants, min, max,
/// casts) propagate intervals; comparisons and boolean logic give
/// `BlockTruth`. Anything else (e.g. reading document ids) is unknown:
/// may be true and may be false. Returns nothing when the result is unknown
/// for every block, so that callers emit no test.
std::optional<BlockTruth> emitBlockTruth(mlir::ImplicitLocOpBuilder &b, mlir::Region &region,
                                         mlir::Value batch, mlir::Value head,
                                         mlir::Value queryLo, mlir::Value queryHi,
                                         mlir::Value keyLo, mlir::Value keyHi);

} // namespace raspc

#endif // RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_MASKINTERVALS_H
