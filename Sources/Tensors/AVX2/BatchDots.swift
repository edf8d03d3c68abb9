#if arch(x86_64)
import _Builtin_intrinsics.intel

// Four tokens at once: one weight row against four activation rows (prefill). Each weight block
// is loaded and unpacked once and multiplied into four accumulators, so the unpacking and the
// weight traffic are shared. Per token the arithmetic is that of the single-token kernels.

/// Four float accumulators, one per token.
struct FourAccumulators {
    var first = _mm256_setzero_ps(), second = _mm256_setzero_ps()
    var third = _mm256_setzero_ps(), fourth = _mm256_setzero_ps()

    /// Applies `step(token, accumulator)` to each token's accumulator.
    @inline(__always)
    mutating func update(_ step: (Int, __m256) -> __m256) {
        first = step(0, first)
        second = step(1, second)
        third = step(2, third)
        fourth = step(3, fourth)
    }

    @inline(__always)
    func store(_ results: UnsafeMutablePointer<Float>, _ stride: Int, adding extra: FourSums = FourSums()) {
        results[0] = horizontalSum(first) + extra.first
        results[stride] = horizontalSum(second) + extra.second
        results[2 * stride] = horizontalSum(third) + extra.third
        results[3 * stride] = horizontalSum(fourth) + extra.fourth
    }
}

/// Four scalar sums (per-token offsets such as Q4_1's m·s or the K-quants' mins).
struct FourSums {
    var first: Float = 0, second: Float = 0, third: Float = 0, fourth: Float = 0

    @inline(__always)
    mutating func add(_ value: (Int) -> Float) {
        first += value(0)
        second += value(1)
        third += value(2)
        fourth += value(3)
    }
}

