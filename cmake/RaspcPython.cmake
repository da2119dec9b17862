#===- RaspcPython.cmake - find Python and nanobind, add python/ ----------===#
#
# The Python package needs Python's headers (Debian: python3-dev) and
# nanobind (from PyPI: scripts/setup.sh installs it into $BUILD_DIR/venv and
# configures with that venv's Python; `pip install .` provides it itself).
# With RASPC_ENABLE_PYTHON=AUTO a missing part only skips the package; the
# compiler and its C++ tests never need Python.
#===----------------------------------------------------------------------===#
set(RASPC_PYTHON_STATUS "off (RASPC_ENABLE_PYTHON=OFF)")
# An instrumented module cannot load into an uninstrumented interpreter
# (the sanitizer runtimes must come first): sanitizer builds leave it out.
if(RASPC_ENABLE_SANITIZERS OR RASPC_BUILD_FUZZERS)
  if(RASPC_ENABLE_PYTHON STREQUAL "ON")
    message(FATAL_ERROR "RASPC_ENABLE_PYTHON=ON does not go with sanitizer builds")
  endif()
  set(RASPC_ENABLE_PYTHON OFF)
  set(RASPC_PYTHON_STATUS "off (a sanitizer build)")
endif()
if(NOT RASPC_ENABLE_PYTHON STREQUAL "OFF")
  set(reason "")
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module QUIET)
  if(NOT Python_FOUND)
    set(reason "Python's headers not found (python3-dev)")
  else()
    execute_process(COMMAND "${Python_EXECUTABLE}" -m nanobind --cmake_dir
      OUTPUT_VARIABLE nanobind_ROOT OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE nanobind_missing ERROR_QUIET)
    if(nanobind_missing)
      set(reason "nanobind not installed for ${Python_EXECUTABLE}")
    else()
      find_package(nanobind CONFIG QUIET)
      if(NOT nanobind_FOUND)
        set(reason "nanobind's CMake package not found in ${nanobind_ROOT}")
      endif()
    endif()
  endif()
  if(reason STREQUAL "")
    add_subdirectory(python)
    set(RASPC_PYTHON_STATUS "on (${Python_EXECUTABLE}, nanobind ${nanobind_VERSION})")
  elseif(RASPC_ENABLE_PYTHON STREQUAL "ON")
    message(FATAL_ERROR "RASPC_ENABLE_PYTHON=ON, but ${reason}")
  else()
    set(RASPC_PYTHON_STATUS "off (${reason})")
  endif()
endif()
