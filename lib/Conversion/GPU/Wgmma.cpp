//===- Wgmma.cpp - warpgroup MMA (sm_90a) in the kernels --------*- C++ -*-===//

#include "Conversion/GPU/Wgmma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

bool raspc::hasWgmma(const std::string &chip) { return chip == "sm_90a"; }

namespace {
/// Reads and writes memory: what the wgmma operations and the proxy fence
/// do (shared-memory operands, the ordering they establish).
template <typename OpTy>
struct ReadsAndWritesMemory
    : public MemoryEffectOpInterface::ExternalModel<ReadsAndWritesMemory<OpTy>, OpTy> {
  void getEffects(Operation *,
                  SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects)
      const {
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};

template <typename... OpTys>
void attach(MLIRContext *context) {
  (
      [&] {
        // Another pass of the same context may have attached it already.
        std::optional<RegisteredOperationName> name =
            RegisteredOperationName::lookup(OpTys::getOperationName(), context);
        if (name && !name->hasInterface<MemoryEffectOpInterface>())
          OpTys::template attachInterface<ReadsAndWritesMemory<OpTys>>(*context);
      }(),
      ...);
}
} // namespace

void raspc::addWgmmaMemoryEffects(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, NVVM::NVVMDialect *) {
    attach<NVVM::WgmmaMmaAsyncOp, NVVM::WgmmaFenceAlignedOp, NVVM::WgmmaGroupSyncAlignedOp,
           NVVM::WgmmaWaitGroupSyncOp, NVVM::FenceProxyOp>(context);
  });
}

Value raspc::swizzle128(ImplicitLocOpBuilder &b, Value chunk, Value row) {
  Value rowInAtom = arith::RemUIOp::create(b, row, arith::ConstantIndexOp::create(b, 8));
  return arith::XOrIOp::create(b, chunk, rowInAtom);
}

Value raspc::emitSwizzled128Descriptor(ImplicitLocOpBuilder &b, Value address,
                                       int64_t leadingBytes, int64_t strideBytes) {
  // Bits 0-13: address bits 4-17; 16-29 and 32-45: the offsets / 16; 49-51:
  // base offset 0 (the pattern starts 1024-aligned); 62-63: 1, 128-byte
  // swizzle.
  Type i64 = b.getI64Type();
  auto constant = [&](uint64_t v) {
    return arith::ConstantOp::create(b, b.getIntegerAttr(i64, static_cast<int64_t>(v)));
  };
  Value start = arith::ShRUIOp::create(
      b, arith::AndIOp::create(b, arith::IndexCastUIOp::create(b, i64, address), constant(0x3ffff)),
      constant(4));
  uint64_t fixed = (uint64_t(leadingBytes >> 4) & 0x3fff) << 16 |
                   (uint64_t(strideBytes >> 4) & 0x3fff) << 32 | uint64_t(1) << 62;
  return arith::OrIOp::create(b, start, constant(fixed));
}

Type raspc::wgmmaAccumulatorType(MLIRContext *context, int64_t n) {
  return LLVM::LLVMStructType::getLiteral(
      context, SmallVector<Type>(n / 2, Float32Type::get(context)));
}
