//===- model_bench.cpp - a whole model through the JIT, timed --*- C++ -*-===//
//
// A checkpoint-sized model as a host runs it: compiled once by the JIT, its
// parameters loaded by name from a .safetensors file, then called once per
// input file, or (--packed) once for all of them: the files packed one
// after another with their lengths (CompileOptions::packedBatch).
// bench/models/minilm.py drives it beside PyTorch and onnxruntime.
//
//   raspc-bench-model MODEL.rasp --params W.safetensors --input NAME
//       [--packed] [--pack-per-call] --repeat R --out DIR IDS.npy...
//
// The weights go into a rasprt_panel_cache, as a host that loads them once
// would do, so the GEMMs pack them once (at the warm-up pass);
// --pack-per-call leaves them out (each call packs its panels).
//
// Prints JSON: compile_ms (JIT, machine code included), load_ms, batch_ms
// (the median over R passes of the whole batch after one warm-up pass),
// the passes' minimum, the packed panels' size and the process's peak RSS
// (compiler included). Writes DIR/out<i>.npy per file (packed: the
// result's row i).
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
  bool packed = false, panelCache = true;
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
    else if (arg == "--packed")
      packed = true;
    else if (arg == "--pack-per-call")
      panelCache = false;
    else if (arg == "--repeat")
      repeat = std::max(1, std::atoi(value().c_str()));
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: raspc-bench-model MODEL.rasp --params W.safetensors --input NAME "
                  "[--packed] [--pack-per-call] [--repeat R] [--out DIR] INPUT.npy...\n");
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
  raspc::JitOptions options;
  options.packedBatch = packed;
  auto program = raspc::JitProgram::compileFile(model, options, &errors);
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
    if (packed && names[i] == "lengths")
      continue;
    std::vector<int64_t> shape = program->argumentShape(i);
    if (rasprt_safetensors_load(weights, names[i].c_str(), program->argumentDtype(i),
                                static_cast<int32_t>(shape.size()), shape.data(),
                                &arguments[i]) != RASPRT_OK)
      die(rasprt_last_error());
  }
  rasprt_safetensors_close(weights);
  rasprt_panel_cache *panels = panelCache ? rasprt_panel_cache_create() : nullptr;
  for (size_t i = 0; panels && i < names.size(); ++i)
    if (arguments[i].data && rasprt_panel_cache_add(panels, &arguments[i]) != RASPRT_OK)
      die(rasprt_last_error());
  rasprt_panel_cache_use(panels);
  if (inputIndex == names.size())
    die("the program has no input named '" + inputName + "'");
  std::vector<rasprt_tensor> inputs(files.size());
  for (size_t f = 0; f < files.size(); ++f)
    if (rasprt_npy_read(files[f].c_str(), &inputs[f]) != RASPRT_OK)
      die(rasprt_last_error());
  // Packed: one input of every file's rows, and their lengths.
  rasprt_tensor all{}, lengths{};
  size_t lengthsIndex = names.size();
  if (packed) {
    lengthsIndex = std::find(names.begin(), names.end(), "lengths") - names.begin();
    int64_t rows = 0, count = static_cast<int64_t>(files.size());
    for (rasprt_tensor &t : inputs)
      rows += t.shape[0];
    std::vector<int64_t> shape(inputs[0].shape, inputs[0].shape + inputs[0].rank);
    shape[0] = rows;
    int64_t rowBytes = rasprt_tensor_numel(&inputs[0]) / std::max<int64_t>(inputs[0].shape[0], 1) *
                       rasprt_dtype_size(inputs[0].dtype);
    if (rasprt_tensor_alloc(&all, inputs[0].dtype, inputs[0].rank, shape.data()) != RASPRT_OK ||
        rasprt_tensor_alloc(&lengths, RASPRT_I32, 1, &count) != RASPRT_OK)
      die(rasprt_last_error());
    char *at = static_cast<char *>(all.data);
    for (size_t f = 0; f < files.size(); ++f) {
      std::memcpy(at, inputs[f].data, inputs[f].shape[0] * rowBytes);
      at += inputs[f].shape[0] * rowBytes;
      static_cast<int32_t *>(lengths.data)[f] = static_cast<int32_t>(inputs[f].shape[0]);
    }
  }
  double loadMs = msSince(start);

  // One call on `arguments` as they are set; `what` prefixes an error.
  auto call = [&](const std::string &what) {
    std::vector<const rasprt_tensor *> args;
    for (rasprt_tensor &t : arguments)
      args.push_back(&t);
    rasprt_tensor out;
    std::string error;
    if (!program->run(args, &out, &error))
      die(what + error);
    return out;
  };
  auto pass = [&](bool keep) {
    if (packed) {
      arguments[inputIndex] = all;
      arguments[lengthsIndex] = lengths;
      rasprt_tensor out = call("");
      if (keep && !outDir.empty())
        for (size_t f = 0; f < files.size(); ++f) {
          rasprt_tensor row;
          rasprt_tensor_view(&row,
                             static_cast<char *>(out.data) +
                                 f * out.shape[1] * rasprt_dtype_size(out.dtype),
                             out.dtype, out.rank - 1, out.shape + 1);
          std::string path = outDir + "/out" + std::to_string(f) + ".npy";
          if (rasprt_npy_write(path.c_str(), &row) != RASPRT_OK)
            die(rasprt_last_error());
        }
      rasprt_tensor_free(&out);
      return;
    }
    for (size_t f = 0; f < files.size(); ++f) {
      arguments[inputIndex] = inputs[f];
      rasprt_tensor out = call(files[f] + ": ");
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
  // VmHWM, not ru_maxrss: a child forked from a large process (the Python
  // driver) starts its ru_maxrss at the parent's size.
  double peakMiB = -1;
  if (std::FILE *status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, status))
      if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1)
        peakMiB = kib / 1024.0;
    std::fclose(status);
  }
  std::printf("{\"compile_ms\": %.1f, \"load_ms\": %.1f, \"batch_ms\": %.3f, "
              "\"batch_min_ms\": %.3f, \"threads\": %d, \"panels_mib\": %.1f, "
              "\"peak_rss_mib\": %.0f}\n",
              compileMs, loadMs, times[times.size() / 2], times.front(),
              rasprt_num_threads(), rasprt_panel_cache_bytes(panels) / 1048576.0, peakMiB);
  rasprt_panel_cache_use(nullptr);
  rasprt_panel_cache_free(panels);
  arguments[inputIndex] = rasprt_tensor{};
  if (packed)
    arguments[lengthsIndex] = rasprt_tensor{};
  rasprt_tensor_free(&all);
  rasprt_tensor_free(&lengths);
  for (rasprt_tensor &t : arguments)
    rasprt_tensor_free(&t);
  for (rasprt_tensor &t : inputs)
    rasprt_tensor_free(&t);
  return 0;
}
