#===- RaspcTargets.cmake - helpers for raspc's own targets -----*- cmake -*-===#

# Every library and tool that uses MLIR links the one libMLIR.so; linking the
# static component libraries alongside it would register passes and command
# line options twice.
function(raspc_link_mlir target)
  target_link_libraries(${target} PUBLIC MLIR LLVM)
  target_compile_options(${target} PUBLIC ${RASPC_LLVM_DEFINITIONS})
  target_include_directories(${target} SYSTEM PUBLIC
    ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
endfunction()

# A library of raspc built on MLIR: sources plus dependencies on generated
# TableGen targets.
function(raspc_add_mlir_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS;LINK_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_include_directories(${name} PUBLIC
    ${RASPC_SOURCE_DIR}/dialects ${RASPC_BINARY_DIR}/dialects
    ${RASPC_SOURCE_DIR}/include)
  raspc_link_mlir(${name})
  if(ARG_LINK_LIBS)
    target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS})
  endif()
endfunction()
