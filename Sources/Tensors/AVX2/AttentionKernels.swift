#if arch(x86_64)
import _Builtin_intrinsics.intel

// Attention over an F16 KV cache, one head at a time. Keys and values are F16 (widened with
// F16C); queries and softmax weights arrive already rounded to F16 values, as llama.cpp's F16
// matrix products round them.

public enum AVX2Attention {
    /// scores[t] = scale · (query · key_t), key_t = keys + t·stride (F16 elements), in Attention's 16-chain
    /// order: two 8-lane accumulators hold chains 0–7 and 8–15. headDim % 16 == 0. (The single-token order
    /// is AVX2Dot.f16RowsF32's.)
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafeRawPointer, stride: Int, length: Int,
                              headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        let q = UnsafeRawPointer(query)
        var t = 0
        while t < length {
            let key = keys + t * rowBytes
            var low = _mm256_setzero_ps(), high = _mm256_setzero_ps()
            var d = 0
            while d < headDim {
                low = _mm256_fmadd_ps(q.loadUnaligned(fromByteOffset: 4 * d, as: __m256.self), _mm256_cvtph_ps(load128(key + 2 * d)), low)
                high = _mm256_fmadd_ps(q.loadUnaligned(fromByteOffset: 4 * d + 32, as: __m256.self),
                                       _mm256_cvtph_ps(load128(key + 2 * d + 16)), high)
                d += 16
            }
            scores[t] = horizontalSum(_mm256_add_ps(low, high)) * scale
            t += 1
        }
    }

    /// out[d] = Σ_t weights[t] · value_t[d], value_t = values + t·stride (F16), 8 dimensions at a time.
    /// `whole` < 0: Attention's 16-chain order over t; otherwise its 64-chain order over t < `whole` and the
    /// rest one by one in double. Chains go through registers 8 at a time (a pass each). headDim % 8 == 0.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafeRawPointer, stride: Int,
                                   length: Int, headDim: Int, whole: Int, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        let chainCount = whole < 0 ? 16 : 64
        let end = whole < 0 ? length : min(whole, length)
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: 64) { chains in
            var d = 0
            while d < headDim {
                let column = values + 2 * d
                var first = 0
                while first < chainCount {
                    // Chains first…first+7; chain c sums t = chainCount·i + c.
                    var c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0
                    @inline(__always) func term(_ t: Int) -> __m256 {
                        t < end ? _mm256_mul_ps(_mm256_set1_ps(weights[t]), _mm256_cvtph_ps(load128(column + t * rowBytes)))
                                : _mm256_setzero_ps()
                    }
                    var t = first
                    while t < end {
                        // Products of two F16 values are exact in f32, so multiply-then-add equals the fused form.
                        c0 = _mm256_add_ps(c0, term(t)); c1 = _mm256_add_ps(c1, term(t + 1))
                        c2 = _mm256_add_ps(c2, term(t + 2)); c3 = _mm256_add_ps(c3, term(t + 3))
                        c4 = _mm256_add_ps(c4, term(t + 4)); c5 = _mm256_add_ps(c5, term(t + 5))
                        c6 = _mm256_add_ps(c6, term(t + 6)); c7 = _mm256_add_ps(c7, term(t + 7))
                        t += chainCount
                    }
                    chains[first] = c0; chains[first + 1] = c1; chains[first + 2] = c2; chains[first + 3] = c3
                    chains[first + 4] = c4; chains[first + 5] = c5; chains[first + 6] = c6; chains[first + 7] = c7
                    first += 8
                }
                // 64 chains fold to 16 lanes: (l + l+32) + (l+16 + l+48).
                if chainCount == 64 {
                    var l = 0
                    while l < 16 {
                        chains[l] = _mm256_add_ps(_mm256_add_ps(chains[l], chains[l + 32]), _mm256_add_ps(chains[l + 16], chains[l + 48]))
                        l += 1
                    }
                }
                @inline(__always) func pair(_ k: Int) -> __m256 { _mm256_add_ps(chains[k], chains[k + 8]) }
                let b0 = _mm256_add_ps(pair(0), pair(4)), b1 = _mm256_add_ps(pair(1), pair(5))
                let b2 = _mm256_add_ps(pair(2), pair(6)), b3 = _mm256_add_ps(pair(3), pair(7))
                let r = _mm256_add_ps(_mm256_add_ps(b0, b2), _mm256_add_ps(b1, b3))
                if end < length {
                    // The rest one by one in double, 4 dimensions per register (products exact in f32).
                    @inline(__always) func upper(_ v: __m256) -> __m128 {
                        _mm256_castps256_ps128(_mm256_permutevar8x32_ps(v, _mm256_set_epi32(3, 2, 1, 0, 7, 6, 5, 4)))
                    }
                    var low = _mm256_cvtps_pd(_mm256_castps256_ps128(r)), high = _mm256_cvtps_pd(upper(r))
                    var t = end
                    while t < length {
                        let product = _mm256_mul_ps(_mm256_set1_ps(weights[t]), _mm256_cvtph_ps(load128(column + t * rowBytes)))
                        low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(product)))
                        high = _mm256_add_pd(high, _mm256_cvtps_pd(upper(product)))
                        t += 1
                    }
                    UnsafeMutableRawPointer(out + d).storeBytes(of: _mm256_cvtpd_ps(low), as: __m128.self)
                    UnsafeMutableRawPointer(out + d + 4).storeBytes(of: _mm256_cvtpd_ps(high), as: __m128.self)
                } else {
                    UnsafeMutableRawPointer(out + d).storeBytes(of: r, as: __m256.self)
                }
                d += 8
            }
        }
    }
}
#endif
