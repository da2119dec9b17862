// A causal, grouped-query attention layer at the tensor level of the attn
// dialect: 8 query heads share 2 key/value heads, scores are scaled by
// 1/sqrt(64) and soft-capped at 30, and the sequence length is dynamic.
//
//   rasp-opt examples/mlir/causal_gqa_attention.mlir
func.func @causal_gqa(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>,
                      %v: tensor<1x2x?x64xf32>) -> tensor<1x8x?x64xf32> {
  %c2 = arith.constant 2 : index
  %len = tensor.dim %q, %c2 : tensor<1x8x?x64xf32>
  %init = tensor.empty(%len) : tensor<1x8x?x64xf32>
  %o = attn.attention softmax
         ins(%q, %k, %v : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>)
         outs(%init : tensor<1x8x?x64xf32>) -> tensor<1x8x?x64xf32>
         mask {
         ^bb0(%b: index, %h: index, %i: index, %j: index):
           %causal = arith.cmpi ule, %j, %i : index
           attn.yield %causal : i1
         }
         score {
         ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
           %scale = arith.constant 0.125 : f32
           %cap = arith.constant 30.0 : f32
           %scaled = arith.mulf %s, %scale : f32
           %x = arith.divf %scaled, %cap : f32
           %t = math.tanh %x : f32
           %capped = arith.mulf %t, %cap : f32
           attn.yield %capped : f32
         }
  return %o : tensor<1x8x?x64xf32>
}

// RASP's reverse: position i reads the token at position length - i - 1.
func.func @reverse(%tokens: tensor<?xi32>, %indices: tensor<?xi64>,
                   %opp: tensor<?xi64>) -> tensor<?xi32> {
  %flip = attn.select %indices, %opp, eq : tensor<?xi64>, tensor<?xi64>
  %r = attn.aggregate categorical %flip, %tokens : tensor<?xi32> -> tensor<?xi32> default -1
  return %r : tensor<?xi32>
}
