#if arch(x86_64)
import _Builtin_intrinsics.intel

// AVX2 dot products of the 256-element super-block formats with Q8_K activations
// (d f32 @0 | qs[256] @4 | bsums[16] i16 @260). Per super-block the weighted integer sum is
// built in eight int32 lanes, then scaled once; mins go through the activation bsums (scalar).

extension AVX2Dot {
    /// Q4_K · Q8_K.
    public static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        kQuant4or5(x, y, blocks, blockBytes: 144, quantOffset: 16, hasFifthBit: false)
    }

    /// Q5_K · Q8_K.
    public static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        kQuant4or5(x, y, blocks, blockBytes: 176, quantOffset: 48, hasFifthBit: true)
    }

    /// Q4_K and Q5_K share scales, mins and nibble order; Q5_K adds a fifth bit from qh @16.
    @inline(__always)
    private static func kQuant4or5(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int,
                                   blockBytes: Int, quantOffset: Int, hasFifthBit: Bool) -> Float {
        var acc = _mm256_setzero_ps()
        var minAcc = _mm_setzero_ps()
        let lowMask = _mm256_set1_epi8(0x0F), bit = _mm256_set1_epi8(1)
        var b = 0
        while b < blocks {
            let xb = x + blockBytes * b, yb = y + 292 * b
            let (scales, mins) = unpackScalesAndMins(xb + 4)
            // Σ min_j · (activation sum of sub-block j): bsums pairwise, then a multiply-add.
            let bsums = load256(yb + 260)
            let pairSums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256_1(bsums))
            let minProducts = _mm_madd_epi16(mins, pairSums)
            let scales16 = _mm256_broadcastsi128_si256(scales)
            let highBits = hasFifthBit ? load256(xb + 16) : _mm256_setzero_si256()
            var sums = _mm256_setzero_si256()
            var chunk = 0
            while chunk < 4 {
                let q = load256(xb + quantOffset + 32 * chunk)
                var qLow = _mm256_and_si256(q, lowMask)
                var qHigh = _mm256_and_si256(_mm256_srli_epi16(q, 4), lowMask)
                if hasFifthBit {
                    // Bit 2c / 2c+1 of each qh byte → 0x10 (16-bit shifts, then a per-byte mask).
                    let shifted = _mm256_srli_epi16(highBits, Int32(2 * chunk))
                    qLow = _mm256_or_si256(qLow, _mm256_slli_epi16(_mm256_and_si256(shifted, bit), 4))
                    qHigh = _mm256_or_si256(qHigh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(shifted, 1), bit), 4))
                }
                let low = pairProducts(qLow, load256(yb + 4 + 64 * chunk))
                let high = pairProducts(qHigh, load256(yb + 36 + 64 * chunk))
                // int16 scale 2c in every lane (shuffle bytes 4c, 4c+1), 2c+1 from bytes 4c+2, 4c+3.
                let scaleLow = _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(Int16(0x0100 + 0x0404 * chunk)))
                let scaleHigh = _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(Int16(0x0302 + 0x0404 * chunk)))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(low, scaleLow))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(high, scaleHigh))
                chunk += 1
            }
            let dy = float(yb, 0)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * half(xb, 0)), _mm256_cvtepi32_ps(sums), acc)
            minAcc = _mm_fmadd_ps(_mm_set1_ps(dy * half(xb, 2)), _mm_cvtepi32_ps(minProducts), minAcc)
            b += 1
        }
        let minQuad = _mm_add_ps(minAcc, _mm_movehl_ps(minAcc, minAcc))
        let minTotal = _mm_cvtss_f32(_mm_add_ss(minQuad, _mm_movehdup_ps(minQuad)))
        return horizontalSum(acc) - minTotal
    }

    /// Q6_K · Q8_K: 6-bit values minus 32, one signed 8-bit scale per 16 elements. The values go into
    /// maddubs as they are stored (0…63, unsigned: no sign steps), and 32 · Σ_j s_j · bsum_j comes off the
    /// super-block's integer sum at the end — the same integer as Σ s·(q − 32)·a, so the same result.
    public static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let lowMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3)
        var b = 0
        while b < blocks {
            let xb = x + 210 * b, yb = y + 292 * b
            let scales16 = _mm256_cvtepi8_epi16(load128(xb + 192))
            let halves = ScaleHalves(scales16)
            var sums = _mm256_setzero_si256()
            @inline(__always) func group(_ part: Int, _ quarter: Int, _ ql: __m256i, _ qh: __m256i) {
                let nibble = quarter < 2 ? _mm256_and_si256(ql, lowMask) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), lowMask)
                let top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 * quarter)), twoBits), 4)
                let products = _mm256_maddubs_epi16(_mm256_or_si256(nibble, top), load256(yb + 4 + 128 * part + 32 * quarter))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(products, halves.pair(4 * part + quarter)))
            }
            let ql0 = load256(xb), ql1 = load256(xb + 32), qh0 = load256(xb + 128)
            group(0, 0, ql0, qh0); group(0, 1, ql1, qh0); group(0, 2, ql0, qh0); group(0, 3, ql1, qh0)
            let ql2 = load256(xb + 64), ql3 = load256(xb + 96), qh1 = load256(xb + 160)
            group(1, 0, ql2, qh1); group(1, 1, ql3, qh1); group(1, 2, ql2, qh1); group(1, 3, ql3, qh1)
            // 32 · Σ_j s_j · bsum_j: the offset the stored values carry.
            let offset = _mm256_slli_epi32(_mm256_madd_epi16(scales16, load256(yb + 260)), 5)
            sums = _mm256_sub_epi32(sums, offset)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * half(xb, 208)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }

    /// Q2_K · Q8_K.
    public static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps(), minAcc = _mm256_setzero_ps()
        let twoBits = _mm256_set1_epi8(3)
        var b = 0
        while b < blocks {
            let xb = x + 84 * b, yb = y + 292 * b
            let packed = load128(xb)
            let scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0x0F)))
            let mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)))
            let minProducts = _mm256_madd_epi16(mins16, load256(yb + 260))  // min_g · bsum_g, paired
            let halves = ScaleHalves(scales16)
            var sums = _mm256_setzero_si256()
            @inline(__always) func group(_ part: Int, _ shift: Int, _ q: __m256i) {
                let values = _mm256_and_si256(_mm256_srli_epi16(q, Int32(2 * shift)), twoBits)
                let products = pairProducts(values, load256(yb + 4 + 128 * part + 32 * shift))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(products, halves.pair(4 * part + shift)))
            }
            let q0 = load256(xb + 16)
            group(0, 0, q0); group(0, 1, q0); group(0, 2, q0); group(0, 3, q0)
            let q1 = load256(xb + 48)
            group(1, 0, q1); group(1, 1, q1); group(1, 2, q1); group(1, 3, q1)
            let dy = float(yb, 0)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * half(xb, 80)), _mm256_cvtepi32_ps(sums), acc)
            minAcc = _mm256_fmadd_ps(_mm256_set1_ps(dy * half(xb, 82)), _mm256_cvtepi32_ps(minProducts), minAcc)
            b += 1
        }
        return horizontalSum(acc) - horizontalSum(minAcc)
    }

    /// Q3_K · Q8_K: 2 low bits plus a high-mask bit (clear = −4), signed 6-bit scales. The values go into
    /// maddubs as 0…7 (low | high << 2, unsigned: no sign steps) and 4 · Σ_j s_j · bsum_j comes off at the end,
    /// the same integer as Σ s·(v − 4)·a.
    public static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let twoBits = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4)
        var b = 0
        while b < blocks {
            let xb = x + 110 * b, yb = y + 292 * b
            let mask = load256(xb)
            let scales16 = unpackScalesQ3K(xb + 96)
            let halves = ScaleHalves(scales16)
            var sums = _mm256_setzero_si256()
            @inline(__always) func group(_ part: Int, _ shift: Int, _ q: __m256i) {
                let k = 4 * part + shift
                let low = _mm256_and_si256(_mm256_srli_epi16(q, Int32(2 * shift)), twoBits)
                // Mask bit k of each byte moved to bit 2 (16-bit shifts, then the per-byte mask).
                let moved = k >= 2 ? _mm256_srli_epi16(mask, Int32(k - 2)) : _mm256_slli_epi16(mask, Int32(2 - k))
                let values = _mm256_or_si256(low, _mm256_and_si256(moved, four))
                let products = _mm256_maddubs_epi16(values, load256(yb + 4 + 32 * k))
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(products, halves.pair(k)))
            }
            let q0 = load256(xb + 32)
            group(0, 0, q0); group(0, 1, q0); group(0, 2, q0); group(0, 3, q0)
            let q1 = load256(xb + 64)
            group(1, 0, q1); group(1, 1, q1); group(1, 2, q1); group(1, 3, q1)
            let offset = _mm256_slli_epi32(_mm256_madd_epi16(scales16, load256(yb + 260)), 2)
            sums = _mm256_sub_epi32(sums, offset)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * half(xb, 108)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }

    /// IQ4_XS · Q8_K.
    public static func iq4_xs(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let levels = iq4LevelTable()
        var b = 0
        while b < blocks {
            let xb = x + 136 * b, yb = y + 292 * b
            let scalesHigh = xb.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
            var sums = _mm256_setzero_si256()
            @inline(__always) func sub(_ sub: Int) {  // written out: constant offsets and scale shifts
                let values = _mm256_shuffle_epi8(levels, nibbles(xb + 8 + 16 * sub))
                let activations = load256(yb + 4 + 32 * sub)
                let products = _mm256_maddubs_epi16(_mm256_sign_epi8(values, values), _mm256_sign_epi8(activations, values))
                let low = (xb.load(fromByteOffset: 4 + sub / 2, as: UInt8.self) >> (4 * UInt8(sub % 2))) & 0x0F
                let high = UInt8(truncatingIfNeeded: scalesHigh >> (2 * UInt16(sub))) & 3
                let scale = Int16(low | (high << 4)) - 32
                sums = _mm256_add_epi32(sums, _mm256_madd_epi16(products, _mm256_set1_epi16(scale)))
            }
            sub(0); sub(1); sub(2); sub(3); sub(4); sub(5); sub(6); sub(7)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(float(yb, 0) * half(xb, 0)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }
}

/// Q4_K / Q5_K: the 12 packed bytes → (8 scales, 8 mins) as int16 lanes. Same packing as the
/// scalar reference's scaleAndMinK4, done on three 32-bit words at once.
@inline(__always)
func unpackScalesAndMins(_ packed: UnsafeRawPointer) -> (scales: __m128i, mins: __m128i) {
    let word0 = packed.loadUnaligned(as: UInt32.self)
    let word1 = packed.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let word2 = packed.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let six: UInt32 = 0x3F3F_3F3F, four: UInt32 = 0x0F0F_0F0F, two: UInt32 = 0x0303_0303
    let scalesLow = word0 & six                                          // sub-blocks 0-3
    let scalesHigh = (word2 & four) | (((word0 >> 6) & two) << 4)        // sub-blocks 4-7
    let minsLow = word1 & six
    let minsHigh = ((word2 >> 4) & four) | (((word1 >> 6) & two) << 4)
    let scales = UInt64(scalesLow) | UInt64(scalesHigh) << 32
    let mins = UInt64(minsLow) | UInt64(minsHigh) << 32
    return (_mm_cvtepu8_epi16(_mm_cvtsi64_si128(Int64(bitPattern: scales))),
            _mm_cvtepu8_epi16(_mm_cvtsi64_si128(Int64(bitPattern: mins))))
}

/// The upper 128 bits (the intrinsic is a macro Swift cannot import).
@inline(__always)
@inlinable func _mm256_extracti128_si256_1(_ v: __m256i) -> __m128i {
    _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3)))
}

