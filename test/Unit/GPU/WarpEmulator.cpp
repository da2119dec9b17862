//===- WarpEmulator.cpp - NVVM kernels run on the CPU ---------------------===//
//
// The tensor-core kernels emit warp-level code (mma.sync fragments, ldmatrix,
// shuffles across the lanes of a row, cp.async, warpgroup MMAs); nothing on
// a machine without a GPU runs it. This emulator does: a kernel lowered to
// NVVM has the few operations that need a GPU (special registers, mma.sync,
// wgmma, ldmatrix, shfl.sync, bar.sync, cp.async) replaced by calls into the
// functions below, is JIT-compiled for the host and launched with one host
// thread per GPU thread, the 32 lanes of a warp meeting at every warp-wide
// operation and the whole block at barriers. Blocks run one after another,
// so one region of host memory is every block's shared memory.
// The emulator implements the PTX ISA's fragment layouts for
// mma.m16n8k16.row.col independently of the kernel generators. Its
// schedule is one of many; every access to shared memory also goes to a
// race tracker (SharedMemoryRaces.h) that sees what any schedule could.
//
//===----------------------------------------------------------------------===//

#include "WarpEmulator.h"
#include "SharedMemoryRaces.h"

#include "Attn/IR/AttnDialect.h"
#include "Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/Regex.h"
#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <optional>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

using namespace mlir;
using raspc::emulator::Operand;

namespace {

//===----------------------------------------------------------------------===//
// The warp emulator
//===----------------------------------------------------------------------===//

constexpr int kLanes = 32;

/// Threads meeting: a warp's 32 lanes at warp-wide operations, a block's
/// threads at bar.sync.
struct Barrier {
  std::mutex mutex;
  std::condition_variable arrived;
  int parties = 0, waiting = 0;
  unsigned long generation = 0;

  void sync() {
    std::unique_lock<std::mutex> lock(mutex);
    unsigned long mine = generation;
    if (++waiting == parties) {
      waiting = 0;
      ++generation;
      arrived.notify_all();
      return;
    }
    arrived.wait(lock, [&] { return generation != mine; });
  }
};

/// The 32 lanes of a warp: their barrier and the slots they exchange
/// operands through.
struct Warp : Barrier {
  Warp() { parties = kLanes; }
  uint32_t a[kLanes][4], b[kLanes][2];
  float c[kLanes][4], value[kLanes];
  const unsigned char *row[kLanes];
};

/// Shared memory: blocks run one after another, so one region serves all.
/// As much as a block may have on an H100 (227 KiB), aligned like the GPU's
/// shared window: a wgmma descriptor keeps the low 18 bits of an address,
/// and 128-byte swizzling depends on address bits 4-9.
constexpr uintptr_t kSharedWindow = 256 * 1024;
alignas(kSharedWindow) unsigned char sharedMemory[227 * 1024];
/// Where a kernel's dynamic shared memory starts: 16-byte aligned only (all
/// CUDA promises), so kernels that need more must round up, as on a GPU.
constexpr size_t kDynamicSharedOffset = 16;

/// The four warps of a warpgroup: their barrier and the A fragments they
/// exchange for a wgmma with A in registers.
constexpr int kGroupThreads = 128;
struct Warpgroup : Barrier {
  uint32_t a[kGroupThreads][4];
};

struct ThreadContext {
  int tid[3], ctaid[3], ntid[3], nctaid[3];
  Barrier *block;
  Warp *warp;
  int lane;
  Warpgroup *group;

  /// The thread's index in its block.
  int linear() const { return tid[0] + ntid[0] * (tid[1] + ntid[1] * tid[2]); }
  /// The block's barriers passed so far: what orders its threads.
  unsigned long epoch() const { return block->generation; }
};
thread_local ThreadContext self;

raspc::emulator::SharedMemoryRaces races(sizeof sharedMemory);
size_t sharedOffset(const void *address) {
  return static_cast<const unsigned char *>(address) - sharedMemory;
}

} // namespace

float raspc::emulator::bf16ToFloat(uint16_t bits) {
  uint32_t word = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}
uint16_t raspc::emulator::floatToBF16(float f) { // round to nearest even
  uint32_t word;
  std::memcpy(&word, &f, 4);
  return uint16_t((word + 0x7fff + ((word >> 16) & 1)) >> 16);
}
float raspc::emulator::halfToFloat(uint16_t h) {
  int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  // Exponent 31: infinities and NaN (what an unwritten tile holds).
  float magnitude = exponent == 31  ? (mantissa ? NAN : INFINITY)
                    : exponent == 0 ? std::ldexp(float(mantissa), -24)
                                    : std::ldexp(float(mantissa | 0x400), exponent - 25);
  return (h & 0x8000) ? -magnitude : magnitude;
}

uint16_t raspc::emulator::floatToHalf(float f) {
  if (f == 0)
    return 0;
  float magnitude = std::fabs(f);
  int exponent = int(std::floor(std::log2(magnitude)));
  int mantissa = int(std::nearbyint((magnitude / std::ldexp(1.0f, exponent) - 1.0f) * 1024));
  if (mantissa == 1024) { // rounded up to the next power of two
    mantissa = 0;
    ++exponent;
  }
  return uint16_t((f < 0 ? 0x8000 : 0) | ((exponent + 15) << 10) | mantissa);
}

namespace {
using namespace raspc::emulator;

/// Special registers: code = 4 * register + dimension, registers tid,
/// ctaid, ntid, nctaid.
extern "C" int32_t emu_sreg(int32_t code) {
  const int *regs[] = {self.tid, self.ctaid, self.ntid, self.nctaid};
  return regs[code / 4][code % 4];
}

/// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.f32: every lane gives
/// its fragments, then reads its four results. Layouts from the PTX ISA
/// ("Matrix Fragments for mma.m16n8k16 with floating point type"): with
/// g = lane / 4 and t = lane % 4,
///   A: register r holds row g + 8 (r % 2), columns 2t + 8 (r / 2) + {0, 1}
///   B: register r holds rows (k) 2t + 8 r + {0, 1}, column (n) g
///   C, D: element i at row g + 8 (i / 2), column 2t + i % 2.
void mma(bool bf16, float *d, const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  Warp &warp = *self.warp;
  int lane = self.lane;
  std::memcpy(warp.a[lane], a, sizeof(uint32_t) * 4);
  std::memcpy(warp.b[lane], b, sizeof(uint32_t) * 2);
  std::memcpy(warp.c[lane], c, sizeof(float) * 4);
  warp.sync();
  auto decode = [&](uint32_t word, int half) {
    uint16_t bits = uint16_t(word >> (16 * half));
    return bf16 ? bf16ToFloat(bits) : halfToFloat(bits);
  };
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < kLanes; ++l) {
    int g = l / 4, t = l % 4;
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h)
        A[g + 8 * (r % 2)][2 * t + 8 * (r / 2) + h] = decode(warp.a[l][r], h);
    for (int r = 0; r < 2; ++r)
      for (int h = 0; h < 2; ++h)
        B[2 * t + 8 * r + h][g] = decode(warp.b[l][r], h);
    for (int i = 0; i < 4; ++i)
      C[g + 8 * (i / 2)][2 * t + i % 2] = warp.c[l][i];
  }
  int g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    int row = g + 8 * (i / 2), col = 2 * t + i % 2;
    float sum = C[row][col];
    for (int k = 0; k < 16; ++k)
      sum += A[row][k] * B[k][col];
    d[i] = sum;
  }
  warp.sync(); // nobody refills the slots before everyone has read them
}
extern "C" void emu_mma_bf16(float *d, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                             uint32_t b0, uint32_t b1, float c0, float c1, float c2, float c3) {
  uint32_t a[] = {a0, a1, a2, a3}, b[] = {b0, b1};
  float c[] = {c0, c1, c2, c3};
  mma(true, d, a, b, c);
}
/// Upstream lowers f16 fragments as vector<2xf16> registers; the call
/// receives them as their 32 bits.
extern "C" void emu_mma_f16(float *d, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                            uint32_t b0, uint32_t b1, float c0, float c1, float c2, float c3) {
  uint32_t a[] = {a0, a1, a2, a3}, b[] = {b0, b1};
  float c[] = {c0, c1, c2, c3};
  mma(false, d, a, b, c);
}

