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

    /// Prompt batches: each F16 row is widened once per 32 columns and used for 3 tokens; every (row, token)
    /// keeps the four accumulators and final order of `f16` (llama.cpp's vec_dot order, which its golden
    /// logits need; one accumulator per cell — tinyBLAS's order — moved them by 0.011). results[t · resultStride + r].
    public static func f16Tiles(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, _ y: UnsafePointer<Float>,
                                yStride: Int, tokens: Int, _ count: Int,
                                _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var r = 0
        while r < rows {
            let w = x + r * rowStride
            var t = 0
            while t < tokens {
                let t1 = min(t + 1, tokens - 1), t2 = min(t + 2, tokens - 1)
                let y0 = UnsafeRawPointer(y + t * yStride), y1 = UnsafeRawPointer(y + t1 * yStride)
                let y2 = UnsafeRawPointer(y + t2 * yStride)
                var c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps(), c03 = _mm256_setzero_ps()
                var c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps(), c13 = _mm256_setzero_ps()
                var c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps(), c23 = _mm256_setzero_ps()
                var i = 0
                while i + 32 <= count {
                    let o = 4 * i
                    let a0 = _mm256_cvtph_ps(load128(w + 2 * i))
                    c00 = _mm256_fmadd_ps(a0, y0.loadUnaligned(fromByteOffset: o, as: __m256.self), c00)
                    c10 = _mm256_fmadd_ps(a0, y1.loadUnaligned(fromByteOffset: o, as: __m256.self), c10)
                    c20 = _mm256_fmadd_ps(a0, y2.loadUnaligned(fromByteOffset: o, as: __m256.self), c20)
                    let a1 = _mm256_cvtph_ps(load128(w + 2 * i + 16))
                    c01 = _mm256_fmadd_ps(a1, y0.loadUnaligned(fromByteOffset: o + 32, as: __m256.self), c01)
                    c11 = _mm256_fmadd_ps(a1, y1.loadUnaligned(fromByteOffset: o + 32, as: __m256.self), c11)
                    c21 = _mm256_fmadd_ps(a1, y2.loadUnaligned(fromByteOffset: o + 32, as: __m256.self), c21)
                    let a2 = _mm256_cvtph_ps(load128(w + 2 * i + 32))
                    c02 = _mm256_fmadd_ps(a2, y0.loadUnaligned(fromByteOffset: o + 64, as: __m256.self), c02)
                    c12 = _mm256_fmadd_ps(a2, y1.loadUnaligned(fromByteOffset: o + 64, as: __m256.self), c12)
                    c22 = _mm256_fmadd_ps(a2, y2.loadUnaligned(fromByteOffset: o + 64, as: __m256.self), c22)
                    let a3 = _mm256_cvtph_ps(load128(w + 2 * i + 48))
                    c03 = _mm256_fmadd_ps(a3, y0.loadUnaligned(fromByteOffset: o + 96, as: __m256.self), c03)
                    c13 = _mm256_fmadd_ps(a3, y1.loadUnaligned(fromByteOffset: o + 96, as: __m256.self), c13)
                    c23 = _mm256_fmadd_ps(a3, y2.loadUnaligned(fromByteOffset: o + 96, as: __m256.self), c23)
                    i += 32
                }
                while i + 8 <= count {
                    let a0 = _mm256_cvtph_ps(load128(w + 2 * i))
                    c00 = _mm256_fmadd_ps(a0, y0.loadUnaligned(fromByteOffset: 4 * i, as: __m256.self), c00)
                    c10 = _mm256_fmadd_ps(a0, y1.loadUnaligned(fromByteOffset: 4 * i, as: __m256.self), c10)
                    c20 = _mm256_fmadd_ps(a0, y2.loadUnaligned(fromByteOffset: 4 * i, as: __m256.self), c20)
                    i += 8
                }
                // A clamped (repeated) token computes the same value for the same cell: the stores agree.
                results[t * resultStride + r] = horizontalSum(_mm256_add_ps(_mm256_add_ps(c00, c01), _mm256_add_ps(c02, c03)))
                results[t1 * resultStride + r] = horizontalSum(_mm256_add_ps(_mm256_add_ps(c10, c11), _mm256_add_ps(c12, c13)))
                results[t2 * resultStride + r] = horizontalSum(_mm256_add_ps(_mm256_add_ps(c20, c21), _mm256_add_ps(c22, c23)))
                t += 3
            }
            r += 1
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
