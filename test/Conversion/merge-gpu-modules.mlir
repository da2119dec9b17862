// RUN: rasp-opt %s --merge-gpu-modules | FileCheck %s

// Two outlined kernels with the same function name in two modules: one
// module, the second kernel renamed, each launch pointing at its own kernel.
// CHECK: gpu.module @f_kernels {
// CHECK: gpu.func @f_kernel(%{{.*}}: memref<?xf32>) kernel
// CHECK: gpu.func @f_kernel_0(%{{.*}}: memref<?xf32>, %{{.*}}: f32) kernel
// CHECK-NOT: gpu.module
// CHECK: func.func @f
// CHECK: gpu.launch_func @f_kernels::@f_kernel blocks
// CHECK: gpu.launch_func @f_kernels::@f_kernel_0 blocks
module attributes {gpu.container_module} {
  gpu.module @f_kernel {
    gpu.func @f_kernel(%m: memref<?xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @f_kernel_0 {
    gpu.func @f_kernel(%m: memref<?xf32>, %x: f32) kernel {
      gpu.return
    }
  }
  func.func @f(%m: memref<?xf32>, %x: f32) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<?xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<?xf32>, %x : f32)
    return
  }
}
