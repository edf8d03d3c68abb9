#if arch(x86_64)
import TensorsAVX2
import TensorsAVX512
#endif

/// F16 matrices against activations kept as f32 values rounded to F16 precision (AVX2 + F16C), in the two
/// summation orders of llama.cpp on AVX-512: single tokens as its vec_dot (4 × 16 chains over 64-column
/// blocks), batches as tinyBLAS (16 chains) — 6-row × 16-token outer-product tiles.
public enum FloatWeights {
    public static func supports(columns: Int) -> Bool {
        #if arch(x86_64)
        return CPUFeatures.current.hasAVX2 && columns % 8 == 0 && columns > 0
        #else
        return false
        #endif
    }

    /// dst = src rounded to F16 precision (as f32).
    public static func roundToHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        #if arch(x86_64)
        AVX2Quantize.roundToHalf(src, dst, count: count)
        #else
        x86KernelUnreachable()
        #endif
    }

    /// results[r] = F16 row r · x for r in 0..<rows.
    public static func f16Rows(_ rows: UnsafeRawPointer, rowStride: Int, rows count: Int, _ x: UnsafePointer<Float>,
                               columns: Int, results: UnsafeMutablePointer<Float>) {
        #if arch(x86_64)
        AVX2Dot.f16RowsF32(rows, rowStride: rowStride, rows: count, x, columns, results, resultStride: 1)
        #else
        x86KernelUnreachable()
        #endif
    }

    /// Token blocks of the batch layout.
    public static var tokenBlock: Int {
        #if arch(x86_64)
        AVX2Dot.f16TokenBlock
        #else
        16
        #endif
    }

    /// Floats of the batch layout for `tokens` tokens of `columns` (whole blocks of 16).
    public static func permutedFloats(tokens: Int, columns: Int) -> Int {
        (tokens + tokenBlock - 1) / tokenBlock * tokenBlock * columns
    }

    /// Floats of one thread's weight panel.
    public static func panelFloats(columns: Int) -> Int {
        #if arch(x86_64)
        AVX2Dot.f16PanelFloats(columns: columns)
        #else
        0
        #endif
    }

    /// Writes token block `block` of the batch layout (see AVX2Dot.f16PermuteTokens).
    public static func permuteTokens(_ x: UnsafePointer<Float>, tokens: Int, columns: Int, block: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        #if arch(x86_64)
        AVX2Dot.f16PermuteTokens(x, yStride: columns, tokens: tokens, columns: columns, block: block, into: out)
        #else
        x86KernelUnreachable()
        #endif
    }

    /// results[t · resultStride + r] = F16 row r · x_t for every token, x in the batch layout (columns % 16 == 0).
    /// `wide`: the AVX-512 kernel (the default where the CPU has it; the same bits either way).
    public static func f16Tiles(_ rows: UnsafeRawPointer, rowStride: Int, rows count: Int, permuted: UnsafePointer<Float>,
                                tokens: Int, columns: Int, panel: UnsafeMutablePointer<Float>,
                                results: UnsafeMutablePointer<Float>, resultStride: Int,
                                wide: Bool = CPUFeatures.current.hasAVX512VNNI) {
        #if arch(x86_64)
        if wide && CPUFeatures.current.hasAVX512VNNI {
            AVX512Float.f16Tiles(rows, rowStride: rowStride, rows: count, permuted: permuted, tokens: tokens, columns: columns,
                                 panel: panel, results, resultStride: resultStride)
            return
        }
        AVX2Dot.f16Tiles(rows, rowStride: rowStride, rows: count, permuted: permuted, tokens: tokens, columns: columns,
                         panel: panel, results, resultStride: resultStride)
        #else
        x86KernelUnreachable()
        #endif
    }
}
