//===- GPURowReductionEmulationTest.cpp - row reductions on the CPU -------===//
//
// convert-row-reductions-to-gpu's kernels (a warp per row, lanes combined
// by shuffles), run by the warp emulator and compared with a plain
// double-precision reduction.
//
//===----------------------------------------------------------------------===//

#include "WarpEmulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace raspc::emulator;

namespace {

std::vector<float> randomValues(size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(count);
  for (float &x : values)
    x = uniform(rng);
  return values;
}

void expectClose(const std::vector<float> &got, const std::vector<double> &want) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5 * (1 + std::fabs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << "row " << i << ": got " << got[i] << ", want " << want[i];
  EXPECT_EQ(bad, 0) << "of " << got.size() << " rows";
}

// A layer norm's variance: sum over j of (x[i][j] - mean[i])^2 / N, the
// mean a second input broadcast along the row. 13 rows (the second block
// of 8 partial), 70 columns (lanes take 3 or 2 elements each).
TEST(GPURowReductionEmulation, VarianceOfRows) {
  const int64_t rows = 13, columns = 70;
  std::vector<float> x = randomValues(rows * columns, 3), mean = randomValues(rows, 4);
  std::string source = R"(
func.func @variance(%x: tensor<13x70xf32>, %mean: tensor<13xf32>) -> tensor<13xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<13xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<13xf32>) -> tensor<13xf32>
  %v = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>,
                                        affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : tensor<13x70xf32>, tensor<13xf32>) outs(%zeros : tensor<13xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %n = arith.constant 70.0 : f32
    %d = arith.subf %in, %m : f32
    %sq = arith.mulf %d, %d : f32
    %q = arith.divf %sq, %n : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  } -> tensor<13xf32>
  return %v : tensor<13xf32>
}
)";
  std::vector<float> got(rows, NAN);
  if (!emulate(source, "func.func(convert-row-reductions-to-gpu)",
               {{x.data(), {rows, columns}}, {mean.data(), {rows}}}, {got.data(), {rows}},
               /*copiesAsync=*/false))
    return;
  std::vector<double> want(rows, 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < columns; ++j) {
      double d = double(x[i * columns + j]) - mean[i];
      want[i] += d * d / 70.0;
    }
  expectClose(got, want);
}

// A maximum over the last of three loops (rows = 3 x 5, delinearized from
// the warp's row), an input broadcast over the first loop and read
// transposed, the initial values an argument (folded in once), and the
// column index from linalg.index in the body.
TEST(GPURowReductionEmulation, MaximumWithInitAndIndex) {
  const int64_t a = 3, r = 5, c = 40;
  std::vector<float> x = randomValues(c * r, 5), init = randomValues(a * r, 6);
  std::string source = R"(
func.func @maximum(%x: tensor<40x5xf32>, %init: tensor<3x5xf32>) -> tensor<3x5xf32> {
  %m = linalg.generic {indexing_maps = [affine_map<(a, i, j) -> (j, i)>, affine_map<(a, i, j) -> (a, i)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : tensor<40x5xf32>) outs(%init : tensor<3x5xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = linalg.index 0 : index
    %j = linalg.index 2 : index
    %aj = arith.addi %a, %j : index
    %k = arith.index_cast %aj : index to i32
    %f = arith.sitofp %k : i32 to f32
    %scaled = arith.mulf %in, %f : f32
    %s = arith.maximumf %acc, %scaled : f32
    linalg.yield %s : f32
  } -> tensor<3x5xf32>
  return %m : tensor<3x5xf32>
}
)";
  std::vector<float> got(a * r, NAN);
  if (!emulate(source, "func.func(convert-row-reductions-to-gpu)",
               {{x.data(), {c, r}}, {init.data(), {a, r}}}, {got.data(), {a, r}},
               /*copiesAsync=*/false))
    return;
  std::vector<double> want(a * r);
  for (int64_t p = 0; p < a; ++p)
    for (int64_t i = 0; i < r; ++i) {
      double m = init[p * r + i];
      for (int64_t j = 0; j < c; ++j)
        m = std::max(m, double(x[j * r + i]) * double(p + j));
      want[p * r + i] = m;
    }
  expectClose(got, want);
}

// A whole layer norm in one kernel: mean, variance from it, then
// (x - mean) / sqrt(variance + eps) * g + b, the statistics kept in
// registers. 13 rows (the second block of 8 partial), 70 columns (lanes
// take 3 or 2 elements each).
TEST(GPURowReductionEmulation, LayerNormInOneKernel) {
  const int64_t rows = 13, columns = 70;
  std::vector<float> x = randomValues(rows * columns, 7), g = randomValues(columns, 8),
                     bias = randomValues(columns, 9);
  std::string source = R"(
#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#column = affine_map<(i, j) -> (j)>
func.func @layernorm(%x: tensor<13x70xf32>, %g: tensor<70xf32>, %b: tensor<70xf32>) -> tensor<13x70xf32> {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 70.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %empty = tensor.empty() : tensor<13xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<13xf32>) -> tensor<13xf32>
  %mean = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<13x70xf32>) outs(%zeros : tensor<13xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %d = arith.divf %in, %n : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  } -> tensor<13xf32>
  %var = linalg.generic {indexing_maps = [#rows, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %mean : tensor<13x70xf32>, tensor<13xf32>) outs(%zeros : tensor<13xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.subf %in, %m : f32
    %sq = arith.mulf %d, %d : f32
    %q = arith.divf %sq, %n : f32
    %s = arith.addf %acc, %q : f32
    linalg.yield %s : f32
  } -> tensor<13xf32>
  %e2 = tensor.empty() : tensor<13x70xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row, #row, #column, #column, #rows],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean, %var, %g, %b : tensor<13x70xf32>, tensor<13xf32>, tensor<13xf32>, tensor<70xf32>, tensor<70xf32>)
      outs(%e2 : tensor<13x70xf32>) {
  ^bb0(%in: f32, %m: f32, %v: f32, %gi: f32, %bi: f32, %unused: f32):
    %d = arith.subf %in, %m : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %nrm = arith.mulf %d, %r : f32
    %scaled = arith.mulf %nrm, %gi : f32
    %o = arith.addf %scaled, %bi : f32
    linalg.yield %o : f32
  } -> tensor<13x70xf32>
  return %y : tensor<13x70xf32>
}
)";
  std::vector<float> got(rows * columns, NAN);
  if (!emulate(source, "func.func(convert-row-reductions-to-gpu)",
               {{x.data(), {rows, columns}}, {g.data(), {columns}}, {bias.data(), {columns}}},
               {got.data(), {rows, columns}}, /*copiesAsync=*/false))
    return;
  std::vector<double> want(rows * columns);
  for (int64_t i = 0; i < rows; ++i) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < columns; ++j)
      mean += x[i * columns + j] / 70.0;
    for (int64_t j = 0; j < columns; ++j)
      var += (x[i * columns + j] - mean) * (x[i * columns + j] - mean) / 70.0;
    for (int64_t j = 0; j < columns; ++j)
      want[i * columns + j] = (x[i * columns + j] - mean) / std::sqrt(var + 1e-5) * g[j] + bias[j];
  }
  expectClose(got, want);
}

} // namespace
