// RUN: rasp-opt %s --pass-pipeline='builtin.module(func.func(convert-attention-to-flash-loops{vector-width=4 key-tile=6}))' --verify-diagnostics

// expected-error @below {{key-tile a multiple of vector-width}}
func.func @bad_tile() {
  return
}
