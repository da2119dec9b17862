// RUN: rasp-opt %s --split-input-file --verify-diagnostics --convert-deferred-gpu-sync | FileCheck %s

// The calls in a kernel become gpu.barrier and NVVM's cp.async group ops;
// the declarations go.
// CHECK-LABEL: func.func @kernel(
// CHECK: gpu.launch
// CHECK-NEXT: memref.store
// CHECK-NEXT: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: memref.load
// CHECK-NOT: raspc.deferred
func.func @kernel(%m: memref<128xf32>) {
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %f = arith.constant 1.0 : f32
  %one = arith.constant 1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1) {
    memref.store %f, %m[%tx] : memref<128xf32>
    func.call @raspc.deferred_cp_async_commit() : () -> ()
    func.call @raspc.deferred_cp_async_wait(%one) : (i32) -> ()
    func.call @raspc.deferred_gpu_barrier() : () -> ()
    %v = memref.load %m[%tx] : memref<128xf32>
    gpu.terminator
  }
  return
}
func.func private @raspc.deferred_gpu_barrier()
func.func private @raspc.deferred_cp_async_commit()
func.func private @raspc.deferred_cp_async_wait(i32)

// -----

// A barrier outside a kernel has no block to synchronize.
func.func @host() {
  // expected-error @below {{'raspc.deferred_gpu_barrier' outside a gpu.launch}}
  func.call @raspc.deferred_gpu_barrier() : () -> ()
  return
}
func.func private @raspc.deferred_gpu_barrier()

// -----

// How many groups may stay pending is part of the instruction.
func.func @variable_wait(%n: i32) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-error @below {{'raspc.deferred_cp_async_wait' needs a constant group count}}
    func.call @raspc.deferred_cp_async_wait(%n) : (i32) -> ()
    gpu.terminator
  }
  return
}
func.func private @raspc.deferred_cp_async_wait(i32)
