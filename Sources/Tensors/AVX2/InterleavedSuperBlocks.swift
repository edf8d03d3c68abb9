#if arch(x86_64)
import _Builtin_intrinsics.intel

// Q4_K interleaved at load, 8 rows at a time, for decode (prefill unpacks these panels straight into
// the super-block panel form: SuperBlockPanels.swift). Per super-block of the 8 rows, 1152 bytes — the
// size of the 8 original blocks:
//     0    the 8 rows' f16 d, then at 16 their f16 dmin
//     32   the 12 packed scale bytes: byte i of row r at 32 + 8i + r
//     128  32 units of 32 bytes: unit u holds bytes 4u…4u+3 of each row's 128 quant bytes (row r at 4r)
// Unit u = 8c + k: its low nibbles are columns 64c + 4k…+3 (sub-block 2c), its high nibbles 32 columns
// on (sub-block 2c + 1). One broadcast of 4 activation bytes then feeds 8 rows, the sums come out one row
// per lane, and the scales of 8 rows unpack with a handful of byte operations instead of per row.
// maddubs (nibble 0…15 unsigned, activation −127…127): the 8 units of a sub-block add up in 16 bits
// (8 · 2 · 15 · 127 = 30480) before the scale multiply-add.

public enum InterleavedSuperBlockLayout {
    public static let q4KBlockBytes = 1152
    public static let dminOffset = 16, scalesOffset = 32, quantsOffset = 128
}

/// The 8 rows' 6-bit scales and mins of one interleaved Q4_K super-block: byte 8j + r of `low` (j < 4) or of
/// `high` (j − 4) is row r's value for sub-block j.
@usableFromInline struct Q4KScales {
    @usableFromInline let scalesLow, scalesHigh, minsLow, minsHigh: __m256i

    /// The scale packing of Q4_K (as unpackScalesAndMins), on 8 rows at once: sub-blocks 0-3 take the low 6
    /// bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 take nibbles of bytes 8-11 and the top 2 bits of 0-7.
    @inlinable @inline(__always) init(_ block: UnsafeRawPointer) {
        let a = load256(block + InterleavedSuperBlockLayout.scalesOffset)
        let b = load256(block + InterleavedSuperBlockLayout.scalesOffset + 32)
        let c = load256(block + InterleavedSuperBlockLayout.scalesOffset + 64)
        let six = _mm256_set1_epi8(0x3F), four = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30)
        scalesLow = _mm256_and_si256(a, six)
        minsLow = _mm256_and_si256(b, six)
        // (x >> 6) << 4 per byte: a 16-bit shift right by 2, keeping bits 4-5 (what crosses from the next byte
        // lands in bits 6-7 and is masked off).
        scalesHigh = _mm256_or_si256(_mm256_and_si256(c, four), _mm256_and_si256(_mm256_srli_epi16(a, 2), top))
        minsHigh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), four), _mm256_and_si256(_mm256_srli_epi16(b, 2), top))
    }

    /// Sub-block j's 8 bytes in every 64-bit lane (j a constant at the call).
    @inlinable @inline(__always) static func broadcast(_ v: __m256i, _ j: Int) -> __m256i {
        let i = Int32(2 * (j % 4))
        return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(i, i + 1, i, i + 1, i, i + 1, i, i + 1))
    }
    @inlinable @inline(__always) func scale(_ j: Int) -> __m256i { Self.broadcast(j < 4 ? scalesLow : scalesHigh, j) }
    @inlinable @inline(__always) func minimum(_ j: Int) -> __m256i { Self.broadcast(j < 4 ? minsLow : minsHigh, j) }
}

