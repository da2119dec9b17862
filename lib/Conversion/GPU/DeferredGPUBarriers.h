//===- DeferredGPUBarriers.h - calls standing in for gpu.barrier -*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_DEFERREDGPUBARRIERS_H
#define RASPC_CONVERSION_GPU_DEFERREDGPUBARRIERS_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_CONVERTDEFERREDGPUBARRIERS
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_DEFERREDGPUBARRIERS_H
