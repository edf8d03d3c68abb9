#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsAVX2  // the layouts (InterleavedLayout, InterleavedByteLayout)

// AVX-512 VNNI kernels (AVX-512 VL on 256-bit registers). vpdpbusd multiplies 4 unsigned weight bytes by
// 4 signed activation bytes and adds them to a 32-bit lane in one instruction, replacing maddubs + madd +
// add; no 16-bit stage, so nothing can saturate. The interleaved-weight kernels are AVX2's generic ones
// specialised here with these products; the panel kernels below have their own shape (an unsigned operand
// made by flipping the activations' sign bit). This module is compiled for AVX-512; nothing in it may run
// before CPUFeatures found AVX-512 F/BW/VL + VNNI enabled by the OS.

@inline(__always) private func load256(_ p: UnsafeRawPointer) -> __m256i { p.loadUnaligned(as: __m256i.self) }
@inline(__always) private func float(_ p: UnsafeRawPointer, _ offset: Int) -> Float { p.loadUnaligned(fromByteOffset: offset, as: Float.self) }

/// acc + Σ over each 32-bit lane of (4 unsigned bytes of u) · (4 signed bytes of s).
@inline(__always) private func dot4(_ acc: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i {
    _mm256_maskz_dpbusd_epi32(0xFF, acc, u, s)
}

@inline(__always) private func store(_ v: __m256, _ out: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(out).storeBytes(of: v, as: __m256.self)
}

/// VNNI's byte products, for the generic kernels.
enum VNNIProducts: ByteProducts {
    @inline(__always) static func dot4(_ acc: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i { _mm256_maskz_dpbusd_epi32(0xFF, acc, u, s) }
    @inline(__always) static func accumulate(_ partial: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i {
        _mm256_maskz_dpbusd_epi32(0xFF, partial, u, s)
    }
    @inline(__always) static func widen(_ partial: __m256i) -> __m256i { partial }
}

/// The interleaved-weight kernels (Sources/Tensors/AVX2/InterleavedKernels.swift, InterleavedBytes.swift)
/// with VNNI's products, compiled here for AVX-512.
public enum VNNIKernels {
    /// As AVX2GEMM.interleavedNibbles (Q4_0 with Q8_0 activations and 8·Σa corrections, or Q4_1 with Q8_1).
    public static func interleavedNibbles(_ weights: UnsafeRawPointer, panels: Int, blocks: Int, isQ4_1: Bool,
                                          activations: UnsafeRawPointer, activationStride: Int,
                                          corrections: UnsafePointer<Int32>, tokens: Int,
                                          results: UnsafeMutablePointer<Float>, resultStride: Int) {
        AVX2GEMM.interleavedNibbles(VNNIProducts.self, weights, panels: panels, blocks: blocks, isQ4_1: isQ4_1,
                                    activations: activations, activationStride: activationStride, corrections: corrections,
                                    tokens: tokens, results: results, resultStride: resultStride)
    }

    /// As AVX2GEMM.interleavedBytes (interleaved Q8_0, Q8_0 activations), in the same order.
    public static func interleavedBytes(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                        activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                        results: UnsafeMutablePointer<Float>, resultStride: Int) {
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: AVX2GEMM.byteTileScratch(blocks: blocks)) { scratch in
            guard let scratch = scratch.baseAddress else { return }
            AVX2GEMM.interleavedBytes(VNNIProducts.self, weights, panels: panels, blocks: blocks, activations: activations,
                                      activationStride: activationStride, tokens: tokens, results: results,
                                      resultStride: resultStride, scratch: scratch)
        }
    }

    /// As AVX2GEMM.interleavedLevels (IQ4_NL interleaved as Q4_0).
    public static func interleavedLevels(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                         activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                         results: UnsafeMutablePointer<Float>, resultStride: Int) {
        AVX2GEMM.interleavedLevels(VNNIProducts.self, weights, panels: panels, blocks: blocks, activations: activations,
                                   activationStride: activationStride, tokens: tokens, results: results, resultStride: resultStride)
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
#endif
