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
        if headDim == 64 {
            // The query in registers (stores to `scores` may alias it, so the general loop reloads it per key).
            let q0 = q.loadUnaligned(as: __m256.self), q1 = q.loadUnaligned(fromByteOffset: 32, as: __m256.self)
            let q2 = q.loadUnaligned(fromByteOffset: 64, as: __m256.self), q3 = q.loadUnaligned(fromByteOffset: 96, as: __m256.self)
            let q4 = q.loadUnaligned(fromByteOffset: 128, as: __m256.self), q5 = q.loadUnaligned(fromByteOffset: 160, as: __m256.self)
            let q6 = q.loadUnaligned(fromByteOffset: 192, as: __m256.self), q7 = q.loadUnaligned(fromByteOffset: 224, as: __m256.self)
            while t < length {
                let key = keys + t * rowBytes
                var low = _mm256_fmadd_ps(q0, _mm256_cvtph_ps(load128(key)), _mm256_setzero_ps())
                var high = _mm256_fmadd_ps(q1, _mm256_cvtph_ps(load128(key + 16)), _mm256_setzero_ps())
                low = _mm256_fmadd_ps(q2, _mm256_cvtph_ps(load128(key + 32)), low)
                high = _mm256_fmadd_ps(q3, _mm256_cvtph_ps(load128(key + 48)), high)
                low = _mm256_fmadd_ps(q4, _mm256_cvtph_ps(load128(key + 64)), low)
                high = _mm256_fmadd_ps(q5, _mm256_cvtph_ps(load128(key + 80)), high)
                low = _mm256_fmadd_ps(q6, _mm256_cvtph_ps(load128(key + 96)), low)
                high = _mm256_fmadd_ps(q7, _mm256_cvtph_ps(load128(key + 112)), high)
                scores[t] = horizontalSum(_mm256_add_ps(low, high)) * scale
                t += 1
            }
            return
        }
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
    /// Positions are taken in tiles, every dimension of a tile before the next (the chains wait in memory,
    /// each still summing its positions in order): a long cache's rows are read once instead of once per
    /// 8 dimensions, which at 4,096 positions had outgrown the L2 cache.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafeRawPointer, stride: Int,
                                   length: Int, headDim: Int, whole: Int, into out: UnsafeMutablePointer<Float>) {
        let rowBytes = 2 * stride
        let chainCount = whole < 0 ? 16 : 64
        let end = whole < 0 ? length : min(whole, length)
        let tile = 512  // positions per tile: a multiple of both chain counts, so no step straddles two tiles
        let blocks = headDim / 8
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: blocks * chainCount) { stored in
            stored.initialize(repeating: _mm256_setzero_ps())
            var tileStart = 0
            while tileStart < end {
                let tileEnd = min(end, tileStart + tile)
                var block = 0
                while block < blocks {
                    let column = values + 16 * block
                    let chains = stored.baseAddress! + block * chainCount
                    var first = 0
                    while first < chainCount {
                        // Chains first…first+7; chain c sums t = chainCount·i + c.
                        var c0 = chains[first], c1 = chains[first + 1], c2 = chains[first + 2], c3 = chains[first + 3]
                        var c4 = chains[first + 4], c5 = chains[first + 5], c6 = chains[first + 6], c7 = chains[first + 7]
                        // Multiply, then add: as the scalar definition does (equal to a fused multiply-add only
                        // where the weights are F16 values, as the model's are).
                        @inline(__always) func add(_ t: Int, _ c: __m256) -> __m256 {
                            _mm256_add_ps(c, _mm256_mul_ps(_mm256_set1_ps(weights[t]), _mm256_cvtph_ps(load128(column + t * rowBytes))))
                        }
                        var t = tileStart + first
                        while t + 8 <= tileEnd {
                            c0 = add(t, c0); c1 = add(t + 1, c1); c2 = add(t + 2, c2); c3 = add(t + 3, c3)
                            c4 = add(t + 4, c4); c5 = add(t + 5, c5); c6 = add(t + 6, c6); c7 = add(t + 7, c7)
                            t += chainCount
                        }
                        if t < tileEnd {  // the last, partial step (a chain past the end adds nothing)
                            c0 = add(t, c0)
                            if t + 1 < tileEnd { c1 = add(t + 1, c1) }
                            if t + 2 < tileEnd { c2 = add(t + 2, c2) }
                            if t + 3 < tileEnd { c3 = add(t + 3, c3) }
                            if t + 4 < tileEnd { c4 = add(t + 4, c4) }
                            if t + 5 < tileEnd { c5 = add(t + 5, c5) }
                            if t + 6 < tileEnd { c6 = add(t + 6, c6) }
                        }
                        chains[first] = c0; chains[first + 1] = c1; chains[first + 2] = c2; chains[first + 3] = c3
                        chains[first + 4] = c4; chains[first + 5] = c5; chains[first + 6] = c6; chains[first + 7] = c7
                        first += 8
                    }
                    block += 1
                }
                tileStart = tileEnd
            }
            var d = 0
            while d < headDim {
                let column = values + 2 * d
                let chains = stored.baseAddress! + (d / 8) * chainCount
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
