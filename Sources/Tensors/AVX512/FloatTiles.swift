#if arch(x86_64)
import _Builtin_intrinsics.intel
import TensorsAVX2  // the batch layout and the chain-major panel (AVX2Dot.f16PermuteTokens, widenChainMajor)

/// F16 prompt batches on 512-bit registers: AVX2Dot.f16Tiles' chains in the same order (each (row, token) cell
/// sums column c into chain c % 16 with fused multiply-adds, then the 16-lane tree), so the same bits; a
/// register holds one 16-token block of the batch layout, and each step takes two blocks: 6 rows × 32 tokens,
/// 12 accumulators, 6 broadcasts and 2 loads per 12 FMAs.
public enum AVX512Float {
    public static func f16Tiles(_ x: UnsafeRawPointer, rowStride: Int, rows: Int, permuted: UnsafePointer<Float>,
                                tokens: Int, columns: Int, panel: UnsafeMutablePointer<Float>,
                                _ results: UnsafeMutablePointer<Float>, resultStride: Int) {
        let width = AVX2Dot.f16TokenBlock, steps = columns / 16, panelStride = AVX2Dot.f16PanelStride(columns: columns)
        let blocks = (tokens + width - 1) / width
        withUnsafeTemporaryAllocation(of: __m512.self, capacity: 16 * 12) { buffer in  // chains[12·l + 2·r + h]
            guard let chains = buffer.baseAddress else { return }
            var r0 = 0
            while r0 < rows {
                // Rows r0…r0+5 (a short panel repeats its last row: computed, not stored), chain-major f32.
                var r = 0
                while r < 6 {
                    AVX2Dot.widenChainMajor(x + min(r0 + r, rows - 1) * rowStride, steps: steps, into: panel + r * panelStride)
                    r += 1
                }
                var block = 0
                while block < blocks {
                    // Blocks `block` and `block + 1` (a lone last block twice: computed, not stored).
                    let xa = permuted + block * width * columns
                    let xb = block + 1 < blocks ? xa + width * columns : xa
                    var l = 0
                    while l < 16 {
                        let zero = _mm512_setzero_ps()
                        var c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero
                        var c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero
                        let ya = UnsafeRawPointer(xa + l * steps * width), yb = UnsafeRawPointer(xb + l * steps * width)
                        let w0 = panel + l * steps, w1 = w0 + panelStride, w2 = w1 + panelStride
                        let w3 = w2 + panelStride, w4 = w3 + panelStride, w5 = w4 + panelStride
                        var i = 0
                        while i < steps {
                            let y0 = ya.loadUnaligned(fromByteOffset: 64 * i, as: __m512.self)
                            let y1 = yb.loadUnaligned(fromByteOffset: 64 * i, as: __m512.self)
                            var a = _mm512_set1_ps(w0[i])
                            c00 = _mm512_fmadd_ps(a, y0, c00); c01 = _mm512_fmadd_ps(a, y1, c01)
                            a = _mm512_set1_ps(w1[i])
                            c10 = _mm512_fmadd_ps(a, y0, c10); c11 = _mm512_fmadd_ps(a, y1, c11)
                            a = _mm512_set1_ps(w2[i])
                            c20 = _mm512_fmadd_ps(a, y0, c20); c21 = _mm512_fmadd_ps(a, y1, c21)
                            a = _mm512_set1_ps(w3[i])
                            c30 = _mm512_fmadd_ps(a, y0, c30); c31 = _mm512_fmadd_ps(a, y1, c31)
                            a = _mm512_set1_ps(w4[i])
                            c40 = _mm512_fmadd_ps(a, y0, c40); c41 = _mm512_fmadd_ps(a, y1, c41)
                            a = _mm512_set1_ps(w5[i])
                            c50 = _mm512_fmadd_ps(a, y0, c50); c51 = _mm512_fmadd_ps(a, y1, c51)
                            i += 1
                        }
                        let o = 12 * l
                        chains[o] = c00; chains[o + 1] = c01; chains[o + 2] = c10; chains[o + 3] = c11
                        chains[o + 4] = c20; chains[o + 5] = c21; chains[o + 6] = c30; chains[o + 7] = c31
                        chains[o + 8] = c40; chains[o + 9] = c41; chains[o + 10] = c50; chains[o + 11] = c51
                        l += 1
                    }
                    // The 16-lane tree per cell (row, block), 16 tokens per vector.
                    var cell = 0
                    while cell < 12 {
                        @inline(__always) func chain(_ k: Int) -> __m512 { chains[12 * k + cell] }
                        @inline(__always) func pair(_ k: Int) -> __m512 { _mm512_add_ps(chain(k), chain(k + 8)) }
                        let b0 = _mm512_add_ps(pair(0), pair(4)), b1 = _mm512_add_ps(pair(1), pair(5))
                        let b2 = _mm512_add_ps(pair(2), pair(6)), b3 = _mm512_add_ps(pair(3), pair(7))
                        let total = _mm512_add_ps(_mm512_add_ps(b0, b2), _mm512_add_ps(b1, b3))
                        let row = r0 + cell / 2, first = (block + cell % 2) * width
                        if row < rows && first < tokens {
                            withUnsafeBytes(of: total) { lanes in
                                let v = lanes.bindMemory(to: Float.self)
                                var k = 0
                                while k < 16, first + k < tokens { results[(first + k) * resultStride + row] = v[k]; k += 1 }
                            }
                        }
                        cell += 1
                    }
                    block += 2
                }
                r0 += 6
            }
        }
    }
}
#endif
