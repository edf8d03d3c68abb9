#!/usr/bin/env bash
# arm64 check without an arm64 machine (see README "arm64"):
#  1. the portable kernels (PortableDot, reference dots, attention and activation loops: what arm64 runs)
#     built for aarch64 with Embedded Swift, run under qemu-aarch64, their output compared bit for bit
#     with the same harness built for x86-64; the aarch64 code of PortableDot is checked for NEON;
#  2. with --compile: GGUF, Tensors (+ the x86 kernel modules, empty there) and Model compiled for
#     aarch64-unknown-linux-gnu with the real compiler, against an aarch64 standard library module built
#     from this toolchain's textual interface (nothing is linked: no arm64 runtime library here).
# Needs qemu-user and the aarch64 cross C toolchain from Debian (`make setup` installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=${ARM64_CHECK_DIR:-$root/.build-arm64-check}
mkdir -p "$work"

for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
    command -v $tool >/dev/null || { echo "arm64-check: $tool missing (make setup installs it)" >&2; exit 1; }
done

# This toolchain's resource directory (standard library modules, embedded libraries).
toolchain=$(swiftc -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["paths"]["runtimeResourcePath"])')

# The Tensors sources the harness runs, with the x86 branches and module imports taken out.
src=$work/src
rm -rf "$src" && mkdir -p "$src"
for f in PortableDot ByteLoads ReferenceDot ReferenceDotK BlockLayouts Attention Activations; do
    sed -e 's/^\([[:space:]]*\)#if arch(x86_64)/\1#if false/' -e '/^import GGUF$/d' \
        "Sources/Tensors/$f.swift" > "$src/$f.swift"
done
cp Tools/arm64-check/Harness.swift Tools/arm64-check/Stubs.swift "$src/"

embedded=(-enable-experimental-feature Embedded -enable-experimental-feature Extern -wmo -O -parse-as-library
          -enforce-exclusivity=unchecked -Xfrontend -disable-stack-protector)
