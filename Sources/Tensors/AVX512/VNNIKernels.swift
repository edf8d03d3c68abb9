#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsAVX2  // the layouts (InterleavedLayout, InterleavedByteLayout)

// AVX-512 VNNI kernels (AVX-512 VL on 256-bit registers, the super-block panels on 512-bit ones). vpdpbusd multiplies 4 unsigned weight bytes by
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
    @inline(__always) static func addScaledPairs(_ acc: __m256i, _ pairs: __m256i, _ scales: __m256i) -> __m256i {
        _mm256_maskz_dpwssd_epi32(0xFF, acc, pairs, scales)
    }
    @inline(__always) static func scaledWiden(_ partial: __m256i, _ scales: __m256i) -> __m256i {
        _mm256_mullo_epi32(partial, _mm256_cvtepu8_epi32(_mm256_castsi256_si128(scales)))
    }
    @inline(__always) static var raisesSignedWeights: Bool { true }
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

    /// As AVX2GEMM.interleavedLevels (IQ4_NL interleaved as Q4_0): the levels + 128 times the activations, minus
    /// 128·Σa from `corrections` (8·Σa per block: AVX2GEMM.nibbleCorrections).
    public static func interleavedLevels(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                         activations: UnsafeRawPointer, activationStride: Int, corrections: UnsafePointer<Int32>,
                                         tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        AVX2GEMM.interleavedLevels(VNNIProducts.self, weights, panels: panels, blocks: blocks, activations: activations,
                                   activationStride: activationStride, corrections: corrections, tokens: tokens, results: results,
                                   resultStride: resultStride)
    }

    /// As AVX2Dot.gridIQuantRows (grid I-quant rows · one token's Q8_K activations), compiled for AVX-512 with
    /// VNNI's fused scale multiply-add: the same integer sums, so the same bits.
    public static func gridIQuantRows(_ format: SuperBlockFormat, _ x: UnsafeRawPointer, rowStride: Int, rows: Int,
                                      _ y: UnsafeRawPointer, _ blocks: Int, _ results: UnsafeMutablePointer<Float>,
                                      resultStride: Int) {
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 96) { buffer in
            guard let indices = buffer.baseAddress else { return }
            AVX2Dot.gridIQuantRows(VNNIProducts.self, format, x, rowStride: rowStride, rows: rows, y, blocks, results,
                                   resultStride: resultStride, indices: indices)
        }
    }

    /// As AVX2GEMM.interleavedQ4K (interleaved Q4_K, Q8_K activations), each sub-block's sum in 32 bits.
    public static func interleavedQ4K(_ weights: UnsafeRawPointer, panels: Int, superBlocks: Int,
                                      activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                      results: UnsafeMutablePointer<Float>, resultStride: Int) {
        AVX2GEMM.interleavedQ4K(VNNIProducts.self, weights, panels: panels, superBlocks: superBlocks, activations: activations,
                                activationStride: activationStride, tokens: tokens, results: results, resultStride: resultStride)
    }
}

