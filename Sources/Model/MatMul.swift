import GGUF
import Tensors

/// Activations quantized into a weight type's partner format (Q8_0, Q8_1, Q8_K, F16, …), one row per token.
struct QuantizedActivations {
    let buffer: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        buffer = .allocate(byteCount: max(capacity, 64), alignment: 64)
    }

    func deallocate() { buffer.deallocate() }

    /// Bytes one row of `columns` activations takes in `type` (F32 needs the most: 4 per element).
    static func rowBytes(_ type: TensorType, columns: Int) -> Int {
        (columns / type.blockSize) * type.blockBytes
    }
}

/// y[t][r] = W[r] · x[t] for `count` tokens: activations are quantized once per token, then each weight row is
/// read once and used for every token (rows split across threads).
func matmul(_ w: WeightMatrix, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, count: Int,
            scratch: QuantizedActivations, pool: ThreadPool) {
    let activationType = BlockFormat.activationType(for: w.type)
    let stride = QuantizedActivations.rowBytes(activationType, columns: w.columns)
    let columns = w.columns, rows = w.rows
    let act = scratch.buffer
    if count == 1 {
        BlockFormat.quantizeActivations(activationType, x, act, count: columns)
    } else {
        pool.parallelFor(count) { range in
            for t in range { BlockFormat.quantizeActivations(activationType, x + t * columns, act + t * stride, count: columns) }
        }
    }
    if count == 1 {
        // Matrix × vector: rows in groups (several rows share each activation load).
        pool.parallelFor(rows) { range in
            BlockFormat.dot(w.type, rows: range.count, w.row(range.lowerBound), rowStride: w.rowBytes,
                            act, count: columns, results: y + range.lowerBound, resultStride: 1)
        }
        return
    }
    // F16 rows × 4 tokens gains little (~1.1×) and sums in another order than llama.cpp, whose golden logits
    // we match within 1e-2 only with the plain per-token dot.
    if w.type == .f16 {
        pool.parallelFor(rows) { range in
            for r in range {
                for t in 0..<count { y[t * rows + r] = BlockFormat.dot(w.type, w.row(r), act + t * stride, count: columns) }
            }
        }
        return
    }
    // Prompt batches: each weight row is read once and used for every token (tokens in tiles of four).
    pool.parallelFor(rows) { range in
        for r in range {
            BlockFormat.dot(w.type, w.row(r), act, activationStride: stride, tokens: count, count: columns,
                            results: y + r, resultStride: rows)
        }
    }
}
