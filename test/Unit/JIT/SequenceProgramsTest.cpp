//===- SequenceProgramsTest.cpp - RASP programs through the JIT -*- C++ -*-===//
//
// Classic RASP programs on random inputs of several lengths, checked
// against plain C++ computing the same thing.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

std::shared_ptr<const raspc::JitProgram> compile(const std::string &source) {
  std::string errors;
  auto program = raspc::JitProgram::compile(source, "test.rasp", {}, &errors);
  EXPECT_TRUE(program) << errors;
  return program;
}

std::vector<std::string> run(const raspc::JitProgram &program,
                             const std::vector<std::string> &tokens) {
  std::vector<std::string> out;
  std::string error;
  EXPECT_TRUE(program.runTokens(tokens, out, &error)) << error;
  return out;
}

std::vector<int> randomInts(size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<int> v(n);
  for (int &x : v)
    x = dist(rng);
  return v;
}

std::vector<std::string> toStrings(const std::vector<int> &v) {
  std::vector<std::string> s;
  for (int x : v)
    s.push_back(std::to_string(x));
  return s;
}

class SequenceProgramsTest : public ::testing::TestWithParam<size_t> {};

TEST_P(SequenceProgramsTest, SortMatchesStdSort) {
  auto program = compile(R"(
    def sort(tokens: int) {
      let keys = tokens * length + indices;
      let target = selector_width(select(keys, keys, <));
      return aggregate(select(target, indices, ==), tokens);
    })");
  ASSERT_TRUE(program);
  std::vector<int> input = randomInts(GetParam(), -50, 50, 1);
  std::vector<int> expected = input;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(run(*program, toStrings(input)), toStrings(expected));
}

TEST_P(SequenceProgramsTest, HistogramMatchesCounts) {
  auto program = compile(R"(
    def histogram(tokens) { return selector_width(select(tokens, tokens, ==)); })");
  ASSERT_TRUE(program);
  std::vector<int> input = randomInts(GetParam(), 0, 9, 2);
  std::map<int, int> counts;
  for (int x : input)
    ++counts[x];
  std::vector<int> expected;
  for (int x : input)
    expected.push_back(counts[x]);
  // Tokens are words here: an open vocabulary of strings.
  EXPECT_EQ(run(*program, toStrings(input)), toStrings(expected));
}

TEST_P(SequenceProgramsTest, ReverseAndShift) {
  auto program = compile(R"(
    def shift(tokens) {
      let reversed = aggregate(select(indices, length - indices - 1, ==), tokens);
      return aggregate(select(indices, indices, key == query - 1), reversed);
    })");
  ASSERT_TRUE(program);
  std::vector<std::string> input = toStrings(randomInts(GetParam(), 0, 99, 3));
  std::vector<std::string> expected;
  for (size_t i = 0; i < input.size(); ++i)
    expected.push_back(i == 0 ? "_" : input[input.size() - i]);
  EXPECT_EQ(run(*program, input), expected);
}

TEST_P(SequenceProgramsTest, PrefixMeanIsNumerical) {
  auto program = compile(R"(
    def prefix_mean(tokens: int) {
      return aggregate(select(indices, indices, <=), numerical(tokens));
    })");
  ASSERT_TRUE(program);
  std::vector<int> input = randomInts(GetParam(), -1000, 1000, 4);
  std::vector<std::string> out = run(*program, toStrings(input));
  ASSERT_EQ(out.size(), input.size());
  double sum = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    sum += input[i];
    double expected = sum / static_cast<double>(i + 1);
    EXPECT_NEAR(std::stod(out[i]), expected, 1e-3 * (1 + std::abs(expected)))
        << "position " << i;
  }
}