/// wgmma.mma_async.sync.aligned.m64nNk16.f32.{bf16,f16}, both operands from
/// shared memory: each of the warpgroup's threads computes its own
/// accumulators `d` (N / 2 floats, updated in place) from the operands the
/// descriptors name. Implemented from the PTX ISA ("Asynchronous
/// Warpgroup Level Matrix Shared Memory Layout", "Matrix Descriptor
/// Format", the m64nNk16 accumulator fragment): 128-byte swizzled layouts
/// only, K-major ((8,m),(T,2k)):((8T,SBO),(1,T)) or MN-major
/// ((T,8,m),(8,k)):((1,T,LBO),(8T,SBO)) with T = 8 elements of 16 bits,
/// then Swizzle<3,4,3> on the shared address (bits 4-6 ^= bits 7-9). The
/// operands are read when the MMA is issued; `races` holds them read until
/// the wait_group that retires it.
std::atomic<int> badDescriptors{0};
/// A wgmma operand in shared memory, as its descriptor names it.
struct SharedOperand {
  uint64_t start, leading, stride;
  bool mnMajor;
  static SharedOperand decode(uint64_t desc, bool mnMajor) {
    if (desc >> 62 != 1 || ((desc >> 49) & 7) != 0) // 128-byte swizzle, base offset 0
      ++badDescriptors;
    return {(desc & 0x3fff) << 4, ((desc >> 16) & 0x3fff) << 4, ((desc >> 32) & 0x3fff) << 4,
            mnMajor};
  }
  /// Where element (i, k) is: i along M (A) or N (B).
  uint64_t offset(int i, int k) const {
    uint64_t offset = mnMajor ? start + (i / 64) * leading + (i % 64) * 2 + (k / 8) * stride +
                                    (k % 8) * 128
                              : start + (i / 8) * stride + (i % 8) * 128 + k * 2;
    return offset ^ ((offset >> 7) & 7) << 4;
  }
  float at(int i, int k, bool bf16) const {
    uint16_t bits;
    std::memcpy(&bits, sharedMemory + offset(i, k), 2);
    return bf16 ? bf16ToFloat(bits) : halfToFloat(bits);
  }
  /// Adds the cells of `races` the operand's `extent` x 16 elements are
  /// to `cells`.
  void addCells(int extent, std::vector<size_t> &cells) const {
    for (int i = 0; i < extent; ++i)
      for (int k = 0; k < 16; ++k)
        cells.push_back(offset(i, k) / SharedMemoryRaces::kCellBytes);
  }
};

/// The wgmmas a thread issued (their accesses to shared memory in
/// `races`), not yet committed and committed as groups: one thread per
/// warpgroup keeps them, the wgmma being one operation of the warpgroup.
/// (So another thread of the warpgroup writing their operands after its
/// own wait_group, with no barrier between, would be reported: stricter
/// than the hardware, and no kernel here does it.)
thread_local std::vector<int> uncommittedWgmmas;
thread_local std::deque<std::vector<int>> committedWgmmas;
void beginWgmma(const SharedOperand *a, const SharedOperand &b, int n) {
  if (self.linear() % kGroupThreads != 0)
    return;
  std::vector<size_t> cells;
  if (a)
    a->addCells(64, cells);
  b.addCells(n, cells);
  uncommittedWgmmas.push_back(races.begin(/*write=*/false, "wgmma", self.linear(), self.epoch(),
                                          cells, /*throughAsyncProxy=*/true));
}
extern "C" void emu_wgmma_commit() {
  committedWgmmas.push_back(std::move(uncommittedWgmmas));
  uncommittedWgmmas.clear();
}
extern "C" void emu_wgmma_wait(int32_t pending) {
  while (committedWgmmas.size() > static_cast<size_t>(pending)) {
    for (int id : committedWgmmas.front())
      races.complete(id, self.epoch());
    committedWgmmas.pop_front();
  }
}
extern "C" void emu_wgmma(float *d, uint64_t descA, uint64_t descB, int32_t n,
                          int32_t transA, int32_t transB, int32_t bf16, int32_t accumulate) {
  SharedOperand a = SharedOperand::decode(descA, transA),
                b = SharedOperand::decode(descB, transB);
  beginWgmma(&a, b, n);
  int warp = self.linear() / kLanes % 4, g = self.lane / 4, t = self.lane % 4;
  for (int i = 0; i < n / 2; ++i) {
    int row = 16 * warp + g + 8 * (i % 4 / 2), col = 8 * (i / 4) + 2 * t + i % 2;
    float sum = accumulate ? d[i] : 0.0f;
    for (int k = 0; k < 16; ++k)
      sum += a.at(row, k, bf16) * b.at(col, k, bf16);
    d[i] = sum;
  }
}

