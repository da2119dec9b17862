# lit configuration for the plugin's own tests. Run with
#   lit test --param plugin=<SinkhornPlugin.so> --param bin=<raspc prefix>/bin
import os
import lit.formats

config.name = "sinkhorn-plugin"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
# Outputs go where check.sh says (never into the source tree).
config.test_exec_root = lit_config.params.get("out", os.path.join(os.getcwd(), "sinkhorn-lit"))
params = lit_config.params
for needed in ("plugin", "bin"):
    if needed not in params:
        lit_config.fatal(f"pass --param {needed}=...")
config.environment["PATH"] = os.pathsep.join(
    [params["bin"], "/usr/lib/llvm-22/bin", config.environment.get("PATH", os.environ["PATH"])])
config.substitutions.append(("%plugin", params["plugin"]))
config.substitutions.append(("%example", os.path.dirname(config.test_source_root)))
config.substitutions.append(("%python", params.get("python", "python3")))
