//===- GPUMatmulEmulationTest.cpp - matmul kernels run on the CPU ---------===//
//
// convert-matmul-to-gpu's kernels, run by the warp emulator
// (WarpEmulator.h) and compared with a plain double-precision product of the
// same rounded operands.
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

struct Case {
  const char *element; // "bf16", "f16" or "f32"
  int64_t m, k, n;
  /// The product rounded to `element` by a linalg.generic after the matmul
  /// (fused into the kernel), else stored in f32.
  bool rounded;
  /// The accumulator starts from an argument rather than zeros.
  bool withInit = false;
  /// Where A starts in its buffer, in elements: odd leaves it unaligned for
  /// 16-byte copies.
  int64_t lhsOffset = 0;
  /// f16/bf16 by warpgroup MMA (sm_90a) instead of mma.sync.
  bool wgmma = false;
  /// The generic after the matmul (the kernel's epilogue) computes
  /// erf(p + bias[j]) + residual[i, j] (before the rounding, if any) from
  /// two more f32 arguments.
  bool epilogue = false;
};

std::string tensor(int64_t rows, int64_t columns, const std::string &element) {
  return "tensor<" + std::to_string(rows) + "x" + std::to_string(columns) + "x" + element + ">";
}

std::string source(const Case &c) {
  std::string e = c.element, aT = tensor(c.m, c.k, e), bT = tensor(c.k, c.n, e),
              accT = tensor(c.m, c.n, "f32"), outT = c.rounded ? tensor(c.m, c.n, e) : accT,
              biasT = "tensor<" + std::to_string(c.n) + "xf32>";
  std::string s = "func.func @matmul(%a: " + aT + ", %b: " + bT +
                  (c.withInit ? ", %init: " + accT : "") +
                  (c.epilogue ? ", %bias: " + biasT + ", %residual: " + accT : "") + ") -> " +
                  outT + " {\n";
  std::string acc = "%init";
  if (!c.withInit) {
    s += "  %zero = arith.constant 0.0 : f32\n"
         "  %empty = tensor.empty() : " + accT + "\n"
         "  %zeros = linalg.fill ins(%zero : f32) outs(%empty : " + accT + ") -> " + accT + "\n";
    acc = "%zeros";
  }
  s += "  %p = linalg.matmul ins(%a, %b : " + aT + ", " + bT + ") outs(" + acc + " : " + accT +
       ") -> " + accT + "\n";
  if (!c.rounded && !c.epilogue)
    return s + "  return %p : " + accT + "\n}\n";
  std::string maps = "affine_map<(i, j) -> (i, j)>", inputs = "%p", types = accT,
              arguments = "%x: f32", body, result = "%x";
  if (c.epilogue) {
    maps += ", affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>";
    inputs += ", %bias, %residual";
    types += ", " + biasT + ", " + accT;
    arguments += ", %bi: f32, %res: f32";
    body = "    %s = arith.addf %x, %bi : f32\n"
           "    %erf = math.erf %s : f32\n"
           "    %t = arith.addf %erf, %res : f32\n";
    result = "%t";
  }
  if (c.rounded) {
    body += "    %y = arith.truncf " + result + " : f32 to " + e + "\n";
    result = "%y";
  }
  std::string outElement = c.rounded ? e : "f32";
  return s + "  %r0 = tensor.empty() : " + outT + "\n" +
         "  %r = linalg.generic {indexing_maps = [" + maps + ", affine_map<(i, j) -> (i, j)>],\n"
         "                       iterator_types = [\"parallel\", \"parallel\"]}\n"
         "      ins(" + inputs + " : " + types + ") outs(%r0 : " + outT + ") {\n"
         "  ^bb0(" + arguments + ", %unused: " + outElement + "):\n" + body +
         "    linalg.yield " + result + " : " + outElement + "\n"
         "  } -> " + outT + "\n"
         "  return %r : " + outT + "\n}\n";
}

