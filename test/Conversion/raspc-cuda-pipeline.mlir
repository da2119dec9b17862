// RUN: rasp-opt %s --pass-pipeline='builtin.module(raspc-pipeline{target=cuda})' | FileCheck %s

// The CUDA pipeline: kernels in one gpu.binary holding PTX for the default
// sm_80, host code in the LLVM dialect launching them on one stream.
// CHECK: llvm.func internal @width(
// CHECK: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @width_kernels::@width_kernel blocks
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @width_kernels::@width_kernel_0 blocks
// CHECK: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// CHECK: gpu.binary @width_kernels [#gpu.object<#nvvm.target<chip = "sm_80", features = "+ptx80">
// CHECK-SAME: .target sm_80
// CHECK-NOT: attn.
// CHECK-NOT: scf.parallel
func.func @width(%k: tensor<?xi64>) -> tensor<?xi64> {
  %s = attn.select %k, %k, lt : tensor<?xi64>, tensor<?xi64>
  %w = attn.selector_width %s : tensor<?xi64>
  return %w : tensor<?xi64>
}
