// rasp-opt runs the compile API's stages as one registered pipeline, with
// raspc's flags as its options (CompileClientsTest checks that the IR is the
// driver's at every stage, for every example).

// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{to=tiled})' | FileCheck %s --check-prefix=TILED
// TILED-LABEL: func.func @width(%{{.*}}: tensor<?xi64>) -> tensor<?xi64>
// TILED-NOT: attn.
// TILED: linalg.generic

// Stages compose: up to tiled, then from tiled on, is the whole pipeline,
// so passes of one's own fit between any two stages.
// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{to=tiled},raspc-pipeline{from=tiled})' > %t.split
// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline)' > %t.whole
// RUN: diff %t.split %t.whole
// RUN: FileCheck %s --input-file=%t.whole --check-prefix=LLVM
// LLVM: llvm.func @_mlir_ciface_width(

// Options are checked as the driver checks its flags.
// RUN: not rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{from=loops to=tiled})' 2>&1 | FileCheck %s --check-prefix=RANGE
// RANGE: raspc-pipeline: from=loops to=tiled is not a range of the stages attn, tiled, loops, llvm-dialect
// RUN: not rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{to=obj})' 2>&1 | FileCheck %s --check-prefix=RANGE-OBJ
// RANGE-OBJ: raspc-pipeline: from=attn to=obj is not a range
// RUN: not rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{target=tpu})' 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: raspc-pipeline: unknown target 'tpu' (cpu or cuda)
// RUN: not rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{target=cuda gpu-wgmma=true})' 2>&1 | FileCheck %s --check-prefix=WGMMA
// WGMMA: raspc-pipeline: --gpu-wgmma needs --gpu-arch=sm_90a (wgmma exists there only), not sm_80
func.func @width(%k: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %k, le : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return %w : tensor<?xi64>
}
