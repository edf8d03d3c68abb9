#if arch(x86_64)
import _Builtin_intrinsics.intel

// Prompt batches for the 32-element block formats with signed values and one f16 scale per block —
// Q5_0 (−16…15) and IQ4_NL (levels −127…113) — against Q8_0 activations. Each block of each token has
// its own pair of scales, so the integer sums end at the block: per block, 8 rows × 32 columns.
//
// Panel block (8 rows × 32 columns): |w| as 8 groups of 4 columns (lanes = rows) @0, w itself @256, d of
// each row as 8 floats @512, and 128 · Σw per row as 8 int32 @544 (what multiplying by a + 128 adds).
// AVX2 multiplies |w| by the activations with w's sign (maddubs wants one unsigned operand; sums of 4
// groups — the whole block — stay in 16 bits for Q5_0, 2·16·127·8 = 32512, one at a time for IQ4_NL,
// 2·127·127 = 32258);
// the VNNI kernel (TensorsAVX512) multiplies w by a + 128 with vpdpbusd and subtracts the constant.

/// The block formats with a block panel.
public enum BlockPanelFormat: Sendable {
    case q5_0, iq4_nl

    var blockBytes: Int { self == .q5_0 ? 22 : 18 }
    /// Groups of 4 columns whose maddubs results add in 16 bits before widening.
    var groupsPerWidening: Int { self == .q5_0 ? 8 : 1 }
}

/// Byte layout of one panel block.
public enum BlockPanelLayout {
    public static let signedOffset = 256
    public static let scaleOffset = 512
    public static let correctionOffset = 544
    public static let blockBytes = 576
}

public protocol BlockPanelKind { static var format: BlockPanelFormat { get } }
public enum Q5_0Panel: BlockPanelKind { @inline(__always) public static var format: BlockPanelFormat { .q5_0 } }
public enum IQ4NLPanel: BlockPanelKind { @inline(__always) public static var format: BlockPanelFormat { .iq4_nl } }

extension AVX2GEMM {
    /// Repacks rows r (0..<rowCount ≤ 8, missing rows zero) of `format` into a panel of `blocks` blocks.
    public static func packBlocks(_ format: BlockPanelFormat, _ rows: UnsafeRawPointer, rowStride: Int, rowCount: Int,
                                  blocks: Int, into panel: UnsafeMutableRawPointer) {
        switch format {
        case .q5_0: packBlocks(Q5_0Panel.self, rows, rowStride, rowCount, blocks, panel)
        case .iq4_nl: packBlocks(IQ4NLPanel.self, rows, rowStride, rowCount, blocks, panel)
        }
    }

    @inline(__always)
    private static func packBlocks<K: BlockPanelKind>(_ kind: K.Type, _ rows: UnsafeRawPointer, _ rowStride: Int,
                                                      _ rowCount: Int, _ blocks: Int, _ panel: UnsafeMutableRawPointer) {
        let format = K.format
        let sixteen = _mm256_set1_epi8(16), ones = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1)
        var b = 0
        while b < blocks {
            let out = panel + b * BlockPanelLayout.blockBytes
            // Rows and groups written out: a register of `Eight` picked by a variable index is a jump table.
            @inline(__always) func row(_ r: Int) -> __m256i {
                var d: Float = 0, correction: Int32 = 0, values = _mm256_setzero_si256()
                if r < rowCount {
                    let xb = rows + r * rowStride + b * format.blockBytes
                    switch format {
                    case .q5_0:
                        let high = _mm256_and_si256(bytesFromBits(xb.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), sixteen)
                        values = _mm256_sub_epi8(_mm256_or_si256(nibbles(xb + 6), high), sixteen)
                    case .iq4_nl:
                        values = _mm256_shuffle_epi8(iq4LevelTable(), nibbles(xb + 2))
                    }
                    d = half(xb, 0)
                    correction = 128 &* horizontalSumInt(_mm256_madd_epi16(_mm256_maddubs_epi16(ones, values), ones16))
                }
                out.storeBytes(of: d, toByteOffset: BlockPanelLayout.scaleOffset + 4 * r, as: Float.self)
                out.storeBytes(of: correction, toByteOffset: BlockPanelLayout.correctionOffset + 4 * r, as: Int32.self)
                return values
            }
            var w = Eight(repeating: _mm256_setzero_si256())
            (w.v0, w.v1, w.v2, w.v3, w.v4, w.v5, w.v6, w.v7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
            let groups = transpose(w)
            @inline(__always) func put(_ g: Int, _ group: __m256i) {
                (out + 32 * g).storeBytes(of: _mm256_sign_epi8(group, group), as: __m256i.self)
                (out + BlockPanelLayout.signedOffset + 32 * g).storeBytes(of: group, as: __m256i.self)
            }
            put(0, groups.v0); put(1, groups.v1); put(2, groups.v2); put(3, groups.v3)
            put(4, groups.v4); put(5, groups.v5); put(6, groups.v6); put(7, groups.v7)
            b += 1
        }
    }

