//===- Passes.h - raspc conversion passes -----------------------*- C++ -*-===//

#ifndef RASPC_CONVERSION_PASSES_H
#define RASPC_CONVERSION_PASSES_H

#include "Conversion/AttentionToFlashLoops/AttentionToFlashLoops.h"
#include "Conversion/AttnToLinalg/AttnToLinalg.h"
#include "Conversion/ExpandBF16/ExpandBF16.h"
#include "Conversion/Fusion/ElementwiseFusion.h"
#include "Conversion/Fusion/TransposeSinking.h"
#include "Conversion/GPU/AttentionToGPUFlash.h"
#include "Conversion/GPU/BF16MmaSyncToNVVM.h"
#include "Conversion/GPU/DeferredGPUSync.h"
#include "Conversion/GPU/HostBuffersToGPU.h"
#include "Conversion/GPU/LinearAttentionToGPU.h"
#include "Conversion/GPU/MatmulToGPU.h"
#include "Conversion/GPU/RowReductionsToGPU.h"
#include "Conversion/GPU/MergeGPUModules.h"
#include "Conversion/GPU/TileParallelLoopsForGPU.h"
#include "Conversion/LinearAttention/LinearAttention.h"
#include "Conversion/LoopNestOutlining/LoopNestOutlining.h"
#include "Conversion/FunctionSplitting/SplitLongFunctions.h"
#include "Conversion/EntryPoints/EntryPoints.h"
#include "Conversion/MatmulToTiledLoops/MatmulToTiledLoops.h"
#include "Conversion/RowReductionsToLoops/RowReductionsToLoops.h"
#include "Conversion/SelectScans/SelectScans.h"
#include "Conversion/SharedInits/CloneSharedInits.h"
#include "Conversion/ParallelToRasprt/ParallelToRasprt.h"

namespace raspc {

#define GEN_PASS_REGISTRATION
#include "Conversion/Passes.h.inc"

} // namespace raspc

#endif // RASPC_CONVERSION_PASSES_H
