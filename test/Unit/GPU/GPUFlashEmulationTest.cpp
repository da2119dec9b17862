//===- GPUFlashEmulationTest.cpp - attention kernels run on the CPU -------===//
//
// convert-attention-to-gpu-flash's kernels and
// convert-linear-attention-to-gpu's, run by the warp emulator
// (WarpEmulator.h) and compared with a plain double-precision attention.
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

struct Buffer {
  std::vector<uint16_t> half; // bf16 or f16 bits,
  std::vector<float> single;  // or f32, from element `offset` on
  std::vector<int64_t> shape;
  int64_t offset = 0;
  void *data() {
    return single.empty() ? static_cast<void *>(half.data() + offset) : single.data() + offset;
  }
};


/// Document: causal within documents of kDocumentLength tokens, the ids a
/// tensor the mask region reads (as a document-masked model's does).
/// Window: causal, the kWindow keys up to the query. Lagged: the keys
/// kLag or more before the query (the first kLag queries see none).
enum class Mask { None, Causal, StrictlyCausal, Document, Window, Lagged };
constexpr int64_t kDocumentLength = 23, kWindow = 100, kLag = 128;

/// Plain attention in double on the rounded inputs: softmax, or (`sigmoid`)
/// each visible key weighing sigmoid(score), not normalized.
std::vector<float> reference(const std::vector<float> &q, const std::vector<float> &k,
                             const std::vector<float> &v, int64_t heads, int64_t keyHeads,
                             int64_t queries, int64_t keys, int64_t d, int64_t dv, double scale,
                             Mask mask, bool sigmoid) {
  std::vector<float> out(heads * queries * dv);
  for (int64_t h = 0; h < heads; ++h) {
    int64_t kh = h / (heads / keyHeads);
    for (int64_t i = 0; i < queries; ++i) {
      std::vector<double> s(keys);
      double best = -INFINITY;
      for (int64_t j = 0; j < keys; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < d; ++e)
          dot += double(q[(h * queries + i) * d + e]) * k[(kh * keys + j) * d + e];
        bool hidden = (mask == Mask::Causal && j > i) || (mask == Mask::StrictlyCausal && j >= i) ||
                      (mask == Mask::Document &&
                       (j > i || j / kDocumentLength != i / kDocumentLength)) ||
                      (mask == Mask::Window && (j > i || i - j >= kWindow)) ||
                      (mask == Mask::Lagged && j + kLag > i);
        s[j] = hidden ? -INFINITY : dot * scale;
        best = std::max(best, s[j]);
      }
      double sum = 0;
      for (double &x : s)
        sum += x == -INFINITY ? (x = 0) : (x = sigmoid ? 1 / (1 + std::exp(-x)) : std::exp(x - best));
      for (int64_t e = 0; e < dv; ++e) {
        double acc = 0;
        // A key of weight 0 is not read (docs/language.md, "Special values").
        for (int64_t j = 0; j < keys; ++j)
          if (s[j] != 0)
            acc += s[j] * v[(kh * keys + j) * dv + e];
        out[(h * queries + i) * dv + e] = sum > 0 ? (sigmoid ? acc : acc / sum) : 0;
      }
    }
  }
  return out;
}

/// phi of linear attention, as the dialect defines the feature maps.
double featureMap(const std::string &map, double x) {
  if (map == "elu_plus_one")
    return x > 0 ? x + 1 : std::exp(x);
  if (map == "relu")
    return std::max(x, 0.0);
  return std::exp(x); // "exp"
}

