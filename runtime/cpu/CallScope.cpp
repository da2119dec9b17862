//===- CallScope.cpp - a call of compiled code that can fail ----*- C++ -*-===//

#include "CallScope.h"

#include "Error.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

struct rasprt::CallScope {
  jmp_buf env;
  std::mutex mutex;
  std::vector<void *> live; // buffers the call allocated and still holds
  std::string message;      // the first failure's
  std::atomic<bool> failed{false};
};

namespace {
thread_local rasprt::CallScope *current = nullptr;
thread_local jmp_buf *recovery = nullptr;
} // namespace

rasprt::CallScope *rasprt::currentCallScope() { return current; }

rasprt::CallScope *rasprt::enterCallScope(CallScope *scope) {
  CallScope *outer = current;
  current = scope;
  return outer;
}

jmp_buf *&rasprt::taskRecovery() { return recovery; }

bool rasprt::callFailed(const CallScope *scope) {
  return scope && scope->failed.load(std::memory_order_acquire);
}

void rasprt::recordCallFailure(const std::string &message) {
  CallScope *scope = current;
  if (!scope) {
    std::fprintf(stderr, "rasprt: error: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(1); // other threads may be inside compiled code: no exit handlers
  }
  std::lock_guard<std::mutex> lock(scope->mutex);
  if (!scope->failed.load())
    scope->message = message;
  scope->failed.store(true, std::memory_order_release);
}

void rasprt::abandonCall() {
  CallScope *scope = current;
  if (recovery)
    std::longjmp(*recovery, 1);
  std::longjmp(scope->env, 1);
}

void rasprt::propagateCallFailure() {
  CallScope *scope = current;
  if (!callFailed(scope))
    return;
  if (recovery)
    std::longjmp(*recovery, 1);
  std::longjmp(scope->env, 1);
}

void rasprt::noteAllocated(void *buffer) {
  if (CallScope *scope = current) {
    std::lock_guard<std::mutex> lock(scope->mutex);
    scope->live.push_back(buffer);
  }
}

void rasprt::noteFreed(void *buffer) {
  if (CallScope *scope = current) {
    std::lock_guard<std::mutex> lock(scope->mutex);
    // Buffers are mostly freed in the reverse order of their allocation.
    auto it = std::find(scope->live.rbegin(), scope->live.rend(), buffer);
    if (it != scope->live.rend())
      scope->live.erase(std::next(it).base());
  }
}

extern "C" rasprt_status rasprt_guarded_call(void (*function)(void *), void *argument) {
  if (!function)
    return rasprt::fail(RASPRT_ERROR_INVALID_ARGUMENT, "rasprt_guarded_call: no function");
  // On the heap: the scope is written between setjmp and longjmp, which
  // leaves a local's value indeterminate; the pointer itself never changes.
  auto *scope = new rasprt::CallScope;
  rasprt::CallScope *outer = rasprt::enterCallScope(scope);
  jmp_buf *outerRecovery = rasprt::taskRecovery();
  rasprt::taskRecovery() = nullptr;
  if (setjmp(scope->env) == 0) {
    function(argument);
    rasprt::enterCallScope(outer);
    rasprt::taskRecovery() = outerRecovery;
    delete scope;
    return rasprt::succeed();
  }
  rasprt::enterCallScope(outer);
  rasprt::taskRecovery() = outerRecovery;
  for (void *buffer : scope->live)
    rasprt_buffer_free(buffer);
  std::string message = std::move(scope->message);
  delete scope;
  return rasprt::fail(RASPRT_ERROR_OUT_OF_MEMORY, std::move(message));
}
