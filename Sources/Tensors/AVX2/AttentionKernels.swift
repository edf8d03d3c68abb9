import _Builtin_intrinsics.intel

// Attention over an F16 KV cache, one head at a time. Keys and values are F16 (widened with
// F16C); queries and softmax weights arrive already rounded to F16 values, as llama.cpp's F16
// matrix products round them.

public enum AVX2Attention {
    /// scores[t] = scale · (query · key_t), key_t = keys + t·stride (F16 elements); headDim % 8 == 0.
    public static func scores(_ query: UnsafePointer<Float>, _ keys: UnsafeRawPointer, stride: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        var t = 0
        while t < length {
            let key = keys + t * rowBytes
            var acc = _mm256_setzero_ps()
            var d = 0
            while d < headDim {
                acc = _mm256_fmadd_ps(UnsafeRawPointer(query + d).loadUnaligned(as: __m256.self),
                                      _mm256_cvtph_ps(load128(key + 2 * d)), acc)
                d += 8
            }
            scores[t] = horizontalSum(acc) * scale
            t += 1
        }
    }

    /// out = Σ_t weights[t] · value_t, summed over t in order with a separate multiply and add (the
    /// order and rounding of the scalar reference). headDim % 8 == 0.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafeRawPointer, stride: Int,
                                   length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        var d = 0
        while d < headDim {
            // Two 8-lane halves per pass when they fit: twice the independent work per weight.
            if d + 16 <= headDim {
                var a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps()
                var t = 0
                while t < length {
                    let p = _mm256_set1_ps(weights[t])
                    let value = values + t * rowBytes + 2 * d
                    a0 = _mm256_add_ps(a0, _mm256_mul_ps(p, _mm256_cvtph_ps(load128(value))))
                    a1 = _mm256_add_ps(a1, _mm256_mul_ps(p, _mm256_cvtph_ps(load128(value + 16))))
                    t += 1
                }
                UnsafeMutableRawPointer(out + d).storeBytes(of: a0, as: __m256.self)
                UnsafeMutableRawPointer(out + d + 8).storeBytes(of: a1, as: __m256.self)
                d += 16
            } else {
                var a0 = _mm256_setzero_ps()
                var t = 0
                while t < length {
                    let p = _mm256_set1_ps(weights[t])
                    a0 = _mm256_add_ps(a0, _mm256_mul_ps(p, _mm256_cvtph_ps(load128(values + t * rowBytes + 2 * d))))
                    t += 1
                }
                UnsafeMutableRawPointer(out + d).storeBytes(of: a0, as: __m256.self)
                d += 8
            }
        }
    }
}
