#!/usr/bin/env bash
#===- setup.sh - install, build, and run raspc on a shipped example -------===#
#
# The README's first command. Idempotent: installs only the Debian packages
# that are missing, configures only once, rebuilds only what changed.
#
#   scripts/setup.sh            install + build + run the main job
#   scripts/setup.sh --no-run   install + build
#
# Environment: BUILD_DIR (default: build), JOBS (default: 2),
# CMAKE_ARGS (extra configure arguments, e.g. -DRASPC_ENABLE_CUDA=OFF),
# PYTHON (default: /usr/bin/python3, Debian's, whose NumPy the venv sees).
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"
RUN_MAIN=1
for arg in "$@"; do
  case "$arg" in
    --no-run) RUN_MAIN=0 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

#--- 1. Debian packages ------------------------------------------------------
PACKAGES=(
  build-essential cmake ninja-build ccache python3
  python3-dev python3-venv python3-numpy
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  antlr4 libantlr4-runtime-dev uuid-dev
  libgtest-dev
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  step "Installing missing packages: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "All required Debian packages are installed"
fi

#--- 2. The Python package's build tools ---------------------------------------
# nanobind, its build backend and pytest come from PyPI into a venv in the
# build directory (NumPy is Debian's). Without them (offline) the compiler
# still builds; only the Python package is left out, and test.sh says so.
VENV="$BUILD_DIR/venv"
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p "$BUILD_DIR"
if [[ ! -f "$VENV/.raspc-ready" ]]; then
  step "Installing the Python package's build tools into ${VENV#"$ROOT"/}"
  if "$PYTHON" -m venv --system-site-packages "$VENV" &&
     "$VENV/bin/pip" install --disable-pip-version-check -q \
       "nanobind>=2.4" "scikit-build-core>=0.10" "pytest>=7"; then
    touch "$VENV/.raspc-ready"
  else
    echo "setup.sh: warning: could not install nanobind and pytest from PyPI;" \
         "building without the Python package" >&2
  fi
fi
PYTHON_ARGS=()
if [[ -f "$VENV/.raspc-ready" ]]; then
  PYTHON_ARGS=(-DPython_EXECUTABLE="$VENV/bin/python")
fi

#--- 3. Configure and build ---------------------------------------------------
# Configured again when the venv appeared after the first configure.
if [[ ! -f "$BUILD_DIR/build.ninja" ]] ||
   { ((${#PYTHON_ARGS[@]})) && ! grep -q "^Python_EXECUTABLE:.*=$VENV/bin/python$" "$BUILD_DIR/CMakeCache.txt"; }; then
  step "Configuring in $BUILD_DIR"
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${PYTHON_ARGS[@]}" ${CMAKE_ARGS:-}
fi
step "Building with $JOBS jobs"
cmake --build "$BUILD_DIR" -j "$JOBS"

#--- 4. The main job ------------------------------------------------------------
if ((RUN_MAIN)); then
  EXAMPLE="$ROOT/examples/rasp/sort.rasp"
  step "Main job: raspc run ${EXAMPLE#"$ROOT"/} 3 1 2 1 (compile for this CPU, run, print)"
  "$BUILD_DIR/bin/raspc" run "$EXAMPLE" 3 1 2 1
  step "raspc is built in $BUILD_DIR; run the tests with: scripts/test.sh"
fi
