#if arch(x86_64)
import _Builtin_intrinsics.intel

/// The one step the AVX2 and the AVX-512 VNNI integer kernels differ in: products of 4 unsigned by 4 signed
/// bytes, summed into each 32-bit lane. AVX2 takes two instructions (maddubs: pair sums in 16 bits, madd:
/// to 32), VNNI one (vpdpbusd). The kernels that share everything else are written once, generic over
/// this, and specialised in each module (TensorsAVX512 compiles its copy for AVX-512): the integer sums are
/// exact either way, so both give the same bits.
public protocol ByteProducts {
    /// acc (32-bit lanes) + Σ over each lane's 4 byte pairs of u (unsigned) · s (signed).
    static func dot4(_ acc: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i
    /// As dot4, into a partial sum that may stay in 16-bit pair sums until `widen`: AVX2 keeps it there
    /// (the caller bounds how many products it adds so none saturates), VNNI sums into 32 bits at once.
    static func accumulate(_ partial: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i
    /// A partial sum of `accumulate` as 32-bit lanes.
    static func widen(_ partial: __m256i) -> __m256i
    /// A partial sum of `accumulate` times one scale 0…63 per 32-bit lane, as 32-bit lanes: lane r's scale is
    /// byte r of `scales`, which holds those 8 bytes in every 64-bit lane.
    static func scaledWiden(_ partial: __m256i, _ scales: __m256i) -> __m256i
    /// acc + the 16-bit pair sums times their int16 scales, summed in pairs into 32-bit lanes (madd + add).
    static func addScaledPairs(_ acc: __m256i, _ pairs: __m256i, _ scales: __m256i) -> __m256i
    /// Whether kernels with signed weights take them + 128 (unsigned) against the activations as they are and
    /// subtract 128·Σa, instead of moving each weight's sign onto the activation before every product: VNNI's
    /// 32-bit sums hold 4 · 255 · 127; AVX2's 16-bit pair sums (2 · 255 · 127) would saturate.
    static var raisesSignedWeights: Bool { get }
}

public enum AVX2Products: ByteProducts {
    @inlinable @inline(__always)
    public static func dot4(_ acc: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
    }

    @inlinable @inline(__always)
    public static func accumulate(_ partial: __m256i, _ u: __m256i, _ s: __m256i) -> __m256i {
        _mm256_add_epi16(partial, _mm256_maddubs_epi16(u, s))
    }

    @inlinable @inline(__always)
    public static func widen(_ partial: __m256i) -> __m256i { _mm256_madd_epi16(partial, _mm256_set1_epi16(1)) }

    @inlinable @inline(__always)
    public static func addScaledPairs(_ acc: __m256i, _ pairs: __m256i, _ scales: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scales))
    }

    /// The scale of lane r into both 16-bit halves of lane r, then one multiply-add.
    @inlinable @inline(__always)
    public static func scaledWiden(_ partial: __m256i, _ scales: __m256i) -> __m256i {
        let z: Int8 = -128
        let spread = _mm256_setr_epi8(0, z, 0, z, 1, z, 1, z, 2, z, 2, z, 3, z, 3, z,
                                      4, z, 4, z, 5, z, 5, z, 6, z, 6, z, 7, z, 7, z)
        return _mm256_madd_epi16(partial, _mm256_shuffle_epi8(scales, spread))
    }

    @inlinable @inline(__always)
    public static var raisesSignedWeights: Bool { false }
}
#endif