// Selects of every key, of none, or comparing indices with indices choose a
// range of keys per query, which convert-selects-to-scans aggregates with
// running sums: widths, numerical means and categorical (integer) means
// for each comparison, against the definition computed here.
TEST_P(SequenceProgramsTest, IndexRangeSelects) {
  const size_t n = GetParam();
  std::vector<int> input = randomInts(n, -1000, 1000, 5);
  struct Comparison {
    const char *written;
    bool (*selects)(size_t key, size_t query);
  };
  const Comparison comparisons[] = {
      {"<", [](size_t k, size_t q) { return k < q; }},
      {"<=", [](size_t k, size_t q) { return k <= q; }},
      {">", [](size_t k, size_t q) { return k > q; }},
      {">=", [](size_t k, size_t q) { return k >= q; }},
      {"==", [](size_t k, size_t q) { return k == q; }},
      {"!=", [](size_t k, size_t q) { return k != q; }},
      {"true", [](size_t, size_t) { return true; }},
      {"false", [](size_t, size_t) { return false; }}};
  for (const Comparison &c : comparisons) {
    SCOPED_TRACE(std::string("select(indices, indices, ") + c.written + ")");
    std::string select = std::string("select(indices, indices, ") + c.written + ")";
    auto width = compile("def w(tokens: int) { return selector_width(" + select + "); }");
    auto mean = compile("def m(tokens: int) { return aggregate(" + select +
                        ", numerical(tokens)); }");
    auto categorical = compile("def c(tokens: int) { return aggregate(" + select +
                               ", tokens, default=7); }");
    ASSERT_TRUE(width && mean && categorical);
    std::vector<std::string> widths = run(*width, toStrings(input)),
                             means = run(*mean, toStrings(input)),
                             values = run(*categorical, toStrings(input));
    ASSERT_EQ(widths.size(), n);
    ASSERT_EQ(means.size(), n);
    ASSERT_EQ(values.size(), n);
    for (size_t q = 0; q < n; ++q) {
      int64_t count = 0, sum = 0;
      for (size_t k = 0; k < n; ++k)
        if (c.selects(k, q)) {
          ++count;
          sum += input[k];
        }
      EXPECT_EQ(widths[q], std::to_string(count)) << "query " << q;
      double expected = count ? static_cast<double>(sum) / count : 0.0;
      EXPECT_NEAR(std::stod(means[q]), expected, 1e-3 * (1 + std::abs(expected)))
          << "query " << q;
      EXPECT_EQ(values[q], std::to_string(count ? sum / count : 7)) << "query " << q;
    }
  }
}

// `==` on integers groups the keys by value (convert-selects-to-scans):
// widths, numerical and categorical means, queries that are not the keys
// (some values no key holds), and keys spread too widely to group, which
// take the dense path; all against the definition.
TEST_P(SequenceProgramsTest, EqualitySelects) {
  const size_t n = GetParam();
  for (int spread : {5, 1000000000}) {
    SCOPED_TRACE("values in [-" + std::to_string(spread) + ", " + std::to_string(spread) + "]");
    std::vector<int> input = randomInts(n, -spread, spread, 6);
    auto width = compile("def w(tokens: int) { return selector_width(select(tokens, tokens + 1, ==)); }");
    auto mean = compile("def m(tokens: int) { return aggregate(select(tokens, tokens, ==), "
                        "numerical(indices)); }");
    auto categorical = compile("def c(tokens: int) { return aggregate(select(tokens, tokens - 2, "
                               "==), indices, default=-5); }");
    ASSERT_TRUE(width && mean && categorical);
    std::vector<std::string> widths = run(*width, toStrings(input)),
                             means = run(*mean, toStrings(input)),
                             values = run(*categorical, toStrings(input));
    ASSERT_EQ(widths.size(), n);
    for (size_t q = 0; q < n; ++q) {
      int64_t plusOne = 0, same = 0, sameSum = 0, minusTwo = 0, minusTwoSum = 0;
      for (size_t k = 0; k < n; ++k) {
        plusOne += input[k] == input[q] + 1;
        if (input[k] == input[q]) {
          ++same;
          sameSum += static_cast<int64_t>(k);
        }
        if (input[k] == input[q] - 2) {
          ++minusTwo;
          minusTwoSum += static_cast<int64_t>(k);
        }
      }
      EXPECT_EQ(widths[q], std::to_string(plusOne)) << "query " << q;
      double expected = static_cast<double>(sameSum) / same;
      EXPECT_NEAR(std::stod(means[q]), expected, 1e-4 * (1 + expected)) << "query " << q;
      EXPECT_EQ(values[q], std::to_string(minusTwo ? minusTwoSum / minusTwo : -5))
          << "query " << q;
    }
  }
}