extension AVX2GEMM {
    /// Interleaves 8 Q4_K rows of `superBlocks` super-blocks into `out`.
    public static func interleaveQ4K(_ rows: UnsafeRawPointer, rowStride: Int, superBlocks: Int, into out: UnsafeMutableRawPointer) {
        var b = 0
        while b < superBlocks {
            let o = out + b * InterleavedSuperBlockLayout.q4KBlockBytes
            var r = 0
            while r < 8 {
                let xb = rows + r * rowStride + b * 144
                o.storeBytes(of: xb.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                o.storeBytes(of: xb.loadUnaligned(fromByteOffset: 2, as: UInt16.self),
                             toByteOffset: InterleavedSuperBlockLayout.dminOffset + 2 * r, as: UInt16.self)
                var i = 0
                while i < 12 {
                    o.storeBytes(of: xb.load(fromByteOffset: 4 + i, as: UInt8.self),
                                 toByteOffset: InterleavedSuperBlockLayout.scalesOffset + 8 * i + r, as: UInt8.self)
                    i += 1
                }
                var u = 0
                while u < 32 {
                    o.storeBytes(of: xb.loadUnaligned(fromByteOffset: 16 + 4 * u, as: UInt32.self),
                                 toByteOffset: InterleavedSuperBlockLayout.quantsOffset + 32 * u + 4 * r, as: UInt32.self)
                    u += 1
                }
                r += 1
            }
            b += 1
        }
    }

    /// results[t · resultStride + r], r in 0..<8, for `panels` consecutive interleaved Q4_K panels (8 rows each,
    /// results of panel p at +8p) and tokens t in 0..<tokens of Q8_K activations.
    public static func interleavedQ4K(_ weights: UnsafeRawPointer, panels: Int, superBlocks: Int,
                                      activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                      results: UnsafeMutablePointer<Float>, resultStride: Int) {
        interleavedQ4K(AVX2Products.self, weights, panels: panels, superBlocks: superBlocks, activations: activations,
                       activationStride: activationStride, tokens: tokens, results: results, resultStride: resultStride)
    }

    /// `interleavedQ4K` with the byte products of `P`.
    @inlinable
    public static func interleavedQ4K<P: ByteProducts>(_ products: P.Type, _ weights: UnsafeRawPointer, panels: Int,
                                                       superBlocks: Int, activations: UnsafeRawPointer, activationStride: Int,
                                                       tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let blockBytes = InterleavedSuperBlockLayout.q4KBlockBytes, quants = InterleavedSuperBlockLayout.quantsOffset
        let panelBytes = superBlocks &* blockBytes
        let lowMask = _mm256_set1_epi8(0x0F)
        var p = 0
        while p < panels {
            let w = weights + p &* panelBytes
            var t = 0
            while t < tokens {
                let y = activations + t &* activationStride
                var acc = _mm256_setzero_ps()
                var b = 0
                while b < superBlocks {
                    let wb = w + b &* blockBytes, yb = y + 292 &* b
                    let scales = Q4KScales(wb)
                    // Σ_j min_j · (activation sum of sub-block j): the bsums of 16 in pairs, each pair of
                    // sub-blocks' mins as int16 lane pairs (2r, 2r+1) against their two sums.
                    let bsums = load256(yb + 260)
                    let sums32 = _mm256_castsi128_si256(_mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256_1(bsums)))
                    let pairOrder = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,
                                                     0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
                    @inline(__always) func minProducts(_ mins: __m256i, _ pair: Int32) -> __m256i {
                        let paired = _mm256_shuffle_epi8(mins, pairOrder)  // lane 0: sub-blocks (2q, 2q+1), lane 1: the next two
                        let first = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(paired)),
                                                      _mm256_permutevar8x32_epi32(sums32, _mm256_set1_epi32(pair)))
                        let second = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256_1(paired)),
                                                       _mm256_permutevar8x32_epi32(sums32, _mm256_set1_epi32(pair + 1)))
                        return _mm256_add_epi32(first, second)
                    }
                    let minSums = _mm256_add_epi32(minProducts(scales.minsLow, 0), minProducts(scales.minsHigh, 2))
                    var sums = _mm256_setzero_si256()
                    @inline(__always) func chunk(_ c: Int) {
                        var low = _mm256_setzero_si256(), high = _mm256_setzero_si256()
                        @inline(__always) func step(_ k: Int) {
                            let q = load256(wb + (quants &+ 32 &* (8 &* c &+ k)))
                            let a = yb + (4 &+ 64 &* c &+ 4 &* k)
                            low = P.accumulate(low, _mm256_and_si256(q, lowMask), _mm256_set1_epi32(a.loadUnaligned(as: Int32.self)))
                            high = P.accumulate(high, _mm256_and_si256(_mm256_srli_epi16(q, 4), lowMask),
                                                _mm256_set1_epi32(a.loadUnaligned(fromByteOffset: 32, as: Int32.self)))
                        }
                        step(0); step(1); step(2); step(3); step(4); step(5); step(6); step(7)
                        sums = _mm256_add_epi32(sums, P.scaledWiden(low, scales.scale(2 * c)))
                        sums = _mm256_add_epi32(sums, P.scaledWiden(high, scales.scale(2 * c + 1)))
                    }
                    chunk(0); chunk(1); chunk(2); chunk(3)
                    let dy = _mm256_set1_ps(float(yb, 0))
                    let d = _mm256_cvtph_ps(load128(wb)), dmin = _mm256_cvtph_ps(load128(wb + InterleavedSuperBlockLayout.dminOffset))
                    acc = _mm256_fmadd_ps(_mm256_mul_ps(d, dy), _mm256_cvtepi32_ps(sums), acc)
                    acc = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, dy), _mm256_cvtepi32_ps(minSums), acc)
                    b &+= 1
                }
                storeLanes(acc, results + (t &* resultStride &+ 8 &* p), 8)
                t &+= 1
            }
            p &+= 1
        }
    }
}
extension AVX2GEMM {
    /// The prompt-panel form of 8 interleaved Q4_K rows (what packSuperBlocks(.q4_K) makes of the original
    /// rows, byte for byte): the copy's units already are 4 columns × 8 rows, so each becomes two panel
    /// groups (low and high nibbles) with no transpose. `half`: as packSuperBlocks (one half of a 16-row panel).
    public static func packInterleavedQ4K(_ interleaved: UnsafeRawPointer, superBlocks: Int, into panel: UnsafeMutableRawPointer,
                                          half: Int? = nil) {
        let spread = half.map { (unit: 64, base: 32 * $0) } ?? (unit: 32, base: 0)
        @inline(__always) func store(_ v: __m256i, _ out: UnsafeMutableRawPointer, _ offset: Int) {
            (out + (offset / 32 &* spread.unit &+ spread.base)).storeBytes(of: v, as: __m256i.self)
        }
        let format = SuperBlockFormat.q4_K
        let blockBytes = SuperBlockPanelLayout.blockBytes(format)
        let scalesAt = SuperBlockPanelLayout.scalesOffset(format), offsetsAt = SuperBlockPanelLayout.offsetsOffset(format)
        let lowMask = _mm256_set1_epi8(0x0F)
        var b = 0
        while b < superBlocks {
            let wb = interleaved + b &* InterleavedSuperBlockLayout.q4KBlockBytes
            let out = panel + b &* blockBytes / 32 &* spread.unit
            var u = 0
            while u < 32 {
                let q = load256(wb + (InterleavedSuperBlockLayout.quantsOffset &+ 32 &* u))
                let group = 16 &* (u / 8) &+ u % 8
                store(_mm256_and_si256(q, lowMask), out, 32 &* group)
                store(_mm256_and_si256(_mm256_srli_epi16(q, 4), lowMask), out, 32 &* (group &+ 8))
                u &+= 1
            }
            // Each sub-block of 32 is two of 16 with its scale and offset; lane r holds row r's value twice.
            let s = Q4KScales(wb)
            @inline(__always) func doubled(_ v: __m256i) -> __m256i {
                let wide = _mm256_cvtepu8_epi32(_mm256_castsi256_si128(v))
                return _mm256_or_si256(wide, _mm256_slli_epi32(wide, 16))
            }
            @inline(__always) func put(_ j: Int) {
                let scale = doubled(s.scale(j))
                store(scale, out, scalesAt + 64 * j)
                store(scale, out, scalesAt + 64 * j + 32)
                store(doubled(s.minimum(j)), out, offsetsAt + 32 * j)
            }
            put(0); put(1); put(2); put(3); put(4); put(5); put(6); put(7)
            store(_mm256_castps_si256(_mm256_cvtph_ps(load128(wb))), out, SuperBlockPanelLayout.dOffset(format))
            store(_mm256_castps_si256(_mm256_cvtph_ps(load128(wb + InterleavedSuperBlockLayout.dminOffset))), out,
                  SuperBlockPanelLayout.dmOffset(format))
            b &+= 1
        }
    }
}
#endif
