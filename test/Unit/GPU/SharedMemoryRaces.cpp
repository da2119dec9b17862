//===- SharedMemoryRaces.cpp - Races on a block's shared memory -----------===//

#include "SharedMemoryRaces.h"

#include <algorithm>

using raspc::emulator::SharedMemoryRaces;

void SharedMemoryRaces::startProgram() {
  std::lock_guard<std::mutex> lock(mutex);
  raceCount = 0;
  first.clear();
}

void SharedMemoryRaces::startBlock() {
  std::lock_guard<std::mutex> lock(mutex);
  for (size_t cell : touched)
    cells[cell] = Cell{};
  touched.clear();
  accesses.clear();
  unfenced.clear();
}

SharedMemoryRaces::Cell &SharedMemoryRaces::touch(size_t cell) {
  Cell &c = cells[cell];
  if (!c.touched) {
    c.touched = true;
    touched.push_back(cell);
  }
  return c;
}

void SharedMemoryRaces::report(const std::string &race) {
  if (raceCount++ == 0)
    first = race;
}

static std::string describe(const char *what, int thread) {
  return std::string(what) + " by thread " + std::to_string(thread);
}

bool SharedMemoryRaces::check(size_t cell, bool write, const char *what, int thread,
                              unsigned long epoch) {
  if (cell >= cells.size()) {
    report(describe(what, thread) + " at shared byte " + std::to_string(cell * kCellBytes) +
           ", past the end of shared memory");
    return false;
  }
  auto race = [&](const std::string &other) {
    report(describe(what, thread) + " in epoch " + std::to_string(epoch) + " races with " + other +
           " at shared byte " + std::to_string(cell * kCellBytes));
  };
  // Reads race with writes; writes with both.
  for (bool otherWrite : {false, true}) {
    if (!write && !otherWrite)
      continue;
    const Completed &done = cells[cell].completed[otherWrite];
    // A thread's own completed access precedes this one in program order.
    if (done.epoch == epoch && done.thread != Completed::kNone && done.thread != thread)
      race((done.thread == Completed::kSeveral ? std::string(done.what) + " by several threads"
                                               : describe(done.what, done.thread)) +
           " completed in the same epoch");
  }
  for (int id : cells[cell].open) {
    const Access &inFlight = accesses[id];
    if (inFlight.write || write)
      race(describe(inFlight.what, inFlight.thread) + " in flight since epoch " +
           std::to_string(inFlight.start));
  }
  return true;
}

void SharedMemoryRaces::markCompleted(size_t cell, bool write, const char *what, int thread,
                                      unsigned long epoch) {
  Cell &c = touch(cell);
  if (write) {
    c.writer = thread;
    c.fenced = Cell::kNever;
    if (unfenced.size() <= static_cast<size_t>(thread))
      unfenced.resize(thread + 1);
    unfenced[thread].push_back(cell);
  }
  Completed &completed = c.completed[write];
  bool another = completed.epoch == epoch && completed.thread != Completed::kNone &&
                 completed.thread != thread;
  completed = {epoch, another ? Completed::kSeveral : thread, what};
}

std::vector<size_t> SharedMemoryRaces::cellsOf(size_t offset, size_t bytes) {
  std::vector<size_t> cells;
  for (size_t c = offset / kCellBytes; c <= (offset + bytes - 1) / kCellBytes; ++c)
    cells.push_back(c);
  return cells;
}

void SharedMemoryRaces::access(bool write, const char *what, int thread, unsigned long epoch,
                               size_t offset, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  for (size_t c : cellsOf(offset, bytes))
    if (check(c, write, what, thread, epoch))
      markCompleted(c, write, what, thread, epoch);
}

int SharedMemoryRaces::begin(bool write, const char *what, int thread, unsigned long epoch,
                             const std::vector<size_t> &cellIndices, bool throughAsyncProxy) {
  std::lock_guard<std::mutex> lock(mutex);
  int id = static_cast<int>(accesses.size());
  accesses.push_back({write, what, thread, epoch, cellIndices});
  for (size_t c : cellIndices) {
    if (!check(c, write, what, thread, epoch))
      continue;
    Cell &cell = touch(c);
    // The writer's fence must come before a barrier this reader passed (or
    // before the read in the writer's own program order).
    bool visible = cell.writer == Completed::kNone ||
                   (cell.fenced != Cell::kNever && (cell.fenced < epoch || cell.writer == thread));
    if (throughAsyncProxy && !visible)
      report(describe(what, thread) + " in epoch " + std::to_string(epoch) +
             " reads shared byte " + std::to_string(c * kCellBytes) + ", written by thread " +
             std::to_string(cell.writer) + " with no fence.proxy.async before a barrier since");
    cell.open.push_back(id);
  }
  return id;
}

void SharedMemoryRaces::fenceProxy(int thread, unsigned long epoch) {
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<size_t>(thread) >= unfenced.size())
    return;
  for (size_t c : unfenced[thread])
    if (cells[c].writer == thread && cells[c].fenced == Cell::kNever)
      cells[c].fenced = epoch;
  unfenced[thread].clear();
}

void SharedMemoryRaces::complete(int id, unsigned long epoch) {
  std::lock_guard<std::mutex> lock(mutex);
  const Access &access = accesses[id];
  for (size_t c : access.cells) {
    if (c >= cells.size()) // reported when it began
      continue;
    std::vector<int> &open = cells[c].open;
    open.erase(std::find(open.begin(), open.end(), id));
    markCompleted(c, access.write, access.what, access.thread, epoch);
  }
}
