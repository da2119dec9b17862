// RUN: rasp-opt %s --split-input-file --verify-diagnostics --convert-deferred-gpu-barriers | FileCheck %s

// The calls in a kernel become gpu.barrier; the declaration goes.
// CHECK-LABEL: func.func @kernel(
// CHECK: gpu.launch
// CHECK-NEXT: memref.store
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: memref.load
// CHECK-NOT: raspc.deferred_gpu_barrier
func.func @kernel(%m: memref<128xf32>) {
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    memref.store %f, %m[%tx] : memref<128xf32>
    func.call @raspc.deferred_gpu_barrier() : () -> ()
    %v = memref.load %m[%tx] : memref<128xf32>
    gpu.terminator
  }
  return
}
func.func private @raspc.deferred_gpu_barrier()

// -----

// A barrier outside a kernel has no block to synchronize.
func.func @host() {
  // expected-error @below {{a deferred GPU barrier outside a gpu.launch}}
  func.call @raspc.deferred_gpu_barrier() : () -> ()
  return
}
func.func private @raspc.deferred_gpu_barrier()
