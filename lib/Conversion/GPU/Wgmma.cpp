//===- Wgmma.cpp - warpgroup MMA (sm_90a) in the kernels --------*- C++ -*-===//

#include "Conversion/GPU/Wgmma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;


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

SmallVector<Value, 2> raspc::placeSwizzled128(ImplicitLocOpBuilder &b, Value row, Value column,
                                              int64_t rows) {
  auto idx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  // 64 16-bit elements in a row of 128 bytes, 8 in a chunk.
  Value tileRow = arith::AddIOp::create(
      b, arith::MulIOp::create(b, arith::DivUIOp::create(b, column, idx(64)), idx(rows)), row);
  Value inPanel = arith::RemUIOp::create(b, column, idx(64));
  Value chunk = arith::XOrIOp::create(b, arith::DivUIOp::create(b, inPanel, idx(8)),
                                      arith::RemUIOp::create(b, tileRow, idx(8)));
  return {tileRow, arith::AddIOp::create(b, arith::MulIOp::create(b, chunk, idx(8)),
                                         arith::RemUIOp::create(b, inPanel, idx(8)))};
}

/// The matrix descriptor of a 128-byte swizzled operand at shared address
/// `address`, with leading and stride byte offsets as the PTX ISA defines
/// them for the operand's major-ness.
static Value emitSwizzled128Descriptor(ImplicitLocOpBuilder &b, Value address,
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

static Value offset(ImplicitLocOpBuilder &b, Value address, int64_t bytes) {
  return arith::AddIOp::create(b, address, arith::ConstantIndexOp::create(b, bytes));
}

Value raspc::emitKMajorDescriptor(ImplicitLocOpBuilder &b, Value tile, int64_t panelRows,
                                  int64_t kStep) {
  int64_t perRow = kSwizzleRowElements / kWgmmaK;
  return emitSwizzled128Descriptor(
      b,
      offset(b, tile, (kStep / perRow) * panelRows * kSwizzleRowBytes +
                          (kStep % perRow) * kWgmmaK * 2),
      /*leadingBytes=*/16, /*strideBytes=*/kSwizzleAtomBytes); // leading: unused
}

Value raspc::emitMNMajorDescriptor(ImplicitLocOpBuilder &b, Value tile, int64_t panelRows,
                                   int64_t kStep) {
  return emitSwizzled128Descriptor(b, offset(b, tile, kStep * kWgmmaK * kSwizzleRowBytes),
                                   /*leadingBytes=*/panelRows * kSwizzleRowBytes,
                                   /*strideBytes=*/kSwizzleAtomBytes);
}

void raspc::emitAsyncProxyFence(ImplicitLocOpBuilder &b) {
  NVVM::FenceProxyOp::create(
      b, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
}

Type raspc::wgmmaAccumulatorType(MLIRContext *context, int64_t n) {
  return LLVM::LLVMStructType::getLiteral(
      context, SmallVector<Type>(n / 2, Float32Type::get(context)));
}

/// Inline PTX with side effects (never moved or dropped), returning `type`.
static Value emitVolatileAsm(ImplicitLocOpBuilder &b, Type type, ValueRange operands,
                             StringRef text, StringRef constraints) {
  return LLVM::InlineAsmOp::create(b, type, operands, text, constraints,
                                   /*has_side_effects=*/true, /*is_align_stack=*/false,
                                   LLVM::tailcallkind::TailCallKind::None,
                                   LLVM::AsmDialectAttr::get(b.getContext(),
                                                             LLVM::AsmDialect::AD_ATT),
                                   /*operand_attrs=*/ArrayAttr())
      .getRes();
}

Value raspc::emitRegisterFence(ImplicitLocOpBuilder &b, ValueRange values, Type type) {
  std::string constraints;
  llvm::raw_string_ostream text(constraints);
  for (auto [i, v] : llvm::enumerate(values))
    text << (i ? "," : "") << (v.getType().isF32() ? "=f" : "=r");
  for (size_t i = 0; i < values.size(); ++i)
    text << "," << i;
  return emitVolatileAsm(b, type, values, /*text=*/"", constraints);
}

Value raspc::emitAccumulatorFence(ImplicitLocOpBuilder &b, Value accumulator) {
  auto type = cast<LLVM::LLVMStructType>(accumulator.getType());
  SmallVector<Value> fields;
  for (int64_t i = 0; i < static_cast<int64_t>(type.getBody().size()); ++i)
    fields.push_back(LLVM::ExtractValueOp::create(b, accumulator, i));
  return emitRegisterFence(b, fields, type);
}

Value raspc::emitWgmmaRegisterA(ImplicitLocOpBuilder &b, Value d, ArrayRef<Value> a,
                                Value bDescriptor, int64_t n, bool bf16, bool bTransposed) {
  // wgmma.mma_async.sync.aligned.m64nNk16.f32.T.T d, a, b-desc, scale-d,
  // imm-scale-a, imm-scale-b, imm-trans-b: d in and out (tied), scale-d a
  // true predicate (accumulate).
  int64_t results = n / 2;
  std::string text, constraints;
  llvm::raw_string_ostream asmText(text), constraintText(constraints);
  auto list = [&](int64_t first, int64_t count) {
    asmText << "{";
    for (int64_t i = 0; i < count; ++i)
      asmText << (i ? ", " : "") << "$" << first + i;
    asmText << "}";
  };
  const char *type = bf16 ? "bf16" : "f16";
  asmText << "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\nwgmma.mma_async.sync.aligned.m64n" << n
          << "k16.f32." << type << "." << type << " ";
  list(0, results);
  asmText << ", ";
  list(2 * results, 4);
  asmText << ", $" << 2 * results + 4 << ", p, 1, 1, " << (bTransposed ? 1 : 0) << ";\n}\n";
  for (int64_t i = 0; i < results; ++i)
    constraintText << (i ? "," : "") << "=f";
  for (int64_t i = 0; i < results; ++i)
    constraintText << "," << i;
  constraintText << ",r,r,r,r,l";

  SmallVector<Value> operands;
  for (int64_t i = 0; i < results; ++i)
    operands.push_back(LLVM::ExtractValueOp::create(b, d, i));
  llvm::append_range(operands, a);
  operands.push_back(bDescriptor);
  return emitVolatileAsm(b, d.getType(), operands, text, constraints);
}