// `key == f(query)` groups too: shifts of indices (shift_by) and of other
// integer keys, against the definition.
TEST_P(SequenceProgramsTest, KeyEqualsFunctionOfQuery) {
  const size_t n = GetParam();
  std::vector<int> input = randomInts(n, -20, 20, 7);
  auto shift = compile("def s(tokens: int) { return aggregate(select(indices, indices, "
                       "key == query - 3), tokens, default=99); }");
  auto byValue = compile("def v(tokens: int) { return selector_width(select(tokens, tokens, "
                         "key == query * 2 + 1)); }");
  ASSERT_TRUE(shift && byValue);
  std::vector<std::string> shifted = run(*shift, toStrings(input)),
                           widths = run(*byValue, toStrings(input));
  ASSERT_EQ(shifted.size(), n);
  ASSERT_EQ(widths.size(), n);
  for (size_t q = 0; q < n; ++q) {
    EXPECT_EQ(shifted[q], std::to_string(q >= 3 ? input[q - 3] : 99)) << "query " << q;
    int64_t count = 0;
    for (size_t k = 0; k < n; ++k)
      count += input[k] == input[q] * 2 + 1;
    EXPECT_EQ(widths[q], std::to_string(count)) << "query " << q;
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, SequenceProgramsTest,
                         ::testing::Values(1, 7, 64, 1000));

// A histogram of 200 000 tokens: grouped in O(L), where the selector
// matrix would be 40 GB.
TEST(SequencePrograms, HistogramNeedsNoMatrix) {
  auto program = compile(R"(
    def histogram(tokens) { return selector_width(select(tokens, tokens, ==)); })");
  ASSERT_TRUE(program);
  const size_t n = 200000;
  std::vector<std::string> input(n);
  for (size_t i = 0; i < n; ++i)
    input[i] = i % 4 == 0 ? "a" : "b";
  std::vector<std::string> out = run(*program, input);
  ASSERT_EQ(out.size(), n);
  EXPECT_EQ(out[0], "50000");
  EXPECT_EQ(out[1], "150000");
  EXPECT_EQ(out[n - 1], "150000");
}

// At 200 000 positions the selector matrix would be 40 GB: the prefix
// mean and the width over index ranges take O(L) instead.
TEST(SequencePrograms, IndexRangeSelectsNeedNoMatrix) {
  auto program = compile(R"(
    def frac(tokens: int) {
      let prevs = select(indices, indices, <);
      return aggregate(prevs, numerical(tokens)) + selector_width(prevs);
    })");
  ASSERT_TRUE(program);
  const size_t n = 200000;
  std::vector<int> input(n, 2);
  std::vector<std::string> out = run(*program, toStrings(input));
  ASSERT_EQ(out.size(), n);
  // Query q: the mean of q twos (0 for none) plus q.
  for (size_t q : {size_t(0), size_t(1), size_t(12345), n - 1})
    EXPECT_NEAR(std::stod(out[q]), (q ? 2.0 : 0.0) + q, 1e-5 * q) << "query " << q;
}

TEST(SequencePrograms, CompiledProgramsAreCached) {
  const char *source = "def id(tokens) { return tokens; }";
  auto a = compile(source), b = compile(source);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(run(*a, {"x", "y"}), (std::vector<std::string>{"x", "y"}));
}

TEST(SequencePrograms, ErrorsAreReportedNotThrown) {
  std::string errors;
  EXPECT_FALSE(raspc::JitProgram::compile("def f(t) { return u; }", "bad.rasp", {}, &errors));
  EXPECT_NE(errors.find("bad.rasp:1:19: error: unknown name 'u'"), std::string::npos) << errors;

  auto program = compile("def f(tokens: int) { return tokens + 1; }");
  std::vector<std::string> out;
  std::string error;
  EXPECT_FALSE(program->runTokens({"1", "two"}, out, &error));
  EXPECT_NE(error.find("token 'two' (position 1) is not an integer"), std::string::npos) << error;
}

TEST(SequencePrograms, InsertedPipelinesRunOrSayWhyNot) {
  raspc::JitOptions options;
  options.insertAfterTiling = "func.func(canonicalize)";
  std::string errors;
  auto program = raspc::JitProgram::compile("def f(tokens: int) { return tokens + 1; }",
                                            "inc.rasp", options, &errors);
  ASSERT_TRUE(program) << errors;
  std::vector<std::string> out;
  ASSERT_TRUE(program->runTokens({"1", "41"}, out, &errors)) << errors;
  EXPECT_EQ(out, (std::vector<std::string>{"2", "42"}));

  options.insertAfterTiling.clear();
  options.insertBeforeLLVM = "no-such-pass";
  errors.clear();
  EXPECT_FALSE(raspc::JitProgram::compile("def f(tokens: int) { return tokens + 1; }",
                                          "inc.rasp", options, &errors));
  EXPECT_NE(errors.find("raspc: error: cannot parse the insert-before-llvm pipeline "
                        "'no-such-pass'"),
            std::string::npos)
      << errors;
}

// target=cuda: on a GPU machine the program runs there; elsewhere compiling
// says why it cannot, before any work.
TEST(SequencePrograms, CudaTargetRunsOrSaysWhyNot) {
  raspc::JitOptions options;
  options.target.kind = raspc::Target::Kind::CUDA;
  std::string errors;
  auto program = raspc::JitProgram::compile("def f(tokens: int) { return tokens + 1; }",
                                            "inc.rasp", options, &errors);
  if (rasprt_cuda_init() != RASPRT_OK) {
    EXPECT_FALSE(program);
    EXPECT_NE(errors.find("inc.rasp: error: target cuda: CUDA is not available: "),
              std::string::npos)
        << errors;
  } else {
    ASSERT_TRUE(program) << errors;
    std::vector<std::string> out;
    ASSERT_TRUE(program->runTokens({"1", "41"}, out, &errors)) << errors;
    EXPECT_EQ(out, (std::vector<std::string>{"2", "42"}));
  }
}

TEST(SequencePrograms, CallsFromManyThreads) {
  auto program = compile(R"(
    def sort(tokens: int) {
      let target = selector_width(select(tokens, tokens, <));
      return aggregate(select(target, indices, ==), tokens);
    })");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::vector<std::string> out, in = {std::to_string(t + 3), "1", "2"};
        std::string error;
        if (!program->runTokens(in, out, &error) || out[2] != std::to_string(t + 3))
          ++failures;
      }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures, 0);
}

