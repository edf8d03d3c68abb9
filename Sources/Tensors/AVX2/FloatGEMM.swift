#if arch(x86_64)
import _Builtin_intrinsics.intel

// F16 weights against activations held as f32 values already rounded to F16 precision (what
// llama.cpp's F16 matrix products see), so the activations need no conversion in the loops.

extension AVX2Dot {
    /// results[r · resultStride] = row r · y for `rows` F16 rows, in llama.cpp's single-token order (its
    /// AVX-512 vec_dot, which recorded our goldens): columns 64s + 16j + l go to chain (j, l); chains j
    /// and j+2 add, then the two pairs, then the 16 lanes as a tree (k + k+8, then 4, 2, 1 apart); columns
    /// past the last whole 64 are added one by one in double.
    public static func f16RowsF32(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, _ y: UnsafePointer<Float>,
                                  _ count: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let yp = UnsafeRawPointer(y)
        var r = 0
        while r < rows {
            let row = x + r * rowStride
            @inline(__always) func product(_ c: Int, _ acc: __m256) -> __m256 {
                _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * c)), yp.loadUnaligned(fromByteOffset: 4 * c, as: __m256.self), acc)
            }
            let zero = _mm256_setzero_ps()
            var a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero
            var i = 0
            while i + 64 <= count {
                a0 = product(i, a0); a1 = product(i + 8, a1); a2 = product(i + 16, a2); a3 = product(i + 24, a3)
                a4 = product(i + 32, a4); a5 = product(i + 40, a5); a6 = product(i + 48, a6); a7 = product(i + 56, a7)
                i += 64
            }
            // (j0 + j2) + (j1 + j3), low and high 8 lanes apart, then the 16-lane tree.
            let low = _mm256_add_ps(_mm256_add_ps(a0, a4), _mm256_add_ps(a2, a6))
            let high = _mm256_add_ps(_mm256_add_ps(a1, a5), _mm256_add_ps(a3, a7))
            var sum = Double(horizontalSum(_mm256_add_ps(low, high)))
            while i < count {
                sum += Double(half(row, 2 * i) * y[i])
                i += 1
            }
            results[r * resultStride] = Float(sum)
            r += 1
        }
    }

    /// Tokens per block of the batch layout (two 8-lane vectors).
    public static let f16TokenBlock = 16

    /// Rounded activations of a batch rearranged for `f16Tiles`: per block of 16 tokens, column 16i + l of
    /// token t at (l·I + i)·16 + t (I = columns / 16), so one pass over chain l reads consecutive vectors.
    /// Tokens past the end are zero. Writes block `block` at out + block·16·columns. columns % 16 == 0.
    public static func f16PermuteTokens(_ y: UnsafePointer<Float>, yStride: Int, tokens: Int, columns: Int,
                                        block: Int, into out: UnsafeMutablePointer<Float>) {
        let width = f16TokenBlock, steps = columns / 16
        let base = out + block * width * columns
        var k = 0
        while k < width {
            let t = block * width + k
            if t < tokens {
                let source = y + t * yStride
                var c = 0
                while c < columns {
                    base[((c & 15) * steps + (c >> 4)) * width + k] = source[c]
                    c += 1
                }
            } else {
                var c = 0
                while c < columns { base[c * width + k] = 0; c += 1 }
            }
            k += 1
        }
    }

    /// Floats of scratch `f16Tiles` needs per thread (one 6-row panel).
    public static func f16PanelFloats(columns: Int) -> Int { 6 * f16PanelStride(columns: columns) }

    /// Panel rows 64 bytes longer than a power of two apart, so the six broadcast streams do not share L1 sets.
    public static func f16PanelStride(columns: Int) -> Int { columns + 16 }

    /// One F16 row widened to f32 in chain-major order: column 16i + l at out[l·steps + i]. Eight steps at
    /// a time go through two 8 × 8 transposes (one for chains 0–7, one for 8–15).
    @inline(__always)
    public static func widenChainMajor(_ row: UnsafeRawPointer, steps: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= steps {
            // Written out: a register of `Eight` picked by a variable index is a jump table.
            @inline(__always) func widen(_ k: Int, _ half: Int) -> __m256i {
                _mm256_castps_si256(_mm256_cvtph_ps(load128(row + 32 * (i + k) + 16 * half)))
            }
            var low = Eight(repeating: _mm256_setzero_si256()), high = low
            (low.v0, low.v1, low.v2, low.v3, low.v4, low.v5, low.v6, low.v7) =
                (widen(0, 0), widen(1, 0), widen(2, 0), widen(3, 0), widen(4, 0), widen(5, 0), widen(6, 0), widen(7, 0))
            (high.v0, high.v1, high.v2, high.v3, high.v4, high.v5, high.v6, high.v7) =
                (widen(0, 1), widen(1, 1), widen(2, 1), widen(3, 1), widen(4, 1), widen(5, 1), widen(6, 1), widen(7, 1))
            let a = AVX2GEMM.transpose(low), b = AVX2GEMM.transpose(high)
            @inline(__always) func put(_ l: Int, _ chain: __m256i, _ upper: __m256i) {
                UnsafeMutableRawPointer(out + l * steps + i).storeBytes(of: chain, as: __m256i.self)
                UnsafeMutableRawPointer(out + (l + 8) * steps + i).storeBytes(of: upper, as: __m256i.self)
            }
            put(0, a.v0, b.v0); put(1, a.v1, b.v1); put(2, a.v2, b.v2); put(3, a.v3, b.v3)
            put(4, a.v4, b.v4); put(5, a.v5, b.v5); put(6, a.v6, b.v6); put(7, a.v7, b.v7)
            i += 8
        }
        while i < steps {
            let low = _mm256_cvtph_ps(load128(row + 32 * i)), high = _mm256_cvtph_ps(load128(row + 32 * i + 16))
            withUnsafeBytes(of: (low, high)) { lanes in
                let v = lanes.bindMemory(to: Float.self)
                var l = 0
                while l < 16 { out[l * steps + i] = v[l]; l += 1 }
            }
            i += 1
        }
    }

    /// Prompt batches in llama.cpp's batch order (tinyBLAS with 16-lane registers): for each (row, token),
    /// column c feeds chain c % 16, chains sum in column order with fused multiply-adds, then the 16-lane
    /// tree. Computed as outer products: 6 rows (widened to f32, chain-major, in `panel`) times 16 tokens
    /// (`permuted`, from f16PermuteTokens) — per column step 6 broadcasts, 2 loads and 12 FMAs (12
    /// accumulators and 3 operands fill the 16 registers: one more and LLVM spills an accumulator, which
    /// puts a store and a reload into its FMA chain), one chain at a time for all 96 cells. results[t · resultStride + r]. columns % 16 == 0.
    public static func f16Tiles(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, permuted: UnsafePointer<Float>,
                                tokens: Int, columns: Int, panel: UnsafeMutablePointer<Float>,
                                _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: 16 * 12) { chains in
            guard let chains = chains.baseAddress else { return }
            f16Tiles(EightLanes.self, x, rowStride: rowStride, rows: rows, permuted: permuted, tokens: tokens, columns: columns,
                     panel: panel, results, resultStride: resultStride, chains: chains)
        }
    }

    /// `f16Tiles` on registers of `L`: a cell is 6 rows × L.lanes tokens of one 16-token block (AVX2: the two
    /// halves of a block; AVX-512: two blocks a step). `chains`: 16 · 12 registers, allocated by the caller (a
    /// closure in this generic code would be compiled without the caller's CPU features).
    @inlinable
    public static func f16Tiles<L: TileLanes>(_ lanes: L.Type, _ x: UnsafeRawPointer, rowStride: Int, rows: Int,
                                              permuted: UnsafePointer<Float>, tokens: Int, columns: Int,
                                              panel: UnsafeMutablePointer<Float>, _ results: UnsafeMutablePointer<Float>,
                                              resultStride: Int, chains: UnsafeMutablePointer<L.Vector>) {
        let width = f16TokenBlock, steps = columns / 16, panelStride = f16PanelStride(columns: columns)
        let blocks = (tokens + width - 1) / width, blocksPerStep = L.lanes / 8
        var r0 = 0
        while r0 < rows {
            // Rows r0…r0+5 (a short panel repeats its last row: computed, not stored), chain-major f32.
            var r = 0
            while r < 6 {
                widenChainMajor(x + min(r0 + r, rows - 1) * rowStride, steps: steps, into: panel + r * panelStride)
                r += 1
            }
            var block = 0
            while block < blocks {
                // The step's two vectors of tokens: the halves of this block (8 lanes), or this block and the
                // next (16 lanes; a lone last block twice: computed, not stored).
                let xa = UnsafeRawPointer(permuted + block * width * columns)
                let xb = blocksPerStep == 1 ? xa + 32 : block + 1 < blocks ? xa + 4 * width * columns : xa
                var l = 0
                while l < 16 {
                    let zero = L.zero()
                    var c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero
                    var c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero
                    let ya = xa + 4 * l * steps * width, yb = xb + 4 * l * steps * width
                    let w0 = panel + l * steps, w1 = w0 + panelStride, w2 = w1 + panelStride
                    let w3 = w2 + panelStride, w4 = w3 + panelStride, w5 = w4 + panelStride
                    var i = 0
                    while i < steps {
                        let y0 = L.load(ya + 64 * i), y1 = L.load(yb + 64 * i)
                        var a = L.broadcast(w0[i])
                        c00 = L.fma(a, y0, c00); c01 = L.fma(a, y1, c01)
                        a = L.broadcast(w1[i])
                        c10 = L.fma(a, y0, c10); c11 = L.fma(a, y1, c11)
                        a = L.broadcast(w2[i])
                        c20 = L.fma(a, y0, c20); c21 = L.fma(a, y1, c21)
                        a = L.broadcast(w3[i])
                        c30 = L.fma(a, y0, c30); c31 = L.fma(a, y1, c31)
                        a = L.broadcast(w4[i])
                        c40 = L.fma(a, y0, c40); c41 = L.fma(a, y1, c41)
                        a = L.broadcast(w5[i])
                        c50 = L.fma(a, y0, c50); c51 = L.fma(a, y1, c51)
                        i += 1
                    }
                    let o = 12 * l
                    chains[o] = c00; chains[o + 1] = c01; chains[o + 2] = c10; chains[o + 3] = c11
                    chains[o + 4] = c20; chains[o + 5] = c21; chains[o + 6] = c30; chains[o + 7] = c31
                    chains[o + 8] = c40; chains[o + 9] = c41; chains[o + 10] = c50; chains[o + 11] = c51
                    l += 1
                }
                // The 16-lane tree per cell (row, vector).
                var cell = 0
                while cell < 12 {
                    @inline(__always) func chain(_ k: Int) -> L.Vector { chains[12 * k + cell] }
                    @inline(__always) func pair(_ k: Int) -> L.Vector { L.add(chain(k), chain(k + 8)) }
                    let b0 = L.add(pair(0), pair(4)), b1 = L.add(pair(1), pair(5))
                    let b2 = L.add(pair(2), pair(6)), b3 = L.add(pair(3), pair(7))
                    let total = L.add(L.add(b0, b2), L.add(b1, b3))
                    let row = r0 + cell / 2, first = block * width + L.lanes * (cell % 2)
                    if row < rows {
                        var k = 0
                        while k < L.lanes, first + k < tokens {
                            results[(first + k) * resultStride + row] = L.lane(total, k)
                            k += 1
                        }
                    }
                    cell += 1
                }
                block += blocksPerStep
            }
            r0 += 6
        }
    }
}

