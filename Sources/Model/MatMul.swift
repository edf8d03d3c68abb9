import GGUF
import Tensors

/// Activations quantized into a weight type's partner format (Q8_0, Q8_1, Q8_K, F16, …), one row per token.
/// Also the batch kernels' scratch: prepared activations (Q4 panels) or the F16 tiles' token layout, and one
/// panel buffer per thread.
struct QuantizedActivations {
    let buffer: UnsafeMutableRawPointer
    let capacity: Int
    let prepared: UnsafeMutableRawPointer
    let panels: UnsafeMutableRawPointer
    let panelStride: Int

    /// `columns`: the widest matrix input; `tokens`: the batch size.
    init(capacity: Int, columns: Int, tokens: Int, threads: Int) {
        self.capacity = capacity
        buffer = .allocate(byteCount: max(capacity, 64), alignment: 64)
        // Shared by the Q4 panel GEMM and the F16 tiles (whichever needs more).
        let preparedBytes = max(PanelGEMM.preparedBytes(columns: columns, tokens: tokens),
                                4 * FloatWeights.permutedFloats(tokens: tokens, columns: columns))
        prepared = .allocate(byteCount: preparedBytes, alignment: 64)
        panelStride = (max(PanelGEMM.maxPanelBytes(columns: columns), 4 * FloatWeights.panelFloats(columns: columns)) + 63) / 64 * 64
        panels = .allocate(byteCount: max(panelStride * threads, 64), alignment: 64)
    }

    func deallocate() {
        buffer.deallocate()
        prepared.deallocate()
        panels.deallocate()
    }

    /// Bytes one row of `columns` activations takes in `type` (F32 needs the most: 4 per element).
    static func rowBytes(_ type: TensorType, columns: Int) -> Int {
        (columns / type.blockSize) * type.blockBytes
    }
}

