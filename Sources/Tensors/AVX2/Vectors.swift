#if arch(x86_64)
import _Builtin_intrinsics.intel

// Helpers shared by the AVX2 kernels. This module is compiled with -mavx2 -mfma -mf16c (see
// Package.swift); nothing in it may run before FormatKernels checked the CPU. It uses only
// intrinsics and raw pointers, no generic standard-library SIMD code, so no specialisation built
// for AVX2 can be merged with (and replace) a baseline copy at link time. Its own generic kernels
// (over ByteProducts) are specialised per conformance — AVX2Products here, VNNIProducts in
// TensorsAVX512 — and those copies carry the conforming type in their names: they cannot collide.

@inline(__always)
@inlinable func load256(_ pointer: UnsafeRawPointer) -> __m256i {
    pointer.loadUnaligned(as: __m256i.self)
}

@inline(__always)
@inlinable func load128(_ pointer: UnsafeRawPointer) -> __m128i {
    pointer.loadUnaligned(as: __m128i.self)
}

/// An f16 field widened to float. (LLVM loads it with an insert into some free register, often
/// an accumulator: a false dependency. Fine once per 256-element super-block; the per-32 kernels
/// use scaleProduct instead.)
@inline(__always)
@inlinable func half(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
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
@inlinable func float(_ pointer: UnsafeRawPointer, _ offset: Int) -> Float {
    pointer.loadUnaligned(fromByteOffset: offset, as: Float.self)
}

/// Sum of the 8 lanes.
@inline(__always)
@inlinable func horizontalSum(_ v: __m256) -> Float {
    // (extractf128 is a macro Swift cannot import; a lane permute does the same.)
    let upper = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(v, _mm256_set_epi32(3, 2, 1, 0, 7, 6, 5, 4)))
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), upper)
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad))
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
}

/// Q4_0/Q4_1 rows sum each block's integers exactly, then add d·dy·Σ to one float chain per row and
/// token: the order of the interleaved tiles (one row per lane), so weights in place and interleaved
/// give the same bits. These helpers reduce the integer lanes and keep four such chains in one register.

/// The 8 int32 lanes of each of four vectors summed: lane k of the result is the total of `k`'s vector.
@inline(__always)
func laneTotals(_ a: __m256i, _ b: __m256i, _ c: __m256i, _ d: __m256i) -> __m128i {
    let abcd = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d))
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256_1(abcd))
}

/// The 8 int32 lanes of each of two vectors summed: `a`'s total in lane 0, `b`'s in lane 1.
@inline(__always)
func laneTotals2(_ a: __m256i, _ b: __m256i) -> __m128i {
    let ab = _mm256_hadd_epi32(a, b)
    let quad = _mm_add_epi32(_mm256_castsi256_si128(ab), _mm256_extracti128_si256_1(ab))
    return _mm_hadd_epi32(quad, quad)
}

/// The 8 int32 lanes summed, in lane 0.
@inline(__always)
func laneTotal(_ v: __m256i) -> __m128i {
    let quad = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256_1(v))
    let pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad))
    return _mm_add_epi32(pair, _mm_srli_epi64(pair, 32))
}

/// Four f16 fields (one per row or token) widened into the lanes of one register.
@inline(__always)
func halves(_ p0: UnsafeRawPointer, _ p1: UnsafeRawPointer, _ p2: UnsafeRawPointer, _ p3: UnsafeRawPointer) -> __m128 {
    @inline(__always) func h(_ p: UnsafeRawPointer) -> Int16 { p.loadUnaligned(as: Int16.self) }
    return _mm_cvtph_ps(_mm_setr_epi16(h(p0), h(p1), h(p2), h(p3), 0, 0, 0, 0))
}

/// One f16 field widened into lane 0.
@inline(__always)
func halfLane(_ p: UnsafeRawPointer, offset: Int = 0) -> __m128 {
    _mm_cvtph_ps(_mm_cvtsi32_si128(Int32(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

/// Stores the four lanes `stride` floats apart.
@inline(__always)
func storeFour(_ v: __m128, _ out: UnsafeMutablePointer<Float>, _ stride: Int) {
    var lanes = (Float(0), Float(0), Float(0), Float(0))
    withUnsafeMutableBytes(of: &lanes) { $0.storeBytes(of: v, as: __m128.self) }
    out[0] = lanes.0
    out[stride] = lanes.1
    out[2 * stride] = lanes.2
    out[3 * stride] = lanes.3
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
@inlinable func bytesFromBits(_ bits: UInt32) -> __m256i {
    let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(Int32(bitPattern: bits)),
        _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202,
                          0x0101_0101_0101_0101, 0x0000_0000_0000_0000))
    let selector = _mm256_set1_epi64x(Int64(bitPattern: 0x8040_2010_0804_0201))
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, selector), selector)
}
#endif
