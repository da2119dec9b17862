//===- Chip.cpp - What the GPU kernels assume of an NVIDIA chip -----------===//

#include "Conversion/GPU/Chip.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Regex.h"

/// The number in "sm_NN" or "sm_NNa", 0 for anything else.
static unsigned smVersion(const std::string &chip) {
  llvm::SmallVector<llvm::StringRef> groups;
  unsigned version = 0;
  if (!llvm::Regex("^sm_([0-9]+)a?$").match(chip, &groups) ||
      groups[1].getAsInteger(10, version))
    return 0;
  return version;
}

bool raspc::hasMmaSyncM16N8K16(const std::string &chip) { return smVersion(chip) >= 80; }

bool raspc::hasWgmma(const std::string &chip) { return chip == "sm_90a"; }

int64_t raspc::maxDynamicSharedBytes(const std::string &chip) {
  const int64_t staticBytes = 16;
  int64_t perBlock = hasWgmma(chip)              ? 227 * 1024
                     : hasMmaSyncM16N8K16(chip) ? 99 * 1024
                                                : 48 * 1024;
  return perBlock - staticBytes;
}
