//===- Error.h - per-thread error messages of rasprt ------------*- C++ -*-===//

#ifndef RASPRT_CPU_ERROR_H
#define RASPRT_CPU_ERROR_H

#include "rasprt/rasprt.h"

#include <string>

namespace rasprt {

/// Records `message` as this thread's last error and returns `status`, so
/// that failures read `return fail(RASPRT_ERROR_IO, "...")`.
rasprt_status fail(rasprt_status status, std::string message);

/// Clears this thread's last error and returns RASPRT_OK.
rasprt_status succeed();

/// A byte count for messages: "512 bytes", "3.0 MiB", "16.0 TiB".
std::string formatBytes(unsigned long long bytes);

} // namespace rasprt

#endif // RASPRT_CPU_ERROR_H
