#if arch(x86_64)
import _Builtin_intrinsics.intel

// Weights interleaved at load, 8 rows at a time, for decode and prefill: per 32-column block,
// the 8 rows' f16 scales side by side (Q4_1: then the 8 mins), then 4 registers of nibbles in which
// register j holds bytes 4j…4j+3 of each row's block (row r in 32-bit lane r). Its low nibbles
// are columns 4j…4j+3, its high nibbles columns 16+4j…16+4j+3. Same size as the original blocks.
//
// One broadcast of 4 activation bytes then multiplies 8 rows at once; sums come out one row per
// lane, and the 8 scales convert with one instruction: about a third of the row-major kernels'
// instructions per weight, which lets decode run at memory speed.
// Q4_0: Σ(q − 8)·a = Σq·a − 8Σa, with 8Σa per activation block precomputed (`corrections`).
// maddubs(q ∈ [0,15] unsigned, a signed): 8 groups of pair sums stay within 16 bits
// (8 · 2 · 15 · 127 = 30480).

public enum InterleavedLayout {
    public static func blockBytes(isQ4_1: Bool) -> Int { isQ4_1 ? 160 : 144 }
}

extension AVX2GEMM {
    /// Interleaves 8 rows (Q4_0 or Q4_1) of `blocks` blocks into `out`.
    public static func interleaveNibbles(_ rows: UnsafeRawPointer, rowStride: Int, blocks: Int, isQ4_1: Bool,
                                         into out: UnsafeMutableRawPointer) {
        let source = isQ4_1 ? 20 : 18, data = isQ4_1 ? 4 : 2, scales = isQ4_1 ? 32 : 16
        let size = InterleavedLayout.blockBytes(isQ4_1: isQ4_1)
        var b = 0
        while b < blocks {
            let o = out + b * size
            var r = 0
            while r < 8 {
                let xb = rows + r * rowStride + b * source
                o.storeBytes(of: xb.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                if isQ4_1 { o.storeBytes(of: xb.loadUnaligned(fromByteOffset: 2, as: UInt16.self), toByteOffset: 16 + 2 * r, as: UInt16.self) }
                var j = 0
                while j < 4 {
                    o.storeBytes(of: xb.loadUnaligned(fromByteOffset: data + 4 * j, as: UInt32.self),
                                 toByteOffset: scales + 32 * j + 4 * r, as: UInt32.self)
                    j += 1
                }
                r += 1
            }
            b += 1
        }
    }

    /// Per Q8_0 activation block: 8·Σa (the Q4_0 correction; 16 times it, IQ4_NL's on VNNI), at corrections[t·blocks + b].
    public static func nibbleCorrections(_ activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                         blocks: Int, into corrections: UnsafeMutablePointer<Int32>) {
        let ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1)
        var t = 0
        while t < tokens {
            var b = 0
            while b < blocks {
                let a = load256(activations + t * activationStride + 34 * b + 2)
                corrections[t * blocks + b] = 8 * horizontalSumInt(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, a), ones16))
                b += 1
            }
            t += 1
        }
    }

    /// results[t · resultStride + r], r in 0..<8, for `panels` consecutive interleaved panels (8 rows each,
    /// results of panel p at +8p) and tokens t in 0..<tokens. Activations: Q8_0 rows (Q4_0) or Q8_1 rows (Q4_1).
    public static func interleavedNibbles(_ weights: UnsafeRawPointer, panels: Int, blocks: Int, isQ4_1: Bool,
                                          activations: UnsafeRawPointer, activationStride: Int,
                                          corrections: UnsafePointer<Int32>, tokens: Int,
                                          results: UnsafeMutablePointer<Float>, resultStride: Int) {
        interleavedNibbles(AVX2Products.self, weights, panels: panels, blocks: blocks, isQ4_1: isQ4_1, activations: activations,
                           activationStride: activationStride, corrections: corrections, tokens: tokens,
                           results: results, resultStride: resultStride)
    }

    /// `interleavedNibbles` with the byte products of `P` (AVX2's or VNNI's).
    @inlinable
    public static func interleavedNibbles<P: ByteProducts>(_ products: P.Type, _ weights: UnsafeRawPointer, panels: Int,
                                                           blocks: Int, isQ4_1: Bool, activations: UnsafeRawPointer,
                                                           activationStride: Int, corrections: UnsafePointer<Int32>,
                                                           tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let panelBytes = blocks * InterleavedLayout.blockBytes(isQ4_1: isQ4_1)
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens {
                    if isQ4_1 { nibbleTile(P.self, w, blocks, true, 1, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    else { nibbleTile(P.self, w, blocks, false, 1, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    t += 1
                }
            } else {
                while t < tokens {
                    if isQ4_1 { nibbleTile(P.self, w, blocks, true, 4, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    else { nibbleTile(P.self, w, blocks, false, 4, activations, activationStride, corrections, t, tokens, out, resultStride) }
                    t += 4
                }
            }
            p += 1
        }
    }

    /// One panel × tokens t…t+tile−1 (tile 1 or 4; past the end, the last token is recomputed, not stored).
    @inlinable @inline(__always)
    static func nibbleTile<P: ByteProducts>(_ products: P.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ isQ4_1: Bool,
                                            _ tile: Int, _ activations: UnsafeRawPointer, _ activationStride: Int,
                                            _ corrections: UnsafePointer<Int32>, _ t: Int, _ tokens: Int,
                                            _ results: UnsafeMutablePointer<Float>, _ resultStride: Int) {
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
                // Partial sums: 8 products of a nibble and a byte per 16-bit pair at most (8 · 2 · 15 · 127 = 30480).
                @inline(__always) func step(_ yt: UnsafeRawPointer, _ sum: __m256i) -> __m256i {
                    let a0 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                    let a1 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o + 16, as: Int32.self))
                    return P.accumulate(P.accumulate(sum, lo, a0), hi, a1)
                }
                s.0 = step(y.0, s.0)
                if tile > 1 { s.1 = step(y.1, s.1); s.2 = step(y.2, s.2); s.3 = step(y.3, s.3) }
                j += 1
            }
            let d = _mm256_cvtph_ps(load128(pb))
            @inline(__always) func finish(_ sum: __m256i, _ yt: UnsafeRawPointer, _ token: Int, _ a: __m256) -> __m256 {
                var s32 = P.widen(sum)
                let yb = yt + activationBlock * b
                if isQ4_1 {
                    return _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(float(yb, 0))), _mm256_cvtepi32_ps(s32), a)
                }
                s32 = _mm256_sub_epi32(s32, _mm256_set1_epi32(corrections[token * blocks + b]))
                let dy = _mm256_cvtph_ps(_mm_set1_epi16(yb.loadUnaligned(as: Int16.self)))
                return _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(s32), a)
            }
            acc.0 = finish(s.0, y.0, tk.0, acc.0)
            if tile > 1 { acc.1 = finish(s.1, y.1, tk.1, acc.1); acc.2 = finish(s.2, y.2, tk.2, acc.2); acc.3 = finish(s.3, y.3, tk.3, acc.3) }
            if isQ4_1 {
                let m = _mm256_cvtph_ps(load128(pb + 16))
                @inline(__always) func offset(_ yt: UnsafeRawPointer, _ o: __m256) -> __m256 {
                    _mm256_fmadd_ps(m, _mm256_set1_ps(float(yt + activationBlock * b, 4)), o)
                }
                offsets.0 = offset(y.0, offsets.0)
                if tile > 1 { offsets.1 = offset(y.1, offsets.1); offsets.2 = offset(y.2, offsets.2); offsets.3 = offset(y.3, offsets.3) }
            }
            b += 1
        }
        if isQ4_1 {
            acc = (_mm256_add_ps(acc.0, offsets.0), _mm256_add_ps(acc.1, offsets.1),
                   _mm256_add_ps(acc.2, offsets.2), _mm256_add_ps(acc.3, offsets.3))
        }
        if tile == 1 {
            storeLanes(acc.0, results + t * resultStride, 8)
        } else {
            storeTile(acc.0, acc.1, acc.2, acc.3, t, tokens, results, resultStride, 8)
        }
    }
}
extension AVX2GEMM {
    /// IQ4_NL interleaved as Q4_0 (same block bytes: f16 d, 16 bytes of indices): results as
    /// `interleavedNibbles` with Q8_0 activations. The indices pick levels (−127…113) with a byte shuffle;
    /// the products take |level| and the activations with the level's sign, widened to 32 bits every group
    /// of 4 (AVX2's pair sums: 2 · 127 · 127 = 32258 fits 16 bits, two would not).
    public static func interleavedLevels(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                         activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                         results: UnsafeMutablePointer<Float>, resultStride: Int) {
        interleavedLevels(AVX2Products.self, weights, panels: panels, blocks: blocks, activations: activations,
                          activationStride: activationStride, corrections: nil, tokens: tokens, results: results,
                          resultStride: resultStride)
    }

