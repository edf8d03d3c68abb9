#!/usr/bin/env bash
# Builds the GPU worker (GPU/): kernels.cu → PTX with clang's CUDA mode (no CUDA toolkit: clang-14 from
# Debian has the NVPTX target), embedded into swiftfile-gpu, a small C program linked against glibc alone
# that opens the driver's libcuda.so.1 at run time. Without such a clang the worker is skipped and the
# runner is CPU-only (it says so in --version); the build does not fail.
#   Tools/build-gpu-worker.sh OUTDIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.build/release}"
mkdir -p "$out"
# PTX ISA 6.4 (CUDA 10.1) for sm_70: any driver from 418 on can JIT it, for every GPU from Volta on.
# No implicit contraction: a fused multiply-add is one the source writes (the CPU engine's exp and sums are
# reproduced operation by operation), and the host build of the same source computes the same bits.
ptx_flags=(-x cuda --cuda-device-only -nocudalib -nocudainc --cuda-gpu-arch=sm_70
           -Xclang -target-feature -Xclang +ptx64 -O3 -std=c++17 -ffp-contract=off -Wall -S)
# A second module for Turing and later (sm_75, PTX ISA 6.5: drivers from 440 on) sums the integer prompt tiles on
# the int8 tensor cores (INT8_MMA, kernels.cu); the worker loads it where the GPU and driver take it.
mma_flags=(-x cuda --cuda-device-only -nocudalib -nocudainc --cuda-gpu-arch=sm_75
           -Xclang -target-feature -Xclang +ptx65 -DINT8_MMA -O3 -std=c++17 -ffp-contract=off -Wall -S)
find_clang() {
    for candidate in "${GPU_CLANG:-}" clang-14 clang-15 clang-16 clang; do
        [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -print-targets 2>/dev/null | grep -q nvptx64; then echo "$candidate"; return; fi
    done
}
clang="$(find_clang)"
if [ -z "$clang" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # Best effort: Debian's clang-14 (the build goes on CPU-only if it cannot be had).
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14; }; } >/dev/null 2>&1 || true
    clang="$(find_clang)"
fi
rm -f "$out/swiftfile-gpu"
if [ -z "$clang" ]; then
    echo "swiftfile-gpu: not built (no clang with the NVPTX target; apt-get install clang-14): the runner is CPU-only"
    exit 0
fi
if ! "$clang" "${ptx_flags[@]}" -o "$out/swiftfile-gpu.ptx" "$root/GPU/kernels.cu"; then
    echo "swiftfile-gpu: not built ($clang could not compile GPU/kernels.cu): the runner is CPU-only" >&2
    exit 0
fi
mma_define=()
if "$clang" "${mma_flags[@]}" -o "$out/swiftfile-gpu-mma.ptx" "$root/GPU/kernels.cu"; then
    mma_define=(-DGPU_PTX_MMA_PATH="$out/swiftfile-gpu-mma.ptx")
else
    rm -f "$out/swiftfile-gpu-mma.ptx"
    echo "swiftfile-gpu: no sm_75 module ($clang could not compile it): prompts on the CUDA cores everywhere" >&2
fi
cc -O2 -std=gnu11 -Wall -Wextra -s -DGPU_PTX_PATH="$out/swiftfile-gpu.ptx" ${mma_define[@]+"${mma_define[@]}"} -o "$out/swiftfile-gpu" \
    "$root/GPU/worker.c" -ldl -lm
# The stand-in driver the tests run the worker on where there is no GPU (never shipped): the same kernels
# compiled for the host, run by GPU/stand_in_driver.c one CUDA thread per fiber.
mkdir -p "$out/stand-in-driver"
# Every typed load and store is checked for the alignment a GPU needs (stand_in_driver.c, "misaligned address").
"$clang" -x c++ -std=c++17 -O2 -ffp-contract=off -Wall -fPIC -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-strict-aliasing \
    -fsanitize=alignment -fno-sanitize-link-runtime -DINT8_MMA -c -o "$out/stand-in-driver/kernels.o" "$root/GPU/kernels.cu"
cc -O2 -std=gnu11 -Wall -Wextra -shared -fPIC -o "$out/stand-in-driver/libcuda.so.1" "$root/GPU/stand_in_driver.c" \
    "$out/stand-in-driver/kernels.o" -lm
ls -l "$out/swiftfile-gpu" | awk -v mma="${#mma_define[@]}" '{print "swiftfile-gpu: " $5 " bytes (PTX ISA 6.4 for sm_70+, drivers ≥ 418" (mma ? "; int8 tensor cores: PTX ISA 6.5 for sm_75+, drivers ≥ 440" : "") ")"}'
