//===- SharedMemoryTiles.cpp - global-to-shared tile copies in GPU kernels -===//

#include "Conversion/GPU/SharedMemoryTiles.h"
#include "Conversion/Utils/LoopEmission.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

void raspc::declareDeferredSync(ModuleOp module) {
  OpBuilder top(module.getBodyRegion());
  auto declare = [&](StringRef name, TypeRange arguments) {
    if (module.lookupSymbol<func::FuncOp>(name))
      return;
    auto decl = func::FuncOp::create(top, module.getLoc(), name,
                                     top.getFunctionType(arguments, {}));
    decl.setPrivate();
  };
  declare(kDeferredGPUBarrier, {});
  declare(kDeferredCpAsyncCommit, {});
  declare(kDeferredCpAsyncWait, {top.getI32Type()});
}

void raspc::emitDeferredSync(ImplicitLocOpBuilder &b, StringRef name,
                             std::optional<int32_t> pending) {
  SmallVector<Value, 1> args;
  if (pending)
    args.push_back(arith::ConstantOp::create(b, b.getI32IntegerAttr(*pending)));
  func::CallOp::create(b, name, TypeRange{}, args);
}

static int64_t elementBytes(Value buffer) {
  return cast<MemRefType>(buffer.getType()).getElementTypeBitWidth() / 8;
}

raspc::GlobalTileSource::GlobalTileSource(ImplicitLocOpBuilder &b, Value buffer)
    : buffer(buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  int64_t rank = type.getRank();
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  auto multipleOf = [&](Value v, int64_t n) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, arith::RemUIOp::create(b, v, idx(n)),
                                 idx(0));
  };
  auto metadata = memref::ExtractStridedMetadataOp::create(b, buffer);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, buffer);
  int64_t vectorElements = kCopyVectorBytes / elementBytes(buffer);
  vectorOk = multipleOf(base, kCopyVectorBytes);
  vectorOk = arith::AndIOp::create(b, vectorOk,
                                   arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                                         metadata.getStrides()[rank - 1], idx(1)));
  SmallVector<Value> wholeVectors{metadata.getOffset(), metadata.getSizes()[rank - 1]};
  for (int64_t d = 0; d + 1 < rank; ++d)
    wholeVectors.push_back(metadata.getStrides()[d]);
  for (Value v : wholeVectors)
    vectorOk = arith::AndIOp::create(b, vectorOk, multipleOf(v, vectorElements));

  SmallVector<int64_t> layoutStrides(rank, ShapedType::kDynamic);
  layoutStrides.back() = 1;
  auto layout = StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, layoutStrides);
  SmallVector<OpFoldResult> sizes, strides;
  for (int64_t d = 0; d < rank; ++d) {
    sizes.push_back(type.isDynamicDim(d) ? OpFoldResult(metadata.getSizes()[d])
                                         : OpFoldResult(b.getIndexAttr(type.getDimSize(d))));
    strides.push_back(d == rank - 1 ? OpFoldResult(b.getIndexAttr(1))
                                    : OpFoldResult(metadata.getStrides()[d]));
  }
  contiguous = memref::ReinterpretCastOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType(), layout),
      metadata.getBaseBuffer(), OpFoldResult(metadata.getOffset()), sizes, strides);
}

raspc::DynamicSharedMemory raspc::emitDynamicSharedMemory(ImplicitLocOpBuilder &b,
                                                          int64_t alignment) {
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  Value base = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), MemRefLayoutAttrInterface{},
                         gpu::AddressSpaceAttr::get(b.getContext(),
                                                    gpu::AddressSpace::Workgroup)));
  if (alignment <= 16)
    return {base, idx(0)};
  Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, base);
  Value align = idx(alignment);
  Value padding = arith::RemUIOp::create(
      b, arith::SubIOp::create(b, align, arith::RemUIOp::create(b, address, align)), align);
  return {base, padding};
}

void raspc::emitTileCopy(ImplicitLocOpBuilder &b, Value thread, int64_t threads,
                         const GlobalTileSource &source, Value tile, int64_t rows, int64_t columns,
                         function_ref<TileElementSource(Value row, Value column)> at,
                         function_ref<SmallVector<Value, 2>(Value row, Value column)> place) {
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  Type element = cast<MemRefType>(tile.getType()).getElementType();
  // In `lanes` elements per access; the last round may be partial.
  auto copy = [&](int64_t lanes) {
    int64_t accesses = rows * columns / lanes;
    int64_t rounds = llvm::divideCeil(accesses, threads);
    raspc::emitLoop(b, idx(0), idx(rounds), idx(1), [&](Value i) {
      Value e = arith::AddIOp::create(b, thread, arith::MulIOp::create(b, i, idx(threads)));
      auto body = [&] {
        Value row = arith::DivUIOp::create(b, e, idx(columns / lanes));
        Value column =
            arith::MulIOp::create(b, arith::RemUIOp::create(b, e, idx(columns / lanes)), idx(lanes));
        TileElementSource from = at(row, column);
        SmallVector<Value, 2> to = place ? place(row, column) : SmallVector<Value, 2>{row, column};
        auto copyIn = [&] {
          if (lanes == 1) {
            Value v = memref::LoadOp::create(b, source.buffer, from.indices);
            memref::StoreOp::create(b, v, tile, to);
            return;
          }
          // Straight to shared memory, without registers; finished when its
          // group is waited for.
          nvgpu::DeviceAsyncCopyOp::create(
              b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile, to,
              source.contiguous, from.indices, b.getIndexAttr(lanes),
              /*srcElements=*/Value(), /*bypassL1=*/b.getUnitAttr());
        };
        if (!from.exists) {
          copyIn();
          return;
        }
        auto exists = scf::IfOp::create(b, from.exists, /*withElseRegion=*/true);
        OpBuilder::InsertionGuard insertion(b);
        b.setInsertionPointToStart(exists.thenBlock());
        copyIn();
        b.setInsertionPointToStart(exists.elseBlock());
        if (lanes == 1) {
          memref::StoreOp::create(b, arith::ConstantOp::create(b, b.getZeroAttr(element)), tile,
                                  to);
        } else {
          auto type = VectorType::get({lanes}, element);
          vector::StoreOp::create(b, arith::ConstantOp::create(b, b.getZeroAttr(type)), tile, to,
                                  /*nontemporal=*/false,
                                  llvm::MaybeAlign(kCopyVectorBytes));
        }
      };
      if (accesses % threads == 0) {
        body();
        return;
      }
      auto inside = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, e, idx(accesses)),
          /*withElseRegion=*/false);
      OpBuilder::InsertionGuard insertion(b);
      b.setInsertionPointToStart(inside.thenBlock());
      body();
    });
  };
  int64_t lanes = kCopyVectorBytes / elementBytes(source.buffer);
  if (columns % lanes != 0) {
    copy(1);
    return;
  }
  auto branch = scf::IfOp::create(b, source.vectorOk, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard insertion(b);
  b.setInsertionPointToStart(branch.thenBlock());
  copy(lanes);
  b.setInsertionPointToStart(branch.elseBlock());
  copy(1);
}
