//===- TileParallelLoopsForGPU.cpp - blocks of threads ----------*- C++ -*-===//

#include "Conversion/GPU/TileParallelLoopsForGPU.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include "llvm/Support/MathExtras.h"

namespace raspc {
#define GEN_PASS_DEF_TILEPARALLELLOOPSFORGPU
#include "Conversion/Passes.h.inc"
} // namespace raspc

using namespace mlir;

namespace {

struct TileParallelLoopsForGPU
    : raspc::impl::TileParallelLoopsForGPUBase<TileParallelLoopsForGPU> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 1 || !llvm::isPowerOf2_64(threads)) {
      getOperation().emitError() << "tile-parallel-loops-for-gpu: threads must be a power "
                                    "of two, not "
                                 << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost)
      scf::tileParallelLoop(loop, tileSizes(loop), /*noMinMaxBounds=*/true);
  }

  SmallVector<int64_t> tileSizes(scf::ParallelOp loop) {
    size_t rank = loop.getNumLoops();
    SmallVector<int64_t> sizes(rank, 1);
    uint64_t budget = threads;
    for (size_t d = rank; d-- > 0 && budget > 1;) {
      std::optional<int64_t> lower = getConstantIntValue(loop.getLowerBound()[d]);
      std::optional<int64_t> upper = getConstantIntValue(loop.getUpperBound()[d]);
      std::optional<int64_t> step = getConstantIntValue(loop.getStep()[d]);
      uint64_t tile = budget;
      if (lower && upper && step && *step > 0) {
        int64_t trips = (*upper - *lower + *step - 1) / *step;
        tile = std::min<uint64_t>(budget, llvm::PowerOf2Ceil(std::max<int64_t>(trips, 1)));
      }
      sizes[d] = static_cast<int64_t>(tile);
      budget /= tile;
    }
    return sizes;
  }
};

} // namespace
