// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{to=loops})' | FileCheck %s --check-prefix=LOOPS
// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline)' | FileCheck %s --check-prefix=LLVM

// The CPU pipeline stages: loops over memrefs, then the LLVM dialect with a
// C interface wrapper for the JIT and the runtime, the only function the
// object exports (export-entry-points).
// LOOPS-LABEL: func.func @width
// LOOPS-SAME: (%{{.*}}: memref<?xi64>) -> memref<?xi64>
// LOOPS: scf.for
// LOOPS: scf.for
// LOOPS: memref.load
// LOOPS-NOT: linalg.generic
// LOOPS-NOT: attn.
// LLVM: llvm.func internal @width(
// LLVM: llvm.func @_mlir_ciface_width(
// LLVM-NOT: attn.
// LLVM-NOT: scf.
func.func @width(%k: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %k, le : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return %w : tensor<?xi64>
}

// bf16 conversions become integer arithmetic (no fptrunc/fpext to bf16,
// which LLVM turns into calls to compiler-rt's __truncsfbf2).
// LLVM-LABEL: llvm.func internal @round_to_bf16(
// LLVM-NOT: llvm.fptrunc
// LLVM-NOT: llvm.fpext
// LLVM: llvm.lshr
// LLVM: llvm.return
func.func @round_to_bf16(%x: f32) -> f32 {
  %h = arith.truncf %x : f32 to bf16
  %y = arith.extf %h : bf16 to f32
  return %y : f32
}
