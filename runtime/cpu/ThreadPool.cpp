//===- ThreadPool.cpp - the runtime's parallel loops ------------*- C++ -*-===//
//
// One persistent pool per process. A parallel loop publishes a job (body,
// count, grain) under a new generation number; workers and the caller take
// chunks from one atomic counter until none are left. Loops from different
// threads take turns; a loop started inside a body runs serially.
//
// A model runs dozens of short loops per call, one after another. Waking a
// sleeping worker through the kernel costs tens of microseconds (hundreds
// on some VMs), more than a small loop's work, so workers poll for the next
// job for a while (kSpin) before they sleep, and the caller polls for the
// workers to finish before it sleeps, as OpenMP runtimes do (KMP_BLOCKTIME).
//
//===----------------------------------------------------------------------===//

#include "CallScope.h"
#include "Error.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csetjmp>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

thread_local bool insideParallelBody = false;

/// How long a worker polls for the next loop, and the caller for the end of
/// its loop, before sleeping.
constexpr std::chrono::microseconds kSpin{200};

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Polls `done` until it holds or kSpin has passed; whether it held.
template <typename Done> bool spinUntil(Done done) {
  auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    if (done())
      return true;
    relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline)
      return false;
  }
}

class ThreadPool {
public:
  static ThreadPool &get() {
    static ThreadPool pool;
    return pool;
  }

  int32_t size() {
    std::lock_guard<std::mutex> lock(mutex);
    return threads;
  }

  void resize(int32_t count) {
    std::lock_guard<std::mutex> turn(loopMutex);
    stopWorkers();
    std::lock_guard<std::mutex> lock(mutex);
    threads = std::max(count, 1);
  }

  void run(int64_t count, int64_t grain, rasprt_parallel_body body, void *context) {
    if (count <= 0)
      return;
    grain = std::max<int64_t>(grain, 1);
    if (insideParallelBody || count <= grain) {
      body(0, count, context);
      return;
    }
    std::lock_guard<std::mutex> turn(loopMutex);
    startWorkers();
    rasprt::CallScope *scope = rasprt::currentCallScope();
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = {body, context, count, grain, scope};
      next.store(0);
      busy.store(static_cast<int32_t>(workers.size()));
      ++generation;
      published.store(generation, std::memory_order_release);
    }
    wake.notify_all();
    work(Job{body, context, count, grain, scope});
    if (spinUntil([&] { return busy.load(std::memory_order_acquire) == 0; }))
      return;
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return busy.load() == 0; });
  }

  ~ThreadPool() { stopWorkers(); }

private:
  struct Job {
    rasprt_parallel_body body = nullptr;
    void *context = nullptr;
    int64_t count = 0, grain = 1;
    rasprt::CallScope *scope = nullptr; // the caller's, which the workers take on
  };

  ThreadPool() {
    unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<int32_t>(hardware);
    if (const char *env = std::getenv("RASPRT_NUM_THREADS"))
      if (int n = std::atoi(env); n > 0)
        threads = n;
  }

  /// Takes chunks of `current` until there are none left, or until one
  /// fails (CallScope.h): then this thread's compiled frames are left by
  /// longjmp to here and no thread starts another chunk.
  void work(const Job &current) {
    insideParallelBody = true;
    rasprt::CallScope *outer = rasprt::enterCallScope(current.scope);
    jmp_buf recovery;
    jmp_buf *outerRecovery = rasprt::taskRecovery();
    if (setjmp(recovery) == 0) {
      rasprt::taskRecovery() = &recovery;
      for (int64_t begin; (begin = next.fetch_add(current.grain)) < current.count;)
        current.body(begin, std::min(begin + current.grain, current.count), current.context);
    } else {
      next.store(current.count);
    }
    rasprt::taskRecovery() = outerRecovery;
    rasprt::enterCallScope(outer);
    insideParallelBody = false;
  }

  void startWorkers() {
    std::lock_guard<std::mutex> lock(mutex);
    if (!workers.empty() || threads <= 1)
      return;
    stopping = false;
    stoppingFlag.store(false);
    // A new worker answers only to jobs published after it starts; each job
    // is taken exactly once per worker, so `busy` counts down exactly.
    for (int32_t i = 1; i < threads; ++i)
      workers.emplace_back([this, seen = generation]() mutable {
        for (;;) {
          spinUntil([&] {
            return published.load(std::memory_order_acquire) != seen ||
                   stoppingFlag.load(std::memory_order_relaxed);
          });
          Job current;
          {
            std::unique_lock<std::mutex> lock(mutex);
            wake.wait(lock, [&] { return stopping || generation != seen; });
            if (stopping)
              return;
            seen = generation;
            current = job;
          }
          work(current);
          if (busy.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> lock(mutex);
            finished.notify_all();
          }
        }
      });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      stoppingFlag.store(true);
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
    workers.clear();
  }

  std::mutex loopMutex; // one parallel loop at a time
  std::mutex mutex;     // guards everything below
  std::condition_variable wake, finished;
  std::vector<std::thread> workers;
  int32_t threads = 1;
  bool stopping = false;
  uint64_t generation = 0;
  Job job;
  std::atomic<int64_t> next{0};
  // Read while polling, without the mutex: the latest generation, the
  // workers still in the current loop, and `stopping`.
  std::atomic<uint64_t> published{0};
  std::atomic<int32_t> busy{0};
  std::atomic<bool> stoppingFlag{false};
};

} // namespace

extern "C" void rasprt_parallel_for(int64_t count, int64_t grain, rasprt_parallel_body body,
                                    void *context) {
  if (!body)
    return;
  ThreadPool::get().run(count, grain, body, context);
  // Here, outside every frame of the pool's that holds a lock.
  rasprt::propagateCallFailure();
}

extern "C" int32_t rasprt_num_threads(void) { return ThreadPool::get().size(); }

extern "C" void rasprt_set_num_threads(int32_t count) { ThreadPool::get().resize(count); }
