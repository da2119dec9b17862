// RUN: rasp-opt %s --expand-bf16-conversions | FileCheck %s

// bf16 conversions become integer arithmetic; other float ops (maxnumf with
// its fast-math flags) are left as they are.
// CHECK-LABEL: func.func @round_trip
// CHECK-NOT: arith.truncf
// CHECK-NOT: arith.extf
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrui
// CHECK: arith.maxnumf %{{.*}}, %{{.*}} fastmath<nnan> : f32
func.func @round_trip(%x: f32, %y: f32) -> f32 {
  %h = arith.truncf %x : f32 to bf16
  %e = arith.extf %h : bf16 to f32
  %m = arith.maxnumf %e, %y fastmath<nnan> : f32
  return %m : f32
}