/// An operand's elements: the bits of 16-bit ones, or floats.
struct Elements {
  std::vector<uint16_t> half;
  std::vector<float> single;
  void *at(int64_t offset) {
    return single.empty() ? static_cast<void *>(half.data() + offset) : single.data() + offset;
  }
};

/// Random operands of one element type ("bf16", "f16" or "f32") in [-1, 1].
struct RandomOperands {
  RandomOperands(const std::string &element, unsigned seed)
      : bf16(element == "bf16"), f32(element == "f32"), rng(seed) {}

  /// `offset` NaNs, then `count` random elements, also appended to `values`
  /// as floats (as rounded).
  Elements make(int64_t count, std::vector<float> &values, int64_t offset = 0) {
    Elements data;
    for (int64_t i = 0; i < offset; ++i)
      f32 ? data.single.push_back(NAN) : data.half.push_back(0xffff);
    for (int64_t i = 0; i < count; ++i) {
      float x = uniform(rng);
      if (f32) {
        data.single.push_back(x);
        values.push_back(x);
        continue;
      }
      uint16_t b =
          bf16 ? floatToBF16(x) : floatToHalf(std::ldexp(std::round(std::ldexp(x, 10)), -10));
      data.half.push_back(b);
      values.push_back(toFloat(b));
    }
    return data;
  }
  /// A 16-bit result's value.
  float toFloat(uint16_t bits) const { return bf16 ? bf16ToFloat(bits) : halfToFloat(bits); }
  float next() { return uniform(rng); }

  const bool bf16, f32;
  std::mt19937 rng;
  std::uniform_real_distribution<float> uniform{-1.0f, 1.0f};
};

void checkCase(const Case &c) {
  std::string element = c.element;
  bool bf16 = element == "bf16", f32 = element == "f32";
  RandomOperands random(element, 7);
  auto make = [&](int64_t count, int64_t offset, std::vector<float> &values) {
    return random.make(count, values, offset);
  };
  std::vector<float> a, b;
  Elements aData = make(c.m * c.k, c.lhsOffset, a), bData = make(c.k * c.n, 0, b);
  std::vector<float> init(c.m * c.n, 0.0f);
  if (c.withInit)
    for (float &x : init)
      x = random.next();
  std::vector<float> bias(c.n), residual(c.m * c.n);
  for (float &x : bias)
    x = random.next();
  for (float &x : residual)
    x = random.next();
  std::vector<Operand> arguments{{aData.at(c.lhsOffset), {c.m, c.k}}, {bData.at(0), {c.k, c.n}}};
  if (c.withInit)
    arguments.push_back({init.data(), {c.m, c.n}});
  if (c.epilogue) {
    arguments.push_back({bias.data(), {c.n}});
    arguments.push_back({residual.data(), {c.m, c.n}});
  }

  std::vector<float> got(c.m * c.n);
  std::vector<uint16_t> gotBits(c.m * c.n, 0xffff);
  Operand result{c.rounded ? static_cast<void *>(gotBits.data()) : got.data(), {c.m, c.n}};
  std::string passes = c.wgmma ? "convert-matmul-to-gpu{chip=sm_90a wgmma=1}"
                                : "convert-matmul-to-gpu{chip=sm_80}";
  if (!emulate(source(c), passes, arguments, result))
    return;
  if (c.rounded)
    for (size_t i = 0; i < got.size(); ++i)
      got[i] = random.toFloat(gotBits[i]);

  // f32 accumulation of exact products: close to the double sum; rounded
  // results within one rounding of it; f32 products rounded each.
  double tolerance = f32 ? 1e-4 : !c.rounded ? 1e-5 : bf16 ? 8e-3 : 1e-3;
  int bad = 0;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double want = init[i * c.n + j];
      for (int64_t e = 0; e < c.k; ++e)
        want += double(a[i * c.k + e]) * b[e * c.n + j];
      if (c.epilogue)
        want = std::erf(want + bias[j]) + residual[i * c.n + j];
      float x = got[i * c.n + j];
      if (!(std::fabs(x - want) <= tolerance * (1 + std::fabs(want))) && bad++ < 5)
        ADD_FAILURE() << "element (" << i << ", " << j << "): got " << x << ", want " << want;
    }
  EXPECT_EQ(bad, 0) << "of " << got.size() << " elements";
}