/// The same with A from registers: each thread gives its four registers of
/// the A fragment (per warp, 16 rows in mma.m16n8k16's A layout: register r
/// holds row g + 8 (r % 2), columns 2t + 8 (r / 2) + {0, 1}), the warpgroup
/// meets, and each thread computes its accumulators.
extern "C" void emu_wgmma_rs(float *d, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                             uint64_t descB, int32_t n, int32_t transB, int32_t bf16) {
  Warpgroup &group = *self.group;
  int inGroup = self.linear() % kGroupThreads;
  uint32_t mine[] = {a0, a1, a2, a3};
  std::memcpy(group.a[inGroup], mine, sizeof mine);
  group.sync();
  auto decode = [&](uint32_t word, int half) {
    uint16_t bits = uint16_t(word >> (16 * half));
    return bf16 ? bf16ToFloat(bits) : halfToFloat(bits);
  };
  float A[64][16];
  for (int q = 0; q < kGroupThreads; ++q) {
    int w = q / kLanes, g = q % kLanes / 4, t = q % 4;
    for (int r = 0; r < 4; ++r)
      for (int h = 0; h < 2; ++h)
        A[16 * w + g + 8 * (r % 2)][2 * t + 8 * (r / 2) + h] = decode(group.a[q][r], h);
  }
  SharedOperand b = SharedOperand::decode(descB, transB);
  beginWgmma(nullptr, b, n);
  int warp = inGroup / kLanes, g = self.lane / 4, t = self.lane % 4;
  for (int i = 0; i < n / 2; ++i) {
    int row = 16 * warp + g + 8 * (i % 4 / 2), col = 8 * (i / 4) + 2 * t + i % 2;
    float sum = d[i];
    for (int k = 0; k < 16; ++k)
      sum += A[row][k] * b.at(col, k, bf16);
    d[i] = sum;
  }
  group.sync(); // nobody refills the slots before everyone has read them
}

/// shfl.sync.bfly over the whole warp.
extern "C" float emu_shfl_bfly(float value, int32_t offset) {
  Warp &warp = *self.warp;
  warp.value[self.lane] = value;
  warp.sync();
  float other = warp.value[self.lane ^ offset];
  warp.sync();
  return other;
}

/// ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].b16: lanes 8 m to 8 m + 7 give
/// the addresses of the rows of matrix m; lane l receives, per matrix, row
/// l / 4, columns 2 (l % 4) + {0, 1} (low half first), or with .trans
/// rows 2 (l % 4) + {0, 1} of column l / 4.
extern "C" void emu_ldmatrix(uint32_t *out, const unsigned char *address, int32_t matrices,
                             int32_t transpose) {
  Warp &warp = *self.warp;
  int lane = self.lane;
  warp.row[lane] = address;
  if (lane < 8 * matrices)
    races.access(/*write=*/false, "ldmatrix", self.linear(), self.epoch(), sharedOffset(address),
                 16);
  warp.sync();
  auto element = [&](int matrix, int r, int column) {
    uint16_t bits;
    std::memcpy(&bits, warp.row[8 * matrix + r] + 2 * column, 2);
    return uint32_t(bits);
  };
  for (int m = 0; m < matrices; ++m)
    out[m] = transpose ? element(m, 2 * (lane % 4), lane / 4) |
                             element(m, 2 * (lane % 4) + 1, lane / 4) << 16
                       : element(m, lane / 4, 2 * (lane % 4)) |
                             element(m, lane / 4, 2 * (lane % 4) + 1) << 16;
  warp.sync();
}

/// cp.async: a copy lands in shared memory only when a wait covers its
/// group, so a kernel that reads before waiting reads stale (poisoned) data.
struct AsyncCopy {
  void *destination;
  const void *source;
  int32_t bytes;
  int race; // the copy's id in `races`
};
thread_local std::vector<AsyncCopy> uncommitted;
thread_local std::deque<std::vector<AsyncCopy>> committed;
std::atomic<int> asyncCopies{0};
extern "C" void emu_cp_async(void *destination, const void *source, int32_t bytes) {
  uncommitted.push_back(
      {destination, source, bytes,
       races.begin(/*write=*/true, "cp.async", self.linear(), self.epoch(),
                   SharedMemoryRaces::cellsOf(sharedOffset(destination), bytes))});
  ++asyncCopies;
}
extern "C" void emu_cp_async_commit() {
  committed.push_back(std::move(uncommitted));
  uncommitted.clear();
}
extern "C" void emu_cp_async_wait(int32_t pending) {
  while (committed.size() > static_cast<size_t>(pending)) {
    for (const AsyncCopy &copy : committed.front()) {
      std::memcpy(copy.destination, copy.source, copy.bytes);
      races.complete(copy.race, self.epoch());
    }
    committed.pop_front();
  }
}

// libdevice's functions the kernels call, by their host equivalents.
extern "C" float emu_exp2f(float x) { return std::exp2(x); }
extern "C" float emu_expf(float x) { return std::exp(x); }
extern "C" float emu_erff(float x) { return std::erf(x); }
extern "C" float emu_tanhf(float x) { return std::tanh(x); }
extern "C" float emu_rsqrtf(float x) { return 1.0f / std::sqrt(x); }
extern "C" float emu_sqrtf(float x) { return std::sqrt(x); }
extern "C" float emu_logf(float x) { return std::log(x); }
extern "C" float emu_fmaf(float x, float y, float z) { return std::fma(x, y, z); }
struct HostFunction {
  const char *name;
  void *function;
};
#define HOST_FUNCTION(name) {#name, reinterpret_cast<void *>(&emu_##name)}
const HostFunction libdevice[] = {HOST_FUNCTION(exp2f), HOST_FUNCTION(expf),  HOST_FUNCTION(erff),
                                  HOST_FUNCTION(tanhf), HOST_FUNCTION(rsqrtf), HOST_FUNCTION(sqrtf),
                                  HOST_FUNCTION(logf),  HOST_FUNCTION(fmaf)};
#undef HOST_FUNCTION

/// Vector accesses the kernel claims aligned that are not: a GPU faults
/// (misaligned address), x86 would not notice.
std::atomic<int> misalignedAccesses{0};
extern "C" void emu_check_alignment(const void *address, int64_t alignment) {
  if (reinterpret_cast<uintptr_t>(address) % alignment != 0)
    ++misalignedAccesses;
}

extern "C" void emu_barrier() { self.block->sync(); }

extern "C" void emu_fence_proxy_async() { races.fenceProxy(self.linear(), self.epoch()); }

extern "C" void emu_shared_access(const void *address, int64_t bytes, int32_t write) {
  races.access(write, write ? "st.shared" : "ld.shared", self.linear(), self.epoch(),
               sharedOffset(address), bytes);
}

/// Runs `kernel` over the grid, block after block, a host thread per GPU
/// thread.
void launch(void (*kernel)(void **), void **args, const int grid[3], const int block[3]) {
  int threads = block[0] * block[1] * block[2];
  ASSERT_EQ(threads % kLanes, 0);
  for (int z = 0; z < grid[2]; ++z)
    for (int y = 0; y < grid[1]; ++y)
      for (int x = 0; x < grid[0]; ++x) {
        std::vector<Warp> warps(threads / kLanes);
        std::vector<Warpgroup> groups((threads + kGroupThreads - 1) / kGroupThreads);
        for (size_t g = 0; g < groups.size(); ++g)
          groups[g].parties = std::min<int>(kGroupThreads, threads - int(g) * kGroupThreads);
        Barrier shared;
        shared.parties = threads;
        std::memset(sharedMemory, 0xff, sizeof sharedMemory); // no data left from the last block
        races.startBlock();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
          pool.emplace_back([&, t] {
            self = {{t % block[0], t / block[0] % block[1], t / (block[0] * block[1])},
                    {x, y, z},
                    {block[0], block[1], block[2]},
                    {grid[0], grid[1], grid[2]},
                    &shared,
                    &warps[t / kLanes],
                    t % kLanes,
                    &groups[t / kGroupThreads]};
            kernel(args);
          });
        for (auto &thread : pool)
          thread.join();
      }
}

