#if arch(x86_64)
import _Builtin_intrinsics.intel

// SiLU and softmax exponentials, 8 lanes at a time, with the same float operations as
// Activations.exp (Tensors/Activations.swift), whose comments say why this exp and not libm's.
// Compares are done on bit patterns (the float compare intrinsics are macros Swift cannot import):
// for non-negative floats the integer order is the float order.

public enum AVX2Activations {
    /// gate[i] = silu(gate[i]) · up[i] for i < count (count % 8 == 0).
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let one = _mm256_set1_ps(1)
        var i = 0
        while i < count {
            let x = UnsafeRawPointer(gate + i).loadUnaligned(as: __m256.self)
            let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), x))
            let silu = _mm256_div_ps(x, _mm256_add_ps(one, e))
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: __m256.self)
            UnsafeMutableRawPointer(gate + i).storeBytes(of: _mm256_mul_ps(silu, u), as: __m256.self)
            i += 8
        }
    }

    /// weights[t] = e^(weights[t] − maximum) for t < count; returns Σ as Activations.softmaxExp forms it
    /// (groups of 16: two vectors added lane by lane, then the 8-lane horizontal sum).
    public static func softmaxExp(_ weights: UnsafeMutablePointer<Float>, count: Int, maximum: Float) -> Double {
        let m = _mm256_set1_ps(maximum)
        var sum: Double = 0
        var t = 0
        while t + 16 <= count {
            let p0 = exp(_mm256_sub_ps(UnsafeRawPointer(weights + t).loadUnaligned(as: __m256.self), m))
            let p1 = exp(_mm256_sub_ps(UnsafeRawPointer(weights + t + 8).loadUnaligned(as: __m256.self), m))
            UnsafeMutableRawPointer(weights + t).storeBytes(of: p0, as: __m256.self)
            UnsafeMutableRawPointer(weights + t + 8).storeBytes(of: p1, as: __m256.self)
            sum += Double(horizontalSum(_mm256_add_ps(p0, p1)))
            t += 16
        }
        if t < count {
            // The last partial group, through a zero-padded copy: the missing lanes add zeros.
            var lanes = (_mm256_setzero_ps(), _mm256_setzero_ps())
            withUnsafeMutableBytes(of: &lanes) { raw in
                let buffer = raw.bindMemory(to: Float.self)
                let rest = count - t
                for l in 0..<rest { buffer[l] = weights[t + l] }
                let base = raw.baseAddress!
                let p0 = exp(_mm256_sub_ps(base.loadUnaligned(as: __m256.self), m))
                let p1 = exp(_mm256_sub_ps(base.loadUnaligned(fromByteOffset: 32, as: __m256.self), m))
                base.storeBytes(of: p0, as: __m256.self)
                base.storeBytes(of: p1, toByteOffset: 32, as: __m256.self)
                for l in rest..<16 { buffer[l] = 0 }
                for l in 0..<rest { weights[t + l] = buffer[l] }
                sum += Double(horizontalSum(_mm256_add_ps(base.loadUnaligned(as: __m256.self),
                                                          base.loadUnaligned(fromByteOffset: 32, as: __m256.self))))
            }
        }
        return sum
    }

    /// e^x per lane: p(b) · 2^n rounded once, n = round(x/ln2), b = x − n·ln2; |n| > 192 saturates to
    /// 0 or +inf; NaN stays NaN.
    @inline(__always)
    static func exp(_ x: __m256) -> __m256 {
        let shifter = _mm256_set1_ps(0x1.8p23)
        let z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0), shifter)
        let n = _mm256_sub_ps(z, shifter)
        let b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20),
                                 _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1), x))
        let u = _mm256_mul_ps(b, b)
        let high = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7), b, _mm256_set1_ps(0x1.573e2ep-5))
        let low = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3), b, _mm256_set1_ps(0x1.fffdb6p-2))
        let p = _mm256_fmadd_ps(_mm256_fmadd_ps(high, u, low), u,
                                _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1), b, _mm256_set1_ps(1)))
        let integer = _mm256_cvtps_epi32(n)
        let bias = _mm256_set1_epi32(127)
        let magnitudeBits = _mm256_and_si256(_mm256_castps_si256(n), _mm256_set1_epi32(0x7fff_ffff))
        let outside = _mm256_cmpgt_epi32(magnitudeBits, _mm256_set1_epi32(0x42fc_0000))  // |n| > 126 (or NaN)
        if _mm256_movemask_epi8(outside) == 0 {
            // 2^n is a normal float: one multiply, rounded once.
            return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(integer, bias), 23)))
        }
        // 126 < |n| ≤ 192: scale by 2^(n∓100), exact, then by 2^±100, the one rounding.
        let below = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), integer)
        let above = _mm256_cmpgt_epi32(integer, _mm256_set1_epi32(126))
        let adjust = _mm256_sub_epi32(_mm256_and_si256(below, _mm256_set1_epi32(100)),
                                      _mm256_and_si256(above, _mm256_set1_epi32(100)))
        let first = _mm256_slli_epi32(_mm256_add_epi32(_mm256_add_epi32(integer, adjust), bias), 23)
        let second = _mm256_slli_epi32(_mm256_sub_epi32(bias, adjust), 23)
        let scaled = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(first)), _mm256_castsi256_ps(second))
        // |n| > 192 (not NaN): 0 for n ≤ 0, +inf above.
        let nan = _mm256_cmpgt_epi32(magnitudeBits, _mm256_set1_epi32(0x7f80_0000))
        let huge = _mm256_andnot_si256(nan, _mm256_cmpgt_epi32(magnitudeBits, _mm256_set1_epi32(0x4340_0000)))
        let negative = _mm256_srai_epi32(_mm256_castps_si256(n), 31)
        let saturated = _mm256_andnot_si256(negative, _mm256_castps_si256(_mm256_set1_ps(.infinity)))
        let r = _mm256_blendv_ps(scaled, _mm256_castsi256_ps(saturated), _mm256_castsi256_ps(huge))
        return _mm256_blendv_ps(r, n, _mm256_castsi256_ps(nan))
    }
}
#endif