// A partial block of rows, a K that ends inside a step of 32 (the tail is
// zeros in the tiles), two blocks of columns (the second partial); the
// rounding to bf16 is fused into the kernel.
TEST(GPUMatmulEmulation, PartialTilesRoundedBF16) {
  checkCase({"bf16", 70, 72, 136, /*rounded=*/true});
}

// Two blocks of rows, f16 operands (upstream's mma.sync lowering), f32
// results added to an initial accumulator; K long enough for the three
// stages to wrap around.
TEST(GPUMatmulEmulation, AccumulatesIntoInitF16) {
  checkCase({"f16", 130, 160, 64, /*rounded=*/false, /*withInit=*/true});
}

// A one element into its buffer: its tiles are copied element by element,
// B's by cp.async; N narrower than one MMA column group.
TEST(GPUMatmulEmulation, UnalignedLhsCopiedElementByElement) {
  checkCase({"bf16", 33, 40, 24, /*rounded=*/false, /*withInit=*/false, /*lhsOffset=*/1});
}

// K not a multiple of 8: A's rows cannot be copied 16 bytes at a time, and
// B's rows past K must read as zeros.
TEST(GPUMatmulEmulation, OddK) {
  checkCase({"bf16", 16, 20, 128, /*rounded=*/true});
}

// f32 by FMAs: two blocks of columns (the second partial), a K that ends
// inside a step of 16, an initial accumulator.
TEST(GPUMatmulEmulation, F32PartialTilesWithInit) {
  checkCase({"f32", 70, 36, 136, /*rounded=*/false, /*withInit=*/true});
}

// f32 with A one element into its buffer (copied element by element) and
// enough K for the stages to wrap around.
TEST(GPUMatmulEmulation, F32UnalignedLhs) {
  checkCase({"f32", 33, 72, 24, /*rounded=*/false, /*withInit=*/false, /*lhsOffset=*/1});
}

// Warpgroup MMA: a partial block of rows, two blocks of columns (the
// second partial: B's second panel half empty), K = 200 in four steps of 64
// (the last 8 deep), bf16 rounded in the kernel.
TEST(GPUMatmulEmulation, WgmmaPartialTilesRoundedBF16) {
  checkCase({"bf16", 70, 200, 136, /*rounded=*/true, /*withInit=*/false, /*lhsOffset=*/0,
             /*wgmma=*/true});
}

// K = 600: ten steps over four stages, each refilled twice while the
// MMAs of the step before are still in flight.
TEST(GPUMatmulEmulation, WgmmaStagesWrapAround) {
  checkCase({"bf16", 64, 600, 128, /*rounded=*/false, /*withInit=*/false, /*lhsOffset=*/0,
             /*wgmma=*/true});
}

// Warpgroup MMA on f16 with A one element into its buffer (copied element
// by element into the swizzled layout), two blocks of rows (both
// warpgroups' rows), an initial accumulator.
TEST(GPUMatmulEmulation, WgmmaUnalignedLhsWithInitF16) {
  checkCase({"f16", 130, 72, 64, /*rounded=*/false, /*withInit=*/true, /*lhsOffset=*/1,
             /*wgmma=*/true});
}

// The epilogue (bias by column, erf, residual by row and column, rounding
// to bf16) computed by the mma.sync kernel on its accumulators: partial
// blocks of rows and columns, so the guards around it matter.
TEST(GPUMatmulEmulation, EpilogueRoundedBF16) {
  Case c{"bf16", 70, 72, 136, /*rounded=*/true};
  c.epilogue = true;
  checkCase(c);
}

