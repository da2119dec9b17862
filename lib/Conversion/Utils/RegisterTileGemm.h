//===- RegisterTileGemm.h - the CPU's vector GEMM micro-kernel -----------===//
//
// C += A.B by register tiles, emitted directly in the vector dialect: R rows
// x V vectors of accumulators carried through the reduction loop as
// scf.for iter_args, B rows loaded as vectors, A elements broadcast (6 x 4
// zmm with AVX-512, 6 x 2 ymm with AVX2: three quarters of the vector
// registers). The flash loops (S = Q.K^T, O += P.V) and the model's
// matmuls (convert-matmul-to-tiled-loops) share it; how operands are laid
// out is the caller's, through the load and store callbacks.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_CONVERSION_UTILS_REGISTERTILEGEMM_H
#define RASPC_CONVERSION_UTILS_REGISTERTILEGEMM_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <functional>

namespace raspc {

/// The register tile: `rows` x `vectors` accumulators of `width` f32 lanes.
struct RegisterTileShape {
  int64_t width = 16, rows = 6, vectors = 4;
  int64_t columns() const { return width * vectors; }
};

/// How a GEMM reads its operands and writes its result, element (A) or
/// vector (B, C) at a time, at row / column / reduction indices.
struct RegisterTileGemm {
  std::function<mlir::Value(mlir::Value row, mlir::Value k)>
      loadA; // f32 scalar
  std::function<mlir::Value(mlir::Value k, mlir::Value col)>
      loadB; // f32 vector
  std::function<mlir::Value(mlir::Value row, mlir::Value col)>
      loadC; // null: C starts at 0
  std::function<void(mlir::Value v, mlir::Value row, mlir::Value col)> storeC;
};

/// One register tile: rows [row0, row0 + rows), columns [col0, col0 +
/// vectors * width), the reduction over [0, depth).
void emitRegisterTile(mlir::ImplicitLocOpBuilder &b, const RegisterTileGemm &g,
                      const RegisterTileShape &shape, mlir::Value row0,
                      int64_t rows, mlir::Value col0, int64_t vectors,
                      mlir::Value depth);

/// C[0, rows) x [0, cols) by register tiles: whole tiles of columns in a
/// loop, then the remaining vectors; whole tiles of rows, then single rows
/// (unless `rowsAreWholeTiles`: `rows` is a multiple of shape.rows). `cols`
/// is a multiple of shape.width.
void emitGemm(mlir::ImplicitLocOpBuilder &b, const RegisterTileGemm &g,
              const RegisterTileShape &shape, mlir::Value rows, int64_t cols,
              mlir::Value depth, bool rowsAreWholeTiles);

} // namespace raspc

#endif // RASPC_CONVERSION_UTILS_REGISTERTILEGEMM_H
