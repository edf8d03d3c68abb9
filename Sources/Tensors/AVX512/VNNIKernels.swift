#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsAVX2  // the layouts (InterleavedLayout, InterleavedByteLayout)

// AVX-512 VNNI (with AVX-512 VL on 256-bit registers) versions of the interleaved-weight kernels of
// Sources/Tensors/AVX2/InterleavedKernels.swift and InterleavedBytes.swift: same layouts, same results
// (integer sums are exact either way). vpdpbusd multiplies 4 unsigned weight bytes by 4 signed
// activation bytes and adds them to a 32-bit lane in one instruction, replacing maddubs + madd + add;
// no 16-bit stage, so nothing can saturate. This module is compiled for AVX-512; nothing in it may run
// before CPUFeatures found AVX-512 F/BW/VL + VNNI enabled by the OS.

@inline(__always) private func load256(_ p: UnsafeRawPointer) -> __m256i { p.loadUnaligned(as: __m256i.self) }
@inline(__always) private func load128(_ p: UnsafeRawPointer) -> __m128i { p.loadUnaligned(as: __m128i.self) }
@inline(__always) private func float(_ p: UnsafeRawPointer, _ offset: Int) -> Float { p.loadUnaligned(fromByteOffset: offset, as: Float.self) }

/// acc + Σ over each 32-bit lane of (4 unsigned bytes of u) · (4 signed bytes of s).
@inline(__always) private func dot4(_ acc: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i {
    _mm256_maskz_dpbusd_epi32(0xFF, acc, u, s)
}

@inline(__always) private func store(_ v: __m256, _ out: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(out).storeBytes(of: v, as: __m256.self)
}

public enum VNNIKernels {
    /// As AVX2GEMM.interleavedNibbles (Q4_0 with Q8_0 activations and 8·Σa corrections, or Q4_1 with Q8_1).
    public static func interleavedNibbles(_ weights: UnsafeRawPointer, panels: Int, blocks: Int, isQ4_1: Bool,
                                          activations: UnsafeRawPointer, activationStride: Int,
                                          corrections: UnsafePointer<Int32>, tokens: Int,
                                          results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let panelBytes = blocks * InterleavedLayout.blockBytes(isQ4_1: isQ4_1)
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens {
                    if isQ4_1 { nibbleTile(w, blocks, true, 1, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    else { nibbleTile(w, blocks, false, 1, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    t += 1
                }
            } else {
                while t < tokens {
                    if isQ4_1 { nibbleTile(w, blocks, true, 4, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    else { nibbleTile(w, blocks, false, 4, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    t += 4
                }
            }
            p += 1
        }
    }

    @inline(__always)
    static func nibbleTile(_ w: UnsafeRawPointer, _ blocks: Int, _ isQ4_1: Bool, _ tile: Int,
                           _ activations: UnsafeRawPointer, _ activationStride: Int, _ corrections: UnsafePointer<Int32>,
                           _ t: Int, _ tokens: Int, _ results: UnsafeMutablePointer<Float>, _ resultStride: Int) {
        let blockBytes = InterleavedLayout.blockBytes(isQ4_1: isQ4_1), scaleBytes = isQ4_1 ? 32 : 16
        let activationBlock = isQ4_1 ? 40 : 34, dataOffset = isQ4_1 ? 8 : 2
        let low = _mm256_set1_epi8(0x0F)
        let tk = (t, min(t + 1, tokens - 1), min(t + 2, tokens - 1), min(t + 3, tokens - 1))
        let y = (activations + tk.0 * activationStride, activations + tk.1 * activationStride,
                 activations + tk.2 * activationStride, activations + tk.3 * activationStride)
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        var offsets = acc  // Q4_1's Σm·s: a chain of its own, added to the scaled sums at the end
        var b = 0
        while b < blocks {
            let pb = w + b * blockBytes
            var s = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
            var j = 0
            while j < 4 {
                let q = load256(pb + scaleBytes + 32 * j)
                let lo = _mm256_and_si256(q, low), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low)
                let o = activationBlock * b + dataOffset + 4 * j
                @inline(__always) func step(_ yt: UnsafeRawPointer, _ sum: __m256i) -> __m256i {
                    let a0 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                    let a1 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o + 16, as: Int32.self))
                    return dot4(dot4(sum, lo, a0), hi, a1)
                }
                s.0 = step(y.0, s.0)
                if tile > 1 { s.1 = step(y.1, s.1); s.2 = step(y.2, s.2); s.3 = step(y.3, s.3) }
                j += 1
            }
            let d = _mm256_cvtph_ps(load128(pb))
            @inline(__always) func finish(_ sum: __m256i, _ yt: UnsafeRawPointer, _ token: Int, _ a: __m256) -> __m256 {
                let yb = yt + activationBlock * b
                if isQ4_1 {
                    return _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(float(yb, 0))), _mm256_cvtepi32_ps(sum), a)
                }
                let s32 = _mm256_sub_epi32(sum, _mm256_set1_epi32(corrections[token * blocks + b]))
                let dy = _mm256_cvtph_ps(_mm_set1_epi16(yb.loadUnaligned(as: Int16.self)))
                return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(s32), a)
            }
            acc.0 = finish(s.0, y.0, tk.0, acc.0)
            if tile > 1 {
                acc.1 = finish(s.1, y.1, tk.1, acc.1)
                acc.2 = finish(s.2, y.2, tk.2, acc.2)
                acc.3 = finish(s.3, y.3, tk.3, acc.3)
            }
            if isQ4_1 {
                let m = _mm256_cvtph_ps(load128(pb + 16))
                @inline(__always) func offset(_ yt: UnsafeRawPointer, _ o: __m256) -> __m256 {
                    _mm256_fmadd_ps(m, _mm256_set1_ps(float(yt + activationBlock * b, 4)), o)
                }
                offsets.0 = offset(y.0, offsets.0)
                if tile > 1 {
                    offsets.1 = offset(y.1, offsets.1)
                    offsets.2 = offset(y.2, offsets.2)
                    offsets.3 = offset(y.3, offsets.3)
                }
            }
            b += 1
        }
        if isQ4_1 {
            acc = (_mm256_add_ps(acc.0, offsets.0), _mm256_add_ps(acc.1, offsets.1),
                   _mm256_add_ps(acc.2, offsets.2), _mm256_add_ps(acc.3, offsets.3))
        }
        store(acc.0, results + t * resultStride)
        if tile > 1 {
            if t + 1 < tokens { store(acc.1, results + (t + 1) * resultStride) }
            if t + 2 < tokens { store(acc.2, results + (t + 2) * resultStride) }
            if t + 3 < tokens { store(acc.3, results + (t + 3) * resultStride) }
        }
    }

    /// As AVX2GEMM.interleavedBytes (interleaved Q8_0, Q8_0 activations), with the same order: llama.cpp's
    /// eight per-group accumulators for every token, one at a time or in tiles of four.
    public static func interleavedBytes(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                        activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                        results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let panelBytes = blocks * InterleavedByteLayout.blockBytes
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens { byteRow(w, blocks, activations + t * activationStride, out + t * resultStride); t += 1 }
            } else {
                while t < tokens { byteTile(w, blocks, activations, activationStride, t, tokens, out, resultStride); t += 4 }
            }
            p += 1
        }
    }

    /// Σ over a lane's 4 bytes of w·a for signed w: |w| (unsigned) times a carrying w's sign.
    @inline(__always) private static func signedDot(_ acc: __m256i, _ q: __m256i, _ a: __m256i) -> __m256i {
        dot4(acc, _mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q))
    }

    @inline(__always)
    static func byteRow(_ w: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeRawPointer, _ results: UnsafeMutablePointer<Float>) {
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        var b = 0
        while b < blocks {
            let pb = w + b * InterleavedByteLayout.blockBytes
            let scale = _mm256_mul_ps(_mm256_cvtph_ps(load128(pb)),
                                      _mm256_cvtph_ps(_mm_set1_epi16(y.loadUnaligned(fromByteOffset: 34 * b, as: Int16.self))))
            @inline(__always) func group(_ g: Int, _ a: __m256) -> __m256 {
                let q = load256(pb + 16 + 32 * g)
                let x = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: 34 * b + 2 + 4 * g, as: Int32.self))
                return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(signedDot(_mm256_setzero_si256(), q, x)), a)
            }
            acc.0 = group(0, acc.0); acc.1 = group(1, acc.1); acc.2 = group(2, acc.2); acc.3 = group(3, acc.3)
            acc.4 = group(4, acc.4); acc.5 = group(5, acc.5); acc.6 = group(6, acc.6); acc.7 = group(7, acc.7)
            b += 1
        }
        // ((g0+g4)+(g2+g6)) + ((g1+g5)+(g3+g7)): the lane order of llama.cpp's horizontal sum.
        let total = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc.0, acc.4), _mm256_add_ps(acc.2, acc.6)),
                                  _mm256_add_ps(_mm256_add_ps(acc.1, acc.5), _mm256_add_ps(acc.3, acc.7)))
        store(total, results)
    }

    /// Four tokens in `byteRow`'s order (as AVX2GEMM's byte tile: groups in four passes of two, each pass
    /// with 8 accumulators, the chain sums summed in the final order at the end).
    @inline(__always)
    static func byteTile(_ w: UnsafeRawPointer, _ blocks: Int, _ activations: UnsafeRawPointer, _ activationStride: Int,
                         _ t: Int, _ tokens: Int, _ results: UnsafeMutablePointer<Float>, _ resultStride: Int) {
        let y = (activations + t * activationStride, activations + min(t + 1, tokens - 1) * activationStride,
                 activations + min(t + 2, tokens - 1) * activationStride, activations + min(t + 3, tokens - 1) * activationStride)
        // chains[4·g + token]: the chain sums; scales[4·b + token]: d(rows)·dy(token), formed in the first pass.
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: 32 + 4 * blocks) { buffer in
            let chains = buffer.baseAddress!, scales = chains + 32
            var g0 = 0
            while g0 < 8 {
                let zero = _mm256_setzero_ps()
                var a = (zero, zero, zero, zero), c = (zero, zero, zero, zero)  // groups g0 and g0+1
                var b = 0
                while b < blocks {
                    let pb = w + b * InterleavedByteLayout.blockBytes
                    if g0 == 0 {
                        let d = _mm256_cvtph_ps(load128(pb))
                        @inline(__always) func scale(_ yt: UnsafeRawPointer) -> __m256 {
                            _mm256_mul_ps(d, _mm256_cvtph_ps(_mm_set1_epi16(yt.loadUnaligned(fromByteOffset: 34 * b, as: Int16.self))))
                        }
                        (scales[4 * b], scales[4 * b + 1], scales[4 * b + 2], scales[4 * b + 3]) = (scale(y.0), scale(y.1), scale(y.2), scale(y.3))
                    }
                    let s = (scales[4 * b], scales[4 * b + 1], scales[4 * b + 2], scales[4 * b + 3])
                    @inline(__always) func group(_ g: Int, _ acc: inout (__m256, __m256, __m256, __m256)) {
                        let q = load256(pb + 16 + 32 * g)
                        let magnitude = _mm256_sign_epi8(q, q)
                        let o = 34 * b + 2 + 4 * g
                        @inline(__always) func step(_ yt: UnsafeRawPointer, _ scale: __m256, _ sum: __m256) -> __m256 {
                            let x = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                            let dot = dot4(_mm256_setzero_si256(), magnitude, _mm256_sign_epi8(x, q))
                            return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), sum)
                        }
                        acc.0 = step(y.0, s.0, acc.0); acc.1 = step(y.1, s.1, acc.1)
                        acc.2 = step(y.2, s.2, acc.2); acc.3 = step(y.3, s.3, acc.3)
                    }
                    group(g0, &a)
                    group(g0 + 1, &c)
                    b += 1
                }
                (chains[4 * g0], chains[4 * g0 + 1], chains[4 * g0 + 2], chains[4 * g0 + 3]) = a
                (chains[4 * g0 + 4], chains[4 * g0 + 5], chains[4 * g0 + 6], chains[4 * g0 + 7]) = c
                g0 += 2
            }
            @inline(__always) func total(_ k: Int) -> __m256 {
                @inline(__always) func f(_ g: Int) -> __m256 { chains[4 * g + k] }
                return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(f(0), f(4)), _mm256_add_ps(f(2), f(6))),
                                     _mm256_add_ps(_mm256_add_ps(f(1), f(5)), _mm256_add_ps(f(3), f(7))))
            }
            store(total(0), results + t * resultStride)
            if t + 1 < tokens { store(total(1), results + (t + 1) * resultStride) }
            if t + 2 < tokens { store(total(2), results + (t + 2) * resultStride) }
            if t + 3 < tokens { store(total(3), results + (t + 3) * resultStride) }
        }
    }
}
/// One panel or two per kernel call, as a type (see SuperBlockKind).
protocol PanelCount { static var isPair: Bool { get } }
enum OnePanel: PanelCount { @inline(__always) static var isPair: Bool { false } }
enum TwoPanels: PanelCount { @inline(__always) static var isPair: Bool { true } }

