#!/usr/bin/env bash
# Registers and spills of every GPU kernel as the driver's compiler would make them for one architecture,
# without a GPU: ptxas from PyPI's nvidia-cuda-nvcc (Tools/setup-llamacpp-cuda.sh installs it under
# .cache/cuda/venv) on the worker's PTX. A spill, or a kernel whose widest path sets a register count that
# starves its common path of occupancy, shows here before any device time is spent.
#   Tools/ptxas-report.sh [ARCH] [PTX]   (default sm_90 and .build/release/swiftfile-gpu.ptx; the module with the
#                                         int8 tensor cores is .build/release/swiftfile-gpu-mma.ptx)
#   Tools/ptxas-report.sh all            (both modules on every architecture from sm_75 to sm_120: one summary line each)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "${1:-}" = all ]; then
    for module in swiftfile-gpu swiftfile-gpu-mma; do
        for a in sm_75 sm_80 sm_86 sm_89 sm_90 sm_100 sm_120; do
            printf '%-18s %s\n' "$module" "$("$0" "$a" "$root/.build/release/$module.ptx" | tail -1)"
        done
    done
    exit 0
fi
arch="${1:-sm_90}"
ptx="${2:-$root/.build/release/swiftfile-gpu.ptx}"
ptxas="$(find "$root/.cache/cuda/venv" -name ptxas -type f 2>/dev/null | head -1)"
[ -n "$ptxas" ] || { echo "no ptxas: bash Tools/setup-llamacpp-cuda.sh installs nvidia-cuda-nvcc under .cache/cuda/venv"; exit 1; }
"$ptxas" -arch="$arch" -v -O3 "$ptx" -o /dev/null 2>&1 |
    awk -v arch="$arch" '
        /Compiling entry function/ { match($0, /'"'"'[^'"'"']+'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2) }
        /bytes spill stores/ { split($0, a, ","); spill = a[2] + 0; sub(/^[^0-9]*/, "", a[2]); spill = a[2] + 0 }
        /Used [0-9]+ registers/ { match($0, /Used [0-9]+/); regs = substr($0, RSTART + 5, RLENGTH - 5) + 0
                                  smem = 0; if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11) + 0
                                  printf "%-20s %4d registers %6d bytes spilled %6d bytes shared\n", name, regs, spill, smem
                                  if (spill) spilled++ ; n++ }
        END { printf "%d kernels for %s, %d with spills\n", n, arch, spilled }' | sort -k2 -n -r
