//===- Error.cpp - per-thread error messages of rasprt ----------*- C++ -*-===//

#include "Error.h"

#include <cstdio>

namespace {
thread_local std::string lastError;
} // namespace

rasprt_status rasprt::fail(rasprt_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

rasprt_status rasprt::succeed() {
  lastError.clear();
  return RASPRT_OK;
}

std::string rasprt::formatBytes(unsigned long long bytes) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

extern "C" const char *rasprt_last_error(void) { return lastError.c_str(); }

extern "C" const char *rasprt_status_name(rasprt_status status) {
  switch (status) {
  case RASPRT_OK:
    return "ok";
  case RASPRT_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case RASPRT_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case RASPRT_ERROR_IO:
    return "i/o error";
  case RASPRT_ERROR_FORMAT:
    return "format error";
  case RASPRT_ERROR_UNSUPPORTED:
    return "unsupported";
  }
  return "unknown status";
}