    /// results[t · resultStride + r] for the panel's rows r < rowCount and tokens t in 0..<tokens: Q8_0
    /// activation rows `activationStride` bytes apart, their scales as floats in `scales` (t · blocks + b).
    public static func blockPanel(_ format: BlockPanelFormat, _ panel: UnsafeRawPointer, blocks: Int,
                                  activations: UnsafeRawPointer, activationStride: Int, scales: UnsafePointer<Float>,
                                  tokens: Int, results: UnsafeMutablePointer<Float>, resultStride: Int, rowCount: Int) {
        switch format {
        case .q5_0: blockPanel(Q5_0Panel.self, panel, blocks, activations, activationStride, scales, tokens, results, resultStride, rowCount)
        case .iq4_nl: blockPanel(IQ4NLPanel.self, panel, blocks, activations, activationStride, scales, tokens, results, resultStride, rowCount)
        }
    }

    @inline(__always)
    private static func blockPanel<K: BlockPanelKind>(_ kind: K.Type, _ panel: UnsafeRawPointer, _ blocks: Int,
                                                      _ activations: UnsafeRawPointer, _ activationStride: Int,
                                                      _ scales: UnsafePointer<Float>, _ tokens: Int,
                                                      _ results: UnsafeMutablePointer<Float>, _ resultStride: Int, _ rowCount: Int) {
        let perWidening = K.format.groupsPerWidening
        let ones = _mm256_set1_epi16(1)
        var t = 0
        while t < tokens {
            let tk = (t, min(t + 1, tokens - 1), min(t + 2, tokens - 1), min(t + 3, tokens - 1))
            let y0 = activations + tk.0 * activationStride, y1 = activations + tk.1 * activationStride
            let y2 = activations + tk.2 * activationStride, y3 = activations + tk.3 * activationStride
            var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
            var acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps()
            var b = 0
            while b < blocks {
                let pb = panel + b &* BlockPanelLayout.blockBytes
                let ya = 34 &* b &+ 2
                var i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256()
                var i2 = _mm256_setzero_si256(), i3 = _mm256_setzero_si256()
                var p0 = _mm256_setzero_si256(), p1 = _mm256_setzero_si256()
                var p2 = _mm256_setzero_si256(), p3 = _mm256_setzero_si256()
                var g = 0
                while g < 8 {
                    let magnitude = load256(pb + 32 &* g), sign = load256(pb + (BlockPanelLayout.signedOffset &+ 32 &* g))
                    @inline(__always) func product(_ y: UnsafeRawPointer) -> __m256i {
                        let a = _mm256_set1_epi32(y.loadUnaligned(fromByteOffset: ya &+ 4 &* g, as: Int32.self))
                        return _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(a, sign))
                    }
                    p0 = _mm256_add_epi16(p0, product(y0)); p1 = _mm256_add_epi16(p1, product(y1))
                    p2 = _mm256_add_epi16(p2, product(y2)); p3 = _mm256_add_epi16(p3, product(y3))
                    if (g + 1) % perWidening == 0 {
                        i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(p0, ones)); i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(p1, ones))
                        i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(p2, ones)); i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(p3, ones))
                        p0 = _mm256_setzero_si256(); p1 = _mm256_setzero_si256()
                        p2 = _mm256_setzero_si256(); p3 = _mm256_setzero_si256()
                    }
                    g &+= 1
                }
                let d = pb.loadUnaligned(fromByteOffset: BlockPanelLayout.scaleOffset, as: __m256.self)
                @inline(__always) func finish(_ token: Int, _ sums: __m256i, _ acc: __m256) -> __m256 {
                    _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(scales[token &* blocks &+ b])), _mm256_cvtepi32_ps(sums), acc)
                }
                acc0 = finish(tk.0, i0, acc0); acc1 = finish(tk.1, i1, acc1)
                acc2 = finish(tk.2, i2, acc2); acc3 = finish(tk.3, i3, acc3)
                b &+= 1
            }
            storeTile(acc0, acc1, acc2, acc3, t, tokens, results, resultStride, rowCount)
            t += 4
        }
    }
}
#endif