//===----------------------------------------------------------------------===//
// NVVM -> calls into the emulator
//===----------------------------------------------------------------------===//

LLVM::LLVMFuncOp declare(ModuleOp module, StringRef name, Type result, ArrayRef<Type> args) {
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return existing;
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToStart(module.getBody());
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), name,
                                  LLVM::LLVMFunctionType::get(result, args));
}

/// Calls `callee` with a pointer to stack space for the fields of
/// `structType` (all of one type) followed by `args`, and returns the
/// fields as that struct: the emulator's functions return results through
/// memory, whose C ABI is plain where a struct of four floats' is not.
Value callReturningStruct(OpBuilder &b, Location loc, LLVM::LLVMFuncOp callee,
                          ArrayRef<Value> args, Type structType) {
  auto fields = cast<LLVM::LLVMStructType>(structType).getBody();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value one = LLVM::ConstantOp::create(b, loc, b.getI32Type(), b.getI32IntegerAttr(1));
  Value out = LLVM::AllocaOp::create(b, loc, ptr,
                                     LLVM::LLVMArrayType::get(fields[0], fields.size()), one);
  SmallVector<Value> operands{out};
  llvm::append_range(operands, args);
  LLVM::CallOp::create(b, loc, callee, operands);
  Value result = LLVM::UndefOp::create(b, loc, structType);
  for (int64_t i = 0; i < static_cast<int64_t>(fields.size()); ++i) {
    Value at = LLVM::GEPOp::create(b, loc, ptr, fields[i], out,
                                   ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
    result = LLVM::InsertValueOp::create(b, loc, result, LLVM::LoadOp::create(b, loc, fields[i], at),
                                         ArrayRef<int64_t>{i});
  }
  return result;
}

/// Calls `callee` with a pointer to stack space holding `inputs` (of the
/// struct's one field type) followed by `args`, and returns what the callee
/// left there as `structType`.
Value callUpdatingStruct(OpBuilder &b, Location loc, LLVM::LLVMFuncOp callee,
                         ValueRange inputs, Type type, ArrayRef<Value> args) {
  auto structType = cast<LLVM::LLVMStructType>(type);
  auto fields = structType.getBody();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value one = LLVM::ConstantOp::create(b, loc, b.getI32Type(), b.getI32IntegerAttr(1));
  Value memory = LLVM::AllocaOp::create(b, loc, ptr,
                                        LLVM::LLVMArrayType::get(fields[0], fields.size()), one);
  auto field = [&](int64_t i) {
    return LLVM::GEPOp::create(b, loc, ptr, fields[i], memory,
                               ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
  };
  for (auto [i, input] : llvm::enumerate(inputs))
    LLVM::StoreOp::create(b, loc, input, field(static_cast<int64_t>(i)));
  SmallVector<Value> operands{memory};
  llvm::append_range(operands, args);
  LLVM::CallOp::create(b, loc, callee, operands);
  Value result = LLVM::UndefOp::create(b, loc, structType);
  for (int64_t i = 0; i < static_cast<int64_t>(fields.size()); ++i)
    result = LLVM::InsertValueOp::create(
        b, loc, result, LLVM::LoadOp::create(b, loc, fields[i], field(i)), ArrayRef<int64_t>{i});
  return result;
}

/// Whether `op` is a warpgroup MMA: the NVVM op or Wgmma.h's inline PTX
/// (A from registers).
bool isWgmma(Operation *op) {
  if (isa<NVVM::WgmmaMmaAsyncOp>(op))
    return true;
  auto inlineAsm = dyn_cast<LLVM::InlineAsmOp>(op);
  return inlineAsm && inlineAsm.getAsmString().contains("wgmma.mma_async");
}

/// A wgmma's accumulators are the tensor cores' until the wait_group that
/// retires its group: a kernel reading them earlier (but as the next MMA's
/// accumulator) reads whatever is there on a GPU, while the emulator, which
/// runs the MMA when it is issued, would read the right numbers. Checked
/// block by block (values carried to another block, like a K loop's
/// accumulator, are not followed); returns a description of the first such
/// read, or "".
std::string readBeforeRetired(ModuleOp module) {
  std::string found;
  module.walk([&](Block *block) {
    if (!found.empty())
      return;
    DenseSet<Operation *> inFlight; // issued, not retired
    SmallVector<Operation *> uncommitted;
    std::deque<SmallVector<Operation *>> committed;
    // The wgmma a value is (a field of) the result of.
    auto mmaOf = [&](Value v) -> Operation * {
      while (auto extract = v.getDefiningOp<LLVM::ExtractValueOp>())
        v = extract.getContainer();
      Operation *def = v.getDefiningOp();
      return def && isWgmma(def) ? def : nullptr;
    };
    for (Operation &op : *block) {
      if (isa<NVVM::WgmmaGroupSyncAlignedOp>(op)) {
        committed.push_back(std::move(uncommitted));
        uncommitted.clear();
        continue;
      }
      if (auto wait = dyn_cast<NVVM::WgmmaWaitGroupSyncOp>(op)) {
        while (committed.size() > wait.getGroup()) {
          for (Operation *mma : committed.front())
            inFlight.erase(mma);
          committed.pop_front();
        }
        continue;
      }
      if (isWgmma(&op)) {
        uncommitted.push_back(&op);
        inFlight.insert(&op);
        continue;
      }
      if (isa<LLVM::ExtractValueOp, LLVM::BrOp, LLVM::CondBrOp>(op))
        continue;
      for (Value operand : op.getOperands())
        if (Operation *mma = mmaOf(operand); mma && inFlight.contains(mma)) {
          found = "the accumulators of a wgmma read before the wait_group that retires it, by " +
                  op.getName().getStringRef().str();
          return;
        }
    }
  });
  return found;
}

/// Rewrites the NVVM operations of the kernels in `module` into calls;
/// returns a description of the first it cannot emulate.
std::string emulateNVVM(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  Type i32 = IntegerType::get(ctx, 32), f32 = Float32Type::get(ctx);
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  std::string unsupported;
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<NVVM::NVVMDialect>(op->getDialect()))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    StringRef name = op->getName().getStringRef();
    // Ops with no results: a call to the emulator's function instead.
    auto replaceByCall = [&](StringRef function, ValueRange args) {
      auto callee = declare(module, function, LLVM::LLVMVoidType::get(ctx),
                            llvm::to_vector(args.getTypes()));
      LLVM::CallOp::create(b, loc, callee, args);
      op->erase();
    };
    if (name.consume_front("nvvm.read.ptx.sreg.")) {
      int reg = StringSwitch<int>(name.drop_back(2))
                    .Case("tid", 0).Case("ctaid", 1).Case("ntid", 2).Case("nctaid", 3)
                    .Default(-1);
      int dim = name.back() - 'x';
      if (reg < 0 || dim < 0 || dim > 2) {
        unsupported = op->getName().getStringRef().str();
        break;
      }
      auto callee = declare(module, "emu_sreg", i32, {i32});
      Value code = LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(4 * reg + dim));
      Value v = LLVM::CallOp::create(b, loc, callee, ValueRange{code}).getResult();
      if (op->getResult(0).getType() != i32)
        v = LLVM::ZExtOp::create(b, loc, op->getResult(0).getType(), v);
      op->getResult(0).replaceAllUsesWith(v);
      op->erase();
      continue;
    }
    if (auto mmaOp = dyn_cast<NVVM::MmaOp>(op)) {
      auto shape = mmaOp.getShapeAttr();
      bool bf16 = mmaOp.getMultiplicandAPtxType() == NVVM::MMATypes::bf16;
      bool f16 = mmaOp.getMultiplicandAPtxType() == NVVM::MMATypes::f16;
      if (shape.getM() != 16 || shape.getN() != 8 || shape.getK() != 16 || (!bf16 && !f16) ||
          mmaOp.getOperandA().size() != 4 || mmaOp.getOperandB().size() != 2 ||
          mmaOp.getOperandC().size() != 4) {
        unsupported = "this nvvm.mma.sync shape or type";
        break;
      }
      SmallVector<Type> argTypes{ptr};
      argTypes.append(6, i32);
      argTypes.append(4, f32);
      auto callee = declare(module, bf16 ? "emu_mma_bf16" : "emu_mma_f16",
                            LLVM::LLVMVoidType::get(ctx), argTypes);
      SmallVector<Value> args;
      for (Value v : llvm::concat<Value>(mmaOp.getOperandA(), mmaOp.getOperandB()))
        args.push_back(v.getType() == i32 ? v : LLVM::BitcastOp::create(b, loc, i32, v));
      llvm::append_range(args, mmaOp.getOperandC());
      mmaOp.getRes().replaceAllUsesWith(
          callReturningStruct(b, loc, callee, args, mmaOp.getRes().getType()));
      op->erase();
      continue;
    }
    if (auto shfl = dyn_cast<NVVM::ShflOp>(op)) {
      if (shfl.getKind() != NVVM::ShflKind::bfly || shfl.getVal().getType() != f32) {
        unsupported = "this nvvm.shfl.sync";
        break;
      }
      auto callee = declare(module, "emu_shfl_bfly", f32, {f32, i32});
      Value v = LLVM::CallOp::create(b, loc, callee, ValueRange{shfl.getVal(), shfl.getOffset()})
                    .getResult();
      if (auto structType = dyn_cast<LLVM::LLVMStructType>(shfl.getType())) {
        Value result = LLVM::UndefOp::create(b, loc, structType);
        result = LLVM::InsertValueOp::create(b, loc, result, v, ArrayRef<int64_t>{0});
        Value valid = LLVM::ConstantOp::create(b, loc, IntegerType::get(ctx, 1),
                                               b.getBoolAttr(true));
        v = LLVM::InsertValueOp::create(b, loc, result, valid, ArrayRef<int64_t>{1});
      }
      shfl.getResult().replaceAllUsesWith(v);
      op->erase();
      continue;
    }
    if (auto ld = dyn_cast<NVVM::LdMatrixOp>(op)) {
      auto structType = cast<LLVM::LLVMStructType>(ld.getType());
      int32_t matrices = ld.getNum();
      auto callee = declare(module, "emu_ldmatrix", LLVM::LLVMVoidType::get(ctx),
                            {ptr, ld.getPtr().getType(), i32, i32});
      Value count = LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(matrices));
      Value transpose = LLVM::ConstantOp::create(
          b, loc, i32, b.getI32IntegerAttr(ld.getLayout() == NVVM::MMALayout::col));
      ld.getResult().replaceAllUsesWith(callReturningStruct(
          b, loc, callee, {ld.getPtr(), count, transpose}, structType));
      op->erase();
      continue;
    }
    if (auto copy = dyn_cast<NVVM::CpAsyncOp>(op)) {
      if (copy.getCpSize()) {
        unsupported = "cp.async with a source size";
        break;
      }
      Value bytes = LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(copy.getSize()));
      replaceByCall("emu_cp_async", {LLVM::AddrSpaceCastOp::create(b, loc, ptr, copy.getDst()),
                                     LLVM::AddrSpaceCastOp::create(b, loc, ptr, copy.getSrc()),
                                     bytes});
      continue;
    }
    if (isa<NVVM::CpAsyncCommitGroupOp>(op)) {
      replaceByCall("emu_cp_async_commit", {});
      continue;
    }
    if (auto wait = dyn_cast<NVVM::CpAsyncWaitGroupOp>(op)) {
      replaceByCall("emu_cp_async_wait",
                    {LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(wait.getN()))});
      continue;
    }
    if (isa<NVVM::Barrier0Op>(op)) {
      replaceByCall("emu_barrier", {});
      continue;
    }
    if (auto wgmma = dyn_cast<NVVM::WgmmaMmaAsyncOp>(op)) {
      auto shape = wgmma.getShape();
      NVVM::WGMMATypes type = wgmma.getTypeA();
      if (shape.getM() != 64 || shape.getK() != 16 || type != wgmma.getTypeB() ||
          (type != NVVM::WGMMATypes::bf16 && type != NVVM::WGMMATypes::f16) ||
          wgmma.getTypeD() != NVVM::WGMMATypes::f32 ||
          wgmma.getScaleA() != NVVM::WGMMAScaleIn::one ||
          wgmma.getScaleB() != NVVM::WGMMAScaleIn::one) {
        unsupported = "this nvvm.wgmma.mma_async shape, type or scale";
        break;
      }
      Type i64 = IntegerType::get(ctx, 64);
      auto callee = declare(module, "emu_wgmma", LLVM::LLVMVoidType::get(ctx),
                            {ptr, i64, i64, i32, i32, i32, i32, i32});
      auto constant = [&](int v) {
        return LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(v));
      };
      // PTX's imm-trans-a / imm-trans-b: A col or B row is MN-major.
      SmallVector<Value> inputs;
      for (int64_t i = 0; i < shape.getN() / 2; ++i)
        inputs.push_back(LLVM::ExtractValueOp::create(b, loc, wgmma.getInouts(), i));
      Value result = callUpdatingStruct(
          b, loc, callee, inputs, wgmma.getInouts().getType(),
          {wgmma.getDescriptorA(), wgmma.getDescriptorB(), constant(shape.getN()),
           constant(wgmma.getLayoutA() == NVVM::MMALayout::col),
           constant(wgmma.getLayoutB() == NVVM::MMALayout::row),
           constant(type == NVVM::WGMMATypes::bf16),
           constant(wgmma.getScaleD() == NVVM::WGMMAScaleOut::one)});
      wgmma.getResult().replaceAllUsesWith(result);
      op->erase();
      continue;
    }
    // wgmma groups: when their reads of shared memory end, for `races`.
    if (isa<NVVM::WgmmaGroupSyncAlignedOp>(op)) {
      replaceByCall("emu_wgmma_commit", {});
      continue;
    }
    if (auto wait = dyn_cast<NVVM::WgmmaWaitGroupSyncOp>(op)) {
      replaceByCall("emu_wgmma_wait",
                    {LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(wait.getGroup()))});
      continue;
    }
    if (isa<NVVM::FenceProxyOp>(op)) {
      replaceByCall("emu_fence_proxy_async", {});
      continue;
    }
    // An ordering the emulator has by construction: MMAs complete when
    // issued.
    if (isa<NVVM::WgmmaFenceAlignedOp>(op)) {
      op->erase();
      continue;
    }
    unsupported = op->getName().getStringRef().str();
    break;
  }
  // Inline PTX: the register-A wgmma of Wgmma.h's emitWgmmaRegisterA,
  // recognized by its text: "...m64n<N>k16.f32.<T>.<T> {d}, {a}, $desc, p, 1,
  // 1, <trans-b>;".
  SmallVector<LLVM::InlineAsmOp> asms;
  module.walk([&](LLVM::InlineAsmOp op) { asms.push_back(op); });
  for (LLVM::InlineAsmOp op : asms) {
    if (!unsupported.empty())
      break;
    // Wgmma.h's register fence: no instruction, the operands are the
    // results.
    if (op.getAsmString().empty()) {
      OpBuilder b(op);
      Value result = op.getOperands()[0];
      if (auto structType = dyn_cast<LLVM::LLVMStructType>(op.getRes().getType())) {
        result = LLVM::UndefOp::create(b, op.getLoc(), structType);
        for (auto [i, v] : llvm::enumerate(op.getOperands()))
          result = LLVM::InsertValueOp::create(b, op.getLoc(), result, v,
                                               ArrayRef<int64_t>{static_cast<int64_t>(i)});
      }
      op.getRes().replaceAllUsesWith(result);
      op->erase();
      continue;
    }
    SmallVector<StringRef> groups;
    llvm::Regex pattern("wgmma\\.mma_async\\.sync\\.aligned\\.m64n([0-9]+)k16\\.f32\\.(bf16|f16)\\."
                        "(bf16|f16) \\{[^}]*\\}, \\{[^}]*\\}, \\$[0-9]+, p, 1, 1, ([01]);");
    int64_t n = 0;
    if (!pattern.match(op.getAsmString(), &groups) || groups[1].getAsInteger(10, n) ||
        static_cast<int64_t>(op.getOperands().size()) != n / 2 + 5) {
      unsupported = "this inline assembly: " + op.getAsmString().str();
      break;
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    Type i64 = IntegerType::get(ctx, 64);
    auto callee = declare(module, "emu_wgmma_rs", LLVM::LLVMVoidType::get(ctx),
                          {ptr, i32, i32, i32, i32, i64, i32, i32, i32});
    auto constant = [&](int64_t v) {
      return LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(v));
    };
    ValueRange operands = op.getOperands();
    SmallVector<Value> args(operands.begin() + n / 2, operands.end());
    llvm::append_range(args, SmallVector<Value>{constant(n), constant(groups[4] == "1"),
                                                constant(groups[2] == "bf16")});
    op.getRes().replaceAllUsesWith(
        callUpdatingStruct(b, loc, callee, operands.take_front(n / 2), op.getRes().getType(), args));
    op->erase();
  }
  // Loads and stores: those of shared memory told to `races`, vector ones
  // checked for the alignment they claim.
  SmallVector<Operation *> accesses;
  module.walk([&](Operation *op) {
    if (isa<LLVM::LoadOp, LLVM::StoreOp>(op))
      accesses.push_back(op);
  });
  DataLayout layout(module);
  for (Operation *op : accesses) {
    auto load = dyn_cast<LLVM::LoadOp>(op);
    auto store = dyn_cast<LLVM::StoreOp>(op);
    Type type = load ? load.getType() : store.getValue().getType();
    Value at = load ? load.getAddr() : store.getAddr();
    if (cast<LLVM::LLVMPointerType>(at.getType()).getAddressSpace() == 3) {
      OpBuilder b(op);
      Type i64 = IntegerType::get(ctx, 64);
      auto callee = declare(module, "emu_shared_access", LLVM::LLVMVoidType::get(ctx),
                            {ptr, i64, i32});
      LLVM::CallOp::create(
          b, op->getLoc(), callee,
          ValueRange{LLVM::AddrSpaceCastOp::create(b, op->getLoc(), ptr, at),
                     LLVM::ConstantOp::create(
                         b, op->getLoc(), i64,
                         b.getI64IntegerAttr(static_cast<int64_t>(layout.getTypeSize(type)))),
                     LLVM::ConstantOp::create(b, op->getLoc(), i32, b.getI32IntegerAttr(!load))});
    }
    std::optional<uint64_t> alignment = load ? load.getAlignment() : store.getAlignment();
    if (!isa<VectorType>(type) || !alignment || *alignment <= 1)
      continue;
    Value address = load ? load.getAddr() : store.getAddr();
    OpBuilder b(op);
    if (address.getType() != ptr) // shared memory: the same address on the host
      address = LLVM::AddrSpaceCastOp::create(b, op->getLoc(), ptr, address);
    Type i64 = IntegerType::get(ctx, 64);
    auto callee =
        declare(module, "emu_check_alignment", LLVM::LLVMVoidType::get(ctx), {ptr, i64});
    Value bytes = LLVM::ConstantOp::create(b, op->getLoc(), i64,
                                           b.getI64IntegerAttr(static_cast<int64_t>(*alignment)));
    LLVM::CallOp::create(b, op->getLoc(), callee, ValueRange{address, bytes});
  }
  // Dynamic shared memory: the emulator's region, resolved by name.
  module.walk([&](LLVM::GlobalOp global) {
    if (global.getAddrSpace() == 3) {
      global.setLinkage(LLVM::Linkage::External);
      global.removeValueAttr();
      if (!global.getInitializerRegion().empty())
        global.getInitializerRegion().front().erase();
    }
  });
  // libdevice's functions the kernels call: __nv_NAME becomes emu_NAME.
  auto hostName = [](StringRef name) -> std::optional<std::string> {
    for (const HostFunction &f : libdevice)
      if (name == "__nv_" + std::string(f.name))
        return "emu_" + std::string(f.name);
    return std::nullopt;
  };
  module.walk([&](LLVM::LLVMFuncOp func) {
    if (auto name = hostName(func.getName()))
      func.setSymName(*name);
  });
  module.walk([&](LLVM::CallOp call) {
    if (auto name = call.getCallee() ? hostName(*call.getCallee()) : std::nullopt)
      call.setCallee(*name);
  });
  // x86 has no bf16 registers: LLVM rounds bf16 values it moves through
  // vectors with this libgcc function, defined here (round to nearest even;
  // the kernels hold no NaN).
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  Type i16 = IntegerType::get(ctx, 16);
  auto trunc = LLVM::LLVMFuncOp::create(
      b, loc, "__truncsfbf2", LLVM::LLVMFunctionType::get(BFloat16Type::get(ctx), {f32}));
  b.setInsertionPointToStart(trunc.addEntryBlock(b));
  auto c = [&](int v) { return LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(v)); };
  Value bits = LLVM::BitcastOp::create(b, loc, i32, trunc.getArgument(0));
  Value lsb = LLVM::AndOp::create(b, loc, LLVM::LShrOp::create(b, loc, bits, c(16)), c(1));
  Value rounded = LLVM::AddOp::create(b, loc, bits, LLVM::AddOp::create(b, loc, lsb, c(0x7fff)));
  Value high = LLVM::TruncOp::create(b, loc, i16, LLVM::LShrOp::create(b, loc, rounded, c(16)));
  LLVM::ReturnOp::create(b, loc, ValueRange{LLVM::BitcastOp::create(b, loc, BFloat16Type::get(ctx), high)});
  return unsupported;
}

