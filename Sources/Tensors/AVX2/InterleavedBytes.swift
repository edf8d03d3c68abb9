#if arch(x86_64)
import _Builtin_intrinsics.intel

// Q8_0 interleaved 8 rows at a time: per 32-column block, the 8 rows' f16 scales, then 8 registers
// in which register g holds bytes 4g…4g+3 (columns 4g…4g+3) of each row (row r in lane r). Same
// size as the original. Products per group: maddubs(|w|, sign(a, w)), widened to 32 bits (two
// groups of products could overflow 16 bits).

public enum InterleavedByteLayout {
    public static let blockBytes = 272
}

extension AVX2GEMM {
    public static func interleaveBytes(_ rows: UnsafeRawPointer, rowStride: Int, blocks: Int,
                                       into out: UnsafeMutableRawPointer) {
        var b = 0
        while b < blocks {
            let o = out + b * InterleavedByteLayout.blockBytes
            var r = 0
            while r < 8 {
                let xb = rows + r * rowStride + b * 34
                o.storeBytes(of: xb.loadUnaligned(as: UInt16.self), toByteOffset: 2 * r, as: UInt16.self)
                var g = 0
                while g < 8 {
                    o.storeBytes(of: xb.loadUnaligned(fromByteOffset: 2 + 4 * g, as: UInt32.self),
                                 toByteOffset: 16 + 32 * g + 4 * r, as: UInt32.self)
                    g += 1
                }
                r += 1
            }
            b += 1
        }
    }

    /// As `interleavedNibbles` for interleaved Q8_0 with Q8_0 activations.
    public static func interleavedBytes(_ weights: UnsafeRawPointer, panels: Int, blocks: Int,
                                        activations: UnsafeRawPointer, activationStride: Int, tokens: Int,
                                        results: UnsafeMutablePointer<Float>, resultStride: Int) {
        withUnsafeTemporaryAllocation(of: __m256.self, capacity: byteTileScratch(blocks: blocks)) { scratch in
            guard let scratch = scratch.baseAddress else { return }
            interleavedBytes(AVX2Products.self, weights, panels: panels, blocks: blocks, activations: activations,
                             activationStride: activationStride, tokens: tokens, results: results, resultStride: resultStride,
                             scratch: scratch)
        }
    }

    /// Registers of scratch `byteTile` needs.
    public static func byteTileScratch(blocks: Int) -> Int { 32 + 4 * blocks }

    /// `interleavedBytes` with the byte products of `P`. `scratch`: byteTileScratch(blocks) registers. (Given by
    /// the caller: a closure in this generic code, such as withUnsafeTemporaryAllocation's, is compiled without
    /// the caller's CPU features, and then no intrinsic in it is inlined.)
    @inlinable
    public static func interleavedBytes<P: ByteProducts>(_ products: P.Type, _ weights: UnsafeRawPointer, panels: Int,
                                                         blocks: Int, activations: UnsafeRawPointer, activationStride: Int,
                                                         tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int,
                                                         scratch: UnsafeMutablePointer<__m256>) {
        let panelBytes = blocks * InterleavedByteLayout.blockBytes
        var p = 0
        while p < panels {
            let w = weights + p * panelBytes, out = results + 8 * p
            var t = 0
            if tokens < 4 {
                while t < tokens { byteRow(P.self, w, blocks, activations + t * activationStride, out + t * resultStride); t += 1 }
            } else {
                while t < tokens { byteTile(P.self, w, blocks, activations, activationStride, t, tokens, out, resultStride, scratch); t += 4 }
            }
            p += 1
        }
    }

