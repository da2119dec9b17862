//===- CallScope.h - a call of compiled code that can fail ------*- C++ -*-===//
//
// Compiled code has no way to return an error: a buffer it cannot allocate
// would be a null pointer it writes through. A call made through
// rasprt_guarded_call runs in a CallScope instead. The allocator records
// every buffer the call takes; when one cannot be had, the thread that
// asked jumps back (longjmp) to where it can stop: a parallel loop's worker
// to the end of its share of the loop, which then ends the loop and jumps
// on; the calling thread to rasprt_guarded_call, which frees what the call
// still held and returns the error. Only frames of compiled code, which own
// nothing, are skipped; the runtime's own frames are left normally.
//
//===----------------------------------------------------------------------===//

#ifndef RASPRT_CPU_CALLSCOPE_H
#define RASPRT_CPU_CALLSCOPE_H

#include <csetjmp>
#include <string>

namespace rasprt {

struct CallScope;

/// The scope this thread runs compiled code for, or null.
CallScope *currentCallScope();
/// Makes `scope` this thread's scope; returns the previous one.
CallScope *enterCallScope(CallScope *scope);

/// Where this thread's share of a parallel loop stops on failure (null
/// outside one); set and restored by the thread pool.
jmp_buf *&taskRecovery();

/// True once some thread of `scope` has failed.
bool callFailed(const CallScope *scope);

/// Records why the current call fails (the first failure's message is
/// kept). Without a scope (compiled code called directly) it prints the
/// message and exits with status 1.
void recordCallFailure(const std::string &message);

/// Ends the current call after recordCallFailure: jumps to this thread's
/// task recovery point or to rasprt_guarded_call. The jump skips the
/// destructors of everything between, so the caller must hold no object
/// that owns memory (build the message in a full expression of its own).
[[noreturn]] void abandonCall();

/// After a parallel loop: if one of its tasks failed, carries the failure
/// on from the loop's caller.
void propagateCallFailure();

/// The allocator's bookkeeping for the current scope (no-ops without one).
void noteAllocated(void *buffer);
void noteFreed(void *buffer);

} // namespace rasprt

#endif // RASPRT_CPU_CALLSCOPE_H
