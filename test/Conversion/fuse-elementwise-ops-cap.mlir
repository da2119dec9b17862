// RUN: rasp-opt %s --fuse-elementwise-ops=max-body-ops=4 | FileCheck %s
// RUN: rasp-opt %s --fuse-elementwise-ops | FileCheck %s --check-prefix=DEFAULT

#id = affine_map<(i) -> (i)>

// A chain of three one-op generics with the body cap at 4 operations (the
// terminator counts): two of them fuse (two ops and the yield: 3), and the
// third would make 4 + 1, so it stays its own loop. By default (64) all
// three fuse.
// CHECK-LABEL: func.func @chain(
// CHECK: %[[A:.*]] = linalg.generic
// CHECK: arith.addf
// CHECK-NEXT: linalg.yield
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[A]] :
// CHECK: arith.mulf
// CHECK-NEXT: arith.subf
// DEFAULT-LABEL: func.func @chain(
// DEFAULT: linalg.generic
// DEFAULT: arith.addf
// DEFAULT: arith.mulf
// DEFAULT: arith.subf
// DEFAULT-NOT: linalg.generic
func.func @chain(%x: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?xf32>
  %e = tensor.empty(%n) : tensor<?xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<?xf32>) outs(%e : tensor<?xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %v = arith.addf %in, %in : f32
    linalg.yield %v : f32
  } -> tensor<?xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : tensor<?xf32>) outs(%e : tensor<?xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %v = arith.mulf %in, %in : f32
    linalg.yield %v : f32
  } -> tensor<?xf32>
  %s = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%m : tensor<?xf32>) outs(%e : tensor<?xf32>) {
  ^bb0(%in: f32, %unused: f32):
    %v = arith.subf %in, %in : f32
    linalg.yield %v : f32
  } -> tensor<?xf32>
  return %s : tensor<?xf32>
}
