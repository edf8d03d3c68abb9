#if arch(x86_64)
import _Builtin_intrinsics.intel

// Prompt-batch matrix products (many tokens × many rows) for 4-bit and 8-bit block formats.
//
// Eight weight rows are first repacked into a "panel" in which one 256-bit register holds 4
// consecutive weights of each of the 8 rows (lanes = rows). A token's 4 activations of the same
// columns are broadcast to all lanes, so one multiply-add serves 8 rows, and the per-block sums
// come out one row per lane: no horizontal sums, and one scale multiply per 8 rows. The repack is
// paid once per 8 rows and reused for every token of the batch.
//
// 4-bit panels (Q4_0, Q4_1) hold w' = q − 8 in [−8, 7] and take activations as unsigned bytes
// a + 128 (maddubs wants one unsigned operand): Σ(a+128)·w' − 128·Σw' = Σa·w'. Eight groups of
// pair sums stay below 2¹⁵ (8 · 2 · 255 · 8 = 32640), so they add in 16 bits.
// (Q8_0 has no panel form: its batches keep llama.cpp's per-group chains, in InterleavedBytes.swift.)

/// Byte layout of one panel block (8 rows × 32 columns).
public enum PanelLayout {
    /// 4-bit: 256 B w' (group g at 32·g, row r at 4·r), 8 × f32 d, 8 × i32 128·Σw', 8 × f32 m.
    public static let nibbleBlockBytes = 352
}

