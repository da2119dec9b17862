# -*- Python -*-
# The raspc lit suite: FileCheck tests of the dialect, passes and tools.

import os
import shutil
import subprocess
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "raspc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".rasp", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.raspc_obj_root, "test")

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Our tools first, then FileCheck, not, count from LLVM 22.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.raspc_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["rasp-opt", "raspc"], [config.raspc_tools_dir])
config.substitutions.append(("%raspc_lib_dir", config.raspc_lib_dir))
config.substitutions.append(("%raspc_src_root", config.raspc_src_root))
config.substitutions.append(("%python", sys.executable))
# The CUDA driver stand-in (test/lib/FakeCUDA) for RASPRT_CUDA_DRIVER.
config.substitutions.append(
    ("%fake_cuda_before_11_2",
     os.path.join(config.raspc_lib_dir, "libraspc-fake-cuda-before-11.2.so")))
config.substitutions.append(
    ("%fake_cuda", os.path.join(config.raspc_lib_dir, "libraspc-fake-cuda.so")))

# Features: `ptxas` where the CUDA toolkit is present, `cuda-device` only
# where a GPU answers.
if config.have_cuda and config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
nvidia_smi = shutil.which("nvidia-smi")
if nvidia_smi:
    try:
        if subprocess.run([nvidia_smi, "-L"], capture_output=True,
                          timeout=20).returncode == 0:
            config.available_features.add("cuda-device")
    except (OSError, subprocess.SubprocessError):
        pass