extension AVX2Dot {
    /// results[t·resultStride] = row · activations[t] for t in 0..<4, activation rows
    /// `activationStride` bytes apart. `blocks` counts weight blocks (or elements for F16).
    public static func q8_0x4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                              _ blocks: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = FourAccumulators()
        var b = 0
        while b < blocks {
            let xb = x + 34 * b
            let q = load256(xb + 2)
            let magnitude = _mm256_sign_epi8(q, q)
            let dx = _mm256_cvtph_ps(_mm_set1_epi16(xb.loadUnaligned(as: Int16.self)))
            acc.update { t, a in
                let yb = y + t * activationStride + 34 * b
                let products = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(load256(yb + 2), q))
                let sums = _mm256_madd_epi16(products, _mm256_set1_epi16(1))
                let dy = _mm256_cvtph_ps(_mm_set1_epi16(yb.loadUnaligned(as: Int16.self)))
                return _mm256_fmadd_ps(_mm256_mul_ps(dx, dy), _mm256_cvtepi32_ps(sums), a)
            }
            b += 1
        }
        acc.store(results, resultStride)
    }

    /// Q4_0/Q4_1: one float chain per token, the four tokens in the lanes of one register (see laneTotals).
    public static func q4_0x4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                              _ blocks: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = _mm_setzero_ps()
        let eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1)
        let y0 = y, y1 = y + activationStride, y2 = y + 2 * activationStride, y3 = y + 3 * activationStride
        var b = 0
        while b < blocks {
            let xb = x + 18 * b, offset = 34 * b
            let q = nibbles(xb + 2)
            @inline(__always) func sums(_ token: UnsafeRawPointer) -> __m256i {
                let activations = load256(token + offset + 2)
                return _mm256_madd_epi16(_mm256_sub_epi16(pairProducts(q, activations), pairProducts(eight, activations)), ones)
            }
            let totals = laneTotals(sums(y0), sums(y1), sums(y2), sums(y3))
            let dx = _mm_cvtph_ps(_mm_set1_epi16(xb.loadUnaligned(as: Int16.self)))
            let dy = halves(y0 + offset, y1 + offset, y2 + offset, y3 + offset)
            acc = _mm_fmadd_ps(_mm_mul_ps(dx, dy), _mm_cvtepi32_ps(totals), acc)
            b += 1
        }
        storeFour(acc, results, resultStride)
    }

    public static func q4_1x4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                              _ blocks: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = _mm_setzero_ps(), offsets = _mm_setzero_ps()
        let ones = _mm256_set1_epi16(1)
        let y0 = y, y1 = y + activationStride, y2 = y + 2 * activationStride, y3 = y + 3 * activationStride
        var b = 0
        while b < blocks {
            let xb = x + 20 * b, offset = 40 * b
            let q = nibbles(xb + 4)
            @inline(__always) func sums(_ token: UnsafeRawPointer) -> __m256i {
                _mm256_madd_epi16(pairProducts(q, load256(token + offset + 8)), ones)
            }
            let totals = laneTotals(sums(y0), sums(y1), sums(y2), sums(y3))
            let dx = _mm_cvtph_ps(_mm_set1_epi16(xb.loadUnaligned(as: Int16.self)))
            let m = _mm_cvtph_ps(_mm_set1_epi16(xb.loadUnaligned(fromByteOffset: 2, as: Int16.self)))
            @inline(__always) func floats(_ field: Int) -> __m128 {
                _mm_setr_ps(float(y0, offset + field), float(y1, offset + field), float(y2, offset + field), float(y3, offset + field))
            }
            acc = _mm_fmadd_ps(_mm_mul_ps(dx, floats(0)), _mm_cvtepi32_ps(totals), acc)
            offsets = _mm_fmadd_ps(m, floats(4), offsets)
            b += 1
        }
        storeFour(_mm_add_ps(acc, offsets), results, resultStride)
    }

    public static func f16x4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                             _ count: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = FourAccumulators()
        var i = 0
        while i + 8 <= count {
            let weights = _mm256_cvtph_ps(load128(x + 2 * i))
            acc.update { t, a in
                _mm256_fmadd_ps(weights, _mm256_cvtph_ps(load128(y + t * activationStride + 2 * i)), a)
            }
            i += 8
        }
        var tails = FourSums()
        while i < count {
            let weight = half(x, 2 * i)
            tails.add { t in weight * half(y + t * activationStride, 2 * i) }
            i += 1
        }
        acc.store(results, resultStride, adding: tails)
    }

    public static func q4_Kx4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                              _ blocks: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = FourAccumulators()
        var minTotals = FourSums()
        let lowMask = _mm256_set1_epi8(0x0F)
        var b = 0
        while b < blocks {
            let xb = x + 144 * b
            let (scales, mins) = unpackScalesAndMins(xb + 4)
            let scales16 = _mm256_broadcastsi128_si256(scales)
            let d = half(xb, 0), dmin = half(xb, 2)
            var sums0 = _mm256_setzero_si256(), sums1 = _mm256_setzero_si256()
            var sums2 = _mm256_setzero_si256(), sums3 = _mm256_setzero_si256()
            var chunk = 0
            while chunk < 4 {
                let q = load256(xb + 16 + 32 * chunk)
                let qLow = _mm256_and_si256(q, lowMask)
                let qHigh = _mm256_and_si256(_mm256_srli_epi16(q, 4), lowMask)
                let scaleLow = _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(Int16(0x0100 + 0x0404 * chunk)))
                let scaleHigh = _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(Int16(0x0302 + 0x0404 * chunk)))
                @inline(__always) func chunkSum(_ t: Int) -> __m256i {
                    let yb = y + t * activationStride + 292 * b + 4 + 64 * chunk
                    let low = _mm256_madd_epi16(pairProducts(qLow, load256(yb)), scaleLow)
                    let high = _mm256_madd_epi16(pairProducts(qHigh, load256(yb + 32)), scaleHigh)
                    return _mm256_add_epi32(low, high)
                }
                sums0 = _mm256_add_epi32(sums0, chunkSum(0))
                sums1 = _mm256_add_epi32(sums1, chunkSum(1))
                sums2 = _mm256_add_epi32(sums2, chunkSum(2))
                sums3 = _mm256_add_epi32(sums3, chunkSum(3))
                chunk += 1
            }
            @inline(__always) func scaled(_ t: Int, _ sums: __m256i, _ a: __m256) -> __m256 {
                let dy = float(y + t * activationStride + 292 * b, 0)
                return _mm256_fmadd_ps(_mm256_set1_ps(dy * d), _mm256_cvtepi32_ps(sums), a)
            }
            acc.first = scaled(0, sums0, acc.first)
            acc.second = scaled(1, sums1, acc.second)
            acc.third = scaled(2, sums2, acc.third)
            acc.fourth = scaled(3, sums3, acc.fourth)
            minTotals.add { t in
                let yb = y + t * activationStride + 292 * b
                let bsums = load256(yb + 260)
                let pairSums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256_1(bsums))
                let products = _mm_madd_epi16(mins, pairSums)
                let pair = _mm_add_epi32(products, _mm_unpackhi_epi64(products, products))
                let total = _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_srli_epi64(pair, 32)))
                return -float(yb, 0) * dmin * Float(total)
            }
            b += 1
        }
        acc.store(results, resultStride, adding: minTotals)
    }

    public static func q6_Kx4(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, activationStride: Int,
                              _ blocks: Int, _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        var acc = FourAccumulators()
        let lowMask = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(3), offset = _mm256_set1_epi8(32)
        var b = 0
        while b < blocks {
            let xb = x + 210 * b
            let scales16 = _mm256_cvtepi8_epi16(load128(xb + 192))
            var sums0 = _mm256_setzero_si256(), sums1 = _mm256_setzero_si256()
            var sums2 = _mm256_setzero_si256(), sums3 = _mm256_setzero_si256()
            var part = 0
            while part < 2 {
                let ql0 = load256(xb + 64 * part), ql1 = load256(xb + 64 * part + 32)
                let qh = load256(xb + 128 + 32 * part)
                var quarter = 0
                while quarter < 4 {
                    let source = quarter % 2 == 0 ? ql0 : ql1
                    let nibble = quarter < 2 ? _mm256_and_si256(source, lowMask)
                                             : _mm256_and_si256(_mm256_srli_epi16(source, 4), lowMask)
                    let top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, Int32(2 * quarter)), twoBits), 4)
                    let q = _mm256_sub_epi8(_mm256_or_si256(nibble, top), offset)
                    let magnitude = _mm256_sign_epi8(q, q)
                    let scales = scalePair(scales16, 4 * part + quarter)
                    @inline(__always) func groupSum(_ t: Int) -> __m256i {
                        let activations = load256(y + t * activationStride + 292 * b + 4 + 128 * part + 32 * quarter)
                        return _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(activations, q)), scales)
                    }
                    sums0 = _mm256_add_epi32(sums0, groupSum(0))
                    sums1 = _mm256_add_epi32(sums1, groupSum(1))
                    sums2 = _mm256_add_epi32(sums2, groupSum(2))
                    sums3 = _mm256_add_epi32(sums3, groupSum(3))
                    quarter += 1
                }
                part += 1
            }
            let d = half(xb, 208)
            @inline(__always) func scaled(_ t: Int, _ sums: __m256i, _ a: __m256) -> __m256 {
                let dy = float(y + t * activationStride + 292 * b, 0)
                return _mm256_fmadd_ps(_mm256_set1_ps(dy * d), _mm256_cvtepi32_ps(sums), a)
            }
            acc.first = scaled(0, sums0, acc.first)
            acc.second = scaled(1, sums1, acc.second)
            acc.third = scaled(2, sums2, acc.third)
            acc.fourth = scaled(3, sums3, acc.fourth)
            b += 1
        }
        acc.store(results, resultStride)
    }
}
#endif
