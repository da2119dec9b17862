//===- model_bench.cpp - a whole model through the JIT, timed --*- C++ -*-===//
//
// A checkpoint-sized model as a host runs it: compiled once by the JIT, its
// parameters loaded by name from a .safetensors file, then called once per
// input (a batch of sentences is a loop of calls: the language has no batch
// axis yet). bench/models/minilm.py drives it beside PyTorch and
// onnxruntime.
//
//   raspc-bench-model MODEL.rasp --params W.safetensors --input NAME
//       --repeat R --out DIR IDS.npy...
//
// Prints JSON: compile_ms, load_ms, batch_ms (the median over R passes of
// the whole batch, each pass calling the program once per file, after one
// warm-up pass), and the runs' minimum. Writes DIR/out<i>.npy per file.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "raspc-bench-model: %s\n", message.c_str());
  std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
  std::string model, params, inputName, outDir;
  int repeat = 10;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--params")
      params = value();
    else if (arg == "--input")
      inputName = value();
    else if (arg == "--out")
      outDir = value();
    else if (arg == "--repeat")
      repeat = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: raspc-bench-model MODEL.rasp --params W.safetensors --input NAME "
                  "[--repeat R] [--out DIR] INPUT.npy...\n");
      return 0;
    } else if (model.empty())
      model = arg;
    else
      files.push_back(arg);
  }
  if (model.empty() || params.empty() || inputName.empty() || files.empty())
    die("usage: raspc-bench-model MODEL.rasp --params W.safetensors --input NAME INPUT.npy...");

  auto start = Clock::now();
  std::string errors;
  auto program = raspc::JitProgram::compileFile(model, {}, &errors);
  if (!program)
    die("compile failed:\n" + errors);
  double compileMs = msSince(start);

  start = Clock::now();
  std::vector<std::string> names = program->argumentNames();
  std::vector<rasprt_tensor> arguments(names.size());
  size_t inputIndex = names.size();
  rasprt_safetensors *weights = nullptr;
  if (rasprt_safetensors_open(params.c_str(), &weights) != RASPRT_OK)
    die(rasprt_last_error());
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == inputName) {
      inputIndex = i;
      continue;
    }
    std::vector<int64_t> shape = program->argumentShape(i);
    if (rasprt_safetensors_load(weights, names[i].c_str(), program->argumentDtype(i),
                                static_cast<int32_t>(shape.size()), shape.data(),
                                &arguments[i]) != RASPRT_OK)
      die(rasprt_last_error());
  }
  rasprt_safetensors_close(weights);
  if (inputIndex == names.size())
    die("the program has no input named '" + inputName + "'");
  std::vector<rasprt_tensor> inputs(files.size());
  for (size_t f = 0; f < files.size(); ++f)
    if (rasprt_npy_read(files[f].c_str(), &inputs[f]) != RASPRT_OK)
      die(rasprt_last_error());
  double loadMs = msSince(start);

  auto pass = [&](bool keep) {
    for (size_t f = 0; f < files.size(); ++f) {
      arguments[inputIndex] = inputs[f];
      std::vector<const rasprt_tensor *> args;
      for (rasprt_tensor &t : arguments)
        args.push_back(&t);
      rasprt_tensor out;
      std::string error;
      if (!program->run(args, &out, &error))
        die(files[f] + ": " + error);
      if (keep && !outDir.empty()) {
        std::string path = outDir + "/out" + std::to_string(f) + ".npy";
        if (rasprt_npy_write(path.c_str(), &out) != RASPRT_OK)
          die(rasprt_last_error());
      }
      rasprt_tensor_free(&out);
    }
  };
  pass(true); // warm-up, and the outputs
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    start = Clock::now();
    pass(false);
    times.push_back(msSince(start));
  }
  std::sort(times.begin(), times.end());
  std::printf("{\"compile_ms\": %.1f, \"load_ms\": %.1f, \"batch_ms\": %.3f, "
              "\"batch_min_ms\": %.3f, \"threads\": %d}\n",
              compileMs, loadMs, times[times.size() / 2], times.front(),
              rasprt_num_threads());
  arguments[inputIndex] = rasprt_tensor{};
  for (rasprt_tensor &t : arguments)
    rasprt_tensor_free(&t);
  for (rasprt_tensor &t : inputs)
    rasprt_tensor_free(&t);
  return 0;
}