/// Linear attention in double, by its definition: each visible key weighs
/// phi(q) . phi(k), normalized by the weights' sum (zeros where that is 0).
std::vector<float> linearReference(const std::vector<float> &q, const std::vector<float> &k,
                                   const std::vector<float> &v, int64_t heads, int64_t keyHeads,
                                   int64_t queries, int64_t keys, int64_t d, int64_t dv,
                                   const std::string &map, Mask mask) {
  std::vector<float> out(heads * queries * dv);
  for (int64_t h = 0; h < heads; ++h) {
    int64_t kh = h / (heads / keyHeads);
    for (int64_t i = 0; i < queries; ++i) {
      std::vector<double> acc(dv, 0.0);
      double sum = 0;
      for (int64_t j = 0; j < keys && !(mask == Mask::Causal && j > i); ++j) {
        double w = 0;
        for (int64_t e = 0; e < d; ++e)
          w += featureMap(map, q[(h * queries + i) * d + e]) *
               featureMap(map, k[(kh * keys + j) * d + e]);
        sum += w;
        for (int64_t e = 0; e < dv; ++e)
          acc[e] += w * v[(kh * keys + j) * dv + e];
      }
      for (int64_t e = 0; e < dv; ++e)
        out[(h * queries + i) * dv + e] = sum != 0 ? acc[e] / sum : 0;
    }
  }
  return out;
}

struct Case {
  const char *element; // "bf16", "f16" or "f32"
  int64_t heads, keyHeads, queries, keys, d, dv;
  Mask mask;
  /// Where the keys start in their buffer, in elements: not a multiple of
  /// 8 leaves them unaligned for 16-byte loads.
  int64_t keyOffset = 0;
  int64_t batch = 1;
  /// By warpgroup MMA (sm_90a) instead of mma.sync; `serialWgmma`: without
  /// overlapping a block's softmax with the MMAs of the one before.
  bool wgmma = false;
  bool serialWgmma = false;
  /// Operands and result as a model has them before `heads` and after
  /// `merge_heads`: [T, H D], token-major, the attention reading and
  /// writing through the expand_shape / transpose ops (batch 1).
  bool tokenMajor = false;
  /// Linear attention with this feature map (convert-linear-attention-to-gpu)
  /// instead of softmax; or sigmoid attention.
  const char *linear = nullptr;
  bool sigmoid = false;
  /// A NaN in the last key's value row and an Inf in the one before's
  /// first feature: hidden from most queries by a causal mask, which must
  /// not see them, and visible to the last ones, which must.
  bool nonFiniteValues = false;
};

/// The [H, T, D] buffer `data` as [T, H, D] (or back, with `heads` and
/// `tokens` swapped).
template <typename T>
std::vector<T> swapHeadsAndTokens(const std::vector<T> &data, int64_t heads, int64_t tokens,
                                  int64_t dim) {
  std::vector<T> out(data.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t e = 0; e < dim; ++e)
        out[(t * heads + h) * dim + e] = data[(h * tokens + t) * dim + e];
  return out;
}

/// `name` ([T, H dim]) through `heads`: expand_shape, transpose, a batch of
/// one, as MLIRGen writes it.
std::string headsOf(const std::string &name, int64_t heads, int64_t tokens, int64_t dim,
                    const std::string &element) {
  auto t = [&](const std::string &dims) { return "tensor<" + dims + "x" + element + ">"; };
  std::string T = std::to_string(tokens), H = std::to_string(heads), D = std::to_string(dim),
              HD = std::to_string(heads * dim);
  return "  " + name + "3 = tensor.expand_shape " + name + " [[0], [1, 2]] output_shape [" + T +
         ", " + H + ", " + D + "] : " + t(T + "x" + HD) + " into " + t(T + "x" + H + "x" + D) +
         "\n  " + name + "e = tensor.empty() : " + t(H + "x" + T + "x" + D) + "\n  " + name +
         "t = linalg.transpose ins(" + name + "3 : " + t(T + "x" + H + "x" + D) + ") outs(" + name +
         "e : " + t(H + "x" + T + "x" + D) + ") permutation = [1, 0, 2]\n  " + name +
         "4 = tensor.expand_shape " + name + "t [[0, 1], [2], [3]] output_shape [1, " + H + ", " +
         T + ", " + D + "] : " + t(H + "x" + T + "x" + D) + " into " +
         t("1x" + H + "x" + T + "x" + D) + "\n";
}

