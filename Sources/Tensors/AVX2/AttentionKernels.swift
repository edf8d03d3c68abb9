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

    /// Several queries' scores over the same keys (one KV head, positions from 0), each exactly as `scores`
    /// computes it: rows[q · rowStride + t] = scale · (query_q · key_t) for t < lengths[q]. Each key is
    /// widened once into registers for all the queries, 64 dimensions at a time (the queries are read from
    /// memory; between 64-dimension parts their two chain registers wait in memory). headDim % 64 == 0.
    public static func scoresShared(_ queries: UnsafePointer<UnsafePointer<Float>>, lengths: UnsafePointer<Int>, count: Int,
                                    _ keys: UnsafeRawPointer, stride: Int, headDim: Int, scale: Float,
                                    into rows: UnsafeMutablePointer<Float>, rowStride: Int) {
        let rowBytes = 2 * stride, parts = headDim / 64
        var longest = 0
        for q in 0..<count { longest = max(longest, lengths[q]) }
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: max(1, 2 * count)) { partialStore in
            let partial = partialStore.baseAddress!
            for t in 0..<longest {
                for part in 0..<parts {
                    let key = keys + t * rowBytes + 128 * part
                    let k0 = _mm256_cvtph_ps(load128(key)), k1 = _mm256_cvtph_ps(load128(key + 16))
                    let k2 = _mm256_cvtph_ps(load128(key + 32)), k3 = _mm256_cvtph_ps(load128(key + 48))
                    let k4 = _mm256_cvtph_ps(load128(key + 64)), k5 = _mm256_cvtph_ps(load128(key + 80))
                    let k6 = _mm256_cvtph_ps(load128(key + 96)), k7 = _mm256_cvtph_ps(load128(key + 112))
                    let last = part == parts - 1
                    for q in 0..<count where t < lengths[q] {
                        let p = UnsafeRawPointer(queries[q]) + 256 * part
                        var low = part == 0 ? _mm256_setzero_ps() : partial[2 * q]
                        var high = part == 0 ? _mm256_setzero_ps() : partial[2 * q + 1]
                        low = _mm256_fmadd_ps(p.loadUnaligned(as: __m256.self), k0, low)
                        high = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 32, as: __m256.self), k1, high)
                        low = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 64, as: __m256.self), k2, low)
                        high = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 96, as: __m256.self), k3, high)
                        low = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 128, as: __m256.self), k4, low)
                        high = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 160, as: __m256.self), k5, high)
                        low = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 192, as: __m256.self), k6, low)
                        high = _mm256_fmadd_ps(p.loadUnaligned(fromByteOffset: 224, as: __m256.self), k7, high)
                        if last {
                            rows[q * rowStride + t] = horizontalSum(_mm256_add_ps(low, high)) * scale
                        } else {
                            partial[2 * q] = low
                            partial[2 * q + 1] = high
                        }
                    }
                }
            }
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

    /// Several queries' weighted sums over the same value rows (one KV head of one sequence, positions from
    /// 0): out_q[d] = Σ_{t < length_q} weights_q[t] · value_t[d] in Attention's 16-chain order (chain j sums
    /// t ≡ j mod 16 in order, then the 16-lane tree) — bit for bit `weightedSum(whole: -1)` per query. The
    /// value rows are widened and transposed once per chunk of positions (positions along the lanes, as
    /// llama.cpp's batch kernels see its transposed value cache), and every query of the tile then
    /// multiply-adds 16 positions per step into its own chains (fused: a weight and a value are F16
    /// values, so each product is exact and the fused sum equals multiply-then-add). Weight rows are
    /// `weightStride` apart and hold zeros from length_q to the next multiple of 16; every value row below
    /// the largest length must be written. headDim % 8 == 0.
    public static func weightedSums(_ weights: UnsafePointer<Float>, weightStride: Int, lengths: UnsafePointer<Int>,
                                    queries: Int, _ values: UnsafeRawPointer, stride: Int, headDim: Int,
                                    outputs: UnsafePointer<UnsafeMutablePointer<Float>>) {
        let rowBytes = 2 * stride
        var longest = 0
        for q in 0..<queries { longest = max(longest, lengths[q]) }
        let chunk = 256  // positions per transposed chunk: headDim × 256 floats (64 KiB at 64 dims) stay in L2
        let upper = _mm256_castsi256_ps(_mm256_set_epi32(-1, -1, -1, -1, 0, 0, 0, 0))
        let lowTwice = _mm256_set_epi32(3, 2, 1, 0, 3, 2, 1, 0), highTwice = _mm256_set_epi32(7, 6, 5, 4, 7, 6, 5, 4)
        // [a's low 128 bits, b's low 128 bits] and [a's high, b's high] (permute2f128 is a macro Swift cannot import).
        @inline(__always) func lows(_ a: __m256, _ b: __m256) -> __m256 {
            _mm256_blendv_ps(a, _mm256_permutevar8x32_ps(b, lowTwice), upper)
        }
        @inline(__always) func highs(_ a: __m256, _ b: __m256) -> __m256 {
            _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, highTwice), b, upper)
        }
        @inline(__always) func pd(_ v: __m256) -> __m256d { _mm256_castps_pd(v) }
        @inline(__always) func ps(_ v: __m256d) -> __m256 { _mm256_castpd_ps(v) }
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: max(1, 2 * queries * headDim)) { chainStore in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: headDim * chunk) { transposedStore in
                let chains = chainStore.baseAddress!, columns = transposedStore.baseAddress!
                chainStore.initialize(repeating: _mm256_setzero_ps())
                var chunkStart = 0
                while chunkStart < longest {
                    let chunkEnd = min(longest, chunkStart + chunk)
                    let steps = (chunkEnd - chunkStart + 15) / 16
                    // columns[d · chunk + j] = value_{chunkStart + j}[d], zero past chunkEnd: 8×8 blocks transposed.
                    var t = chunkStart
                    while t < chunkStart + 16 * steps {
                        var d = 0
                        while d < headDim {
                            @inline(__always) func row(_ k: Int) -> __m256 {
                                t + k < chunkEnd ? _mm256_cvtph_ps(load128(values + (t + k) * rowBytes + 2 * d)) : _mm256_setzero_ps()
                            }
                            let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
                            let t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1)
                            let t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3)
                            let t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5)
                            let t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7)
                            let u0 = ps(_mm256_unpacklo_pd(pd(t0), pd(t2))), u1 = ps(_mm256_unpackhi_pd(pd(t0), pd(t2)))
                            let u2 = ps(_mm256_unpacklo_pd(pd(t1), pd(t3))), u3 = ps(_mm256_unpackhi_pd(pd(t1), pd(t3)))
                            let u4 = ps(_mm256_unpacklo_pd(pd(t4), pd(t6))), u5 = ps(_mm256_unpackhi_pd(pd(t4), pd(t6)))
                            let u6 = ps(_mm256_unpacklo_pd(pd(t5), pd(t7))), u7 = ps(_mm256_unpackhi_pd(pd(t5), pd(t7)))
                            let base = UnsafeMutableRawPointer(columns + d * chunk + (t - chunkStart))
                            let bytes = 4 * chunk
                            base.storeBytes(of: lows(u0, u4), as: __m256.self)
                            (base + bytes).storeBytes(of: lows(u1, u5), as: __m256.self)
                            (base + 2 * bytes).storeBytes(of: lows(u2, u6), as: __m256.self)
                            (base + 3 * bytes).storeBytes(of: lows(u3, u7), as: __m256.self)
                            (base + 4 * bytes).storeBytes(of: highs(u0, u4), as: __m256.self)
                            (base + 5 * bytes).storeBytes(of: highs(u1, u5), as: __m256.self)
                            (base + 6 * bytes).storeBytes(of: highs(u2, u6), as: __m256.self)
                            (base + 7 * bytes).storeBytes(of: highs(u3, u7), as: __m256.self)
                            d += 8
                        }
                        t += 8
                    }
                    // Each query: four dimensions (eight chain registers) at a time over the chunk's steps
                    // (headDim % 8 == 0, so the fours cover every dimension).
                    for q in 0..<queries where lengths[q] > chunkStart {
                        let queryEnd = min(chunkEnd, lengths[q])
                        let querySteps = (queryEnd - chunkStart + 15) / 16
                        let w = UnsafeRawPointer(weights + q * weightStride + chunkStart)
                        let own = chains + 2 * q * headDim
                        var d = 0
                        while d + 4 <= headDim {
                            var a0 = own[2 * d], a1 = own[2 * d + 1], a2 = own[2 * d + 2], a3 = own[2 * d + 3]
                            var a4 = own[2 * d + 4], a5 = own[2 * d + 5], a6 = own[2 * d + 6], a7 = own[2 * d + 7]
                            let c = UnsafeRawPointer(columns + d * chunk)
                            let bytes = 4 * chunk
                            var step = 0
                            while step < querySteps {
                                let o = 64 * step
                                let low = w.loadUnaligned(fromByteOffset: o, as: __m256.self)
                                let high = w.loadUnaligned(fromByteOffset: o + 32, as: __m256.self)
                                a0 = _mm256_fmadd_ps(low, c.loadUnaligned(fromByteOffset: o, as: __m256.self), a0)
                                a1 = _mm256_fmadd_ps(high, c.loadUnaligned(fromByteOffset: o + 32, as: __m256.self), a1)
                                a2 = _mm256_fmadd_ps(low, c.loadUnaligned(fromByteOffset: bytes + o, as: __m256.self), a2)
                                a3 = _mm256_fmadd_ps(high, c.loadUnaligned(fromByteOffset: bytes + o + 32, as: __m256.self), a3)
                                a4 = _mm256_fmadd_ps(low, c.loadUnaligned(fromByteOffset: 2 * bytes + o, as: __m256.self), a4)
                                a5 = _mm256_fmadd_ps(high, c.loadUnaligned(fromByteOffset: 2 * bytes + o + 32, as: __m256.self), a5)
                                a6 = _mm256_fmadd_ps(low, c.loadUnaligned(fromByteOffset: 3 * bytes + o, as: __m256.self), a6)
                                a7 = _mm256_fmadd_ps(high, c.loadUnaligned(fromByteOffset: 3 * bytes + o + 32, as: __m256.self), a7)
                                step += 1
                            }
                            own[2 * d] = a0; own[2 * d + 1] = a1; own[2 * d + 2] = a2; own[2 * d + 3] = a3
                            own[2 * d + 4] = a4; own[2 * d + 5] = a5; own[2 * d + 6] = a6; own[2 * d + 7] = a7
                            d += 4
                        }
                    }
                    chunkStart = chunkEnd
                }
                // Chains 0–7 plus 8–15, then the tree of horizontalSum: Attention's 16-lane fold.
                for q in 0..<queries {
                    let own = chains + 2 * q * headDim
                    for d in 0..<headDim { outputs[q][d] = horizontalSum(_mm256_add_ps(own[2 * d], own[2 * d + 1])) }
                }
            }
        }
    }
}
#endif