extension VNNIKernels {
    /// The super-block formats' prompt panels (AVX2GEMM.superBlockPanel's integer sums and order): vpdpbusd sums
    /// each group of 4 columns straight into 32 bits, signed weights (IQ4_XS, the grid I-quants) times the
    /// activations + 128 (`flipped`, prepared per batch) minus the panel's per-row constant. 16 rows × 8 tokens a
    /// step on 512-bit registers, over a 16-row panel (AVX2GEMM.packSuperBlocks with `half` 0 and 1: each
    /// 64-byte unit holds a field of rows 0-7, then of rows 8-15), so one register holds the 16 rows and one
    /// broadcast of 4 activation bytes feeds them all. Per lane the AVX2 kernel's bits (PanelGEMMTests).
    public static func superBlockPanel16(_ format: SuperBlockFormat, _ panel: UnsafeRawPointer, superBlocks: Int,
                                         activations: UnsafeRawPointer, activationStride: Int,
                                         flipped: UnsafeRawPointer, flippedStride: Int, tokens: Int,
                                         results: UnsafeMutablePointer<Float>, resultStride: Int, rowCount: Int) {
        switch format {
        case .q2_K: superBlockTiles16(Q2KPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q3_K: superBlockTiles16(Q3KPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q4_K: superBlockTiles16(Q4KPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q5_K: superBlockTiles16(Q5KPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .q6_K: superBlockTiles16(Q6KPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq4_xs: superBlockTiles16(IQ4XSPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq1_s: superBlockTiles16(IQ1SPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq1_m: superBlockTiles16(IQ1MPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_xxs: superBlockTiles16(IQ2XXSPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_xs: superBlockTiles16(IQ2XSPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq2_s: superBlockTiles16(IQ2SPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq3_xxs: superBlockTiles16(IQ3XXSPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        case .iq3_s: superBlockTiles16(IQ3SPanel.self, panel, superBlocks, activations, activationStride, flipped, flippedStride, tokens, results, resultStride, rowCount)
        }
    }

    @inline(__always)
    private static func superBlockTiles16<K: SuperBlockKind>(
        _ kind: K.Type, _ panel: UnsafeRawPointer, _ superBlocks: Int, _ activations: UnsafeRawPointer,
        _ activationStride: Int, _ flipped: UnsafeRawPointer, _ flippedStride: Int, _ tokens: Int,
        _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int
    ) {
        let format = K.format
        let span = format.scalesPer32 ? 2 : 1
        // Every field of the 8-row layout at twice its offset.
        let blockBytes = 2 &* SuperBlockPanelLayout.blockBytes(format)
        let scalesAt = 2 &* SuperBlockPanelLayout.scalesOffset(format)
        let offsetsAt = 2 &* SuperBlockPanelLayout.offsetsOffset(format)
        let dAt = 2 &* SuperBlockPanelLayout.dOffset(format), dmAt = 2 &* SuperBlockPanelLayout.dmOffset(format)
        let valuesAt = format.isSigned ? 4096 : 0  // signed weights: w itself (the second copy) as the signed operand
        let mask = UInt16(truncatingIfNeeded: (1 << min(rowCount, 16)) - 1)
        let zero = _mm512_setzero_si512()
        @inline(__always) func load512(_ p: UnsafeRawPointer) -> __m512i { p.loadUnaligned(as: __m512i.self) }
        @inline(__always) func load512f(_ p: UnsafeRawPointer) -> __m512 { p.loadUnaligned(as: __m512.self) }
        // Eight tokens a tile: eight independent vpdpbusd chains keep the units busy (four wait on latency:
        // 1B Q4_K_M prefill 218 instead of 150 tokens/s on a 2-core AVX-512 Xeon).
        // A short last tile repeats its last token (computed, not stored).
        typealias Eight<T> = (T, T, T, T, T, T, T, T)
        @inline(__always) func each<T, U>(_ v: Eight<T>, _ f: (T) -> U) -> Eight<U> {
            (f(v.0), f(v.1), f(v.2), f(v.3), f(v.4), f(v.5), f(v.6), f(v.7))
        }
        @inline(__always) func each<T, U, V>(_ v: Eight<T>, _ u: Eight<U>, _ f: (T, U) -> V) -> Eight<V> {
            (f(v.0, u.0), f(v.1, u.1), f(v.2, u.2), f(v.3, u.3), f(v.4, u.4), f(v.5, u.5), f(v.6, u.6), f(v.7, u.7))
        }
        @inline(__always) func each<T, U, V, W>(_ v: Eight<T>, _ u: Eight<U>, _ x: Eight<V>, _ f: (T, U, V) -> W) -> Eight<W> {
            (f(v.0, u.0, x.0), f(v.1, u.1, x.1), f(v.2, u.2, x.2), f(v.3, u.3, x.3),
             f(v.4, u.4, x.4), f(v.5, u.5, x.5), f(v.6, u.6, x.6), f(v.7, u.7, x.7))
        }
        let fs = format.isSigned ? 256 : 292
        let zeros = (zero, zero, zero, zero, zero, zero, zero, zero)
        var t = 0
        while t < tokens {
            let tk = (t, min(t + 1, tokens - 1), min(t + 2, tokens - 1), min(t + 3, tokens - 1),
                      min(t + 4, tokens - 1), min(t + 5, tokens - 1), min(t + 6, tokens - 1), min(t + 7, tokens - 1))
            let y = each(tk) { activations + $0 * activationStride }
            // The bytes the broadcasts read: the Q8_K values, or for signed weights those values + 128.
            let f = format.isSigned ? each(tk) { flipped + $0 * flippedStride } : each(y) { $0 + 4 }
            var acc = each(zeros) { _ in _mm512_setzero_ps() }
            var b = 0
            while b < superBlocks {
                let p = panel + b &* blockBytes
                let ya = 292 &* b
                let q = each(f) { $0 + fs &* b }
                var sums = zeros
                var j = 0
                while j < 16 {  // sub-blocks of 16 columns, `span` at a time where they share a scale
                    var z = zeros
                    var k = 0
                    while k < 4 &* span {
                        let g = 4 &* j &+ k
                        let w = load512(p + (valuesAt &+ 64 &* g))
                        z = each(q, z) { q, z in
                            let x = _mm512_set1_epi32(q.loadUnaligned(fromByteOffset: 4 &* g, as: Int32.self))
                            return format.isSigned ? _mm512_dpbusd_epi32(z, x, w) : _mm512_dpbusd_epi32(z, w, x)
                        }
                        k &+= 1
                    }
                    // The int16 pair (s, s) of each row read as one int32 lane, shifted down to s.
                    let scale = _mm512_srai_epi32(load512(p + (scalesAt &+ 64 &* j)), 16)
                    sums = each(sums, z) { _mm512_add_epi32($0, _mm512_mullo_epi32($1, scale)) }
                    j &+= span
                }
                let d = load512f(p + dAt)
                acc = each(y, sums, acc) { y, sums, acc in
                    let dy = _mm512_set1_ps(y.loadUnaligned(fromByteOffset: ya, as: Float.self))
                    if format.isSigned {
                        let correction = load512(p + offsetsAt)
                        return _mm512_fmadd_ps(_mm512_mul_ps(d, dy), _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, correction)), acc)
                    }
                    var offsetSums = zero
                    var i = 0
                    while i < 8 {
                        let bsums = _mm512_set1_epi32(y.loadUnaligned(fromByteOffset: ya &+ 260 &+ 4 &* i, as: Int32.self))
                        offsetSums = _mm512_dpwssd_epi32(offsetSums, load512(p + (offsetsAt &+ 64 &* i)), bsums)
                        i &+= 1
                    }
                    if format.hasSeparateOffsetScale {
                        let dm = load512f(p + dmAt)
                        let scaled = _mm512_fmadd_ps(_mm512_mul_ps(d, dy), _mm512_cvtepi32_ps(sums), acc)
                        return _mm512_fnmadd_ps(_mm512_mul_ps(dm, dy), _mm512_cvtepi32_ps(offsetSums), scaled)
                    }
                    return _mm512_fmadd_ps(_mm512_mul_ps(d, dy), _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, offsetSums)), acc)
                }
                b &+= 1
            }
            @inline(__always) func store(_ u: Int, _ v: __m512) {
                if t + u < tokens { _mm512_mask_storeu_ps(results + (t + u) * resultStride, mask, v) }
            }
            store(0, acc.0); store(1, acc.1); store(2, acc.2); store(3, acc.3)
            store(4, acc.4); store(5, acc.5); store(6, acc.6); store(7, acc.7)
            t += 8
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