/// The registers of the F16 tiles (AVX2Dot.f16Tiles): 8 lanes here, 16 in TensorsAVX512.
public protocol TileLanes {
    associatedtype Vector
    /// Tokens per register: 8 or 16.
    static var lanes: Int { get }
    static func zero() -> Vector
    static func broadcast(_ x: Float) -> Vector
    static func load(_ p: UnsafeRawPointer) -> Vector
    static func fma(_ a: Vector, _ b: Vector, _ c: Vector) -> Vector
    static func add(_ a: Vector, _ b: Vector) -> Vector
    static func lane(_ v: Vector, _ k: Int) -> Float
}

public enum EightLanes: TileLanes {
    @inlinable @inline(__always) public static var lanes: Int { 8 }
    @inlinable @inline(__always) public static func zero() -> __m256 { _mm256_setzero_ps() }
    @inlinable @inline(__always) public static func broadcast(_ x: Float) -> __m256 { _mm256_set1_ps(x) }
    @inlinable @inline(__always) public static func load(_ p: UnsafeRawPointer) -> __m256 { p.loadUnaligned(as: __m256.self) }
    @inlinable @inline(__always) public static func fma(_ a: __m256, _ b: __m256, _ c: __m256) -> __m256 { _mm256_fmadd_ps(a, b, c) }
    @inlinable @inline(__always) public static func add(_ a: __m256, _ b: __m256) -> __m256 { _mm256_add_ps(a, b) }
    @inlinable @inline(__always) public static func lane(_ v: __m256, _ k: Int) -> Float { v[k] }
}

