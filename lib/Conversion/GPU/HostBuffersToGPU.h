//===- HostBuffersToGPU.h - buffers kernels can reach -----------*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_HOSTBUFFERSTOGPU_H
#define RASPC_CONVERSION_GPU_HOSTBUFFERSTOGPU_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace raspc {

#define GEN_PASS_DECL_CONVERTHOSTBUFFERSTOGPU
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_HOSTBUFFERSTOGPU_H
