// RUN: rasp-opt %s --convert-parallel-to-rasprt --verify-diagnostics

func.func @two_dims(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{only one-dimensional loops without reductions}}
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
  }
  return
}
