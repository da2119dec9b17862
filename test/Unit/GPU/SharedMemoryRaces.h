//===- SharedMemoryRaces.h - Races on a block's shared memory --*- C++ -*-===//
//
// The warp emulator lands a cp.async when its thread waits for it and runs a
// wgmma when it is issued: one schedule of the many a GPU may take. A GPU
// may land the copy at any moment from its issue to its wait, and read a
// wgmma's operands at any moment from its issue to the wait_group that
// retires it; threads run between barriers in any order. So the emulator's
// numbers alone cannot show a stage refilled while a wgmma still reads it,
// or a tile read by one thread in the epoch another writes it.
//
// This tracker sees them whatever the schedule: every access to shared
// memory spans an interval of epochs (the block barrier's generation:
// nothing orders two accesses of one epoch but their thread's program
// order), and two accesses of the same 2 bytes (the narrowest element the
// kernels store), one a write, race where their intervals share an epoch,
// unless one thread made both, the earlier complete before the later
// began.
//
// It also sees a wgmma (the async proxy) read bytes that a thread wrote
// (the generic proxy: st.shared, cp.async) and did not follow with a
// fence.proxy.async before a barrier the reader passed.
//
//===----------------------------------------------------------------------===//

#ifndef RASPC_TEST_UNIT_GPU_SHAREDMEMORYRACES_H
#define RASPC_TEST_UNIT_GPU_SHAREDMEMORYRACES_H

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace raspc::emulator {

class SharedMemoryRaces {
public:
  static constexpr size_t kCellBytes = 2;
  explicit SharedMemoryRaces(size_t bytes) : cells(bytes / kCellBytes) {}

  /// Forgets every race seen: a new program.
  void startProgram();
  /// Forgets every access: a new block.
  void startBlock();

  /// The cells bytes [offset, offset + bytes) lie in.
  static std::vector<size_t> cellsOf(size_t offset, size_t bytes);

  /// An access by `thread` (`what` names it in reports: "cp.async", ...)
  /// to the bytes [offset, offset + bytes), complete when it is made.
  void access(bool write, const char *what, int thread, unsigned long epoch, size_t offset,
              size_t bytes);
  /// An asynchronous access to the cells `cellIndices` (of kCellBytes
  /// each), from `epoch` until `complete`: returns its id for that. A read
  /// `throughAsyncProxy` needs its bytes' writers to have fenced.
  int begin(bool write, const char *what, int thread, unsigned long epoch,
            const std::vector<size_t> &cellIndices, bool throughAsyncProxy = false);
  void complete(int id, unsigned long epoch);
  /// fence.proxy.async by `thread` in `epoch`: what it wrote is visible to
  /// the async proxy after the next barrier.
  void fenceProxy(int thread, unsigned long epoch);

  /// How many races were seen, and the first described.
  int races() const { return raceCount; }
  const std::string &firstRace() const { return first; }

private:
  struct Access {
    bool write;
    const char *what;
    int thread;
    unsigned long start;
    std::vector<size_t> cells;
  };
  /// Per kind (read, write): the thread that last completed an access in
  /// `epoch`, or kSeveral. Completed accesses of earlier epochs cannot race
  /// with anything begun now.
  struct Completed {
    static constexpr int kNone = -1, kSeveral = -2;
    unsigned long epoch = 0;
    int thread = kNone;
    const char *what = nullptr;
  };
  struct Cell {
    bool touched = false; // in `touched`
    /// The last write's thread (or kNone), and the epoch of its first
    /// fence.proxy.async since (kNever: none yet).
    static constexpr unsigned long kNever = ~0ul;
    int writer = Completed::kNone;
    unsigned long fenced = kNever;
    Completed completed[2];
    std::vector<int> open; // ids of the asynchronous accesses in flight
  };

  /// Checks an access beginning now against what it may overlap; false
  /// (reported) if `cell` is outside shared memory.
  bool check(size_t cell, bool write, const char *what, int thread, unsigned long epoch);
  /// The cell, listed in `touched`.
  Cell &touch(size_t cell);
  void markCompleted(size_t cell, bool write, const char *what, int thread, unsigned long epoch);
  void report(const std::string &race);

  std::mutex mutex;
  std::vector<Cell> cells;
  /// The cells accessed since the block began: those startBlock resets.
  std::vector<size_t> touched;
  /// Per thread, the cells it wrote since its last fence.proxy.async.
  std::vector<std::vector<size_t>> unfenced;
  std::vector<Access> accesses;
  int raceCount = 0;
  std::string first;
};

} // namespace raspc::emulator

#endif // RASPC_TEST_UNIT_GPU_SHAREDMEMORYRACES_H
