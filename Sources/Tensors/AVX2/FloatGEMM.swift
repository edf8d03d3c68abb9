import _Builtin_intrinsics.intel

// F16 weights against activations held as f32 values already rounded to F16 precision (what
// llama.cpp's F16 matrix products see), so the activations need no conversion in the loops.

extension AVX2Dot {
    /// results[r · resultStride] = row r · y for `rows` F16 rows: the same four-accumulator order as `f16`.
    public static func f16RowsF32(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, _ y: UnsafePointer<Float>,
                                  _ count: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let yp = UnsafeRawPointer(y)
        var r = 0
        while r < rows {
            let row = x + r * rowStride
            var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
            var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
            var i = 0
            while i + 32 <= count {
                acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * i)), yp.loadUnaligned(fromByteOffset: 4 * i, as: __m256.self), acc0)
                acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * i + 16)), yp.loadUnaligned(fromByteOffset: 4 * i + 32, as: __m256.self), acc1)
                acc2 = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * i + 32)), yp.loadUnaligned(fromByteOffset: 4 * i + 64, as: __m256.self), acc2)
                acc3 = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * i + 48)), yp.loadUnaligned(fromByteOffset: 4 * i + 96, as: __m256.self), acc3)
                i += 32
            }
            while i + 8 <= count {
                acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(row + 2 * i)), yp.loadUnaligned(fromByteOffset: 4 * i, as: __m256.self), acc0)
                i += 8
            }
            var sum = horizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)))
            while i < count {
                sum += half(row, 2 * i) * y[i]
                i += 1
            }
            results[r * resultStride] = sum
            r += 1
        }
    }

    /// Prompt batches in 3-row × 3-token register tiles, each (row, token) keeping the four accumulators and
    /// final order of `f16` (llama.cpp's vec_dot order, which its golden logits need; one accumulator per cell,
    /// tinyBLAS's order, moved them by 0.011). Accumulator j only ever sees columns 32s+8j…32s+8j+7, so the
    /// four are computed one after another (passes), each with 9 cells in registers: the same sums in the same
    /// order, each load used 3 times. Tokens go in blocks whose activations fit in L2, rows stream through
    /// once per block. results[t · resultStride + r].
    public static func f16Tiles(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, _ y: UnsafePointer<Float>,
                                yStride: Int, tokens: Int, _ count: Int,
                                _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let steps = count / 32, tail = (count % 32) / 8
        let tokenBlock = max(3, (256 * 1024 / max(4 * yStride, 1)) / 3 * 3)
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: 36) { partial in
            var block = 0
            while block < tokens {
                let blockEnd = min(tokens, block + tokenBlock)
                var r = 0
                while r < rows {
                    let rr = (r, min(r + 1, rows - 1), min(r + 2, rows - 1))
                    let w = (x + rr.0 * rowStride, x + rr.1 * rowStride, x + rr.2 * rowStride)
                    var t = block
                    while t < blockEnd {
                        let tt = (t, min(t + 1, blockEnd - 1), min(t + 2, blockEnd - 1))
                        let ys = (UnsafeRawPointer(y + tt.0 * yStride), UnsafeRawPointer(y + tt.1 * yStride),
                                  UnsafeRawPointer(y + tt.2 * yStride))
                        var pass = 0
                        while pass < 4 {
                            var c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps()
                            var c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps()
                            var c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps()
                            @inline(__always) func step(_ column: Int) {
                                let o = 4 * column
                                let b0 = ys.0.loadUnaligned(fromByteOffset: o, as: __m256.self)
                                let b1 = ys.1.loadUnaligned(fromByteOffset: o, as: __m256.self)
                                let b2 = ys.2.loadUnaligned(fromByteOffset: o, as: __m256.self)
                                let a0 = _mm256_cvtph_ps(load128(w.0 + 2 * column))
                                c00 = _mm256_fmadd_ps(a0, b0, c00); c01 = _mm256_fmadd_ps(a0, b1, c01); c02 = _mm256_fmadd_ps(a0, b2, c02)
                                let a1 = _mm256_cvtph_ps(load128(w.1 + 2 * column))
                                c10 = _mm256_fmadd_ps(a1, b0, c10); c11 = _mm256_fmadd_ps(a1, b1, c11); c12 = _mm256_fmadd_ps(a1, b2, c12)
                                let a2 = _mm256_cvtph_ps(load128(w.2 + 2 * column))
                                c20 = _mm256_fmadd_ps(a2, b0, c20); c21 = _mm256_fmadd_ps(a2, b1, c21); c22 = _mm256_fmadd_ps(a2, b2, c22)
                            }
                            var s = 0
                            while s < steps { step(32 * s + 8 * pass); s += 1 }
                            if pass == 0 {  // leftover 8-column steps go to the first accumulator, as in `f16`
                                var k = 0
                                while k < tail { step(32 * steps + 8 * k); k += 1 }
                            }
                            let base = 9 * pass
                            partial[base] = c00; partial[base + 1] = c10; partial[base + 2] = c20
                            partial[base + 3] = c01; partial[base + 4] = c11; partial[base + 5] = c21
                            partial[base + 6] = c02; partial[base + 7] = c12; partial[base + 8] = c22
                            pass += 1
                        }
                        // Cell (row i, token j) is partial[9·pass + 3j + i]. A clamped (repeated) row or token
                        // computes the same value for the same cell, so the stores agree.
                        @inline(__always) func rowIndex(_ i: Int) -> Int { i == 0 ? rr.0 : i == 1 ? rr.1 : rr.2 }
                        @inline(__always) func tokenIndex(_ j: Int) -> Int { j == 0 ? tt.0 : j == 1 ? tt.1 : tt.2 }
                        var j = 0
                        while j < 3 {
                            var i = 0
                            while i < 3 {
                                let c = 3 * j + i
                                let sum = _mm256_add_ps(_mm256_add_ps(partial[c], partial[9 + c]),
                                                        _mm256_add_ps(partial[18 + c], partial[27 + c]))
                                results[tokenIndex(j) * resultStride + rowIndex(i)] = horizontalSum(sum)
                                i += 1
                            }
                            j += 1
                        }
                        t += 3
                    }
                    r += 3
                }
                block = blockEnd
            }
        }
    }
}

