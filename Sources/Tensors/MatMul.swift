import GGUF

/// A 2-D weight tensor used in place from the mapping: `rows` rows of `columns` elements, row-major blocks.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let data: UnsafeRawPointer
    public let type: TensorType
    public let columns: Int   // input length (GGUF dimension 0)
    public let rows: Int      // output length (GGUF dimension 1)
    public let rowBytes: Int
    /// The 8-row interleaved copy (InterleavedWeights) when one was made at load.
    public var interleaved: UnsafeRawPointer? = nil

    public init(name: String, data: UnsafeRawPointer, type: TensorType, columns: Int, rows: Int, rowBytes: Int) {
        self.name = name
        self.data = data
        self.type = type
        self.columns = columns
        self.rows = rows
        self.rowBytes = rowBytes
    }

    public func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }
}

/// Activations quantized into a weight type's partner format (Q8_0, Q8_1, Q8_K, F16, …), one row per token.
/// Also the batch kernels' scratch: prepared activations (panels, interleaved corrections) or the F16 tiles'
/// token layout, and one panel buffer per thread.
public struct QuantizedActivations: @unchecked Sendable {
    let buffer: UnsafeMutableRawPointer
    let capacity: Int
    let prepared: UnsafeMutableRawPointer
    let panels: UnsafeMutableRawPointer
    let panelStride: Int

    /// `capacity`: bytes of quantized activations (`rowBytes` of the widest input × tokens); `columns`: the
    /// widest matrix input; `tokens`: the batch size.
    public init(capacity: Int, columns: Int, tokens: Int, threads: Int) {
        self.capacity = capacity
        buffer = .allocate(byteCount: max(capacity, 64), alignment: 64)
        // Shared by the panels, the interleaved corrections and the F16 tiles (whichever needs more).
        let preparedBytes = max(PanelGEMM.preparedBytes(columns: columns, tokens: tokens),
                                InterleavedKernels.preparedBytes(tokens: tokens, columns: columns),
                                4 * FloatWeights.permutedFloats(tokens: tokens, columns: columns))
        prepared = .allocate(byteCount: preparedBytes, alignment: 64)
        panelStride = (max(PanelGEMM.maxPanelBytes(columns: columns), 4 * FloatWeights.panelFloats(columns: columns)) + 63) / 64 * 64
        panels = .allocate(byteCount: max(panelStride * threads, 64), alignment: 64)
    }

    public func deallocate() {
        buffer.deallocate()
        prepared.deallocate()
        panels.deallocate()
    }

    /// Bytes one row of `columns` activations takes in `type` (F32 needs the most: 4 per element).
    public static func rowBytes(_ type: TensorType, columns: Int) -> Int {
        (columns / type.blockSize) * type.blockBytes
    }
}

/// y[t][r] = W[r] · x[t] for `count` tokens: activations are quantized once per token, then each weight row is
/// read once and used for every token (rows split across threads), through the best route the format's
/// kernels (FormatKernels) offer: F16 float tiles, the interleaved copy, four rows per activation load
/// (matrix × vector), prompt panels, four tokens per row read. `previous`: the matrix the same input was just
/// multiplied with (wk after wq): its quantized activations are reused when the formats agree.
public func matmul(_ w: WeightMatrix, input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>, count: Int,
                   scratch: QuantizedActivations, pool: ThreadPool, after previous: WeightMatrix? = nil) {
    let columns = w.columns, rows = w.rows
    guard let kernels = FormatKernels.of(w.type) else {
        // Loading refuses such a matrix (BlockFormat.isSupported); nothing to compute with.
        y.update(repeating: .nan, count: count * rows)
        return
    }
    let activationType = kernels.activationType
    let stride = QuantizedActivations.rowBytes(activationType, columns: columns)
    let act = scratch.buffer
    if kernels.floatTiles, FloatWeights.supports(columns: columns) {
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
                                      tokens: count, columns: columns, panel: panel, results: y + first, resultStride: rows,
                                      wide: kernels.wideFloatTiles)
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
    // The scratch `prepare` filled for `previous` serves `w` when the same kernels' prepare made it.
    let prepared = reuse && previous.map { $0.type == w.type && BatchRoute($0, kernels, count) == BatchRoute(w, kernels, count) } ?? false
    /// Prompt batches of panel formats: rows repacked once per panel (from `rowAt(first)`, `rowStride` apart, as
    /// the panel kernels take them), then multiplied with every token.
    func panelBatches(_ panels: PanelKernels, rowAt: (Int) -> UnsafeRawPointer, rowStride: Int) {
        if !prepared { panels.prepare(act, stride, count, columns, scratch.prepared) }
        let panelRows = panels.rowsPerMultiply
        let panelCount = (rows + panelRows - 1) / panelRows
        pool.parallelFor(panelCount, grain: pool.grain(panelCount, chunksPerThread: 4)) { range, thread in
            let panel = scratch.panels + thread * scratch.panelStride
            for p in range {
                let first = panelRows * p
                panels.multiply(rowAt(first), rowStride, min(panelRows, rows - first), columns, panel, act, stride,
                                scratch.prepared, count, y + first, rows)
            }
        }
    }
    if let interleaved = w.interleaved, let kernels = kernels.interleaved {
        let panelBytes = kernels.panelBytes(columns)
        if let panels = kernels.panels, count >= 4 {
            panelBatches(panels, rowAt: { interleaved + $0 / 8 * panelBytes }, rowStride: panelBytes)
            return
        }
        // Interleaved 8-row panels (decode, and prefill where the copy has no panels of its own).
        if let prepare = kernels.prepare, !prepared {
            prepare(act, stride, count, columns, scratch.prepared)
        }
        pool.parallelFor(rows / 8, grain: pool.grain(rows / 8)) { range, _ in
            kernels.multiply(interleaved + range.lowerBound * panelBytes, range.count, columns, act, stride, scratch.prepared,
                             count, y + 8 * range.lowerBound, rows)
        }
        return
    }
    if count == 1 || kernels.batchesTokenByToken {
        // Matrix × vector: rows in groups (several rows share each activation load). Chunks claimed as threads
        // finish (a multiple of the four-row kernels' group): a thread slowed by other work on the machine
        // leaves its rows to the others.
        pool.parallelFor(rows, grain: (pool.grain(rows) + 3) / 4 * 4) { range, _ in
            for t in 0..<count {
                BlockFormat.dot(w.type, rows: range.count, w.row(range.lowerBound), rowStride: w.rowBytes,
                                act + t * stride, count: columns, results: y + t * rows + range.lowerBound, resultStride: 1)
            }
        }
        return
    }
    if count >= 4, let panels = kernels.panels {
        panelBatches(panels, rowAt: { w.row($0) }, rowStride: w.rowBytes)
        return
    }
    // Prompt batches in the batch order where the format has one (F16 without the tiles, like tinyBLAS
    // declining rows that are not whole 16-column chains: PortableDot decides per row length).
    if let batchDot = kernels.batchDot, count > 1 {
        pool.parallelFor(rows) { range in
            for r in range {
                for t in 0..<count { y[t * rows + r] = batchDot(w.row(r), act + t * stride, columns) }
            }
        }
        return
    }
    // Each weight row is read once and used for every token (tokens in tiles of four where the format has them).
    pool.parallelFor(rows) { range in
        for r in range {
            BlockFormat.dot(w.type, w.row(r), act, activationStride: stride, tokens: count, count: columns,
                            results: y + r, resultStride: rows)
        }
    }
}