/// Q3_K: the 16 signed 6-bit scales (minus 32) as int16 lanes. Low nibbles come from bytes 0-7
/// (low nibble for scales 0-7, high for 8-15), the top two bits from bytes 8-11, two per byte
/// for scales j, j+4, j+8, j+12; same packing as the scalar reference's scaleQ3K.
@inline(__always)
func unpackScalesQ3K(_ packed: UnsafeRawPointer) -> __m256i {
    let word0 = packed.loadUnaligned(as: UInt32.self)
    let word1 = packed.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let top = packed.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
    let four: UInt32 = 0x0F0F_0F0F, two: UInt32 = 0x0303_0303
    let scales0 = (word0 & four) | ((top & two) << 4)                // scales 0-3
    let scales1 = (word1 & four) | (((top >> 2) & two) << 4)         // 4-7
    let scales2 = ((word0 >> 4) & four) | (((top >> 4) & two) << 4)  // 8-11
    let scales3 = ((word1 >> 4) & four) | (((top >> 6) & two) << 4)  // 12-15
    let bytes = _mm_setr_epi32(Int32(bitPattern: scales0), Int32(bitPattern: scales1),
                               Int32(bitPattern: scales2), Int32(bitPattern: scales3))
    return _mm256_sub_epi16(_mm256_cvtepu8_epi16(bytes), _mm256_set1_epi16(32))
}