extension AVX2Quantize {
    /// dst[i] = src[i] rounded to the nearest F16 value (ties to even), kept as f32; beyond the F16 range → ±inf.
    public static func roundToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        let absMask = _mm256_set1_epi32(0x7FFF_FFFF)
        let smallest = _mm256_set1_epi32(0x3880_0000 - 1)  // bits of 2⁻¹⁴ minus one: below → F16 subnormal
        let largest = _mm256_set1_epi32(0x477F_F000 - 1)   // bits of 65520 minus one: at or above → inf
        let infinity = _mm256_set1_epi32(0x7F80_0000), half = _mm256_set1_ps(0.5)
        var i = 0
        while i + 8 <= count {
            let bits = UnsafeRawPointer(src + i).loadUnaligned(as: __m256i.self)
            let magnitude = _mm256_and_si256(bits, absMask)
            let sign = _mm256_andnot_si256(absMask, bits)
            let odd = _mm256_and_si256(_mm256_srli_epi32(magnitude, 13), _mm256_set1_epi32(1))
            let normal = _mm256_andnot_si256(_mm256_set1_epi32(0x1FFF),
                                             _mm256_add_epi32(magnitude, _mm256_add_epi32(_mm256_set1_epi32(0xFFF), odd)))
            let m = _mm256_castsi256_ps(magnitude)
            let subnormal = _mm256_castps_si256(_mm256_sub_ps(_mm256_add_ps(m, half), half))
            var r = _mm256_blendv_epi8(subnormal, normal, _mm256_cmpgt_epi32(magnitude, smallest))
            r = _mm256_blendv_epi8(r, infinity, _mm256_cmpgt_epi32(magnitude, largest))
            (UnsafeMutableRawPointer(dst + i)).storeBytes(of: _mm256_or_si256(r, sign), as: __m256i.self)
            i += 8
        }
        while i < count {
            dst[i] = Float(Float16(src[i]))
            i += 1
        }
    }
}