void checkCase(const Case &c) {
  std::string element = c.element;
  bool bf16 = element == "bf16", f32 = element == "f32";
  double scale = 1.0 / std::sqrt(double(c.d));
  auto type = [&](int64_t h, int64_t n, int64_t dim, const char *element) {
    return "tensor<" + std::to_string(c.batch) + "x" + std::to_string(h) + "x" + std::to_string(n) + "x" +
           std::to_string(dim) + "x" + element + ">";
  };
  std::string qT = type(c.heads, c.queries, c.d, c.element),
              kT = type(c.keyHeads, c.keys, c.d, c.element),
              vT = type(c.keyHeads, c.keys, c.dv, c.element),
              oT = type(c.heads, c.queries, c.dv, "f32");
  std::string maskRegion;
  std::string docT = "tensor<" + std::to_string(c.keys) + "xi32>";
  if (c.mask == Mask::Document)
    maskRegion = R"(
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %di = tensor.extract %doc[%i] : )" + docT + R"(
        %dj = tensor.extract %doc[%j] : )" + docT + R"(
        %same = arith.cmpi eq, %di, %dj : i32
        %before = arith.cmpi ule, %j, %i : index
        %c = arith.andi %same, %before : i1
        attn.yield %c : i1
      })";
  else if (c.mask == Mask::Window)
    maskRegion = R"(
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %before = arith.cmpi ule, %j, %i : index
        %distance = arith.subi %i, %j : index
        %window = arith.constant )" + std::to_string(kWindow) + R"( : index
        %near = arith.cmpi ult, %distance, %window : index
        %c = arith.andi %before, %near : i1
        attn.yield %c : i1
      })";
  else if (c.mask == Mask::Lagged)
    maskRegion = R"(
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %lag = arith.constant )" + std::to_string(kLag) + R"( : index
        %lagged = arith.addi %j, %lag : index
        %c = arith.cmpi ule, %lagged, %i : index
        attn.yield %c : i1
      })";
  else if (c.mask != Mask::None)
    maskRegion = std::string(R"(
      mask {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c = arith.cmpi )") +
                 (c.mask == Mask::Causal ? "ule" : "ult") + R"(, %j, %i : index
        attn.yield %c : i1
      })";
  auto flat = [&](int64_t h, int64_t n, int64_t dim, const char *element) {
    return "tensor<" + std::to_string(n) + "x" + std::to_string(h * dim) + "x" + element + ">";
  };
  std::string qFlat = flat(c.heads, c.queries, c.d, c.element),
              kFlat = flat(c.keyHeads, c.keys, c.d, c.element),
              vFlat = flat(c.keyHeads, c.keys, c.dv, c.element),
              oFlat = flat(c.heads, c.queries, c.dv, "f32");
  std::string header =
      c.tokenMajor
          ? "func.func @attention(%q: " + qFlat + ", %k: " + kFlat + ", %v: " + vFlat + ") -> " +
                oFlat + " {\n" + headsOf("%q", c.heads, c.queries, c.d, c.element) +
                headsOf("%k", c.keyHeads, c.keys, c.d, c.element) +
                headsOf("%v", c.keyHeads, c.keys, c.dv, c.element) +
                "  %init = tensor.empty() : " + oT + "\n"
          : "func.func @attention(%q: " + qT + ", %k: " + kT + ", %v: " + vT + ", %init: " + oT +
                (c.mask == Mask::Document ? ", %doc: " + docT : "") + ") -> " + oT + " {\n";
  std::string operands = c.tokenMajor ? "%q4, %k4, %v4" : "%q, %k, %v";
  std::string H = std::to_string(c.heads), T = std::to_string(c.queries),
              DV = std::to_string(c.dv);
  std::string ret =
      c.tokenMajor
          ? "  %o3 = tensor.collapse_shape %o [[0, 1], [2], [3]] : " + oT + " into tensor<" + H +
                "x" + T + "x" + DV + "xf32>\n  %oe = tensor.empty() : tensor<" + T + "x" + H +
                "x" + DV + "xf32>\n  %ot = linalg.transpose ins(%o3 : tensor<" + H + "x" + T +
                "x" + DV + "xf32>) outs(%oe : tensor<" + T + "x" + H + "x" + DV +
                "xf32>) permutation = [1, 0, 2]\n  %of = tensor.collapse_shape %ot [[0], [1, 2]] "
                ": tensor<" + T + "x" + H + "x" + DV + "xf32> into " + oFlat +
                "\n  return %of : " + oFlat + "\n}\n"
          : "  return %o : " + oT + "\n}\n";
  std::string normalizer =
      c.linear    ? std::string("linear feature_map(") + c.linear + ")"
      : c.sigmoid ? "sigmoid"
                  : "softmax";
  std::string scoreRegion = c.linear ? "\n" : R"(
      score {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %scale = arith.constant )" + std::to_string(scale) + R"( : f32
        %r = arith.mulf %s, %scale : f32
        attn.yield %r : f32
      }
)";
  std::string source = header + "  %o = attn.attention " + normalizer + " ins(" + operands +
                       " : " + qT + ", " + kT + ", " + vT + ") outs(%init : " + oT + ") -> " +
                       oT + maskRegion + scoreRegion + ret;

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  auto make = [&](int64_t h, int64_t n, int64_t dim, std::vector<float> &rounded) {
    Buffer buffer{{}, {}, {c.batch, h, n, dim}};
    for (int64_t i = 0; i < c.batch * h * n * dim; ++i) {
      float x = uniform(rng) * 2.0f;
      uint16_t bits;
      if (f32) {
        buffer.single.push_back(x);
        rounded.push_back(x);
        continue;
      }
      if (bf16) {
        bits = floatToBF16(x);
        rounded.push_back(bf16ToFloat(bits));
      } else {
        // f16 by way of a value f16 holds exactly (11 significant bits).
        bits = floatToHalf(std::ldexp(std::round(std::ldexp(x, 10)), -10));
        rounded.push_back(halfToFloat(bits));
      }
      buffer.half.push_back(bits);
    }
    return buffer;
  };
  std::vector<float> q, k, v;
  std::vector<Buffer> inputs{make(c.heads, c.queries, c.d, q), make(c.keyHeads, c.keys, c.d, k),
                             make(c.keyHeads, c.keys, c.dv, v)};
  if (c.nonFiniteValues) {
    for (int64_t kh = 0; kh < c.batch * c.keyHeads; ++kh) {
      for (int64_t e = 0; e < c.dv; ++e)
        v[(kh * c.keys + c.keys - 1) * c.dv + e] = NAN;
      v[(kh * c.keys + c.keys - 2) * c.dv] = INFINITY;
    }
    if (f32)
      inputs[2].single = v;
  }
  if (c.tokenMajor) {
    // The model's [T, H D] buffers; the reference keeps [H, T, D].
    int64_t heads[] = {c.heads, c.keyHeads, c.keyHeads}, tokens[] = {c.queries, c.keys, c.keys},
            dims[] = {c.d, c.d, c.dv};
    for (int i = 0; i < 3; ++i) {
      Buffer &in = inputs[i];
      if (f32)
        in.single = swapHeadsAndTokens(in.single, heads[i], tokens[i], dims[i]);
      else
        in.half = swapHeadsAndTokens(in.half, heads[i], tokens[i], dims[i]);
      in.shape = {tokens[i], heads[i] * dims[i]};
    }
  }
  // NaN before the keys.
  if (f32)
    inputs[1].single.insert(inputs[1].single.begin(), c.keyOffset, NAN);
  else
    inputs[1].half.insert(inputs[1].half.begin(), c.keyOffset, 0xffff);
  inputs[1].offset = c.keyOffset;
  // NaN until the kernel writes it: an element it misses fails.
  std::vector<float> got(c.batch * c.heads * c.queries * c.dv, NAN);
  std::vector<Operand> arguments;
  for (Buffer &in : inputs)
    arguments.push_back({in.data(), in.shape});
  std::vector<int32_t> documents(c.keys);
  for (int64_t t = 0; t < c.keys; ++t)
    documents[t] = static_cast<int32_t>(t / kDocumentLength);
  if (c.mask == Mask::Document) {
    // %init (not read), then the ids.
    arguments.push_back({got.data(), {c.batch, c.heads, c.queries, c.dv}});
    arguments.push_back({documents.data(), {c.keys}});
  }
  std::string passes = c.linear  ? "convert-linear-attention-to-gpu"
                       : c.wgmma ? std::string("convert-attention-to-gpu-flash{chip=sm_90a wgmma=1") +
                                       (c.serialWgmma ? " wgmma-overlap=0}" : "}")
                                 : "convert-attention-to-gpu-flash{chip=sm_80}";
  std::vector<int64_t> resultShape{c.batch, c.heads, c.queries, c.dv};
  if (c.tokenMajor)
    resultShape = {c.queries, c.heads * c.dv};
  // The linear kernels load element by element (phi on the way).
  if (!emulate(source, passes, arguments, {got.data(), resultShape},
               /*copiesAsync=*/!c.linear))
    return;
  if (c.tokenMajor)
    got = swapHeadsAndTokens(got, c.queries, c.heads, c.dv);
  // Batch b's head h is head b H + h of a batch of one (its key head
  // b KH + h / (H / KH) likewise).
  std::vector<float> want =
      c.linear ? linearReference(q, k, v, c.batch * c.heads, c.batch * c.keyHeads, c.queries,
                                 c.keys, c.d, c.dv, c.linear, c.mask)
               : reference(q, k, v, c.batch * c.heads, c.batch * c.keyHeads, c.queries, c.keys,
                           c.d, c.dv, scale, c.mask, c.sigmoid);
  // The probabilities go through the tensor cores in 16 bits: about 3
  // significant digits (bf16) of each weight. f32 rounds sums only, as does
  // linear attention (16-bit inputs widened exactly).
  double tolerance = f32 || c.linear ? 1e-5 : bf16 ? 2e-2 : 4e-3;
  // Sigmoid's weights are not normalized (their sum grows with the keys):
  // each is rounded once to 16 bits (half an ulp: at most 2^-8 of it in
  // bf16, 2^-11 in f16), so the error is at most that times the sum of
  // |weight x value| -- the same attention over |v|.
  std::vector<float> bound(want.size());
  if (c.sigmoid) {
    std::vector<float> absV(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      absV[i] = std::fabs(v[i]);
    std::vector<float> magnitude =
        reference(q, k, absV, c.batch * c.heads, c.batch * c.keyHeads, c.queries, c.keys, c.d,
                  c.dv, scale, c.mask, /*sigmoid=*/true);
    double ulp = f32 ? 0 : bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
    for (size_t i = 0; i < want.size(); ++i)
      bound[i] = 1e-5 * (1 + std::fabs(want[i])) + ulp * magnitude[i];
  } else {
    for (size_t i = 0; i < want.size(); ++i)
      bound[i] = tolerance * (1 + std::fabs(want[i]));
  }
  int bad = 0;
  // NaN where the reference has NaN, the same infinity where it has one.
  auto close = [&](size_t i) {
    if (std::isnan(want[i]) || std::isinf(want[i]))
      return std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
    return std::fabs(got[i] - want[i]) <= bound[i];
  };
  for (size_t i = 0; i < got.size(); ++i)
    if (!close(i) && bad++ < 5)
      ADD_FAILURE() << "element " << i << " (batch x head " << i / (c.queries * c.dv) << ", query "
                    << i / c.dv % c.queries << ", feature " << i % c.dv << "): got " << got[i]
                    << ", want " << want[i];
  EXPECT_EQ(bad, 0) << "of " << got.size() << " elements";
}

