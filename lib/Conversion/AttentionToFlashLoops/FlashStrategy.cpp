//===- FlashStrategy.cpp - tile sizes of the flash loops --------*- C++ -*-===//
//
// The choices and their reasons are in Passes.td (select-attention-strategy).
// They are rules, not a search: what was measured (bench/, docs/design.md)
// is a register tile that fills three quarters of the vector registers and
// a key tile whose panels stay in L1.
//
//===----------------------------------------------------------------------===//

#include "Conversion/AttentionToFlashLoops/FlashStrategy.h"
#include "Conversion/AttentionToFlashLoops/AttentionToFlashLoops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/Support/MathExtras.h"
#include "llvm/TargetParser/Host.h"

namespace raspc {
#define GEN_PASS_DEF_SELECTATTENTIONSTRATEGY
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

int64_t raspc::hostVectorWidth() {
  static const int64_t width = llvm::sys::getHostCPUFeatures().lookup("avx512f") ? 16 : 8;
  return width;
}

int64_t raspc::registerVectorsFor(int64_t width) { return width >= 16 ? 4 : 2; }

raspc::FlashTiles raspc::chooseFlashTiles(attn::AttentionOp op, int64_t width) {
  FlashTiles t;
  t.width = width;
  t.registerRows = 6;
  t.registerVectors = registerVectorsFor(width);
  t.keyTile = 64;
  t.queryTile = 16 * t.registerRows;
  // Statically short sequences: no tile bigger than the work.
  int64_t keys = cast<RankedTensorType>(op.getKey().getType()).getDimSize(2);
  int64_t queries = cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
  if (!ShapedType::isDynamic(keys))
    t.keyTile = std::min(t.keyTile, static_cast<int64_t>(llvm::alignTo(std::max<int64_t>(keys, 1),
                                                                       width)));
  if (!ShapedType::isDynamic(queries))
    t.queryTile = std::min(t.queryTile, static_cast<int64_t>(llvm::alignTo(
                                            std::max<int64_t>(queries, 1), t.registerRows)));
  return t;
}

void raspc::setFlashTiles(attn::AttentionOp op, const FlashTiles &t) {
  Builder b(op.getContext());
  op->setAttr(kFlashTilesAttr,
              b.getDictionaryAttr({b.getNamedAttr("query_tile", b.getI64IntegerAttr(t.queryTile)),
                                   b.getNamedAttr("key_tile", b.getI64IntegerAttr(t.keyTile)),
                                   b.getNamedAttr("vector_width", b.getI64IntegerAttr(t.width)),
                                   b.getNamedAttr("register_rows",
                                                  b.getI64IntegerAttr(t.registerRows)),
                                   b.getNamedAttr("register_vectors",
                                                  b.getI64IntegerAttr(t.registerVectors))}));
}

std::optional<raspc::FlashTiles> raspc::getFlashTiles(attn::AttentionOp op) {
  auto dict = op->getAttrOfType<DictionaryAttr>(kFlashTilesAttr);
  if (!dict)
    return std::nullopt;
  auto get = [&](StringRef name) -> std::optional<int64_t> {
    if (auto value = dict.getAs<IntegerAttr>(name))
      return value.getInt();
    return std::nullopt;
  };
  auto q = get("query_tile"), k = get("key_tile"), w = get("vector_width"),
       r = get("register_rows"), v = get("register_vectors");
  if (!q || !k || !w || !r || !v)
    return std::nullopt;
  return FlashTiles{*q, *k, *w, *r, *v};
}

namespace {

struct SelectAttentionStrategy
    : raspc::impl::SelectAttentionStrategyBase<SelectAttentionStrategy> {
  using Base::Base;

  void runOnOperation() override {
    int64_t width = vectorWidth ? static_cast<int64_t>(vectorWidth) : raspc::hostVectorWidth();
    if (width < 1) {
      getOperation().emitError() << "select-attention-strategy: vector-width must be positive";
      return signalPassFailure();
    }
    getOperation().walk([&](attn::AttentionOp op) {
      if (raspc::isFlashCandidate(op))
        raspc::setFlashTiles(op, raspc::chooseFlashTiles(op, width));
    });
  }
};

} // namespace
