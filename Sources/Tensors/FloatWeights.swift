import TensorsAVX2

/// F16 matrices against activations kept as f32 values rounded to F16 precision (AVX2 + F16C): decode rows
/// in llama.cpp's vec_dot order, prompt batches in 4-row × 3-token register tiles (tinyBLAS order).
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
        AVX2Quantize.roundToHalf(src, dst, count: count)
    }

    /// results[r] = F16 row r · x for r in 0..<rows.
    public static func f16Rows(_ rows: UnsafeRawPointer, rowStride: Int, rows count: Int, _ x: UnsafePointer<Float>,
                               columns: Int, results: UnsafeMutablePointer<Float>) {
        AVX2Dot.f16RowsF32(rows, rowStride: rowStride, rows: count, x, columns, results, resultStride: 1)
    }

    /// results[t · resultStride + r] = F16 row r · x_t (x_t = x + t·columns).
    public static func f16Tiles(_ rows: UnsafeRawPointer, rowStride: Int, rows count: Int, _ x: UnsafePointer<Float>,
                                tokens: Int, columns: Int, results: UnsafeMutablePointer<Float>, resultStride: Int) {
        AVX2Dot.f16Tiles(rows, rowStride: rowStride, rows: count, x, yStride: columns, tokens: tokens, columns,
                         results, resultStride: resultStride)
    }
}
