//===- DeferredGPUSync.h - calls standing in for GPU sync ops ----*- C++ -*-===//

#ifndef RASPC_CONVERSION_GPU_DEFERREDGPUSYNC_H
#define RASPC_CONVERSION_GPU_DEFERREDGPUSYNC_H

#include "mlir/Pass/Pass.h"

namespace raspc {

#define GEN_PASS_DECL_CONVERTDEFERREDGPUSYNC
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_GPU_DEFERREDGPUSYNC_H