// Causal, grouped-query (2 heads share keys), 150 positions: two query
// blocks (128 rows: head size 64 gives each warp two MMA tiles of rows), the
// second partial, key blocks skipped, masked and fully visible, a value size
// unlike the head size.
TEST(GPUFlashEmulation, CausalGroupedBF16) {
  checkCase({"bf16", 2, 1, 150, 150, 64, 32, Mask::Causal});
}

// Head size 128, three query blocks (the last partial), and a strictly
// causal mask: the first query sees no key and gets zeros.
TEST(GPUFlashEmulation, StrictlyCausalD128) {
  checkCase({"bf16", 2, 2, 130, 130, 128, 128, Mask::StrictlyCausal});
}

// Head and value size 256: two tiles of 64 keys would pass 48 KiB of shared
// memory, so the kernel steps through 32 keys at a time.
TEST(GPUFlashEmulation, HeadSize256TakesSmallerKeyBlocks) {
  checkCase({"bf16", 1, 1, 40, 72, 256, 256, Mask::None});
}

// Keys one element into their buffer: no 16-byte loads for them (the
// kernel checks at run time and copies element by element).
TEST(GPUFlashEmulation, UnalignedKeysCopiedElementByElement) {
  checkCase({"bf16", 2, 1, 70, 70, 64, 32, Mask::Causal, /*keyOffset=*/1});
}