// The same epilogue on the f32 FMA kernel, f32 out, over an initial
// accumulator (added before the epilogue).
TEST(GPUMatmulEmulation, EpilogueF32WithInit) {
  Case c{"f32", 33, 36, 72, /*rounded=*/false, /*withInit=*/true};
  c.epilogue = true;
  checkCase(c);
}

// And on the warpgroup-MMA kernel's accumulator layout.
TEST(GPUMatmulEmulation, WgmmaEpilogueF16) {
  Case c{"f16", 70, 64, 136, /*rounded=*/false};
  c.wgmma = true;
  c.epilogue = true;
  checkCase(c);
}

/// Three products of one A as one launch (q, k and v projections):
/// A [150, 72] times B0 [72, 200] (f32 out), B1 [72, 64] (doubled and
/// rounded to the operands' type in its epilogue; f32 stays f32) and
/// B2 [72, 130] (onto an initial accumulator): 2 + 1 + 2 column blocks,
/// each block finding its product, B and epilogue.
void checkGrouped(const std::string &element, bool wgmma) {
  const int64_t m = 150, k = 72, ns[] = {200, 64, 130};
  bool f32 = element == "f32", bf16 = element == "bf16";
  auto type = [](int64_t rows, int64_t columns, const std::string &e) {
    return tensor(rows, columns, e);
  };
  std::string aT = type(m, k, element), roundedT = type(m, ns[1], element);
  std::string s = "func.func @qkv(%a: " + aT;
  for (int p = 0; p < 3; ++p)
    s += ", %b" + std::to_string(p) + ": " + type(k, ns[p], element);
  s += ", %init2: " + type(m, ns[2], "f32") + ") -> (" + type(m, ns[0], "f32") + ", " + roundedT +
       ", " + type(m, ns[2], "f32") +
       ") {\n  %zero = arith.constant 0.0 : f32\n  %two = arith.constant 2.0 : f32\n";
  for (int p = 0; p < 2; ++p) {
    std::string id = std::to_string(p), t = type(m, ns[p], "f32");
    s += "  %empty" + id + " = tensor.empty() : " + t + "\n  %zeros" + id +
         " = linalg.fill ins(%zero : f32) outs(%empty" + id + " : " + t + ") -> " + t + "\n";
  }
  for (int p = 0; p < 3; ++p) {
    std::string id = std::to_string(p), t = type(m, ns[p], "f32");
    s += "  %p" + id + " = linalg.matmul ins(%a, %b" + id + " : " + aT + ", " +
         type(k, ns[p], element) + ") outs(" + (p == 2 ? "%init2" : "%zeros" + id) + " : " + t +
         ") -> " + t + "\n";
  }
  s += "  %r0 = tensor.empty() : " + roundedT + "\n"
       "  %r1 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, "
       "affine_map<(i, j) -> (i, j)>], iterator_types = [\"parallel\", \"parallel\"]}\n"
       "      ins(%p1 : " + type(m, ns[1], "f32") + ") outs(%r0 : " + roundedT + ") {\n"
       "  ^bb0(%x: f32, %unused: " + element + "):\n"
       "    %d = arith.mulf %x, %two : f32\n" +
       (f32 ? "    linalg.yield %d : f32\n"
            : "    %y = arith.truncf %d : f32 to " + element + "\n    linalg.yield %y : " +
                  element + "\n") +
       "  } -> " + roundedT + "\n  return %p0, %r1, %p2 : " + type(m, ns[0], "f32") + ", " +
       roundedT + ", " + type(m, ns[2], "f32") + "\n}\n";

  RandomOperands random(element, 11);
  auto make = [&](int64_t count, std::vector<float> &values) { return random.make(count, values); };
  std::vector<float> a, b[3];
  Elements aData = make(m * k, a), bData[] = {make(k * ns[0], b[0]), make(k * ns[1], b[1]),
                                               make(k * ns[2], b[2])};
  std::vector<float> init(m * ns[2]);
  for (float &x : init)
    x = random.next();
  std::vector<Operand> arguments{{aData.at(0), {m, k}}};
  for (int p = 0; p < 3; ++p)
    arguments.push_back({bData[p].at(0), {k, ns[p]}});
  arguments.push_back({init.data(), {m, ns[2]}});

  std::vector<float> got[3];
  for (int p = 0; p < 3; ++p)
    got[p].assign(m * ns[p], NAN);
  std::vector<uint16_t> roundedBits(m * ns[1], 0xffff);
  std::vector<Operand> results{{got[0].data(), {m, ns[0]}},
                               {f32 ? static_cast<void *>(got[1].data()) : roundedBits.data(),
                                {m, ns[1]}},
                               {got[2].data(), {m, ns[2]}}};
  std::string passes = wgmma ? "convert-matmul-to-gpu{chip=sm_90a wgmma=1}"
                             : "convert-matmul-to-gpu{chip=sm_80}";
  if (!emulate(s, passes, arguments, results))
    return;
  EXPECT_EQ(lastLaunchCount(), 1) << "the three products in one launch";
  if (!f32)
    for (size_t i = 0; i < roundedBits.size(); ++i)
      got[1][i] = random.toFloat(roundedBits[i]);

  for (int p = 0; p < 3; ++p) {
    double tolerance = f32 ? 1e-4 : p != 1 ? 1e-5 : bf16 ? 8e-3 : 1e-3;
    int bad = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < ns[p]; ++j) {
        double want = p == 2 ? init[i * ns[2] + j] : 0.0;
        for (int64_t e = 0; e < k; ++e)
          want += double(a[i * k + e]) * b[p][e * ns[p] + j];
        if (p == 1)
          want *= 2;
        float x = got[p][i * ns[p] + j];
        if (!(std::fabs(x - want) <= tolerance * (1 + std::fabs(want))) && bad++ < 5)
          ADD_FAILURE() << "product " << p << " element (" << i << ", " << j << "): got " << x
                        << ", want " << want;
      }
    EXPECT_EQ(bad, 0) << "of product " << p << "'s " << got[p].size() << " elements";
  }
}

