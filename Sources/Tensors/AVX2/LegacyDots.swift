import _Builtin_intrinsics.intel

/// AVX2 dot products of one weight row with activations in the paired format. Same contract and
/// block layouts as the scalar reference (Sources/Tensors/BlockLayouts.swift); per block the
/// integer sums are exact, the float combination order differs slightly.
public enum AVX2Dot {
    /// Q8_0 · Q8_0.
    public static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        var b = 0
        while b < blocks {
            let xb = x + 34 * b, yb = y + 34 * b
            let sums = dotSignedBytes(load256(xb + 2), load256(yb + 2))
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * half(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }

    /// Q4_0 · Q8_0.
    public static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let eight = _mm256_set1_epi8(8)
        var b = 0
        while b < blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            let q = _mm256_sub_epi8(nibbles(xb + 2), eight)
            let sums = dotSignedBytes(q, load256(yb + 2))
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * half(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }

    /// Q4_1 · Q8_1: d·dy·Σq·y + m·s per block.
    public static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        var offsets: Float = 0
        let ones = _mm256_set1_epi16(1)
        var b = 0
        while b < blocks {
            let xb = x + 20 * b, yb = y + 40 * b
            let sums = _mm256_madd_epi16(pairProducts(nibbles(xb + 4), load256(yb + 8)), ones)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * float(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            offsets += half(xb, 2) * float(yb, 4)
            b += 1
        }
        return horizontalSum(acc) + offsets
    }

    /// Q5_0 · Q8_0.
    public static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let sixteen = _mm256_set1_epi8(16)
        var b = 0
        while b < blocks {
            let xb = x + 22 * b, yb = y + 34 * b
            let high = _mm256_and_si256(bytesFromBits(xb.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), sixteen)
            let q = _mm256_sub_epi8(_mm256_or_si256(nibbles(xb + 6), high), sixteen)
            let sums = dotSignedBytes(q, load256(yb + 2))
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * half(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }

    /// Q5_1 · Q8_1.
    public static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        var offsets: Float = 0
        let sixteen = _mm256_set1_epi8(16), ones = _mm256_set1_epi16(1)
        var b = 0
        while b < blocks {
            let xb = x + 24 * b, yb = y + 40 * b
            let high = _mm256_and_si256(bytesFromBits(xb.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), sixteen)
            let q = _mm256_or_si256(nibbles(xb + 8), high)
            let sums = _mm256_madd_epi16(pairProducts(q, load256(yb + 8)), ones)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * float(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            offsets += half(xb, 2) * float(yb, 4)
            b += 1
        }
        return horizontalSum(acc) + offsets
    }

    /// IQ4_NL · Q8_0: the 4-bit indices pick levels with a byte shuffle.
    public static func iq4_nl(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        let levels = iq4LevelTable()
        var b = 0
        while b < blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            let q = _mm256_shuffle_epi8(levels, nibbles(xb + 2))
            let sums = dotSignedBytes(q, load256(yb + 2))
            acc = _mm256_fmadd_ps(_mm256_set1_ps(half(xb, 0) * half(yb, 0)), _mm256_cvtepi32_ps(sums), acc)
            b += 1
        }
        return horizontalSum(acc)
    }
}

/// The 16 IQ4 levels (−127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25, 38, 53, 69, 89, 113)
/// in both 128-bit lanes, for _mm256_shuffle_epi8.
@inline(__always)
func iq4LevelTable() -> __m256i {
    _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                     -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)
}