extension AVX2Quantize {
    /// dst[i] = src[i] rounded to the nearest F16 value (ties to even), kept as f32; beyond the F16 range → ±inf.
    public static func roundToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        let absMask = _mm256_set1_epi32(0x7FFF_FFFF)
        let smallest = _mm256_set1_epi32(0x3880_0000 - 1)  // bits of 2⁻¹⁴ minus one: below → F16 subnormal
        let largest = _mm256_set1_epi32(0x477F_F000 - 1)   // bits of 65520 minus one: at or above → inf
        let infinity = _mm256_set1_epi32(0x7F80_0000), half = _mm256_set1_ps(0.5)
        var i = 0
        while i + 8 <= count {
            let bits = UnsafeRawPointer(src + i).loadUnaligned(as: __m256i.self)
            let magnitude = _mm256_and_si256(bits, absMask)
            let sign = _mm256_andnot_si256(absMask, bits)
            let odd = _mm256_and_si256(_mm256_srli_epi32(magnitude, 13), _mm256_set1_epi32(1))
            let normal = _mm256_andnot_si256(_mm256_set1_epi32(0x1FFF),
                                             _mm256_add_epi32(magnitude, _mm256_add_epi32(_mm256_set1_epi32(0xFFF), odd)))
            let m = _mm256_castsi256_ps(magnitude)
            let subnormal = _mm256_castps_si256(_mm256_sub_ps(_mm256_add_ps(m, half), half))
            var r = _mm256_blendv_epi8(subnormal, normal, _mm256_cmpgt_epi32(magnitude, smallest))
            r = _mm256_blendv_epi8(r, infinity, _mm256_cmpgt_epi32(magnitude, largest))
            (UnsafeMutableRawPointer(dst + i)).storeBytes(of: _mm256_or_si256(r, sign), as: __m256i.self)
            i += 8
        }
        while i < count {
            dst[i] = Float(Float16(src[i]))
            i += 1
        }
    }
}
#endif