/// Which batch kernels' per-batch `prepare` a multiplication runs: the interleaved copy's tiles, prompt panels (from
/// the rows or from the copy: the same prepare), or none.
private enum BatchRoute: Equatable {
    case interleaved, panels, none

    init(_ w: WeightMatrix, _ kernels: FormatKernels, _ count: Int) {
        if w.interleaved != nil, let copy = kernels.interleaved {
            self = copy.panels != nil && count >= 4 ? .panels : .interleaved
        } else if count >= 4 && !kernels.batchesTokenByToken && kernels.panels != nil {
            self = .panels
        } else {
            self = .none
        }
    }
}

/// y_i = W_i · x for matrices that read the same input (q, k, v; gate, up). For one token whose matrices share a
/// format and a route, the activations are quantized once and the rows of all of them are split across the
/// threads in one job: one barrier instead of one per matrix, and no thread waits at the end of a small
/// matrix (k and v are a quarter of q under GQA) while the other finishes its share. Otherwise the matrices go
/// one after another through `matmul`, the later ones reusing the quantized activations.
public func matmul(_ ws: [WeightMatrix], input x: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>], count: Int,
                   scratch: QuantizedActivations, pool: ThreadPool) {
    guard let first = ws.first, ws.count == outputs.count else { return }
    let interleaved = first.interleaved != nil
    guard count == 1, ws.count > 1, let kernels = FormatKernels.of(first.type), !kernels.floatTiles,
          ws.allSatisfy({ $0.type == first.type && $0.columns == first.columns && ($0.interleaved != nil) == interleaved }),
          !interleaved || (kernels.interleaved != nil && ws.allSatisfy { $0.rows % 8 == 0 }) else {
        for (i, w) in ws.enumerated() {
            matmul(w, input: x, output: outputs[i], count: count, scratch: scratch, pool: pool, after: i > 0 ? ws[i - 1] : nil)
        }
        return
    }
    let columns = first.columns, act = scratch.buffer
    let stride = QuantizedActivations.rowBytes(kernels.activationType, columns: columns)
    BlockFormat.quantizeActivations(kernels.activationType, x, act, count: columns)
    // Work units: 8-row panels of the interleaved copies, or rows (chunks a multiple of the four-row kernels').
    let units = ws.map { interleaved ? $0.rows / 8 : $0.rows }
    var grain = pool.grain(units.reduce(0, +))
    if !interleaved { grain = (grain + 3) / 4 * 4 }
    let chunkCounts = units.map { ($0 + grain - 1) / grain }
    let chunks = chunkCounts.reduce(0, +)
    withUnsafeTemporaryAllocation(of: (matrix: Int, start: Int).self, capacity: chunks) { list in
        var next = 0
        for (i, n) in chunkCounts.enumerated() {
            for c in 0..<n { list[next] = (i, c * grain); next += 1 }
        }
        if interleaved, let panels = kernels.interleaved {
            panels.prepare?(act, stride, 1, columns, scratch.prepared)
            let panelBytes = panels.panelBytes(columns)
            pool.parallelFor(chunks, grain: 1) { range, _ in
                for chunk in range {
                    let (i, start) = list[chunk], w = ws[i]
                    guard let copy = w.interleaved else { continue }
                    panels.multiply(copy + start * panelBytes, min(grain, units[i] - start), columns, act, stride, scratch.prepared,
                                    1, outputs[i] + 8 * start, w.rows)
                }
            }
        } else {
            pool.parallelFor(chunks, grain: 1) { range, _ in
                for chunk in range {
                    let (i, start) = list[chunk], w = ws[i]
                    BlockFormat.dot(w.type, rows: min(grain, units[i] - start), w.row(start), rowStride: w.rowBytes, act,
                                    count: columns, results: outputs[i] + start, resultStride: 1)
                }
            }
        }
    }
}
