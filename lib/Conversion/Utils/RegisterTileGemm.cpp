//===- RegisterTileGemm.cpp - the CPU's vector GEMM micro-kernel
//-----------===//

#include "Conversion/Utils/RegisterTileGemm.h"

#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

void raspc::emitRegisterTile(ImplicitLocOpBuilder &b, const RegisterTileGemm &g,
                             const RegisterTileShape &shape, Value row0,
                             int64_t rowCount, Value col0, int64_t vectors,
                             Value depth) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  auto vecType = VectorType::get({shape.width}, b.getF32Type());
  SmallVector<Value> rowIdx, colIdx, init;
  for (int64_t r = 0; r < rowCount; ++r)
    rowIdx.push_back(arith::AddIOp::create(b, row0, idx(r)));
  for (int64_t c = 0; c < vectors; ++c)
    colIdx.push_back(arith::AddIOp::create(b, col0, idx(c * shape.width)));
  Value zero = vector::BroadcastOp::create(
      b, vecType, arith::ConstantOp::create(b, b.getF32FloatAttr(0.0)));
  for (int64_t r = 0; r < rowCount; ++r)
    for (int64_t c = 0; c < vectors; ++c)
      init.push_back(g.loadC ? g.loadC(rowIdx[r], colIdx[c]) : zero);
  SmallVector<Value> sums =
      emitLoop(b, idx(0), depth, idx(1), init, [&](Value k, ValueRange accs) {
        SmallVector<Value> bVecs, next;
        for (int64_t c = 0; c < vectors; ++c)
          bVecs.push_back(g.loadB(k, colIdx[c]));
        for (int64_t r = 0; r < rowCount; ++r) {
          Value a =
              vector::BroadcastOp::create(b, vecType, g.loadA(rowIdx[r], k));
          for (int64_t c = 0; c < vectors; ++c)
            next.push_back(
                vector::FMAOp::create(b, a, bVecs[c], accs[r * vectors + c]));
        }
        return next;
      });
  for (int64_t r = 0; r < rowCount; ++r)
    for (int64_t c = 0; c < vectors; ++c)
      g.storeC(sums[r * vectors + c], rowIdx[r], colIdx[c]);
}

void raspc::emitGemm(ImplicitLocOpBuilder &b, const RegisterTileGemm &g,
                     const RegisterTileShape &shape, Value rowCount,
                     int64_t cols, Value depth, bool rowsAreWholeTiles) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  int64_t chunk = shape.columns();
  Value fullRows =
      rowsAreWholeTiles
          ? rowCount
          : Value(arith::SubIOp::create(
                b, rowCount,
                arith::RemUIOp::create(b, rowCount, idx(shape.rows))));
  auto columns = [&](Value col0, int64_t vectors) {
    emitLoop(b, idx(0), fullRows, idx(shape.rows), [&](Value row0) {
      emitRegisterTile(b, g, shape, row0, shape.rows, col0, vectors, depth);
    });
    if (!rowsAreWholeTiles)
      emitLoop(b, fullRows, rowCount, idx(1), [&](Value row) {
        emitRegisterTile(b, g, shape, row, 1, col0, vectors, depth);
      });
  };
  // Whole register tiles of columns in a loop (one copy of the kernel, not
  // one per chunk: LLVM's time grows with the code), then the rest.
  int64_t fullCols = cols / chunk * chunk;
  if (fullCols == chunk)
    columns(idx(0), shape.vectors);
  else if (fullCols > 0)
    emitLoop(b, idx(0), idx(fullCols), idx(chunk),
             [&](Value col0) { columns(col0, shape.vectors); });
  if (fullCols < cols)
    columns(idx(fullCols), (cols - fullCols) / shape.width);
}