    /// `interleavedLevels` with the byte products of `P`. Where P.raisesSignedWeights (VNNI: 32-bit sums, nothing
    /// saturates) the shuffle picks level + 128 (1…241, unsigned) and multiplies the activations as they are;
    /// `corrections` (nibbleCorrections: 8·Σa per block) then give the 128·Σa to take off.
    @inlinable
    public static func interleavedLevels<P: ByteProducts>(_ products: P.Type, _ weights: UnsafeRawPointer, panels: Int,
                                                          blocks: Int, activations: UnsafeRawPointer, activationStride: Int,
                                                          corrections: UnsafePointer<Int32>?, tokens: Int,
                                                          results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let panelBytes = blocks * InterleavedLayout.blockBytes(isQ4_1: false)
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens { levelTile(P.self, w, blocks, 1, activations, activationStride, corrections, t, tokens, out, resultStride); t += 1 }
            } else {
                while t < tokens { levelTile(P.self, w, blocks, 4, activations, activationStride, corrections, t, tokens, out, resultStride); t += 4 }
            }
            p += 1
        }
    }

    @inlinable @inline(__always)
    static func levelTile<P: ByteProducts>(_ products: P.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ tile: Int,
                                           _ activations: UnsafeRawPointer, _ activationStride: Int,
                                           _ corrections: UnsafePointer<Int32>?,
                                           _ t: Int, _ tokens: Int, _ results: UnsafeMutablePointer<Float>, _ resultStride: Int) {
        let low = _mm256_set1_epi8(0x0F), levels = iq4LevelTable()
        let raised = _mm256_xor_si256(levels, _mm256_set1_epi8(-128))  // level + 128 as an unsigned byte
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
                let qLow = _mm256_and_si256(q, low), qHigh = _mm256_and_si256(_mm256_srli_epi16(q, 4), low)
                let o = 34 &* b &+ 2 &+ 4 &* j
                if P.raisesSignedWeights {
                    let lo = _mm256_shuffle_epi8(raised, qLow), hi = _mm256_shuffle_epi8(raised, qHigh)
                    @inline(__always) func step(_ yt: UnsafeRawPointer, _ sum: __m256i) -> __m256i {
                        let a0 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                        let a1 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o &+ 16, as: Int32.self))
                        return P.dot4(P.dot4(sum, lo, a0), hi, a1)
                    }
                    s.0 = step(y.0, s.0)
                    if tile > 1 { s.1 = step(y.1, s.1); s.2 = step(y.2, s.2); s.3 = step(y.3, s.3) }
                } else {
                    let lo = _mm256_shuffle_epi8(levels, qLow), hi = _mm256_shuffle_epi8(levels, qHigh)
                    let loAbs = _mm256_sign_epi8(lo, lo), hiAbs = _mm256_sign_epi8(hi, hi)
                    @inline(__always) func step(_ yt: UnsafeRawPointer, _ sum: __m256i) -> __m256i {
                        let a0 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                        let a1 = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o &+ 16, as: Int32.self))
                        return P.dot4(P.dot4(sum, loAbs, _mm256_sign_epi8(a0, lo)), hiAbs, _mm256_sign_epi8(a1, hi))
                    }
                    s.0 = step(y.0, s.0)
                    if tile > 1 { s.1 = step(y.1, s.1); s.2 = step(y.2, s.2); s.3 = step(y.3, s.3) }
                }
                j &+= 1
            }
            if P.raisesSignedWeights, let corrections {
                // 128·Σa = 16 · (8·Σa).
                @inline(__always) func corrected(_ sum: __m256i, _ token: Int) -> __m256i {
                    _mm256_sub_epi32(sum, _mm256_set1_epi32(corrections[token &* blocks &+ b] &<< 4))
                }
                s = (corrected(s.0, tk.0), corrected(s.1, tk.1), corrected(s.2, tk.2), corrected(s.3, tk.3))
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
        if tile == 1 {
            storeLanes(acc.0, results + t * resultStride, 8)
        } else {
            storeTile(acc.0, acc.1, acc.2, acc.3, t, tokens, results, resultStride, 8)
        }
    }
}
#endif