extension AVX2GEMM {
    /// Repacks rows r (0..<rowCount ≤ 8, missing rows zero) of Q4_0 (`isQ4_1` false) or Q4_1 into a panel.
    public static func packNibbles(_ rows: UnsafeRawPointer, rowStride: Int, rowCount: Int, blocks: Int, isQ4_1: Bool,
                                   into panel: UnsafeMutableRawPointer) {
        let blockBytes = isQ4_1 ? 20 : 18, dataOffset = isQ4_1 ? 4 : 2
        let eight = _mm256_set1_epi8(8)
        var b = 0
        while b < blocks {
            let out = panel + b * PanelLayout.nibbleBlockBytes
            // Rows and groups written out: a register of `Eight` picked by a variable index is a jump table.
            @inline(__always) func row(_ r: Int) -> __m256i {
                var d: Float = 0, m: Float = 0, values = _mm256_setzero_si256()
                if r < rowCount {
                    let xb = rows + r * rowStride + b * blockBytes
                    values = _mm256_sub_epi8(nibbles(xb + dataOffset), eight)
                    d = half(xb, 0)
                    if isQ4_1 { m = half(xb, 2) }
                }
                out.storeBytes(of: d, toByteOffset: 256 + 4 * r, as: Float.self)
                out.storeBytes(of: m, toByteOffset: 320 + 4 * r, as: Float.self)
                return values
            }
            var w = Eight(repeating: _mm256_setzero_si256())
            (w.v0, w.v1, w.v2, w.v3, w.v4, w.v5, w.v6, w.v7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
            let groups = transpose(w)
            var sum = _mm256_setzero_si256()
            let ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1)
            @inline(__always) func put(_ g: Int, _ group: __m256i) {
                (out + 32 * g).storeBytes(of: group, as: __m256i.self)
                sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, group), ones16))
            }
            put(0, groups.v0); put(1, groups.v1); put(2, groups.v2); put(3, groups.v3)
            put(4, groups.v4); put(5, groups.v5); put(6, groups.v6); put(7, groups.v7)
            (out + 288).storeBytes(of: _mm256_slli_epi32(sum, 7), as: __m256i.self)
            b += 1
        }
    }

    /// 8 × 8 transpose of 32-bit elements: out[g] lane r = in[r] lane g.
    @inline(__always)
    static func transpose(_ r: Eight) -> Eight {
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1])
        let t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3])
        let t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5])
        let t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7])
        let u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2)
        let u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3)
        let u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6)
        let u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7)
        // Lanes 0-3 of u0…u3 hold groups 0-3 of rows 0-3, lanes 4-7 groups 4-7; u4…u7 the same for rows 4-7.
        let upper = _mm256_setr_epi32(0, 0, 0, 0, -1, -1, -1, -1)
        let high = _mm256_setr_epi32(4, 5, 6, 7, 4, 5, 6, 7), low = _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3)
        @inline(__always) func lows(_ a: __m256i, _ b: __m256i) -> __m256i {
            _mm256_blendv_epi8(a, _mm256_permutevar8x32_epi32(b, low), upper)
        }
        @inline(__always) func highs(_ a: __m256i, _ b: __m256i) -> __m256i {
            _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(a, high), b, upper)
        }
        var out = Eight(repeating: _mm256_setzero_si256())
        out[0] = lows(u0, u4); out[1] = lows(u1, u5); out[2] = lows(u2, u6); out[3] = lows(u3, u7)
        out[4] = highs(u0, u4); out[5] = highs(u1, u5); out[6] = highs(u2, u6); out[7] = highs(u3, u7)
        return out
    }

    /// results[t · resultStride + r] for the panel's 8 rows r and tokens t in 0..<tokens, 4-bit panel.
    /// Activations (see `unsignedActivations`): bytes a+128 at `bytes + t·byteStride + 32·b`, and per
    /// (t, b) at index t·blocks + b: `scales` dy, `sums` 8·Σa, `offsets` s (Q8_1's; Q4_1 only).
    public static func nibblePanel(_ panel: UnsafeRawPointer, blocks: Int, isQ4_1: Bool,
                                   bytes: UnsafeRawPointer, byteStride: Int, scales: UnsafePointer<Float>,
                                   sums: UnsafePointer<Int32>, offsets: UnsafePointer<Float>, tokens: Int,
                                   results: UnsafeMutablePointer<Float>, resultStride: Int, rowCount: Int) {
        if isQ4_1 {
            nibblePanel(panel, blocks, true, bytes, byteStride, scales, sums, offsets, tokens, results, resultStride, rowCount)
        } else {
            nibblePanel(panel, blocks, false, bytes, byteStride, scales, sums, offsets, tokens, results, resultStride, rowCount)
        }
    }

    /// Four tokens at a time: each weight group register is loaded once and used for all four.
    @inline(__always)
    static func nibblePanel(_ panel: UnsafeRawPointer, _ blocks: Int, _ isQ4_1: Bool,
                            _ bytes: UnsafeRawPointer, _ byteStride: Int, _ scales: UnsafePointer<Float>,
                            _ sums: UnsafePointer<Int32>, _ offsets: UnsafePointer<Float>, _ tokens: Int,
                            _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int) {
        let ones = _mm256_set1_epi16(1)
        var t = 0
        while t < tokens {
            // A short last tile repeats its last token (computed, not stored).
            let t1 = min(t + 1, tokens - 1), t2 = min(t + 2, tokens - 1), t3 = min(t + 3, tokens - 1)
            let y0 = bytes + t * byteStride, y1 = bytes + t1 * byteStride
            let y2 = bytes + t2 * byteStride, y3 = bytes + t3 * byteStride
            var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
            var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
            var off0 = _mm256_setzero_ps(), off1 = _mm256_setzero_ps()  // Q4_1's Σm·s, a chain of its own
            var off2 = _mm256_setzero_ps(), off3 = _mm256_setzero_ps()
            var b = 0
            while b < blocks {
                let pb = panel + b * PanelLayout.nibbleBlockBytes
                var s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256()
                var s2 = _mm256_setzero_si256(), s3 = _mm256_setzero_si256()
                var g = 0
                while g < 8 {
                    let w = load256(pb + 32 * g)
                    let o = 32 * b + 4 * g
                    s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_set1_epi32(y0.loadUnaligned(fromByteOffset: o, as: Int32.self)), w))
                    s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_set1_epi32(y1.loadUnaligned(fromByteOffset: o, as: Int32.self)), w))
                    s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(_mm256_set1_epi32(y2.loadUnaligned(fromByteOffset: o, as: Int32.self)), w))
                    s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(_mm256_set1_epi32(y3.loadUnaligned(fromByteOffset: o, as: Int32.self)), w))
                    g += 1
                }
                let d = pb.loadUnaligned(fromByteOffset: 256, as: __m256.self)
                let correction = load256(pb + 288)
                @inline(__always) func finish(_ s: __m256i, _ token: Int, _ a: __m256) -> __m256 {
                    let index = token * blocks + b
                    var s32 = _mm256_sub_epi32(_mm256_madd_epi16(s, ones), correction)
                    // Q4_1: Σq·a = Σ(q − 8)·a + 8Σa, in integers, then chained as the interleaved tiles do.
                    if isQ4_1 { s32 = _mm256_add_epi32(s32, _mm256_set1_epi32(sums[index])) }
                    return _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(scales[index])), _mm256_cvtepi32_ps(s32), a)
                }
                acc0 = finish(s0, t, acc0)
                acc1 = finish(s1, t1, acc1)
                acc2 = finish(s2, t2, acc2)
                acc3 = finish(s3, t3, acc3)
                if isQ4_1 {
                    let m = pb.loadUnaligned(fromByteOffset: 320, as: __m256.self)
                    off0 = _mm256_fmadd_ps(m, _mm256_set1_ps(offsets[t * blocks + b]), off0)
                    off1 = _mm256_fmadd_ps(m, _mm256_set1_ps(offsets[t1 * blocks + b]), off1)
                    off2 = _mm256_fmadd_ps(m, _mm256_set1_ps(offsets[t2 * blocks + b]), off2)
                    off3 = _mm256_fmadd_ps(m, _mm256_set1_ps(offsets[t3 * blocks + b]), off3)
                }
                b += 1
            }
            if isQ4_1 {
                acc0 = _mm256_add_ps(acc0, off0); acc1 = _mm256_add_ps(acc1, off1)
                acc2 = _mm256_add_ps(acc2, off2); acc3 = _mm256_add_ps(acc3, off3)
            }
            storeTile(acc0, acc1, acc2, acc3, t, tokens, results, resultStride, rowCount)
            t += 4
        }
    }

    /// Stores the tile's tokens t…t+3 that exist.
    @inline(__always)
    @inlinable static func storeTile(_ a0: __m256, _ a1: __m256, _ a2: __m256, _ a3: __m256, _ t: Int, _ tokens: Int,
                          _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int) {
        storeLanes(a0, results + t * resultStride, rowCount)
        if t + 1 < tokens { storeLanes(a1, results + (t + 1) * resultStride, rowCount) }
        if t + 2 < tokens { storeLanes(a2, results + (t + 2) * resultStride, rowCount) }
        if t + 3 < tokens { storeLanes(a3, results + (t + 3) * resultStride, rowCount) }
    }

    /// Converts `tokens` Q8_0 (or Q8_1 when `q8_1`) activation rows into the 4-bit panels' input.
    public static func unsignedActivations(_ activations: UnsafeRawPointer, activationStride: Int, q8_1: Bool,
                                           tokens: Int, blocks: Int, bytes: UnsafeMutableRawPointer,
                                           byteStride: Int, scales: UnsafeMutablePointer<Float>,
                                           sums: UnsafeMutablePointer<Int32>, offsets: UnsafeMutablePointer<Float>) {
        let flip = _mm256_set1_epi8(-128)
        let blockBytes = q8_1 ? 40 : 34, dataOffset = q8_1 ? 8 : 2
        var t = 0
        while t < tokens {
            var b = 0
            while b < blocks {
                let yb = activations + t * activationStride + b * blockBytes
                let a = load256(yb + dataOffset)
                (bytes + t * byteStride + 32 * b).storeBytes(of: _mm256_xor_si256(a, flip), as: __m256i.self)
                let widened = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), a), _mm256_set1_epi16(1))
                let dy = q8_1 ? float(yb, 0) : half(yb, 0)
                let index = t * blocks + b
                scales[index] = dy
                sums[index] = 8 * horizontalSumInt(widened)
                offsets[index] = q8_1 ? float(yb, 4) : 0
                b += 1
            }
            t += 1
        }
    }

    /// Stores the first `count` (≤ 8) lanes.
    @inline(__always)
    @inlinable static func storeLanes(_ v: __m256, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        if count >= 8 {
            UnsafeMutableRawPointer(out).storeBytes(of: v, as: __m256.self)
        } else {
            withUnsafeBytes(of: v) { lanes in
                for i in 0..<count { out[i] = lanes.load(fromByteOffset: 4 * i, as: Float.self) }
            }
        }
    }

    @inline(__always)
    static func horizontalSumInt(_ v: __m256i) -> Int32 {
        let quad = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256_1(v))
        let pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad))
        return _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_srli_epi64(pair, 32)))
    }
}

public enum AVX2GEMM {}

/// Eight registers (a fixed-size array the optimiser keeps in registers once inlined).
struct Eight {
    var v0, v1, v2, v3, v4, v5, v6, v7: __m256i
    init(repeating x: __m256i) { (v0, v1, v2, v3, v4, v5, v6, v7) = (x, x, x, x, x, x, x, x) }
    subscript(i: Int) -> __m256i {
        @inline(__always) get {
            switch i { case 0: v0; case 1: v1; case 2: v2; case 3: v3; case 4: v4; case 5: v5; case 6: v6; default: v7 }
        }
        @inline(__always) set {
            switch i { case 0: v0 = newValue; case 1: v1 = newValue; case 2: v2 = newValue; case 3: v3 = newValue
            case 4: v4 = newValue; case 5: v5 = newValue; case 6: v6 = newValue; default: v7 = newValue }
        }
    }
}
#endif
