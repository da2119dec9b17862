//===- Error.cpp - per-thread error messages of rasprt ----------*- C++ -*-===//

#include "Error.h"

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