// Cross attention with fewer keys than queries and a key count that is not
// a multiple of the key block; f16 takes upstream's mma.sync lowering.
TEST(GPUFlashEmulation, CrossAttentionF16) {
  checkCase({"f16", 1, 1, 20, 100, 32, 16, Mask::None});
}

// A batch of three, four heads sharing two key heads: the kernel finds its
// (batch, head, query block) in grid x.
TEST(GPUFlashEmulation, BatchedGroupedBF16) {
  checkCase({"bf16", 4, 2, 70, 70, 32, 32, Mask::Causal, /*keyOffset=*/0, /*batch=*/3});
}

// f32 by FMAs: head size 64 (two threads per row, 64 rows a block), causal
// grouped-query, partial query and key blocks, a batch of two.
TEST(GPUFlashEmulation, CausalGroupedF32) {
  checkCase({"f32", 2, 1, 150, 150, 64, 32, Mask::Causal, /*keyOffset=*/0, /*batch=*/2});
}

// NaN and Inf in value rows: a query the causal mask hides them from gets
// finite numbers, the last queries (which see them) NaN and Inf. The FMA
// kernel reads no value of weight 0; the tensor-core kernels do not
// follow this yet (docs/language.md).
TEST(GPUFlashEmulation, HiddenNonFiniteValuesF32) {
  Case c{"f32", 2, 1, 70, 70, 64, 32, Mask::Causal};
  c.nonFiniteValues = true;
  checkCase(c);
}

