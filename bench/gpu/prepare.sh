#!/usr/bin/env bash
# Builds, on this machine, everything bench/gpu/run_device.sh needs on a GPU
# machine, into bench/gpu/build (carry that folder with the device run):
#   bin/raspc-aot-runner, lib/librasprt.so*   the runner and the runtime
#   programs/NAME.{cpu,cuda}.so + programs.txt every example, both targets
#   layers/*.cuda.so + layers.txt              attention layers to benchmark
#                                              (also checked, as programs/attention_*)
#   layers/proj_*.cuda.so + matmuls.txt        projections (x @ w) to benchmark
#                                              (bf16 also by wgmma: *_wgmma)
#   layers/*_{rowtiles1,wgmma,wgmma_serial}.cuda.so  tuning variants of the layers
#     + variants.txt
#
#   bench/gpu/prepare.sh [BUILD_DIR]           (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
out="$here/build"
arch="${RASPC_GPU_ARCH:-sm_90}"
raspc="$build/bin/raspc"

cmake --build "$build" --target raspc raspc-aot-runner rasprt >/dev/null
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/programs" "$out/layers"
cp "$build/bin/raspc-aot-runner" "$out/bin/"
cp -P "$build"/lib/librasprt.so* "$out/lib/"

: >"$out/programs.txt"
for file in "$root"/examples/rasp/*.rasp "$root"/examples/models/*.rasp; do
  name="$(basename "$file" .rasp)"
  "$raspc" "$file" --emit=lib -o "$out/programs/$name.cpu.so"
  "$raspc" "$file" --target=cuda --gpu-arch="$arch" --emit=lib -o "$out/programs/$name.cuda.so"
  echo "$name $("$raspc" "$file" | "$here/signature.py")" >>"$out/programs.txt"
done

# Attention layers as bench/attention_bench.cpp writes them, in bf16 as the
# peers run (the tensor-core kernels): H = 16 heads of D, one sequence per
# call (the benchmark's B = 4 is four calls).
: >"$out/layers.txt"
# document: causal within documents of $DOCUMENT tokens, the ids an input
# the mask reads (FlexAttention's document mask); checked with documents of
# 37 so that the short check lengths see several.
DOCUMENT=512
for mask in full causal document; do
  for d in 64 128; do
    width=$((16 * d))
    inputs="xq: bf16[T, $width], xk: bf16[T, $width], xv: bf16[T, $width]"
    specs="bf16:T,$width bf16:T,$width bf16:T,$width"
    case $mask in
      full) pattern=true ;;
      causal) pattern="<=" ;;
      document)
        pattern="doc[key_pos] == doc[query_pos] and key_pos <= query_pos"
        inputs="$inputs, doc: i32[T]" specs="$specs i32:T:/$DOCUMENT" ;;
    esac
    src="$out/layers/${mask}_d$d.rasp"
    cat >"$src" <<RASP
model layer($inputs) -> bf16[T, $width] {
  let q = heads(xq, 16);
  let k = heads(xk, 16);
  let v = heads(xv, 16);
  let s = select(k, q, $pattern) scored dot(q, k) / sqrt($d);
  return merge_heads(aggregate(s, v, softmax));
}
RASP
    "$raspc" "$src" --target=cuda --gpu-arch="$arch" --emit=lib -o "$out/layers/${mask}_d$d.cuda.so"
    # Also checked against the CPU, as the examples are.
    cp "$out/layers/${mask}_d$d.cuda.so" "$out/programs/attention_${mask}_d$d.cuda.so"
    "$raspc" "$src" --emit=lib -o "$out/programs/attention_${mask}_d$d.cpu.so"
    echo "attention_${mask}_d$d layer bf16:2 ${specs/\/$DOCUMENT/\/37}" >>"$out/programs.txt"
    echo "$mask $d ${mask}_d$d.cuda.so bf16:2 $specs" >>"$out/layers.txt"
  done
done
# Tuning variants, timed against the default build of the same layer: the
# flash kernels with one MMA tile of rows per warp at head size 64 (the
# default there is two), and by warpgroup MMA (sm_90a; also checked
# against the CPU, as programs/attention_*_wgmma).
: >"$out/variants.txt"
for mask in full causal; do
  "$raspc" "$out/layers/${mask}_d64.rasp" --target=cuda --gpu-arch="$arch" --emit=lib \
    --gpu-flash-row-tiles=1 -o "$out/layers/${mask}_d64_rowtiles1.cuda.so"
  echo "row-tiles=1 $mask 64 ${mask}_d64_rowtiles1.cuda.so bf16:2 bf16:T,1024 bf16:T,1024 bf16:T,1024" \
    >>"$out/variants.txt"
  for d in 64 128; do
    width=$((16 * d)) name="${mask}_d${d}_wgmma"
    "$raspc" "$out/layers/${mask}_d$d.rasp" --target=cuda --gpu-arch=sm_90a --gpu-wgmma \
      --emit=lib -o "$out/layers/$name.cuda.so"
    echo "wgmma $mask $d $name.cuda.so bf16:2 bf16:T,$width bf16:T,$width bf16:T,$width" \
      >>"$out/variants.txt"
    # The warpgroup-MMA kernel without overlapping softmax and MMAs.
    "$raspc" "$out/layers/${mask}_d$d.rasp" --target=cuda --gpu-arch=sm_90a --gpu-wgmma \
      --gpu-wgmma-overlap=false --emit=lib -o "$out/layers/${name}_serial.cuda.so"
    echo "wgmma-serial $mask $d ${name}_serial.cuda.so bf16:2 bf16:T,$width bf16:T,$width bf16:T,$width" \
      >>"$out/variants.txt"
    cp "$out/layers/$name.cuda.so" "$out/programs/attention_$name.cuda.so"
    cp "$out/programs/attention_${mask}_d$d.cpu.so" "$out/programs/attention_$name.cpu.so"
    echo "attention_$name layer bf16:2 bf16:T,$width bf16:T,$width bf16:T,$width" \
      >>"$out/programs.txt"
  done
done

# Projections (x @ w: the matmul kernels, tensor cores for bf16, FMAs for
# f32): benchmarked at 4096 x 4096 against torch.matmul, and checked
# against the CPU at 512 x 384 (partial column tiles).
: >"$out/matmuls.txt"
for dtype in bf16 f32; do
  for size in "4096 4096 bench" "512 384 check"; do
    set -- $size
    name="proj_${dtype}_$1x$2"
    src="$out/layers/$name.rasp"
    cat >"$src" <<RASP
model projection(x: $dtype[T, $1]) -> $dtype[T, $2] {
  param w: $dtype[$1, $2];
  return x @ w;
}
RASP
    "$raspc" "$src" --target=cuda --gpu-arch="$arch" --emit=lib -o "$out/layers/$name.cuda.so"
    kernels="$([ "$dtype" = f32 ] && echo fma || echo mma.sync)=$name.cuda.so"
    # bf16 also by warpgroup MMA (sm_90a only; not yet the default).
    if [ "$dtype" = bf16 ]; then
      "$raspc" "$src" --target=cuda --gpu-arch=sm_90a --gpu-wgmma --emit=lib \
        -o "$out/layers/${name}_wgmma.cuda.so"
      kernels="$kernels wgmma=${name}_wgmma.cuda.so"
      # Without MMAs in flight across K steps (three stages, two blocks an SM).
      "$raspc" "$src" --target=cuda --gpu-arch=sm_90a --gpu-wgmma --gpu-wgmma-overlap=false \
        --emit=lib -o "$out/layers/${name}_wgmma_serial.cuda.so"
      kernels="$kernels wgmma-serial=${name}_wgmma_serial.cuda.so"
    fi
    specs="$dtype:2 $dtype:T,$1 $dtype:$1,$2"
    for kernel in $kernels; do
      label="${kernel%%=*}" lib="${kernel#*=}"
      if [ "$3" = bench ]; then
        echo "$label $dtype $1 $2 $lib $specs" >>"$out/matmuls.txt"
      else
        checked="${lib%.cuda.so}"
        cp "$out/layers/$lib" "$out/programs/$checked.cuda.so"
        "$raspc" "$src" --emit=lib -o "$out/programs/$checked.cpu.so"
        echo "$checked projection $specs" >>"$out/programs.txt"
      fi
    done
  done
done
# Whole models timed against the same layer in torch (peers.py has the torch
# side of each): the checked programs' CUDA builds.
grep -E '^(encoder_block|decoder_gqa_rope) ' "$out/programs.txt" | while read -r name entry result args; do
  echo "$name ../programs/$name.cuda.so $entry $result $args"
done >"$out/models.txt"
du -sh "$out"
