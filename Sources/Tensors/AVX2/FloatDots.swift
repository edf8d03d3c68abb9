#if arch(x86_64)
import _Builtin_intrinsics.intel

// AVX2 + FMA (+ F16C) dot products of float formats: four independent accumulators hide the FMA
// latency; float32 accumulation (the reference accumulates in double; the difference is far
// below the test's normalized-MSE bound of 1e-7).

extension AVX2Dot {
    public static func f32(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        floatDot(x, y, count, elementBytes: 4, scalar: { p, i in float(p, 4 * i) }) { p in
            p.loadUnaligned(as: __m256.self)
        }
    }

    public static func f16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        floatDot(x, y, count, elementBytes: 2, scalar: { p, i in half(p, 2 * i) }) { p in
            _mm256_cvtph_ps(load128(p))
        }
    }

    public static func bf16(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int) -> Float {
        let scalar: (UnsafeRawPointer, Int) -> Float = { p, i in
            Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
        }
        return floatDot(x, y, count, elementBytes: 2, scalar: scalar) { p in
            _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16))
        }
    }

    /// `widen` turns 8 stored elements at a pointer into 8 floats; `scalar` reads element i.
    @inline(__always)
    private static func floatDot(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, _ count: Int,
                                 elementBytes: Int, scalar: (UnsafeRawPointer, Int) -> Float,
                                 _ widen: (UnsafeRawPointer) -> __m256) -> Float {
        var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
        var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
        var i = 0
        while i + 32 <= count {
            let offset = i * elementBytes, step = 8 * elementBytes
            acc0 = _mm256_fmadd_ps(widen(x + offset), widen(y + offset), acc0)
            acc1 = _mm256_fmadd_ps(widen(x + offset + step), widen(y + offset + step), acc1)
            acc2 = _mm256_fmadd_ps(widen(x + offset + 2 * step), widen(y + offset + 2 * step), acc2)
            acc3 = _mm256_fmadd_ps(widen(x + offset + 3 * step), widen(y + offset + 3 * step), acc3)
            i += 32
        }
        while i + 8 <= count {
            acc0 = _mm256_fmadd_ps(widen(x + i * elementBytes), widen(y + i * elementBytes), acc0)
            i += 8
        }
        var sum = horizontalSum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)))
        while i < count {  // a row length that is not a multiple of 8
            sum += scalar(x, i) * scalar(y, i)
            i += 1
        }
        return sum
    }
}
#endif