/// SwiGLU's gate and up, silu(A Wg) * (A Wu), as one kernel computing both
/// products in its tiles (their columns interleaved): A [150, 72], Wg and
/// Wu [72, n] (by default four blocks of 64 columns, the last partial), the
/// result f32 or rounded to the operands' type. `upFirst`: the up product
/// comes first in the function and in the generic's inputs.
void checkGated(const std::string &element, bool wgmma, bool rounded, int64_t n = 200,
                bool upFirst = false) {
  const int64_t m = 150, k = 72;
  bool f32 = element == "f32", bf16 = element == "bf16";
  std::string aT = tensor(m, k, element), bT = tensor(k, n, element), accT = tensor(m, n, "f32"),
              outElement = rounded ? element : "f32", outT = tensor(m, n, outElement);
  std::string gate = "  %g = linalg.matmul ins(%a, %wg : " + aT + ", " + bT + ") outs(%zeros : " +
                     accT + ") -> " + accT + "\n",
              up = "  %u = linalg.matmul ins(%a, %wu : " + aT + ", " + bT + ") outs(%zeros : " +
                   accT + ") -> " + accT + "\n";
  std::string s =
      "func.func @swiglu(%a: " + aT + ", %wg: " + bT + ", %wu: " + bT + ") -> " + outT + " {\n"
      "  %zero = arith.constant 0.0 : f32\n  %one = arith.constant 1.0 : f32\n"
      "  %empty = tensor.empty() : " + accT + "\n"
      "  %zeros = linalg.fill ins(%zero : f32) outs(%empty : " + accT + ") -> " + accT + "\n" +
      (upFirst ? "" : gate) + up + (upFirst ? gate : "") +
      "  %r0 = tensor.empty() : " + outT + "\n"
      "  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> "
      "(i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = [\"parallel\", \"parallel\"]}\n"
      "      ins(" + std::string(upFirst ? "%u, %g" : "%g, %u") + " : " + accT + ", " + accT +
      ") outs(%r0 : " + outT + ") {\n"
      "  ^bb0(" + std::string(upFirst ? "%y: f32, %x: f32" : "%x: f32, %y: f32") +
      ", %unused: " + outElement + "):\n"
      "    %nx = arith.negf %x : f32\n    %e = math.exp %nx : f32\n"
      "    %d = arith.addf %one, %e : f32\n    %silu = arith.divf %x, %d : f32\n"
      "    %h = arith.mulf %silu, %y : f32\n" +
      (rounded ? "    %t = arith.truncf %h : f32 to " + element + "\n    linalg.yield %t : " +
                     element + "\n"
               : "    linalg.yield %h : f32\n") +
      "  } -> " + outT + "\n  return %r : " + outT + "\n}\n";

  RandomOperands random(element, 5);
  auto make = [&](int64_t count, std::vector<float> &values) { return random.make(count, values); };
  std::vector<float> a, wg, wu;
  Elements aData = make(m * k, a), gData = make(k * n, wg), uData = make(k * n, wu);
  std::vector<float> got(m * n, NAN);
  std::vector<uint16_t> gotBits(m * n, 0xffff);
  Operand result{rounded ? static_cast<void *>(gotBits.data()) : got.data(), {m, n}};
  std::string passes = wgmma ? "convert-matmul-to-gpu{chip=sm_90a wgmma=1}"
                             : "convert-matmul-to-gpu{chip=sm_80}";
  if (!emulate(s, passes, {{aData.at(0), {m, k}}, {gData.at(0), {k, n}}, {uData.at(0), {k, n}}},
               result))
    return;
  EXPECT_EQ(lastLaunchCount(), 1) << "gate and up in one kernel";
  if (rounded)
    for (size_t i = 0; i < got.size(); ++i)
      got[i] = random.toFloat(gotBits[i]);

  double tolerance = f32 ? 1e-4 : !rounded ? 1e-5 : bf16 ? 8e-3 : 1e-3;
  int bad = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double g = 0, u = 0;
      for (int64_t e = 0; e < k; ++e) {
        g += double(a[i * k + e]) * wg[e * n + j];
        u += double(a[i * k + e]) * wu[e * n + j];
      }
      double want = g / (1 + std::exp(-g)) * u;
      float x = got[i * n + j];
      if (!(std::fabs(x - want) <= tolerance * (1 + std::fabs(want))) && bad++ < 5)
        ADD_FAILURE() << "element (" << i << ", " << j << "): got " << x << ", want " << want;
    }
  EXPECT_EQ(bad, 0) << "of " << got.size() << " elements";
}

