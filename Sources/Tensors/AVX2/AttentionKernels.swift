import _Builtin_intrinsics.intel

// Attention over an F16 KV cache, one head at a time. Keys and values are F16 (widened with
// F16C); queries and softmax weights arrive already rounded to F16 values, as llama.cpp's F16
// matrix products round them.

public enum AVX2Attention {
    /// scores[t] = scale · (query · key_t), key_t = keys + t·stride (F16 elements), in Attention's 16-chain
    /// order: two 8-lane accumulators hold chains 0–7 and 8–15. headDim % 16 == 0.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafeRawPointer, stride: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        var t = 0
        while t < length {
            let key = keys + t * rowBytes
            var low = _mm256_setzero_ps(), high = _mm256_setzero_ps()
            var d = 0
            while d < headDim {
                low = _mm256_fmadd_ps(UnsafeRawPointer(query + d).loadUnaligned(as: __m256.self),
                                      _mm256_cvtph_ps(load128(key + 2 * d)), low)
                high = _mm256_fmadd_ps(UnsafeRawPointer(query + d + 8).loadUnaligned(as: __m256.self),
                                       _mm256_cvtph_ps(load128(key + 2 * d + 16)), high)
                d += 16
            }
            scores[t] = horizontalSum(_mm256_add_ps(low, high)) * scale
            t += 1
        }
    }

    /// out[d] = Σ_t weights[t] · value_t[d], value_t = values + t·stride (F16), in Attention's 16-chain order
    /// over t: 8 dimensions at a time, chains 0–7 then 8–15 in registers, then the fixed tree. headDim % 8 == 0.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafeRawPointer, stride: Int,
                                   length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        var d = 0
        while d < headDim {
            let column = values + 2 * d
            // One pass: chains `first`…`first`+7, chain c summing t = 16i + c.
            @inline(__always) func pass(_ first: Int) -> (__m256, __m256, __m256, __m256, __m256, __m256, __m256, __m256) {
                var c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0
                @inline(__always) func term(_ t: Int) -> __m256 {
                    t < length ? _mm256_mul_ps(_mm256_set1_ps(weights[t]), _mm256_cvtph_ps(load128(column + t * rowBytes)))
                               : _mm256_setzero_ps()
                }
                var t = first
                while t < length {
                    // Products of two F16 values are exact in f32, so multiply-then-add equals the fused form.
                    c0 = _mm256_add_ps(c0, term(t)); c1 = _mm256_add_ps(c1, term(t + 1))
                    c2 = _mm256_add_ps(c2, term(t + 2)); c3 = _mm256_add_ps(c3, term(t + 3))
                    c4 = _mm256_add_ps(c4, term(t + 4)); c5 = _mm256_add_ps(c5, term(t + 5))
                    c6 = _mm256_add_ps(c6, term(t + 6)); c7 = _mm256_add_ps(c7, term(t + 7))
                    t += 16
                }
                return (c0, c1, c2, c3, c4, c5, c6, c7)
            }
            let l = pass(0), h = pass(8)
            let a0 = _mm256_add_ps(l.0, h.0), a1 = _mm256_add_ps(l.1, h.1), a2 = _mm256_add_ps(l.2, h.2)
            let a3 = _mm256_add_ps(l.3, h.3), a4 = _mm256_add_ps(l.4, h.4), a5 = _mm256_add_ps(l.5, h.5)
            let a6 = _mm256_add_ps(l.6, h.6), a7 = _mm256_add_ps(l.7, h.7)
            let b0 = _mm256_add_ps(a0, a4), b1 = _mm256_add_ps(a1, a5), b2 = _mm256_add_ps(a2, a6), b3 = _mm256_add_ps(a3, a7)
            let r = _mm256_add_ps(_mm256_add_ps(b0, b2), _mm256_add_ps(b1, b3))
            UnsafeMutableRawPointer(out + d).storeBytes(of: r, as: __m256.self)
            d += 8
        }
    }
}