/// y[t][r] = W[r] · x[t] for `count` tokens: activations are quantized once per token, then each weight row is
/// read once and used for every token (rows split across threads). `previous`: the matrix the same input was
/// just multiplied with (wk after wq): its quantized activations are reused when the formats agree.
func matmul(_ w: WeightMatrix, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, count: Int,
            scratch: QuantizedActivations, pool: ThreadPool, after previous: WeightMatrix? = nil) {
    let activationType = BlockFormat.activationType(for: w.type)
    let stride = QuantizedActivations.rowBytes(activationType, columns: w.columns)
    let columns = w.columns, rows = w.rows
    let act = scratch.buffer
    if w.type == .f16, FloatWeights.supports(columns: columns) {
        // F16: activations as f32 values rounded to F16 precision (and, for batches, rearranged for the tiles).
        let rounded = act.assumingMemoryBound(to: Float.self)
        let tiled = count > 1 && columns % 16 == 0
        let permuted = scratch.prepared.assumingMemoryBound(to: Float.self)
        if !(previous.map { $0.type == .f16 && $0.columns == columns } ?? false) {
            pool.parallelFor(count) { range in
                FloatWeights.roundToHalf(x + range.lowerBound * columns, rounded + range.lowerBound * columns,
                                         count: range.count * columns)
            }
            if tiled {
                pool.parallelFor((count + FloatWeights.tokenBlock - 1) / FloatWeights.tokenBlock) { range in
                    for block in range {
                        FloatWeights.permuteTokens(rounded, tokens: count, columns: columns, block: block, into: permuted)
                    }
                }
            }
        }
        if tiled {
            let panels = (rows + 5) / 6
            pool.parallelFor(panels, grain: pool.grain(panels)) { range, thread in
                let first = 6 * range.lowerBound, end = min(rows, 6 * range.upperBound)
                let panel = (scratch.panels + thread * scratch.panelStride).assumingMemoryBound(to: Float.self)
                FloatWeights.f16Tiles(w.row(first), rowStride: w.rowBytes, rows: end - first, permuted: permuted,
                                      tokens: count, columns: columns, panel: panel, results: y + first, resultStride: rows)
            }
        } else {
            pool.parallelFor(rows) { range in
                for t in 0..<count {
                    FloatWeights.f16Rows(w.row(range.lowerBound), rowStride: w.rowBytes, rows: range.count,
                                         rounded + t * columns, columns: columns, results: y + t * rows + range.lowerBound)
                }
            }
        }
        return
    }
    let reuse = previous.map { BlockFormat.activationType(for: $0.type) == activationType && $0.columns == columns } ?? false
    if reuse {
        // Already quantized (and, for the same weight type, already prepared for the panels).
    } else if count == 1 {
        BlockFormat.quantizeActivations(activationType, x, act, count: columns)
    } else {
        pool.parallelFor(count) { range in
            for t in range { BlockFormat.quantizeActivations(activationType, x + t * columns, act + t * stride, count: columns) }
        }
    }
    if let interleaved = w.interleaved {
        // Interleaved 8-row panels (decode and prefill alike).
        if !(reuse && previous?.type == w.type && previous?.interleaved != nil) {
            InterleavedWeights.prepare(w.type, activations: act, activationStride: stride, tokens: count, columns: columns,
                                       prepared: scratch.prepared)
        }
        pool.parallelFor(rows / 8, grain: pool.grain(rows / 8)) { range, _ in
            InterleavedWeights.multiply(w.type, interleaved, columns: columns, panels: range, activations: act,
                                        activationStride: stride, prepared: scratch.prepared, tokens: count,
                                        results: y, resultStride: rows)
        }
        return
    }
    if count == 1 || w.type == .q8_0 {
        // Matrix × vector: rows in groups (several rows share each activation load). Q8_0 batches that are
        // not interleaved (--no-repack, rows % 8 ≠ 0) also go token by token: the batch kernels sum each
        // block's integers before scaling, llama.cpp (and our interleaved tiles) keep 8 chains per token.
        // Chunks claimed as threads finish (a multiple of the four-row kernels' group): a thread slowed by
        // other work on the machine leaves its rows to the others.
        pool.parallelFor(rows, grain: (pool.grain(rows) + 3) / 4 * 4) { range, _ in
            for t in 0..<count {
                BlockFormat.dot(w.type, rows: range.count, w.row(range.lowerBound), rowStride: w.rowBytes,
                                act + t * stride, count: columns, results: y + t * rows + range.lowerBound, resultStride: 1)
            }
        }
        return
    }
    // Prompt batches of panel formats: 8 (or 16) rows repacked once, then multiplied with every token.
    if count >= 4, PanelGEMM.supports(w.type) {
        if !(reuse && previous?.type == w.type && previous?.interleaved == nil) {
            PanelGEMM.prepare(w.type, activations: act, activationStride: stride, tokens: count, columns: columns,
                              prepared: scratch.prepared)
        }
        let panelRows = PanelGEMM.rowsPerMultiply(w.type)
        let panelCount = (rows + panelRows - 1) / panelRows
        pool.parallelFor(panelCount, grain: pool.grain(panelCount, chunksPerThread: 4)) { range, thread in
            let panel = scratch.panels + thread * scratch.panelStride
            for p in range {
                let first = panelRows * p
                PanelGEMM.multiply(w.type, rows: w.row(first), rowStride: w.rowBytes, rowCount: min(panelRows, rows - first),
                                   columns: columns, panel: panel, activations: act, activationStride: stride,
                                   prepared: scratch.prepared, tokens: count, results: y + first, resultStride: rows)
            }
        }
        return
    }
    // F16 without the AVX2 kernels: batches in the batch order (see PortableDot), a single token in its own
    // (as are batches whose rows are not whole 16-column chains, like tinyBLAS declining them).
    if w.type == .f16 {
        let batch = count > 1 && columns % 16 == 0
        pool.parallelFor(rows) { range in
            for r in range {
                for t in 0..<count {
                    y[t * rows + r] = PortableDot.f16(w.row(r), act + t * stride, columns, batch: batch)
                }
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