// f32 at head size 128: four threads per row add their parts of each dot
// product by shuffles; a strictly causal mask leaves the first row empty.
TEST(GPUFlashEmulation, StrictlyCausalF32D128) {
  checkCase({"f32", 1, 1, 70, 70, 128, 128, Mask::StrictlyCausal});
}

// f32 at head size 256 (eight threads per row, 16-key blocks), keys one
// element into their buffer (copied element by element), cross attention.
TEST(GPUFlashEmulation, UnalignedKeysF32D256) {
  checkCase({"f32", 1, 1, 40, 50, 256, 256, Mask::None, /*keyOffset=*/1});
}

// Warpgroup MMA: causal grouped-query attention over 150 positions, two
// blocks of 128 queries (two warpgroups each) and two key blocks of 128,
// the second partial: the softmax with and without the per-key mask, P
// from registers.
TEST(GPUFlashEmulation, WgmmaCausalGroupedBF16) {
  checkCase({"bf16", 2, 1, 150, 150, 64, 64, Mask::Causal, /*keyOffset=*/0, /*batch=*/2,
             /*wgmma=*/true});
}

// The same one key block after the other (no overlap, two stages).
TEST(GPUFlashEmulation, WgmmaSerialCausalGroupedBF16) {
  Case c{"bf16", 2, 1, 150, 150, 64, 64, Mask::Causal, /*keyOffset=*/0, /*batch=*/2};
  c.wgmma = c.serialWgmma = true;
  checkCase(c);
}