swiftc "${embedded[@]}" -target aarch64-none-none-elf -c "$src"/*.swift -o "$work/harness-arm64.o"
swiftc "${embedded[@]}" -target x86_64-unknown-linux-gnu -c "$src"/*.swift -o "$work/harness-x86.o"
# Static PIE: the embedded object's protected symbols cannot take copy relocations of a non-PIE link.
tables=$toolchain/embedded
aarch64-linux-gnu-gcc -static-pie "$work/harness-arm64.o" "$tables/aarch64-none-none-elf/libswiftUnicodeDataTables.a" -lm -o "$work/harness-arm64"
gcc "$work/harness-x86.o" "$tables/x86_64-unknown-linux-gnu/libswiftUnicodeDataTables.a" -lm -o "$work/harness-x86"

"$work/harness-x86" > "$work/x86.txt"
qemu-aarch64 "$work/harness-arm64" > "$work/arm64.txt"
lines=$(wc -l < "$work/x86.txt")
if ((lines < 600)); then
    echo "the harness printed only $lines results" >&2
    exit 1
fi
if ! cmp -s "$work/x86.txt" "$work/arm64.txt"; then
    echo "arm64 results differ from x86-64:" >&2
    diff "$work/x86.txt" "$work/arm64.txt" | head -20 >&2
    exit 1
fi
# PortableDot's K-quant kernels must also equal ReferenceDot (a bug alike on both ISAs shows here; Q4_0/Q4_1
# have their own chain order, checked against a scalar definition in PortableDotTests).
for format in q2_K q3_K q4_K q5_K q6_K; do
    if ! diff <(grep "^portable.$format " "$work/arm64.txt" | cut -d' ' -f2-) \
              <(grep "^reference.$format " "$work/arm64.txt" | cut -d' ' -f2-) >/dev/null; then
        echo "PortableDot.$format differs from ReferenceDot.$format on aarch64" >&2
        exit 1
    fi
done
echo "portable kernels: $lines results, aarch64 (qemu) = x86-64 bit for bit; K-quants = reference"

# NEON in the hot loops: PortableDot's kernel bodies (the specialised functions, not their one-jump
# thunks) must work on vector registers and call nothing (a call there is a generic SIMD conversion the
# compiler did not inline).
vectorised() {
    aarch64-linux-gnu-objdump -d --no-show-raw-insn "$1" | awk '
    /^[0-9a-f]+ <.*>:$/ { name = $2; next }
    name !~ /PortableDot/ || !/\t[a-z]/ { next }
    { all[name]++ }
    /\tv[0-9]|\.(4s|8h|16b|2d|4h|8b|2s)/ { vec[name]++ }
    /\tbl\t/ { calls[name]++ }
    END {
        for (n in all) {
            if (all[n] < 20) continue
            kernels++
            printf "  %s: %d of %d instructions on vector registers, %d calls\n", n, vec[n], all[n], calls[n]
            if (vec[n] < all[n] / 4 || calls[n] > 0) bad = 1
        }
        exit bad || kernels < 3
    }' || { echo "PortableDot is not vectorised on aarch64 in $1 (see above)" >&2; exit 1; }
}
vectorised "$work/harness-arm64.o"

if [[ "${1:-}" == --compile ]]; then
    # An aarch64 copy of the standard library's interfaces (Float80's two libm calls do not exist there).
    res=$work/resource-dir
    # Rebuilt when the toolchain (path or version) changes: the copies below would go stale.
    stamp="$toolchain $(swiftc --version 2>&1 | head -1)"
    if [[ ! -e $res/.ready || "$(cat "$res/.ready")" != "$stamp" ]]; then
        rm -rf "$res" && mkdir -p "$res"
        cp -as "$toolchain/." "$res/"
        for m in "$res"/linux/*.swiftmodule; do
            i=$m/x86_64-unknown-linux-gnu.swiftinterface
            [[ -e $i ]] && sed 's/x86_64-unknown-linux-gnu/aarch64-unknown-linux-gnu/g' "$i" > "$m/aarch64-unknown-linux-gnu.swiftinterface"
        done
        sed -i -e 's/self = _stdlib_remainderl(self, other)/self = other/' -e 's/self = _stdlib_squareRootl(self)/_ = self/' \
            "$res/linux/Swift.swiftmodule/aarch64-unknown-linux-gnu.swiftinterface"
        # Dispatch ships no textual interface; declare the one API Model uses, with its real signature.
        rm -rf "$res/linux/Dispatch.swiftmodule" && mkdir -p "$res/linux/Dispatch.swiftmodule"
        printf '%s\n' '// swift-interface-format-version: 1.0' \
            '// swift-module-flags: -target aarch64-unknown-linux-gnu -module-name Dispatch' \
            'public class DispatchQueue {' \
            '  public class func concurrentPerform(iterations: Int, execute work: (Int) -> Void)' \
            '}' > "$res/linux/Dispatch.swiftmodule/aarch64-unknown-linux-gnu.swiftinterface"
        mkdir -p "$res/linux/aarch64"
        cp -L "$res"/linux/x86_64/{glibc.modulemap,SwiftGlibc.h} "$res/linux/aarch64/"
        echo "$stamp" > "$res/.ready"
    fi
    if ! swift build -c release --build-path "$work/build" --triple aarch64-unknown-linux-gnu --sdk /usr/aarch64-linux-gnu \
        -Xswiftc -resource-dir -Xswiftc "$res" --target Model > "$work/build.log" 2>&1; then
        grep -E 'error' "$work/build.log" | sort -u | head -20 >&2
        echo "aarch64 compile failed: $work/build.log" >&2
        exit 1
    fi
    echo "GGUF, Tensors, Model: compiled for aarch64-unknown-linux-gnu; PortableDot in that build:"
    vectorised "$work/build/aarch64-unknown-linux-gnu/release/Tensors.build/PortableDot.swift.o"
fi