// Compiles run outside the cache's lock: four threads each compile
// programs no other thread compiles (a different offset per thread and
// round, so the cache cannot answer), and each program gives its own
// answer. In the first round every compile waits, at its attn stage, for
// all four to get there: with a lock around whole compiles they never
// would, and the wait times out.
TEST(SequencePrograms, CompilesFromManyThreads) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::condition_variable arrived;
  int atAttn = 0;
  bool allMet = true;
  raspc::JitOptions watched;
  watched.afterStage = [&](raspc::Stage stage, mlir::ModuleOp) {
    if (stage != raspc::Stage::Attn)
      return;
    std::unique_lock<std::mutex> lock(mutex);
    ++atAttn;
    arrived.notify_all();
    if (!arrived.wait_for(lock, std::chrono::seconds(20), [&] { return atAttn >= kThreads; }))
      allMet = false;
  };
  std::vector<std::string> messages(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        int offset = 100 * t + round;
        std::string source = "def shift_sort(tokens: int) {\n"
                             "  let rank = selector_width(select(tokens, tokens, <));\n"
                             "  let sorted = aggregate(select(rank, indices, ==), tokens);\n"
                             "  return sorted + " +
                             std::to_string(offset) + ";\n}\n";
        std::string errors;
        // The first round watched (uncached), the others as hosts compile.
        auto program = raspc::JitProgram::compile(source, "thread.rasp",
                                                  round == 0 ? watched : raspc::JitOptions(),
                                                  &errors);
        std::vector<std::string> out;
        if (!program || !program->runTokens({"3", "1", "2"}, out, &errors) ||
            out != std::vector<std::string>{std::to_string(1 + offset), std::to_string(2 + offset),
                                            std::to_string(3 + offset)}) {
          ++failures;
          messages[t] += errors;
        }
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures, 0) << messages[0] << messages[1] << messages[2] << messages[3];
  EXPECT_TRUE(allMet) << "compiles did not run at the same time";
}

} // namespace
