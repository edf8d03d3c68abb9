#if arch(x86_64)
import _Builtin_intrinsics.intel

// Activation quantizers with the same results as the scalar ones in QuantizeActivations.swift
// (q = round-half-even(x · 127/amax) with the same float multiply; cvtps2dq rounds to nearest even
// under the default MXCSR). One difference: a NaN input gives −128 here, 0 there.

extension AVX2Quantize {
    /// 32 floats → 32 int8 at `out`; returns (d, Σq).
    @inline(__always)
    static func block(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) -> (Float, Int32) {
        let v0 = UnsafeRawPointer(x).loadUnaligned(as: __m256.self)
        let v1 = UnsafeRawPointer(x + 8).loadUnaligned(as: __m256.self)
        let v2 = UnsafeRawPointer(x + 16).loadUnaligned(as: __m256.self)
        let v3 = UnsafeRawPointer(x + 24).loadUnaligned(as: __m256.self)
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
        let m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absMask), _mm256_and_ps(v1, absMask)),
                              _mm256_max_ps(_mm256_and_ps(v2, absMask), _mm256_and_ps(v3, absMask)))
        let quad = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_castps256_ps128(_mm256_permutevar8x32_ps(m, _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3))))
        let pair = _mm_max_ps(quad, _mm_movehl_ps(quad, quad))
        let amax = _mm_cvtss_f32(_mm_max_ss(pair, _mm_movehdup_ps(pair)))
        let d = amax / 127
        let inverse = _mm256_set1_ps(amax != 0 ? 127 / amax : 0)
        let i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inverse)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inverse))
        let i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inverse)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inverse))
        let sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3))
        // packs work within 128-bit lanes: restore element order with a 32-bit lane permute.
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3))
        let ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
        out.storeBytes(of: ordered, as: __m256i.self)
        return (d, AVX2GEMM.horizontalSumInt(sum))
    }

    /// Q8_0 blocks (f16 d, 32 × int8): d's f16 bits come from `halfBits`.
    public static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, blocks: Int,
                            halfBits: (Float) -> UInt16) {
        var b = 0
        while b < blocks {
            let yb = y + 34 * b
            let (d, _) = block(x + 32 * b, yb + 2)
            yb.storeBytes(of: halfBits(d), as: UInt16.self)
            b += 1
        }
    }

    /// Q8_1 blocks (f32 d, f32 s = d·Σq, 32 × int8), both f16-rounded by `rounded`.
    public static func q8_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, blocks: Int,
                            rounded: (Float) -> Float) {
        var b = 0
        while b < blocks {
            let yb = y + 40 * b
            let (d, sum) = block(x + 32 * b, yb + 8)
            yb.storeBytes(of: rounded(d), as: Float.self)
            yb.storeBytes(of: rounded(Float(sum) * d), toByteOffset: 4, as: Float.self)
            b += 1
        }
    }
}

extension AVX2Quantize {
    /// Q8_K blocks (f32 d, 256 × int8, 16 × int16 sums), as QuantizeActivations.q8_K: the scale is −127 over
    /// the first value of largest magnitude, the same float multiply, rounding and clamp.
    public static func q8_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, blocks: Int) {
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
        var b = 0
        while b < blocks {
            let xb = x + 256 * b, yb = y + 292 * b
            @inline(__always) func load(_ i: Int) -> __m256 { UnsafeRawPointer(xb + 8 * i).loadUnaligned(as: __m256.self) }
            var m = _mm256_setzero_ps()
            var i = 0
            while i < 32 { m = _mm256_max_ps(m, _mm256_and_ps(load(i), absMask)); i += 1 }
            let quad = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_castps256_ps128(_mm256_permutevar8x32_ps(m, _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3))))
            let pair = _mm_max_ps(quad, _mm_movehl_ps(quad, quad))
            let amax = _mm_cvtss_f32(_mm_max_ss(pair, _mm_movehdup_ps(pair)))
            guard amax > 0 else {
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: 292)
                b += 1
                continue
            }
            // The first element whose magnitude is amax (the scalar loop keeps the first of equal magnitudes).
            var extreme = amax
            let target = _mm256_castps_si256(_mm256_set1_ps(amax))
            i = 0
            while i < 32 {
                let hits = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_castps_si256(_mm256_and_ps(load(i), absMask)), target)))
                if hits != 0 { extreme = xb[8 * i + Int(hits.trailingZeroBitCount)]; break }
                i += 1
            }
            let scale = -127 / extreme
            let factor = _mm256_set1_ps(scale), top = _mm256_set1_epi32(127)
            var group = 0
            while group < 16 {
                let i0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(load(2 * group), factor)), top)
                let i1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(load(2 * group + 1), factor)), top)
                let packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_setzero_si256())
                // packs work within 128-bit lanes: dwords 0, 4, 1, 5 hold elements 0-3, 4-7, 8-11, 12-15.
                let ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0))
                (yb + 4 + 16 * group).storeBytes(of: _mm256_castsi256_si128(ordered), as: __m128i.self)
                let sum = AVX2GEMM.horizontalSumInt(_mm256_add_epi32(i0, i1))
                yb.storeBytes(of: Int16(truncatingIfNeeded: sum), toByteOffset: 260 + 2 * group, as: Int16.self)
                group += 1
            }
            yb.storeBytes(of: 1 / scale, as: Float.self)
            b += 1
        }
    }
}

public enum AVX2Quantize {}
#endif
