//===- FlashStrategy.h - tile sizes of the flash loops ----------*- C++ -*-===//
//
// What select-attention-strategy chooses and convert-attention-to-flash-loops
// uses: one set of tile sizes per attention op, carried between the two as
// the op's `raspc.flash_tiles` attribute.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_FLASHSTRATEGY_H
#define RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_FLASHSTRATEGY_H

#include "Attn/IR/AttnOps.h"

#include <cstdint>
#include <optional>

namespace raspc {

struct FlashTiles {
  int64_t queryTile, keyTile, width, registerRows, registerVectors;
};

/// The attribute that carries the tiles on an attn.attention op.
inline constexpr const char *kFlashTilesAttr = "raspc.flash_tiles";

/// Whether convert-attention-to-flash-loops takes `op` (softmax, float
/// element types it handles, static head counts, vectorizable regions).
bool isFlashCandidate(mlir::attn::AttentionOp op);

/// f32 lanes of this machine's widest vectors (16 with AVX-512, else 8).
int64_t hostVectorWidth();

/// Vectors per row of the GEMM register tile for `width` lanes: 6 x 4 zmm or
/// 6 x 2 ymm accumulators, three quarters of the vector registers.
int64_t registerVectorsFor(int64_t width);

/// The tiles for `op` on a target with `width`-lane vectors.
FlashTiles chooseFlashTiles(mlir::attn::AttentionOp op, int64_t width);

/// Stores / reads `raspc.flash_tiles` (nullopt when absent or malformed).
void setFlashTiles(mlir::attn::AttentionOp op, const FlashTiles &tiles);
std::optional<FlashTiles> getFlashTiles(mlir::attn::AttentionOp op);

} // namespace raspc

#endif // RASPC_CONVERSION_ATTENTIONTOFLASHLOOPS_FLASHSTRATEGY_H