// A sliding window of 100 keys over 384 positions, three blocks of 128
// queries and of keys: the last query block's loop starts at key block 1
// (its first row sees from key 157 on), the first one's ends after block
// 0.
TEST(GPUFlashEmulation, WgmmaWindowSkipsLeadingBlocks) {
  Case c{"f16", 1, 1, 384, 384, 64, 64, Mask::Window};
  c.wgmma = true;
  checkCase(c);
}

// The overlapped loop over five key blocks of 128 (the last partial), 70
// queries: its three stages wrap around, each refilled while the P.V of
// the block before reads another. A stage refilled while a wgmma may still
// read it is a race on shared memory (the emulator's numbers alone would
// not show it: it runs a wgmma when issued and lands a copy at its wait).
TEST(GPUFlashEmulation, WgmmaStagesWrapAround) {
  Case c{"f16", 1, 1, 70, 600, 64, 64, Mask::None};
  c.wgmma = true;
  checkCase(c);
}

// Keys 128 or more before the query: the first block of 128 queries sees
// no key block at all (an empty range: its loop computes tiles never
// loaded, all hidden, and stores zeros), the others from key block 0.
TEST(GPUFlashEmulation, WgmmaQueryBlockSeesNothing) {
  Case c{"f16", 1, 1, 300, 300, 64, 64, Mask::Lagged};
  c.wgmma = true;
  checkCase(c);
}

// Warpgroup MMA on f16 at head size 128 (two 64-feature panels of Q and K),
// value size 64, cross attention with a strictly causal mask (the first
// query sees nothing) and keys one element into their buffer (copied
// element by element into the swizzled tiles).
TEST(GPUFlashEmulation, WgmmaStrictlyCausalD128F16) {
  checkCase({"f16", 2, 2, 130, 200, 128, 64, Mask::StrictlyCausal, /*keyOffset=*/1,
             /*batch=*/1, /*wgmma=*/true});
}

// Warpgroup MMA at head size 256: key blocks of 64 (Q and three stages of
// 128 would pass 227 KiB), value size 128 (two panels of V).
TEST(GPUFlashEmulation, WgmmaHeadSize256) {
  checkCase({"bf16", 1, 1, 40, 72, 256, 128, Mask::None, /*keyOffset=*/0, /*batch=*/1,
             /*wgmma=*/true});
}

// Head and value size 256: Q (64 KiB) and three stages leave key blocks of
// 32 (S by m64n32k16), O 128 f32 a thread.
TEST(GPUFlashEmulation, WgmmaHeadAndValueSize256) {
  Case c{"bf16", 1, 1, 40, 100, 256, 256, Mask::Causal};
  c.wgmma = true;
  checkCase(c);
}

// Document masking (FlexAttention's example): the mask region reads the
// ids from a tensor argument, in the kernel per element and, for skipping
// whole key blocks, as the ids' range over the block (MaskIntervals.h).
// Documents of 23 tokens over 150 positions: blocks that see nothing, some
// keys, everything.
TEST(GPUFlashEmulation, DocumentMaskBF16) {
  checkCase({"bf16", 2, 1, 150, 150, 64, 32, Mask::Document});
}

TEST(GPUFlashEmulation, DocumentMaskF32) {
  checkCase({"f32", 2, 2, 100, 100, 64, 64, Mask::Document});
}

TEST(GPUFlashEmulation, WgmmaDocumentMask) {
  Case c{"f16", 2, 1, 150, 150, 64, 64, Mask::Document};
  c.wgmma = true;
  checkCase(c);
}

