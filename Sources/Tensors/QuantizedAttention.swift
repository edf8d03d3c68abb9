import GGUF

/// Attention over a quantized KV cache (`-ctk/-ctv q8_0|q4_0`), beside Attention's F16 and F32 pieces (kept
/// apart: the arm64 harness compiles Attention.swift alone).
extension Attention {
    /// Quantized keys (Q8_0 or Q4_0 rows `rowBytes` apart): scores[t] = scale · (query · key_t), the query
    /// quantized to Q8_0 first, as llama.cpp's dot products with these formats take it.
    public static func scores(_ query: UnsafePointer<Float>, quantized keys: UnsafeRawPointer, type: TensorType, rowBytes: Int,
                              length: Int, headDim: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        let blocks = headDim / 32
        withUnsafeTemporaryAllocation(byteCount: max(1, blocks * TensorType.q8_0.blockBytes), alignment: 32) { q8 in
            guard let activations = q8.baseAddress else { return }
            BlockFormat.quantizeActivations(.q8_0, query, activations, count: headDim)
            BlockFormat.dot(type, rows: length, keys, rowStride: rowBytes, UnsafeRawPointer(activations), count: headDim,
                            results: scores, resultStride: 1)
        }
        for t in 0..<length { scores[t] *= scale }
    }

    /// Quantized values (Q8_0 or Q4_0 rows `rowBytes` apart): out = Σ_t weights[t] · value_t in t order,
    /// each row dequantized to floats first.
    public static func weightedSum(_ weights: UnsafePointer<Float>, quantized values: UnsafeRawPointer, type: TensorType,
                                   rowBytes: Int, length: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
        for d in 0..<headDim { out[d] = 0 }
        guard let dequantize = FormatKernels.of(type)?.dequantize, headDim % type.blockSize == 0 else {
            for d in 0..<headDim { out[d] = .nan }
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, headDim)) { row in
            guard let value = row.baseAddress else { return }
            for t in 0..<length {
                dequantize(values + t * rowBytes, value, headDim)
                let p = weights[t]
                for d in 0..<headDim { out[d] += p * value[d] }
            }
        }
    }
}
