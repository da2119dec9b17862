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
# CMAKE_ARGS (extra configure arguments, e.g. -DRASPC_ENABLE_CUDA=OFF).
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-2}"
RUN_MAIN=1
for arg in "$@"; do
  case "$arg" in
    --no-run) RUN_MAIN=0 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

#--- 1. Debian packages ------------------------------------------------------
PACKAGES=(
  build-essential cmake ninja-build ccache python3
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

#--- 2. Configure and build ---------------------------------------------------
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  step "Configuring in $BUILD_DIR"
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
step "Building with $JOBS jobs"
cmake --build "$BUILD_DIR" -j "$JOBS"

#--- 3. The main job ------------------------------------------------------------
if ((RUN_MAIN)); then
  EXAMPLE="$ROOT/examples/rasp/sort.rasp"
  step "Main job: raspc run ${EXAMPLE#"$ROOT"/} 3 1 2 1 (compile for this CPU, run, print)"
  "$BUILD_DIR/bin/raspc" run "$EXAMPLE" 3 1 2 1
  step "raspc is built in $BUILD_DIR; run the tests with: scripts/test.sh"
fi
