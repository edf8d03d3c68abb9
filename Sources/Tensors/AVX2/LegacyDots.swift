#if arch(x86_64)
import _Builtin_intrinsics.intel

/// AVX2 dot products of one weight row with activations in the paired format. Same contract and
/// block layouts as the scalar reference (Sources/Tensors/BlockLayouts.swift); per block the
/// integer sums are exact, the float combination order differs slightly.
public enum AVX2Dot {
    /// Runs `block(b, accumulator)` over all blocks into ONE accumulator, then sums its lanes
    /// (upper+lower half, then pairs): the exact order of llama.cpp's x86 vec_dot and tinyBLAS, which
    /// makes our Q8_0 logits bit-identical to its recorded ones (two accumulators were not).
    @inline(__always)
    static func accumulate(_ blocks: Int, _ block: (Int, __m256) -> __m256) -> Float {
        var acc = _mm256_setzero_ps()
        for b in 0..<blocks { acc = block(b, acc) }
        return horizontalSum(acc)
    }

    /// Q8_0 · Q8_0.
    public static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        accumulate(blocks) { b, acc in
            let xb = x + 34 * b, yb = y + 34 * b
            let sums = dotSignedBytes(load256(xb + 2), load256(yb + 2))
            return _mm256_fmadd_ps(scaleProduct(xb, yb), _mm256_cvtepi32_ps(sums), acc)
        }
    }

    /// Q4_0 · Q8_0: Σ(q − 8)·y as Σq·y − Σ8·y, two unsigned-by-signed multiplies, which is
    /// cheaper than moving signs around for a signed-by-signed product. One chain (see laneTotals).
    public static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1)
        var acc = _mm_setzero_ps()
        var b = 0
        while b < blocks {
            let xb = x + 18 * b, yb = y + 34 * b
            let activations = load256(yb + 2)
            let pairs = _mm256_sub_epi16(pairProducts(nibbles(xb + 2), activations), pairProducts(eight, activations))
            let total = _mm_cvtepi32_ps(laneTotal(_mm256_madd_epi16(pairs, ones)))
            acc = _mm_fmadd_ss(_mm_mul_ss(halfLane(xb), halfLane(yb)), total, acc)
            b += 1
        }
        return _mm_cvtss_f32(acc)
    }

    /// Q4_1 · Q8_1: Σ d·dy·Σq·y in one chain, Σ m·s in a second, then their sum (see laneTotals).
    /// Two blocks per step share one reduction of their integer lanes.
    public static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let ones = _mm256_set1_epi16(1)
        var acc = _mm_setzero_ps(), offsets = _mm_setzero_ps()
        @inline(__always) func sums(_ b: Int) -> __m256i {
            _mm256_madd_epi16(pairProducts(nibbles(x + 20 * b + 4), load256(y + 40 * b + 8)), ones)
        }
        @inline(__always) func add(_ b: Int, _ total: __m128) {
            let xb = x + 20 * b, yb = y + 40 * b
            acc = _mm_fmadd_ss(_mm_mul_ss(halfLane(xb), _mm_set_ss(float(yb, 0))), total, acc)
            offsets = _mm_fmadd_ss(halfLane(xb, offset: 2), _mm_set_ss(float(yb, 4)), offsets)
        }
        var b = 0
        while b + 2 <= blocks {
            let totals = _mm_cvtepi32_ps(laneTotals2(sums(b), sums(b + 1)))
            add(b, totals)
            add(b + 1, _mm_movehdup_ps(totals))
            b += 2
        }
        if b < blocks { add(b, _mm_cvtepi32_ps(laneTotal(sums(b)))) }
        return _mm_cvtss_f32(_mm_add_ss(acc, offsets))
    }

    /// Q5_0 · Q8_0.
    public static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let sixteen = _mm256_set1_epi8(16)
        return accumulate(blocks) { b, acc in
            let xb = x + 22 * b, yb = y + 34 * b
            let high = _mm256_and_si256(bytesFromBits(xb.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), sixteen)
            let q = _mm256_sub_epi8(_mm256_or_si256(nibbles(xb + 6), high), sixteen)
            let sums = dotSignedBytes(q, load256(yb + 2))
            return _mm256_fmadd_ps(scaleProduct(xb, yb), _mm256_cvtepi32_ps(sums), acc)
        }
    }

    /// Q5_1 · Q8_1.
    public static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let sixteen = _mm256_set1_epi8(16), ones = _mm256_set1_epi16(1)
        return accumulate(blocks) { b, acc in
            let xb = x + 24 * b, yb = y + 40 * b
            let high = _mm256_and_si256(bytesFromBits(xb.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), sixteen)
            let q = _mm256_or_si256(nibbles(xb + 8), high)
            let sums = _mm256_madd_epi16(pairProducts(q, load256(yb + 8)), ones)
            return withOffset(xb, yb, acc, sums)
        }
    }

    /// IQ4_NL · Q8_0: the 4-bit indices pick levels with a byte shuffle.
    public static func iq4_nl(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ blocks: Int) -> Float {
        let levels = iq4LevelTable()
        return accumulate(blocks) { b, acc in
            let xb = x + 18 * b, yb = y + 34 * b
            let q = _mm256_shuffle_epi8(levels, nibbles(xb + 2))
            let sums = dotSignedBytes(q, load256(yb + 2))
            return _mm256_fmadd_ps(scaleProduct(xb, yb), _mm256_cvtepi32_ps(sums), acc)
        }
    }

    /// Q4_1/Q5_1 with Q8_1 (d f32 @0, s f32 @4): acc + d·dy·sums, plus m·s added to lane 0.
    @inline(__always)
    private static func withOffset(_ xb: UnsafeRawPointer, _ yb: UnsafeRawPointer, _ acc: __m256,
                                   _ sums: __m256i) -> __m256 {
        // d and m side by side in one vmovd (see scaleProduct for why not two scalar loads).
        let weightScales = _mm_cvtph_ps(_mm_cvtsi32_si128(xb.loadUnaligned(as: Int32.self)))  // d, m
        let activationScales = _mm_castsi128_ps(_mm_cvtsi64_si128(yb.loadUnaligned(as: Int64.self)))  // dy, s
        let products = _mm_mul_ps(weightScales, activationScales)  // lane 0 = d·dy, lane 1 = m·s
        let scaled = _mm256_fmadd_ps(_mm256_broadcastss_ps(products), _mm256_cvtepi32_ps(sums), acc)
        // m·s into lane 0 only: shift it down, zero the other lanes.
        let offset = _mm_and_ps(_mm_movehdup_ps(products), _mm_castsi128_ps(_mm_cvtsi32_si128(-1)))
        return _mm256_add_ps(scaled, _mm256_zextps128_ps256(offset))  // (a plain cast leaves the top half undefined)
    }
}

/// The 16 IQ4 levels (−127, −104, −83, −65, −49, −35, −22, −10, 1, 13, 25, 38, 53, 69, 89, 113)
/// in both 128-bit lanes, for _mm256_shuffle_epi8.
@inline(__always)
@inlinable func iq4LevelTable() -> __m256i {
    _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                     -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)
}
#endif
