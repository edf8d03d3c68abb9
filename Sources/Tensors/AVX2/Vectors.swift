#if arch(x86_64)
import _Builtin_intrinsics.intel

// Helpers shared by the AVX2 kernels. This module is compiled with -mavx2 -mfma -mf16c (see
// Package.swift); nothing in it may run before BlockFormat checked the CPU. It uses only
// intrinsics and raw pointers, no generic standard-library SIMD code, so no specialisation built
// for AVX2 can be merged with (and replace) a baseline copy at link time.

@inline(__always)
func load256(_ pointer: UnsafeRawPointer) -> __m256i {
    pointer.loadUnaligned(as: __m256i.self)
}

@inline(__always)
func load128(_ pointer: UnsafeRawPointer) -> __m128i {
    pointer.loadUnaligned(as: __m128i.self)
}

/// An f16 field widened to float. (LLVM loads it with an insert into some free register, often
/// an accumulator: a false dependency. Fine once per 256-element super-block; the per-32 kernels
/// use scaleProduct instead.)
@inline(__always)
func half(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
    _cvtsh_ss(pointer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

/// Broadcast of (f16 at x) · (f16 at y): each half broadcast straight from memory (vpbroadcastw)
/// and widened as a vector, which needs no general-register traffic. (A scalar load plus insert
/// lets LLVM pick the accumulator as the insert's base: a false dependency chaining the blocks.)
@inline(__always)
func scaleProduct(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer) -> __m256 {
    let dx = _mm256_cvtph_ps(_mm_set1_epi16(x.loadUnaligned(as: Int16.self)))
    let dy = _mm256_cvtph_ps(_mm_set1_epi16(y.loadUnaligned(as: Int16.self)))
    return _mm256_mul_ps(dx, dy)
}
@inline(__always)
func float(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
    pointer.loadUnaligned(fromByteOffset: offset, as: Float.self)
}

/// Sum of the 8 lanes.
@inline(__always)
func horizontalSum(_ v: __m256) -> Float {
    // (extractf128 is a macro Swift cannot import; a lane permute does the same.)
    let upper = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(v, _mm256_set_epi32(3, 2, 1, 0, 7, 6, 5, 4)))
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), upper)
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad))
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
}

/// Σ x·y over 32 signed bytes, as 8 int32 lanes. maddubs multiplies unsigned by signed bytes, so
/// move x's sign onto y first (|x| ≤ 128 fits unsigned; pair sums stay below 2¹⁵ because our
/// activations never hold −128).
@inline(__always)
func dotSignedBytes(_ x: __m256i, _ y: __m256i) -> __m256i {
    let products = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
    return _mm256_madd_epi16(products, _mm256_set1_epi16(1))
}

/// Σ x·y with x unsigned bytes (≤ 127 per pair sum bound: 2·127·128 < 2¹⁵), y signed: 16 int16
/// lanes, each the sum of one adjacent pair.
@inline(__always)
func pairProducts(_ unsignedX: __m256i, _ y: __m256i) -> __m256i {
    _mm256_maddubs_epi16(unsignedX, y)
}

/// 16 packed 4-bit values → 32 bytes: the low nibbles in bytes 0-15, high nibbles in 16-31 —
/// the element order of Q4_0/Q4_1/IQ4_NL blocks.
@inline(__always)
func nibbles(_ pointer: UnsafeRawPointer) -> __m256i {
    let packed = load128(pointer)
    let both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed)
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// 32 bits → 32 bytes, 0xFF where the bit is set (bit i → byte i).
@inline(__always)
func bytesFromBits(_ bits: UInt32) -> __m256i {
    let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: bits)),
        _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202,
                          0x0101_0101_0101_0101, 0x0000_0000_0000_0000))
    let selector = _mm256_set1_epi64x(Int64(bitPattern: 0x8040_2010_0804_0201))
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, selector), selector)
}
#endif
