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
    /// Whether kernels with signed weights multiply them by the activations + 128 (unsigned, prepared once per
    /// batch) and subtract 128 · Σw, instead of moving each weight's sign onto the activation before every
    /// product: VNNI's 32-bit sums hold 4 · 255 · 128; AVX2's 16-bit pair sums (2 · 255 · 127) would saturate.
    static var flipsActivations: Bool { get }
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
    public static var flipsActivations: Bool { false }
}
#endif