extension VNNIKernels {
    /// As AVX2GEMM.superBlockPanel (same panels, same integer sums): vpdpbusd sums each group of 4 columns
    /// straight into 32 bits, so a sub-block of 16 columns costs 4 broadcasts, 4 vpdpbusd and one 32-bit
    /// multiply by the rows' scales, with no 16-bit stage to bound. The signed formats (IQ4_XS, the grid I-quants)
    /// multiply w (signed) by a + 128 (unsigned, prepared once per batch) and subtract the panel's 128 · Σ s·w per
    /// row: no sign step. `flipped`: for those, each token's activation bytes + 128 (`flippedStride` apart).
    public static func superBlockPanel(_ format: SuperBlockFormat, _ panel: UnsafeRawPointer, superBlocks: Int,
                                       activations: UnsafeRawPointer, activationStride: Int,
                                       flipped: UnsafeRawPointer, flippedStride: Int, tokens: Int,
                                       results: UnsafeMutablePointer<Float>, resultStride: Int, rowCount: Int) {
        if rowCount > 8 {
            superBlockPanel(format, TwoPanels.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        } else {
            superBlockPanel(format, OnePanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        }
    }

    @inline(__always)
    private static func superBlockPanel<P: PanelCount>(_ format: SuperBlockFormat, _ count: P.Type, _ panel: UnsafeRawPointer, _ superBlocks: Int,
                                                       _ activations: UnsafeRawPointer, _ activationStride: Int,
                                                       _ flipped: UnsafeRawPointer, _ flippedStride: Int, _ tokens: Int,
                                                       _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int) {
        switch format {
        case .q2_K: superBlockTiles(Q2KPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q3_K: superBlockTiles(Q3KPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q4_K: superBlockTiles(Q4KPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q5_K: superBlockTiles(Q5KPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q6_K: superBlockTiles(Q6KPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq4_xs: superBlockTiles(IQ4XSPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq1_s: superBlockTiles(IQ1SPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq1_m: superBlockTiles(IQ1MPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_xxs: superBlockTiles(IQ2XXSPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_xs: superBlockTiles(IQ2XSPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_s: superBlockTiles(IQ2SPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq3_xxs: superBlockTiles(IQ3XXSPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq3_s: superBlockTiles(IQ3SPanel.self, P.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        }
    }

    @inline(__always)
    private static func superBlockTiles<K: SuperBlockKind, P: PanelCount>(
        _ kind: K.Type, _ panels: P.Type, _ panel: UnsafeRawPointer, _ superBlocks: Int, _ activations: UnsafeRawPointer,
        _ activationStride: Int, _ flipped: UnsafeRawPointer, _ flippedStride: Int, _ tokens: Int,
        _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int
    ) {
        let format = K.format, pair = P.isPair
        // Q4_K, Q5_K and IQ4_XS scale 32 columns at a time: one multiply by the scale per 8 vpdpbusd, not 4
        // (the multiplies share the vpdpbusd ports). 32 columns still sum far below 2^31 (32 · 255 · 127).
        let span = format.scalesPer32 ? 2 : 1
        let blockBytes = SuperBlockPanelLayout.blockBytes(format)
        let scalesOffset = SuperBlockPanelLayout.scalesOffset(format)
        let offsetsOffset = SuperBlockPanelLayout.offsetsOffset(format)
        let second = superBlocks &* blockBytes  // panel B, when `pair`
        let zero = _mm256_setzero_si256()
        var t = 0
        while t < tokens {
            // A short last tile repeats its last token (computed, not stored).
            let t1 = min(t + 1, tokens - 1), t2 = min(t + 2, tokens - 1), t3 = min(t + 3, tokens - 1)
            let y0 = activations + t * activationStride, y1 = activations + t1 * activationStride
            let y2 = activations + t2 * activationStride, y3 = activations + t3 * activationStride
            // The bytes the broadcasts read: the Q8_K values, or for signed weights those values + 128.
            let f0 = format.isSigned ? flipped + t * flippedStride : y0 + 4
            let f1 = format.isSigned ? flipped + t1 * flippedStride : y1 + 4
            let f2 = format.isSigned ? flipped + t2 * flippedStride : y2 + 4
            let f3 = format.isSigned ? flipped + t3 * flippedStride : y3 + 4
            let fs = format.isSigned ? 256 : 292
            var a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps()
            var b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps()
            var b = 0
            while b < superBlocks {
                let pa = panel + b &* blockBytes, pb = pa + second
                let ya = 292 &* b
                let q0 = f0 + fs &* b, q1 = f1 + fs &* b, q2 = f2 + fs &* b, q3 = f3 + fs &* b
                var ia0 = zero, ia1 = zero, ia2 = zero, ia3 = zero
                var ib0 = zero, ib1 = zero, ib2 = zero, ib3 = zero
                var j = 0
                while j < 16 {  // sub-blocks of 16 columns, `span` at a time where they share a scale
                    var za0 = zero, za1 = zero, za2 = zero, za3 = zero
                    var zb0 = zero, zb1 = zero, zb2 = zero, zb3 = zero
                    var k = 0
                    while k < 4 &* span {
                        let g = 4 &* j &+ k
                        // Signed weights: w itself (the second copy) as the signed operand, a + 128 as the unsigned.
                        let at = format.isSigned ? 2048 &+ 32 &* g : 32 &* g
                        let wa = load256(pa + at)
                        let wb = pair ? load256(pb + at) : zero
                        @inline(__always) func step(_ q: UnsafeRawPointer, _ za: inout __m256i, _ zb: inout __m256i) {
                            let x = _mm256_set1_epi32(q.loadUnaligned(fromByteOffset: 4 &* g, as: Int32.self))
                            za = format.isSigned ? dot4(za, x, wa) : dot4(za, wa, x)
                            if pair { zb = format.isSigned ? dot4(zb, x, wb) : dot4(zb, wb, x) }
                        }
                        step(q0, &za0, &zb0)
                        step(q1, &za1, &zb1)
                        step(q2, &za2, &zb2)
                        step(q3, &za3, &zb3)
                        k &+= 1
                    }
                    // The int16 pair (s, s) of each row read as one int32 lane, shifted down to s.
                    let sa = _mm256_srai_epi32(load256(pa + (scalesOffset &+ 32 &* j)), 16)
                    ia0 = _mm256_add_epi32(ia0, _mm256_mullo_epi32(za0, sa))
                    ia1 = _mm256_add_epi32(ia1, _mm256_mullo_epi32(za1, sa))
                    ia2 = _mm256_add_epi32(ia2, _mm256_mullo_epi32(za2, sa))
                    ia3 = _mm256_add_epi32(ia3, _mm256_mullo_epi32(za3, sa))
                    if pair {
                        let sb = _mm256_srai_epi32(load256(pb + (scalesOffset &+ 32 &* j)), 16)
                        ib0 = _mm256_add_epi32(ib0, _mm256_mullo_epi32(zb0, sb))
                        ib1 = _mm256_add_epi32(ib1, _mm256_mullo_epi32(zb1, sb))
                        ib2 = _mm256_add_epi32(ib2, _mm256_mullo_epi32(zb2, sb))
                        ib3 = _mm256_add_epi32(ib3, _mm256_mullo_epi32(zb3, sb))
                    }
                    j &+= span
                }
                @inline(__always) func finish(_ p: UnsafeRawPointer, _ y: UnsafeRawPointer, _ sums: __m256i, _ acc: __m256) -> __m256 {
                    let d = p.loadUnaligned(fromByteOffset: SuperBlockPanelLayout.dOffset(format), as: __m256.self)
                    let dy = _mm256_set1_ps(float(y, ya))
                    if format.isSigned {
                        let correction = load256(p + offsetsOffset)
                        return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, correction)), acc)
                    }
                    var offsetSums = zero
                    var i = 0
                    while i < 8 {
                        let bsums = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: ya &+ 260 &+ 4 &* i, as: Int32.self))
                        offsetSums = _mm256_maskz_dpwssd_epi32(0xFF, offsetSums, load256(p + (offsetsOffset &+ 32 &* i)), bsums)
                        i &+= 1
                    }
                    if format.hasSeparateOffsetScale {
                        let dm = p.loadUnaligned(fromByteOffset: SuperBlockPanelLayout.dmOffset(format), as: __m256.self)
                        let scaled = _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sums), acc)
                        return _mm256_fnmadd_ps(_mm256_mul_ps(dm, dy), _mm256_cvtepi32_ps(offsetSums), scaled)
                    }
                    return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, offsetSums)), acc)
                }
                a0 = finish(pa, y0, ia0, a0); a1 = finish(pa, y1, ia1, a1)
                a2 = finish(pa, y2, ia2, a2); a3 = finish(pa, y3, ia3, a3)
                if pair {
                    b0 = finish(pb, y0, ib0, b0); b1 = finish(pb, y1, ib1, b1)
                    b2 = finish(pb, y2, ib2, b2); b3 = finish(pb, y3, ib3, b3)
                }
                b &+= 1
            }
            let first = min(rowCount, 8), rest = rowCount - first
            @inline(__always) func store(_ u: Int, _ a: __m256, _ bb: __m256) {
                guard t + u < tokens else { return }
                let out = results + (t + u) * resultStride
                storeRows(a, out, first)
                if pair { storeRows(bb, out + 8, rest) }
            }
            store(0, a0, b0); store(1, a1, b1); store(2, a2, b2); store(3, a3, b3)
            t += 4
        }
    }

    /// The first `rowCount` lanes of `v` to `out`.
    @inline(__always)
    private static func storeRows(_ v: __m256, _ out: UnsafeMutablePointer<Float>, _ rowCount: Int) {
        if rowCount >= 8 { store(v, out); return }
        _mm256_mask_storeu_ps(out, UInt8(truncatingIfNeeded: (1 << rowCount) - 1), v)
    }
}
extension VNNIKernels {
    /// As AVX2GEMM.blockPanel (same panels): w times the activation bytes + 128 (`flipped`, tokens × 32·blocks)
    /// with vpdpbusd, minus the panel's 128 · Σw per row, then scaled per block.
    public static func blockPanel(_ panel: UnsafeRawPointer, blocks: Int, flipped: UnsafeRawPointer, flippedStride: Int,
                                  scales: UnsafePointer<Float>, tokens: Int, results: UnsafeMutablePointer<Float>,
                                  resultStride: Int, rowCount: Int) {
        var t = 0
        while t < tokens {
            let tk = (t, min(t + 1, tokens - 1), min(t + 2, tokens - 1), min(t + 3, tokens - 1))
            let y0 = flipped + tk.0 * flippedStride, y1 = flipped + tk.1 * flippedStride
            let y2 = flipped + tk.2 * flippedStride, y3 = flipped + tk.3 * flippedStride
            var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
            var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
            var b = 0
            while b < blocks {
                let pb = panel + b &* BlockPanelLayout.blockBytes
                let correction = load256(pb + BlockPanelLayout.correctionOffset)
                var i0 = _mm256_sub_epi32(_mm256_setzero_si256(), correction), i1 = i0, i2 = i0, i3 = i0
                var g = 0
                while g < 8 {
                    let w = load256(pb + (BlockPanelLayout.signedOffset &+ 32 &* g))
                    let at = 32 &* b &+ 4 &* g
                    i0 = dot4(i0, _mm256_set1_epi32(y0.loadUnaligned(fromByteOffset: at, as: Int32.self)), w)
                    i1 = dot4(i1, _mm256_set1_epi32(y1.loadUnaligned(fromByteOffset: at, as: Int32.self)), w)
                    i2 = dot4(i2, _mm256_set1_epi32(y2.loadUnaligned(fromByteOffset: at, as: Int32.self)), w)
                    i3 = dot4(i3, _mm256_set1_epi32(y3.loadUnaligned(fromByteOffset: at, as: Int32.self)), w)
                    g &+= 1
                }
                let d = pb.loadUnaligned(fromByteOffset: BlockPanelLayout.scaleOffset, as: __m256.self)
                @inline(__always) func finish(_ token: Int, _ sums: __m256i, _ acc: __m256) -> __m256 {
                    _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(scales[token &* blocks &+ b])), _mm256_cvtepi32_ps(sums), acc)
                }
                acc0 = finish(tk.0, i0, acc0); acc1 = finish(tk.1, i1, acc1)
                acc2 = finish(tk.2, i2, acc2); acc3 = finish(tk.3, i3, acc3)
                b &+= 1
            }
            storeRows(acc0, results + t * resultStride, rowCount)
            if t + 1 < tokens { storeRows(acc1, results + (t + 1) * resultStride, rowCount) }
            if t + 2 < tokens { storeRows(acc2, results + (t + 2) * resultStride, rowCount) }
            if t + 3 < tokens { storeRows(acc3, results + (t + 3) * resultStride, rowCount) }
            t += 4
        }
    }
}
extension VNNIKernels {
    /// As AVX2GEMM.interleavedLevels (IQ4_NL interleaved as Q4_0): vpdpbusd takes |level| and the activations
    /// with the level's sign, summing each group of 4 straight into 32 bits.
    public static func interleavedLevels(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                         activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                         results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let panelBytes = blocks * InterleavedLayout.blockBytes(isQ4_1: false)
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens { levelTile(w, blocks, 1, activations, activationStride, t, tokens, out, resultStride); t += 1 }
            } else {
                while t < tokens { levelTile(w, blocks, 4, activations, activationStride, t, tokens, out, resultStride); t += 4 }
            }
            p += 1
        }
    }

    @inline(__always)
    static func levelTile(_ w: UnsafeRawPointer, _ blocks: Int, _ tile: Int, _ activations: UnsafeRawPointer,
                          _ activationStride: Int, _ t: Int, _ tokens: Int, _ results: UnsafeMutablePointer<Float>,
                          _ resultStride: Int) {
        let low = _mm256_set1_epi8(0x0F)
        let levels = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                      -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)
        let tk = (t, min(t + 1, tokens - 1), min(t + 2, tokens - 1), min(t + 3, tokens - 1))
        let y = (activations + tk.0 * activationStride, activations + tk.1 * activationStride,
                 activations + tk.2 * activationStride, activations + tk.3 * activationStride)
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        var b = 0
        while b < blocks {
            let pb = w + b &* 144
            var s = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
            var j = 0
            while j < 4 {
                let q = load256(pb + (16 &+ 32 &* j))
                let lo = _mm256_shuffle_epi8(levels, _mm256_and_si256(q, low))
                let hi = _mm256_shuffle_epi8(levels, _mm256_and_si256(_mm256_srli_epi16(q, 4), low))
                let loAbs = _mm256_abs_epi8(lo), hiAbs = _mm256_abs_epi8(hi)
                let o = 34 &* b &+ 2 &+ 4 &* j
                @inline(__always) func step(_ yt: UnsafeRawPointer, _ sum: __m256i) -> __m256i {
                    let a0 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                    let a1 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o &+ 16, as: Int32.self))
                    return dot4(dot4(sum, loAbs, _mm256_sign_epi8(a0, lo)), hiAbs, _mm256_sign_epi8(a1, hi))
                }
                s.0 = step(y.0, s.0)
                if tile > 1 { s.1 = step(y.1, s.1); s.2 = step(y.2, s.2); s.3 = step(y.3, s.3) }
                j &+= 1
            }
            let d = _mm256_cvtph_ps(load128(pb))
            @inline(__always) func finish(_ sum: __m256i, _ yt: UnsafeRawPointer, _ a: __m256) -> __m256 {
                let dy = _mm256_cvtph_ps(_mm_set1_epi16((yt + 34 &* b).loadUnaligned(as: Int16.self)))
                return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sum), a)
            }
            acc.0 = finish(s.0, y.0, acc.0)
            if tile > 1 { acc.1 = finish(s.1, y.1, acc.1); acc.2 = finish(s.2, y.2, acc.2); acc.3 = finish(s.3, y.3, acc.3) }
            b &+= 1
        }
        store(acc.0, results + t * resultStride)
        if tile > 1 {
            if t + 1 < tokens { store(acc.1, results + (t + 1) * resultStride) }
            if t + 2 < tokens { store(acc.2, results + (t + 2) * resultStride) }
            if t + 3 < tokens { store(acc.3, results + (t + 3) * resultStride) }
        }
    }
}
#endif