// A model's layout: q, k, v are [T, H D] (the projections' results), the
// kernel reads them through strided views instead of `heads` copies and
// writes [T, H dv] (what `merge_heads` makes) through another; grouped
// keys, causal, a partial query block.
TEST(GPUFlashEmulation, TokenMajorThroughTransposesBF16) {
  Case c{"bf16", 4, 2, 70, 70, 64, 32, Mask::Causal};
  c.tokenMajor = true;
  checkCase(c);
}

// The same on the f32 kernel, and on the warpgroup-MMA one.
TEST(GPUFlashEmulation, TokenMajorThroughTransposesF32) {
  Case c{"f32", 2, 1, 40, 50, 64, 64, Mask::None};
  c.tokenMajor = true;
  checkCase(c);
}

TEST(GPUFlashEmulation, WgmmaTokenMajorThroughTransposes) {
  Case c{"f16", 2, 2, 70, 90, 64, 64, Mask::Causal};
  c.wgmma = true;
  c.tokenMajor = true;
  checkCase(c);
}

// Sigmoid attention (each visible key weighs sigmoid(score), no
// normalization) on the three kernels: mma.sync (causal, grouped, two
// query blocks), FMA (f32, strictly causal: the first row sees nothing),
// and warpgroup MMA through the overlapped loop (causal, two key blocks).
TEST(GPUFlashEmulation, SigmoidCausalGroupedBF16) {
  Case c{"bf16", 2, 1, 150, 150, 64, 32, Mask::Causal};
  c.sigmoid = true;
  checkCase(c);
}

TEST(GPUFlashEmulation, SigmoidStrictlyCausalF32) {
  Case c{"f32", 1, 1, 70, 70, 64, 64, Mask::StrictlyCausal};
  c.sigmoid = true;
  checkCase(c);
}

TEST(GPUFlashEmulation, WgmmaSigmoidCausal) {
  Case c{"f16", 2, 1, 150, 150, 64, 64, Mask::Causal};
  c.wgmma = c.sigmoid = true;
  checkCase(c);
}

// The serial warpgroup-MMA loop, and a query block that sees no key (the
// overlapped loop's empty range, its tiles never loaded).
TEST(GPUFlashEmulation, WgmmaSerialSigmoidBF16) {
  Case c{"bf16", 1, 1, 150, 150, 64, 64, Mask::Causal};
  c.wgmma = c.serialWgmma = c.sigmoid = true;
  checkCase(c);
}

TEST(GPUFlashEmulation, WgmmaSigmoidQueryBlockSeesNothing) {
  Case c{"bf16", 1, 1, 300, 300, 64, 64, Mask::Lagged};
  c.wgmma = c.sigmoid = true;
  checkCase(c);
}

// Causal linear attention (elu + 1), grouped keys, a batch of two: 150
// positions are five chunks of 32 (the last partial) in two ranges, so the
// second range's blocks start from the first's key sums; value size 48 is
// a whole slice of 32 features and a partial one.
TEST(GPULinearAttentionEmulation, CausalGroupedRanges) {
  Case c{"f32", 4, 2, 150, 150, 64, 48, Mask::Causal, /*keyOffset=*/0, /*batch=*/2};
  c.linear = "elu_plus_one";
  checkCase(c);
}

// No mask, cross attention over more keys than queries (the key sums cut
// their own ranges: 7 chunks, the answers 3), relu, a head size that is not
// a multiple of 32 (phi(K)'s padding columns and S's extra rows unused).
TEST(GPULinearAttentionEmulation, CrossAttentionRelu) {
  Case c{"f32", 2, 1, 70, 200, 20, 32, Mask::None, /*keyOffset=*/1};
  c.linear = "relu";
  checkCase(c);
}

// bf16 inputs widened on load, exp, causal, in a model's layout: q, k, v
// [T, H D] read through the `heads` views, the result written through the
// `merge_heads` one.
TEST(GPULinearAttentionEmulation, TokenMajorBF16) {
  Case c{"bf16", 4, 2, 70, 70, 32, 16, Mask::Causal};
  c.tokenMajor = true;
  c.linear = "exp";
  checkCase(c);
}

} // namespace
