#===- RaspcCUDA.cmake - optional CUDA toolkit ------------------*- cmake -*-===#
#
# The GPU backend needs the toolkit only to assemble PTX (ptxas) in tests; the
# runtime opens libcuda at run time. Without a toolkit everything else builds.
#===----------------------------------------------------------------------===#
set(RASPC_HAVE_CUDA OFF)
set(RASPC_HAVE_CUDA_STATUS "disabled (RASPC_ENABLE_CUDA=OFF)")
if(RASPC_ENABLE_CUDA)
  find_program(RASPC_PTXAS ptxas HINTS /usr/local/cuda/bin ENV CUDA_HOME
    PATH_SUFFIXES bin)
  if(RASPC_PTXAS)
    set(RASPC_HAVE_CUDA ON)
    # <toolkit>/bin/ptxas: the toolkit holds libdevice, which kernels that
    # call math functions (exp, tanh, rsqrt) link.
    get_filename_component(RASPC_CUDA_TOOLKIT "${RASPC_PTXAS}" DIRECTORY)
    get_filename_component(RASPC_CUDA_TOOLKIT "${RASPC_CUDA_TOOLKIT}" DIRECTORY)
    set(RASPC_HAVE_CUDA_STATUS "enabled (ptxas: ${RASPC_PTXAS})")
  else()
    set(RASPC_HAVE_CUDA_STATUS "not built: no CUDA toolkit found")
  endif()
endif()
