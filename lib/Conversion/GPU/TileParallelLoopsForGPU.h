//===- TileParallelLoopsForGPU.h - blocks of threads ------------*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_TILEPARALLELLOOPSFORGPU_H
#define RASPC_CONVERSION_GPU_TILEPARALLELLOOPSFORGPU_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_TILEPARALLELLOOPSFORGPU
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_TILEPARALLELLOOPSFORGPU_H
