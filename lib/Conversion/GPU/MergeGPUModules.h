//===- MergeGPUModules.h - one gpu.module per program -----------*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_MERGEGPUMODULES_H
#define RASPC_CONVERSION_GPU_MERGEGPUMODULES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_MERGEGPUMODULES
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_MERGEGPUMODULES_H
