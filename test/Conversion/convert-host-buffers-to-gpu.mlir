// RUN: rasp-opt %s --split-input-file --verify-diagnostics --convert-host-buffers-to-gpu | FileCheck %s

// Buffers move to device memory; the host-side copy becomes a linalg.copy,
// that is a kernel once parallel loops are mapped. Kernels' own code is
// left alone.
// CHECK-LABEL: func.func @buffers(
// CHECK-SAME: %[[ARG:.*]]: memref<?xf32>
// CHECK: %[[N:.*]] = memref.dim %[[ARG]]
// CHECK: %[[A:.*]] = gpu.alloc (%[[N]]) : memref<?xf32>
// CHECK-NOT: memref.alloc
// CHECK: linalg.copy ins(%[[ARG]] : memref<?xf32>) outs(%[[A]] : memref<?xf32>)
// CHECK-NOT: memref.copy
// CHECK: %[[B:.*]] = gpu.alloc (%[[N]])
// CHECK: linalg.generic
// CHECK: memref.load %[[ARG]]
// CHECK: gpu.launch
// CHECK: memref.alloca() : memref<4xf32>
// CHECK: gpu.terminator
// CHECK: gpu.dealloc %[[A]] : memref<?xf32>
// CHECK-NOT: memref.dealloc
// CHECK: return %[[B]]
func.func @buffers(%arg0: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %arg0, %c0 : memref<?xf32>
  %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?xf32>
  memref.copy %arg0, %a : memref<?xf32> to memref<?xf32>
  %b = memref.alloc(%n) {alignment = 64 : i64} : memref<?xf32>
  // A gather inside a linalg op: a kernel later, not host code.
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      outs(%b : memref<?xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %x = memref.load %arg0[%i] : memref<?xf32>
    linalg.yield %x : f32
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %scratch = memref.alloca() : memref<4xf32>
    gpu.terminator
  }
  memref.dealloc %a : memref<?xf32>
  return %b : memref<?xf32>
}

// -----

// Host code that reads data would read device memory: rejected where it is.
func.func @host_load(%arg0: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{the CUDA target cannot run 'memref.load' on the host: its buffers live on the GPU}}
  %x = memref.load %arg0[%c0] : memref<?xf32>
  return %x : f32
}

// -----

memref.global "private" constant @table : memref<2xf32> = dense<[1.0, 2.0]>
func.func @host_global() -> memref<2xf32> {
  // expected-error @+1 {{the CUDA target cannot run 'memref.get_global' on the host: its buffers live on the GPU}}
  %g = memref.get_global @table : memref<2xf32>
  return %g : memref<2xf32>
}
