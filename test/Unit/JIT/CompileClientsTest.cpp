//===- CompileClientsTest.cpp - one pipeline behind every client ---------===//
//
// Every shipped example through the three clients of the compile API with
// the same options -- the JIT (in process, watching each stage), the driver
// (`raspc --emit=STAGE`) and rasp-opt (`raspc-pipeline{to=STAGE}` on the
// attn IR) -- and each IR stage's text must be the same in all three. A
// client that assembled passes of its own, or dropped an option on the way
// to the pipeline, differs here.
//
//===----------------------------------------------------------------------===//

#include "raspc/Jit.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace {

const std::vector<raspc::Stage> kStages = {
    raspc::Stage::Attn, raspc::Stage::Tiled, raspc::Stage::Loops,
    raspc::Stage::LLVMDialect};

/// Runs `command` through the shell; its standard output, or nothing when
/// it fails.
std::optional<std::string> run(const std::string &command) {
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return std::nullopt;
  std::string out;
  std::array<char, 65536> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe))
    out.append(buffer.data(), n);
  if (pclose(pipe) != 0)
    return std::nullopt;
  return out;
}

/// The IR text without what differs between two runs of the same passes:
/// trailing blank lines, and how long NVVM serialization took (a property
/// of the gpu.object).
std::string normalized(std::string text) {
  static const std::regex serializationTime("LLVMIRToISATimeInMs = [0-9]+");
  text = std::regex_replace(text, serializationTime, "LLVMIRToISATimeInMs = ?");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

std::vector<std::string> examples() {
  std::vector<std::string> files;
  for (const char *dir : {"examples/rasp", "examples/models"})
    for (const auto &entry : std::filesystem::directory_iterator(
             std::filesystem::path(RASPC_SOURCE_DIR) / dir))
      if (entry.path().extension() == ".rasp")
        files.push_back(
            std::filesystem::relative(entry.path(), RASPC_SOURCE_DIR).string());
  std::sort(files.begin(), files.end());
  return files;
}

struct Client {
  std::string flags;    // raspc's
  std::string pipeline; // raspc-pipeline's, for the same options
};

/// Compiles `file` through the three clients and compares every stage.
void expectSameStages(const std::string &file, const raspc::JitOptions &options,
                      const Client &client, bool withJit) {
  std::string path = std::string(RASPC_SOURCE_DIR) + "/" + file;
  std::map<raspc::Stage, std::string> jit;
  if (withJit) {
    raspc::JitOptions watched = options;
    watched.afterStage = [&](raspc::Stage stage, mlir::ModuleOp module) {
      llvm::raw_string_ostream os(jit[stage]);
      module.print(os);
    };
    std::string errors;
    ASSERT_TRUE(raspc::JitProgram::compileFile(path, watched, &errors))
        << errors;
    ASSERT_EQ(jit.size(), kStages.size());
  }

  llvm::SmallString<64> attnFile;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("clients", "mlir", attnFile));
  llvm::FileRemover removeAttnFile(attnFile);
  for (raspc::Stage stage : kStages) {
    std::string name = raspc::stageName(stage);
    std::optional<std::string> driver =
        run(std::string("'") + RASPC_TOOLS_DIR + "/raspc' '" + path +
            "' --emit=" + name + " " + client.flags);
    ASSERT_TRUE(driver) << "raspc failed on " << file << " at " << name;
    if (withJit)
      EXPECT_EQ(normalized(*driver), normalized(jit[stage]))
          << file << ": the driver and the JIT differ at stage " << name;
    if (stage == raspc::Stage::Attn) {
      std::ofstream(attnFile.c_str()) << *driver;
      continue;
    }
    std::optional<std::string> opt = run(
        std::string("'") + RASPC_TOOLS_DIR + "/rasp-opt' '" + attnFile.c_str() +
        "' --pass-pipeline='builtin.module(raspc-pipeline{to=" + name + " " +
        client.pipeline + "})'");
    ASSERT_TRUE(opt) << "rasp-opt failed on " << file << " at " << name;
    EXPECT_EQ(normalized(*driver), normalized(*opt))
        << file << ": the driver and rasp-opt differ at stage " << name;
  }
}

class CompileClientsTest : public ::testing::TestWithParam<std::string> {};

// An AVX2 CPU whatever this machine is: its 8-lane vectors change the tiled
// stage's register tiles on AVX-512 hosts, so a client that drops the CPU
// differs there.
TEST_P(CompileClientsTest, SameIRAtEveryStageOnTheCPU) {
  raspc::JitOptions options;
  options.target.cpu.cpu = "x86-64-v3";
  expectSameStages(GetParam(), options, {"--mcpu=x86-64-v3", "mcpu=x86-64-v3"},
                   /*withJit=*/true);
}

// The CUDA target's options reach every client too. The JIT compiles for
// CUDA only where a driver is present.
TEST_P(CompileClientsTest, SameIRAtEveryStageForCUDA) {
  raspc::JitOptions options;
  options.target.kind = raspc::Target::Kind::CUDA;
  options.target.cuda.arch = "sm_90a";
  options.target.cuda.wgmma = true;
  expectSameStages(GetParam(), options,
                   {"--target=cuda --gpu-arch=sm_90a --gpu-wgmma",
                    "target=cuda gpu-arch=sm_90a gpu-wgmma=true"},
                   /*withJit=*/rasprt_cuda_init() == RASPRT_OK);
}

std::string testName(const ::testing::TestParamInfo<std::string> &info) {
  std::string name;
  for (char c : info.param)
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Examples, CompileClientsTest,
                         ::testing::ValuesIn(examples()), testName);

} // namespace
