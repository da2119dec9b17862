//===- BF16MmaSyncToNVVM.h - bf16 nvgpu.mma.sync to NVVM ---------*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_BF16MMASYNCTONVVM_H
#define RASPC_CONVERSION_GPU_BF16MMASYNCTONVVM_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_CONVERTBF16MMASYNCTONVVM
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_BF16MMASYNCTONVVM_H