    /// Σ over a lane's 4 bytes of w·a for signed w: |w| (unsigned) times a carrying w's sign.
    @inlinable @inline(__always)
    static func signedDot<P: ByteProducts>(_ products: P.Type, _ q: __m256i, _ a: __m256i) -> __m256i {
        P.dot4(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q))
    }

    /// One token in llama.cpp's vec_dot order: for each row, eight accumulators (one per 4-column group
    /// g, lane g of its vector) collect d·dy·(group sum) block after block and are summed at the end as
    /// its horizontal sum does ((g0+g4)+(g2+g6)) + ((g1+g5)+(g3+g7)): decode logits bit-identical to its.
    @inlinable @inline(__always)
    static func byteRow<P: ByteProducts>(_ products: P.Type, _ w: UnsafeRawPointer, _ blocks: Int, _ y: UnsafeRawPointer,
                                         _ results: UnsafeMutablePointer<Float>) {
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        var b = 0
        while b < blocks {
            let pb = w + b * InterleavedByteLayout.blockBytes
            let scale = _mm256_mul_ps(_mm256_cvtph_ps(load128(pb)),
                                      _mm256_cvtph_ps(_mm_set1_epi16(y.loadUnaligned(fromByteOffset: 34 * b, as: Int16.self))))
            @inline(__always) func group(_ g: Int, _ a: __m256) -> __m256 {
                let q = load256(pb + 16 + 32 * g)
                let x = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: 34 * b + 2 + 4 * g, as: Int32.self))
                return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(signedDot(P.self, q, x)), a)
            }
            acc.0 = group(0, acc.0); acc.1 = group(1, acc.1); acc.2 = group(2, acc.2); acc.3 = group(3, acc.3)
            acc.4 = group(4, acc.4); acc.5 = group(5, acc.5); acc.6 = group(6, acc.6); acc.7 = group(7, acc.7)
            b += 1
        }
        let total = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc.0, acc.4), _mm256_add_ps(acc.2, acc.6)),
                                  _mm256_add_ps(_mm256_add_ps(acc.1, acc.5), _mm256_add_ps(acc.3, acc.7)))
        storeLanes(total, results, 8)
    }

    /// Four tokens t…t+3 (past the end, the last token is recomputed, not stored) in the same order as
    /// `byteRow` — llama.cpp's, batch and decode alike, so prompt and generated positions round the same
    /// way (its golden logits need it; one float sum per block moved them by 0.03). A token needs eight
    /// chains, so the groups go in four passes of two: 8 accumulators, each weight group loaded once per
    /// pass for the four tokens; the chain sums wait in `chains` for the final order.
    @inlinable @inline(__always)
    static func byteTile<P: ByteProducts>(_ products: P.Type, _ w: UnsafeRawPointer, _ blocks: Int,
                                          _ activations: UnsafeRawPointer, _ activationStride: Int, _ t: Int, _ tokens: Int,
                                          _ results: UnsafeMutablePointer<Float>, _ resultStride: Int,
                                          _ scratch: UnsafeMutablePointer<__m256>) {
        let y = (activations + t * activationStride, activations + min(t + 1, tokens - 1) * activationStride,
                 activations + min(t + 2, tokens - 1) * activationStride, activations + min(t + 3, tokens - 1) * activationStride)
        // chains[4·g + token]: the chain sums; scales[4·b + token]: d(rows)·dy(token), formed in the first pass.
        let chains = scratch, scales = scratch + 32
        var g0 = 0
        while g0 < 8 {
            let zero = _mm256_setzero_ps()
            var a = (zero, zero, zero, zero), c = (zero, zero, zero, zero)  // groups g0 and g0+1
            var b = 0
            while b < blocks {
                let pb = w + b * InterleavedByteLayout.blockBytes
                if g0 == 0 {
                    let d = _mm256_cvtph_ps(load128(pb))
                    @inline(__always) func scale(_ yt: UnsafeRawPointer) -> __m256 {
                        _mm256_mul_ps(d, _mm256_cvtph_ps(_mm_set1_epi16(yt.loadUnaligned(fromByteOffset: 34 * b, as: Int16.self))))
                    }
                    (scales[4 * b], scales[4 * b + 1], scales[4 * b + 2], scales[4 * b + 3]) = (scale(y.0), scale(y.1), scale(y.2), scale(y.3))
                }
                let s = (scales[4 * b], scales[4 * b + 1], scales[4 * b + 2], scales[4 * b + 3])
                @inline(__always) func group(_ g: Int, _ acc: inout (__m256, __m256, __m256, __m256)) {
                    let q = load256(pb + 16 + 32 * g)
                    let magnitude = _mm256_sign_epi8(q, q)
                    let o = 34 * b + 2 + 4 * g
                    @inline(__always) func step(_ yt: UnsafeRawPointer, _ scale: __m256, _ sum: __m256) -> __m256 {
                        let x = _mm256_set1_epi32(yt.loadUnaligned(fromByteOffset: o, as: Int32.self))
                        let dot = P.dot4(_mm256_setzero_si256(), magnitude, _mm256_sign_epi8(x, q))
                        return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), sum)
                    }
                    acc.0 = step(y.0, s.0, acc.0); acc.1 = step(y.1, s.1, acc.1)
                    acc.2 = step(y.2, s.2, acc.2); acc.3 = step(y.3, s.3, acc.3)
                }
                group(g0, &a)
                group(g0 + 1, &c)
                b += 1
            }
            (chains[4 * g0], chains[4 * g0 + 1], chains[4 * g0 + 2], chains[4 * g0 + 3]) = a
            (chains[4 * g0 + 4], chains[4 * g0 + 5], chains[4 * g0 + 6], chains[4 * g0 + 7]) = c
            g0 += 2
        }
        @inline(__always) func total(_ k: Int) -> __m256 {
            @inline(__always) func f(_ g: Int) -> __m256 { chains[4 * g + k] }
            return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(f(0), f(4)), _mm256_add_ps(f(2), f(6))),
                                 _mm256_add_ps(_mm256_add_ps(f(1), f(5)), _mm256_add_ps(f(3), f(7))))
        }
        storeTile(total(0), total(1), total(2), total(3), t, tokens, results, resultStride, 8)
    }
}
#endif