/// scalePair in one byte shuffle per group: the 16 scales' low and high halves each broadcast to both
/// 128-bit lanes once per super-block, then group k's pair picked from the right one with a constant mask.
struct ScaleHalves {
    let low, high: __m256i
    @inline(__always) init(_ scales16: __m256i) {
        low = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales16))
        high = _mm256_broadcastsi128_si256(_mm256_extracti128_si256_1(scales16))
    }
    /// = scalePair(scales16, k) for k in 0..<8 (k a constant at the call, so the mask is too).
    @inline(__always) func pair(_ k: Int) -> __m256i {
        let j = Int8(4 * (k % 4))
        let mask = _mm256_setr_epi8(j, j + 1, j, j + 1, j, j + 1, j, j + 1, j, j + 1, j, j + 1, j, j + 1, j, j + 1,
                                    j + 2, j + 3, j + 2, j + 3, j + 2, j + 3, j + 2, j + 3,
                                    j + 2, j + 3, j + 2, j + 3, j + 2, j + 3, j + 2, j + 3)
        return _mm256_shuffle_epi8(k < 4 ? low : high, mask)
    }
}

/// From 16 int16 scales, scale 2k in the low 8 lanes and 2k+1 in the high 8: the weights of one
/// 32-element group's pair products (16 elements per scale). Both sit in 32-bit lane k.
@inline(__always)
func scalePair(_ scales16: __m256i, _ k: Int) -> __m256i {
    let pair = _mm256_permutevar8x32_epi32(scales16, _mm256_set1_epi32(Int32(k)))
    return _mm256_shuffle_epi8(pair, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
                                                      2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3))
}
#endif