TEST(GPUMatmulEmulation, GateAndUpInOneKernelRoundedBF16) { checkGated("bf16", false, true); }
TEST(GPUMatmulEmulation, GateAndUpInOneKernelF32) { checkGated("f32", false, false); }
TEST(GPUMatmulEmulation, WgmmaGateAndUpInOneKernelF16) { checkGated("f16", true, false); }
// N = 198: rows of B not whole 16-byte runs, so both copied element by
// element (into the swizzled tiles, for wgmma); up before gate.
TEST(GPUMatmulEmulation, GateAndUpCopiedElementByElementUpFirst) {
  checkGated("bf16", false, true, /*n=*/198, /*upFirst=*/true);
}
TEST(GPUMatmulEmulation, WgmmaGateAndUpCopiedElementByElementUpFirst) {
  checkGated("bf16", true, false, /*n=*/198, /*upFirst=*/true);
}

TEST(GPUMatmulEmulation, OneLaunchForProductsOfOneABF16) { checkGrouped("bf16", false); }
TEST(GPUMatmulEmulation, OneLaunchForProductsOfOneAF32) { checkGrouped("f32", false); }
TEST(GPUMatmulEmulation, WgmmaOneLaunchForProductsOfOneAF16) { checkGrouped("f16", true); }

} // namespace