//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Compiling and launching
//===----------------------------------------------------------------------===//

/// A memref descriptor as the kernels take it, flattened: allocated and
/// aligned pointers, offset, sizes, strides (row major).
struct Descriptor {
  explicit Descriptor(const Operand &operand) : pointers{operand.data, operand.data} {
    int64_t rank = operand.shape.size(), stride = 1;
    sizes = operand.shape;
    strides.assign(rank, 0);
    for (int64_t d = rank - 1; d >= 0; --d) {
      strides[d] = stride;
      stride *= sizes[d];
    }
  }
  void *pointers[2];
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

} // namespace

static int launchCount = 0;
int raspc::emulator::lastLaunchCount() { return launchCount; }

bool raspc::emulator::emulate(const std::string &source, const std::string &kernelPasses,
                              const std::vector<Operand> &arguments, const Operand &result,
                              bool copiesAsync) {
  return emulate(source, kernelPasses, arguments, std::vector<Operand>{result}, copiesAsync);
}

bool raspc::emulator::emulate(const std::string &source, const std::string &kernelPasses,
                              const std::vector<Operand> &arguments,
                              const std::vector<Operand> &results, bool copiesAsync) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    registerAllPasses();
    raspc::registerConversionPasses();
    return true;
  }();
  (void)initialized;
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<attn::AttnDialect>();
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(source, &context);
  EXPECT_TRUE(module);
  if (!module)
    return false;

  PassManager pm(&context);
  std::string pipeline =
      kernelPasses +
      ",one-shot-bufferize{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map},convert-deferred-gpu-sync,"
      "canonicalize,gpu-launch-sink-index-computations,gpu-kernel-outlining,merge-gpu-modules,"
      "convert-bf16-mma-sync-to-nvvm,convert-nvgpu-to-nvvm,gpu.module(expand-bf16-conversions,"
      "convert-scf-to-cf,convert-gpu-to-nvvm,reconcile-unrealized-casts)";
  EXPECT_TRUE(succeeded(parsePassPipeline(pipeline, pm)));
  EXPECT_TRUE(succeeded(pm.run(*module)));

  // The launches, in program order: which buffers, on which grid.
  SmallVector<gpu::LaunchFuncOp> launchOps;
  module->walk([&](gpu::LaunchFuncOp l) { launchOps.push_back(l); });
  launchCount = static_cast<int>(launchOps.size());
  if (launchOps.empty()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    ADD_FAILURE() << "no kernel launch in\n" << text.substr(0, 3000);
    return false;
  }
  // The buffers the function returns are `results`; any other it allocates
  // is scratch between kernels (static shapes), made here.
  std::map<Operation *, const Operand *> resultAllocs;
  module->walk([&](func::ReturnOp ret) {
    EXPECT_EQ(ret.getNumOperands(), results.size()) << "results the function returns";
    for (auto [v, result] : llvm::zip(ret.getOperands(), results)) {
      while (auto cast = v.getDefiningOp<memref::CastOp>())
        v = cast.getSource();
      if (auto alloc = v.getDefiningOp<memref::AllocOp>())
        resultAllocs[alloc] = &result;
    }
  });
  int allocs = 0;
  module->walk([&](memref::AllocOp) { ++allocs; });
  if (resultAllocs.empty() && allocs > 1) {
    ADD_FAILURE() << "the function allocates several buffers and returns none of them";
    return false;
  }
  std::map<Operation *, std::vector<float>> scratch;
  // A kernel operand: an argument's buffer or the result's, or a strided
  // view of one (a kernel reading or writing through transposes).
  std::function<std::optional<Descriptor>(Value)> describe =
      [&](Value operand) -> std::optional<Descriptor> {
    if (auto arg = dyn_cast<BlockArgument>(operand)) {
      EXPECT_LT(arg.getArgNumber(), arguments.size());
      if (arg.getArgNumber() >= arguments.size())
        return std::nullopt;
      // The function's memrefs have the identity layout: a buffer that
      // starts elsewhere is a different pointer, not an offset.
      return Descriptor(arguments[arg.getArgNumber()]);
    }
    Operation *op = operand.getDefiningOp();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (resultAllocs.empty())
        return Descriptor(results.front());
      if (auto it = resultAllocs.find(op); it != resultAllocs.end())
        return Descriptor(*it->second);
      MemRefType type = alloc.getType();
      EXPECT_TRUE(type.hasStaticShape() && type.getElementType().isF32());
      if (!type.hasStaticShape() || !type.getElementType().isF32())
        return std::nullopt;
      auto [it, made] = scratch.try_emplace(op);
      if (made)
        it->second.assign(type.getNumElements(), NAN);
      return Descriptor({it->second.data(), std::vector<int64_t>(type.getShape())});
    }
    if (auto cast = dyn_cast<memref::CastOp>(op))
      return describe(cast.getSource());
    if (auto transpose = dyn_cast<memref::TransposeOp>(op)) {
      std::optional<Descriptor> d = describe(transpose.getIn());
      if (!d)
        return std::nullopt;
      Descriptor t = *d;
      AffineMap map = transpose.getPermutation();
      for (unsigned i = 0; i < map.getNumResults(); ++i) {
        t.sizes[i] = d->sizes[map.getDimPosition(i)];
        t.strides[i] = d->strides[map.getDimPosition(i)];
      }
      return t;
    }
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(op)) {
      std::optional<Descriptor> d = describe(expand.getSrc());
      if (!d)
        return std::nullopt;
      Descriptor e = *d;
      ArrayRef<int64_t> shape = expand.getResultType().getShape();
      e.sizes.assign(shape.begin(), shape.end());
      e.strides.assign(shape.size(), 0);
      for (auto [source, group] : llvm::enumerate(expand.getReassociationIndices())) {
        int64_t stride = d->strides[source];
        for (int64_t r = group.size() - 1; r >= 0; --r) {
          e.strides[group[r]] = stride;
          stride *= shape[group[r]];
        }
      }
      return e;
    }
    return std::nullopt;
  };
  struct Launch {
    std::string kernel;
    std::vector<Descriptor> descriptors;
    int grid[3], block[3];
  };
  std::vector<Launch> launches;
  auto constant = [](Value v) {
    APInt value;
    EXPECT_TRUE(matchPattern(v, m_ConstantInt(&value)));
    return int(value.getSExtValue());
  };
  for (gpu::LaunchFuncOp launchOp : launchOps) {
    Launch &l = launches.emplace_back();
    l.kernel = launchOp.getKernelName().str();
    for (Value operand : launchOp.getKernelOperands()) {
      std::optional<Descriptor> d = describe(operand);
      if (!d) {
        ADD_FAILURE() << "kernel operand the test cannot provide";
        return false;
      }
      l.descriptors.push_back(*d);
    }
    auto gs = launchOp.getGridSizeOperandValues(), bs = launchOp.getBlockSizeOperandValues();
    l.grid[0] = constant(gs.x), l.grid[1] = constant(gs.y), l.grid[2] = constant(gs.z);
    if (Value bytes = launchOp.getDynamicSharedMemorySize())
      EXPECT_LE(constant(bytes), static_cast<int>(sizeof sharedMemory - kDynamicSharedOffset));
    l.block[0] = constant(bs.x), l.block[1] = constant(bs.y), l.block[2] = constant(bs.z);
  }

  // The kernels alone, for the host (merge-gpu-modules left one module).
  gpu::GPUModuleOp kernels;
  module->walk([&](gpu::GPUModuleOp m) {
    EXPECT_FALSE(kernels) << "more than one gpu.module";
    kernels = m;
  });
  OwningOpRef<ModuleOp> host = ModuleOp::create(UnknownLoc::get(&context));
  std::string sharedName;
  for (Operation &op : llvm::make_early_inc_range(kernels.getBody()->getOperations())) {
    if (auto global = dyn_cast<LLVM::GlobalOp>(op)) {
      sharedName = global.getSymName().str();
      op.moveBefore(host->getBody(), host->getBody()->end());
    } else if (auto func = dyn_cast<LLVM::LLVMFuncOp>(op)) {
      for (NamedAttribute attr : llvm::to_vector(func->getDiscardableAttrs()))
        func->removeAttr(attr.getName());
      func.setCConvAttr(LLVM::CConvAttr::get(&context, LLVM::cconv::CConv::C));
      op.moveBefore(host->getBody(), host->getBody()->end());
    }
  }
  EXPECT_EQ(readBeforeRetired(*host), "");
  std::string unsupported = emulateNVVM(*host);
  EXPECT_EQ(unsupported, "") << "the emulator has no " << unsupported;
  if (!unsupported.empty())
    return false;

  // options.transformer is a function_ref: the function must outlive it.
  auto optimize = makeOptimizingTransformer(1, 0, nullptr);
  ExecutionEngineOptions options;
  options.transformer = optimize;
  auto engine = ExecutionEngine::create(*host, options);
  if (!engine) {
    ADD_FAILURE() << llvm::toString(engine.takeError());
    return false;
  }
  (*engine)->registerSymbols([&](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    auto add = [&](const char *name, void *address) {
      map[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                             llvm::JITSymbolFlags::Exported};
    };
    add("emu_sreg", reinterpret_cast<void *>(&emu_sreg));
    add("emu_mma_bf16", reinterpret_cast<void *>(&emu_mma_bf16));
    add("emu_mma_f16", reinterpret_cast<void *>(&emu_mma_f16));
    add("emu_shfl_bfly", reinterpret_cast<void *>(&emu_shfl_bfly));
    for (const HostFunction &f : libdevice)
      add(("emu_" + std::string(f.name)).c_str(), f.function);
    add("emu_barrier", reinterpret_cast<void *>(&emu_barrier));
    add("emu_ldmatrix", reinterpret_cast<void *>(&emu_ldmatrix));
    add("emu_check_alignment", reinterpret_cast<void *>(&emu_check_alignment));
    add("emu_cp_async", reinterpret_cast<void *>(&emu_cp_async));
    add("emu_cp_async_commit", reinterpret_cast<void *>(&emu_cp_async_commit));
    add("emu_cp_async_wait", reinterpret_cast<void *>(&emu_cp_async_wait));
    add("emu_wgmma", reinterpret_cast<void *>(&emu_wgmma));
    add("emu_wgmma_rs", reinterpret_cast<void *>(&emu_wgmma_rs));
    add("emu_wgmma_commit", reinterpret_cast<void *>(&emu_wgmma_commit));
    add("emu_wgmma_wait", reinterpret_cast<void *>(&emu_wgmma_wait));
    add("emu_shared_access", reinterpret_cast<void *>(&emu_shared_access));
    add("emu_fence_proxy_async", reinterpret_cast<void *>(&emu_fence_proxy_async));
    if (!sharedName.empty())
      add(sharedName.c_str(), sharedMemory + kDynamicSharedOffset);
    return map;
  });
  misalignedAccesses = 0;
  asyncCopies = 0;
  races.startProgram();
  badDescriptors = 0;
  for (Launch &l : launches) {
    auto kernel = (*engine)->lookupPacked(l.kernel);
    if (!kernel) {
      ADD_FAILURE() << llvm::toString(kernel.takeError());
      return false;
    }
    // Packed arguments: one pointer per scalar of the flattened descriptors.
    std::vector<void *> args;
    for (Descriptor &d : l.descriptors) {
      args.push_back(&d.pointers[0]);
      args.push_back(&d.pointers[1]);
      args.push_back(&d.offset);
      for (int64_t &size : d.sizes)
        args.push_back(&size);
      for (int64_t &stride : d.strides)
        args.push_back(&stride);
    }
    launch(*kernel, args.data(), l.grid, l.block);
  }
  EXPECT_EQ(misalignedAccesses.load(), 0) << "vector accesses at misaligned addresses";
  EXPECT_EQ(badDescriptors.load(), 0) << "wgmma descriptors of layouts the emulator has not";
  EXPECT_EQ(races.races(), 0) << "hazards on shared memory, the first: " << races.firstRace();
  // Every tiled case has some operand aligned for 16-byte copies.
  if (copiesAsync)
    EXPECT_GT(asyncCopies.load(), 0) << "no cp.async: the fast copy path did not run";
  return true;
}
