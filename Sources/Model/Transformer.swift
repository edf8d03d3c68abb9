import GGUF
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// A decoder-only transformer (any architecture of `Architecture.registry`) bound to its weights in the
/// mapping. Immutable; share it between contexts.
public final class TransformerModel: @unchecked Sendable {
    public let gguf: GGUFFile
    public let hyper: HyperParameters
    public let weights: ModelWeights

    /// `interleave`: see ModelWeights. `offloadedLayers` (the last ones) and `offloadedOutput` run on a GPU:
    /// their matrices are bound and checked but not interleaved, since the CPU never multiplies by them.
    public init(gguf: GGUFFile, interleave: Bool = true, offloadedLayers: Int = 0, offloadedOutput: Bool = false) throws {
        self.gguf = gguf
        hyper = try HyperParameters(gguf: gguf)
        do {
            weights = try ModelWeights(gguf: gguf, hyper: hyper, interleave: interleave,
                                       cpuLayers: hyper.blockCount - min(max(offloadedLayers, 0), hyper.blockCount),
                                       cpuOutput: !offloadedOutput)
        } catch let error as ModelError {
            // Tensor names are the same for every architecture: say which one expected them.
            throw ModelError.inArchitecture(hyper.architecture, error)
        }
    }
}

/// One token to evaluate: its id, its position in its sequence, which sequence (KV-cache slot), and whether
/// the caller wants its logits.
public struct BatchEntry: Sendable, Equatable {
    public var token: Int
    public var position: Int
    public var sequence: Int
    public var wantsLogits: Bool
    public init(token: Int, position: Int, sequence: Int = 0, wantsLogits: Bool) {
        self.token = token; self.position = position; self.sequence = sequence; self.wantsLogits = wantsLogits
    }
}

/// Layers that run somewhere else (the GPU worker): the last `blockCount - firstLayer` transformer blocks
/// and, when `includesOutput`, the final norm and output matrix too. The CPU computes the embeddings,
/// the rope table and the layers below `firstLayer`, then hands the residual stream over.
public protocol LayerOffload: AnyObject {
    var firstLayer: Int { get }
    var includesOutput: Bool { get }
    /// `hidden`: n × embeddingLength rows (replaced by the last layer's output when the output stays on
    /// the CPU); `rope`: n × ropeDimensionCount cos/sin values; `wanted`: batch rows whose logits are
    /// written to `logits` (rows of vocabularySize) when `includesOutput`.
    func run(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry], wanted: [Int],
             logits: UnsafeMutablePointer<Float>) throws
    /// As `run`, but `hidden` always receives the last layer's output (embeddings), the output layer unused.
    func runHidden(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry]) throws
    /// Context shift of `sequence` in the offloaded layers' caches, as InferenceContext.shift does in the CPU's:
    /// `turns` is the −discard rotation (ropeDimensionCount cos/sin values).
    func shift(sequence: Int, keep: Int, discard: Int, count: Int, turns: UnsafePointer<Float>) throws
}

/// The run state of the forward pass: KV cache plus every buffer, preallocated for `maxBatch` tokens, so a
/// forward pass allocates nothing. Not thread-safe: one forward pass at a time.
public final class InferenceContext: @unchecked Sendable {
    public let model: TransformerModel
    public let cache: KVCache
    public let maxBatch: Int
    public let pool: ThreadPool

    // Activations, one row per batch entry.
    private let x: UnsafeMutablePointer<Float>          // (maxBatch, embeddingLength) residual stream
    private let xb: UnsafeMutablePointer<Float>         // (maxBatch, embeddingLength) normalised input
    private let q: UnsafeMutablePointer<Float>          // (maxBatch, queryDimension) queries
    private let k: UnsafeMutablePointer<Float>          // (maxBatch, kvDimension) new keys
    private let v: UnsafeMutablePointer<Float>          // (maxBatch, kvDimension) new values
    private let attention: UnsafeMutablePointer<Float>  // (maxBatch, queryDimension) attention output
    private let projected: UnsafeMutablePointer<Float>  // (maxBatch, embeddingLength) wo / down output
    private let gate: UnsafeMutablePointer<Float>       // (maxBatch, feedForwardLength)
    private let up: UnsafeMutablePointer<Float>         // (maxBatch, feedForwardLength)
    private let scores: UnsafeMutablePointer<Float>     // (threads, contextLength) attention weights
    /// Prompt attention in tiles (attendInTiles): `tilePositions` consecutive positions × the heads of one
    /// KV head; each thread's tile weights are rows of contextLength + 16 (zero-padded to 16 positions).
    private let tilePositions: Int
    private let tileQueries: Int
    private let tileWeights: UnsafeMutablePointer<Float> // (threads, tileQueries, contextLength + 16), touched as used
    private let rope: UnsafeMutablePointer<Float>       // (2, maxBatch, ropeDimensionCount) cos/sin pairs: global, sliding layers
    /// Per-pair RoPE divisors: Llama 3.1's rope_freqs, else Phi-3's long or short factors for this context.
    private let ropeDivisors: [Float]?
    private let activations: QuantizedActivations
    private var logitRows: UnsafeMutablePointer<Float>  // (rows, vocabularySize), grown on demand
    private var logitCapacity = 0
    /// Set once after creation, before the first forward pass: the layers it takes run there. When it fails,
    /// it is dropped (every layer runs on the CPU from then on) and `cacheEpoch` grows: the cache's contents
    /// for the layers it held are gone, so callers must forget every cached prefix.
    public var offload: LayerOffload?
    public private(set) var cacheEpoch = 0

    /// `cacheFormat`: the types of the cached keys and values (F16, llama.cpp's default; F32; Q8_0; Q4_0).
    /// `cachedLayers`: the layers whose cache lives here (nil: all); the others run where `offload` takes them.
    public init(model: TransformerModel, contextLength: Int, sequences: Int = 1, maxBatch: Int = 512, threads: Int,
                cacheFormat: KVCache.Format = .f16, cachedLayers: Int? = nil) {
        let h = model.hyper
        self.model = model
        self.maxBatch = max(1, maxBatch)
        pool = ThreadPool(threads: threads)
        cache = KVCache(layerCount: h.blockCount, sequenceCount: max(1, sequences), contextLength: max(1, contextLength), kvDimension: h.kvDimension,
                        format: cacheFormat, allocatedLayers: cachedLayers)
        let b = self.maxBatch, e = h.embeddingLength, ff = h.feedForwardLength, kv = h.kvDimension, qd = h.queryDimension
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        x = buffer(b * e); xb = buffer(b * e); q = buffer(b * qd); k = buffer(b * kv); v = buffer(b * kv)
        attention = buffer(b * qd); projected = buffer(b * e); gate = buffer(b * ff); up = buffer(b * ff)
        scores = buffer(pool.activeThreads * cache.contextLength)
        tilePositions = max(1, 16 / max(1, h.headCount / max(1, h.headCountKV)))
        tileQueries = tilePositions * max(1, h.headCount / max(1, h.headCountKV))
        tileWeights = .allocate(capacity: pool.activeThreads * tileQueries * (cache.contextLength + 16))
        rope = buffer(2 * b * h.ropeDimensionCount)
        let w = model.weights
        ropeDivisors = w.ropeFrequencies ?? (cache.contextLength > h.ropeOriginalContext ? w.ropeFactorsLong : w.ropeFactorsShort)
        // F32 activations are the widest partner format (4 bytes per element); every other fits.
        let widest = max(e, ff, qd)
        activations = QuantizedActivations(capacity: b * widest * 4 + 1024, columns: widest, tokens: b,
                                           threads: pool.activeThreads)
        logitRows = buffer(h.vocabularySize)
        logitCapacity = 1
    }

    deinit {
        for p in [x, xb, q, k, v, attention, projected, gate, up, scores, tileWeights, rope, logitRows] { p.deallocate() }
        activations.deallocate()
    }

    public var contextLength: Int { cache.contextLength }

    /// Runs the transformer over `batch` (at most `maxBatch` entries), writing keys and values into the cache,
    /// and returns the logits of the entries that asked for them, in batch order (rows of vocabularySize).
    /// With `hidden`, instead the final-normed hidden state of every entry (rows of embeddingLength, for
    /// embeddings), valid until the next call.
    public func forward(_ batch: [BatchEntry], hidden: Bool = false) throws -> UnsafeBufferPointer<Float> {
        let h = model.hyper, w = model.weights
        let n = batch.count
        guard n > 0 else { return UnsafeBufferPointer(start: logitRows, count: 0) }
        guard n <= maxBatch else { throw ModelError.badHyperParameter(key: "batch", reason: "\(n) tokens exceed the batch size \(maxBatch)") }
        for entry in batch {
            guard (0..<h.vocabularySize).contains(entry.token) else { throw ModelError.badToken(id: entry.token, vocabularySize: h.vocabularySize) }
            guard (0..<cache.contextLength).contains(entry.position) else { throw ModelError.contextTooLong(prompt: entry.position + 1, context: cache.contextLength) }
            guard (0..<cache.sequenceCount).contains(entry.sequence) else { throw ModelError.badHyperParameter(key: "sequence", reason: "\(entry.sequence) is not a cache slot") }
        }
        let e = h.embeddingLength, kvDim = h.kvDimension, hd = h.headDimension
        let t = h.traits

        // Token embeddings (a row lookup: dequantized exactly), scaled by √e where the architecture says so.
        for (i, entry) in batch.enumerated() {
            BlockFormat.dequantize(w.tokenEmbedding.type, w.tokenEmbedding.row(entry.token), x + i * e, count: e)
        }
        if t.scalesEmbedding {
            let scale = Float(e).squareRoot()
            for i in 0..<(n * e) { x[i] *= scale }
        }
        computeRope(batch)

        let cpuLayers = offload?.firstLayer ?? w.layers.count
        if cache.allocatedLayers < cpuLayers { cache.allocateEveryLayer() }  // no GPU holds the rest (any more)
        for (layer, lw) in w.layers.enumerated() where layer < cpuLayers {
            // Attention block: x += norm?(wo · attention(rope(norm?(wq · norm(x))), rope(norm?(wk · norm(x))), wv · norm(x)))
            rmsNorm(x, lw.attentionNorm, into: xb, rows: n, width: e)
            matmul([lw.query, lw.key, lw.value], input: xb, outputs: [q, k, v], count: n, scratch: activations, pool: pool)
            addBias(lw.queryBias, to: q, rows: n)
            addBias(lw.keyBias, to: k, rows: n)
            addBias(lw.valueBias, to: v, rows: n)
            if let norm = lw.queryNorm { rmsNorm(q, norm, into: q, rows: n * h.headCount, width: hd) }
            if let norm = lw.keyNorm { rmsNorm(k, norm, into: k, rows: n * h.headCountKV, width: hd) }
            let table = rope + (h.slidingLayers[layer] ? maxBatch * h.ropeDimensionCount : 0)
            applyRope(q, table, heads: h.headCount, rows: n)
            applyRope(k, table, heads: h.headCountKV, rows: n)
            for (i, entry) in batch.enumerated() {
                cache.store(layer: layer, sequence: entry.sequence, position: entry.position, key: k + i * kvDim, value: v + i * kvDim)
            }
            attend(batch, layer: layer)
            matmul(lw.attentionOutput, input: attention, output: projected, count: n, scratch: activations, pool: pool)
            addBias(lw.attentionOutputBias, to: projected, rows: n)
            if let norm = lw.postAttentionNorm { rmsNorm(projected, norm, into: projected, rows: n, width: e) }
            for i in 0..<(n * e) { x[i] += projected[i] }

            // Feed-forward block: x += norm?(down(act(gate · norm(x)) ⊙ (up · norm(x)))), act = SiLU or GELU
            rmsNorm(x, lw.ffnNorm, into: xb, rows: n, width: e)
            matmul([lw.gate, lw.up], input: xb, outputs: [gate, up], count: n, scratch: activations, pool: pool)
            switch t.activation {
            case .silu: Activations.swiGLU(gate: gate, up: up, width: h.feedForwardLength, rows: n)
            case .geluTanh: Activations.geGLU(gate: gate, up: up, width: h.feedForwardLength, rows: n)
            }
            matmul(lw.down, input: gate, output: projected, count: n, scratch: activations, pool: pool)
            if let norm = lw.postFFNNorm { rmsNorm(projected, norm, into: projected, rows: n, width: e) }
            for i in 0..<(n * e) { x[i] += projected[i] }
        }

        if hidden {
            if let offload {
                do { try offload.runHidden(hidden: x, rope: rope, batch: batch) } catch {
                    throw offloadLost(error)
                }
            }
            rmsNorm(x, w.outputNorm, into: xb, rows: n, width: e)
            return UnsafeBufferPointer(start: xb, count: n * e)
        }

        // Final norm and output projection, only for the rows whose logits are wanted.
        let wanted = batch.indices.filter { batch[$0].wantsLogits }
        if wanted.count > logitCapacity {
            logitRows.deallocate()
            logitRows = .allocate(capacity: wanted.count * h.vocabularySize)
            logitCapacity = wanted.count
        }
        if let offload {
            do {
                try offload.run(hidden: x, rope: rope, batch: batch, wanted: wanted, logits: logitRows)
            } catch {
                throw offloadLost(error)
            }
            if offload.includesOutput { return UnsafeBufferPointer(start: logitRows, count: wanted.count * h.vocabularySize) }
        }
        guard !wanted.isEmpty else { return UnsafeBufferPointer(start: logitRows, count: 0) }
        for (row, i) in wanted.enumerated() { (projected + row * e).update(from: x + i * e, count: e) }
        rmsNorm(projected, w.outputNorm, into: xb, rows: wanted.count, width: e)
        matmul(w.output, input: xb, output: logitRows, count: wanted.count, scratch: activations, pool: pool)
        addBias(w.outputBias, to: logitRows, rows: wanted.count)
        if let cap = h.finalLogitSoftcap {
            // As llama.cpp: scale by 1/cap, tanh, scale by cap.
            let inverse = 1 / cap
            for i in 0..<(wanted.count * h.vocabularySize) { logitRows[i] = cap * tanhf(logitRows[i] * inverse) }
        }
        return UnsafeBufferPointer(start: logitRows, count: wanted.count * h.vocabularySize)
    }

    /// Forgets a sequence's cached positions from `position` on (nothing to clear: positions are overwritten).
    public func truncate(sequence: Int, to position: Int) {}

    // MARK: - Pieces of the forward pass

    /// RMSNorm over rows of `width`: x · (1/sqrt(mean(x²) + eps)) · weight, the sum of squares in double as
    /// llama.cpp does. `output` may be `input`.
    private func rmsNorm(_ input: UnsafeMutablePointer<Float>, _ weight: [Float], into output: UnsafeMutablePointer<Float>,
                         rows: Int, width: Int) {
        let eps = model.hyper.rmsEpsilon
        weight.withUnsafeBufferPointer { wt in
            for r in 0..<rows {
                let src = input + r * width, dst = output + r * width
                var sum: Double = 0
                for i in 0..<width { sum += Double(src[i] * src[i]) }
                let mean = Float(sum / Double(width))
                let scale = 1 / (mean + eps).squareRoot()
                for i in 0..<width { dst[i] = src[i] * scale * wt[i] }
            }
        }
    }

    /// Adds `bias` (one value per column) to every row.
    private func addBias(_ bias: [Float]?, to data: UnsafeMutablePointer<Float>, rows: Int) {
        guard let bias else { return }
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows {
                let row = data + r * b.count
                for i in 0..<b.count { row[i] += b[i] }
            }
        }
    }

    /// cos/sin per rotated pair for each entry's position: one table for the global layers and one for the
    /// sliding ones (their own base).
    private func computeRope(_ batch: [BatchEntry]) {
        let h = model.hyper
        let tables = h.slidingLayers.contains(true) ? 2 : 1
        for table in 0..<tables {
            for (i, entry) in batch.enumerated() {
                ropeRow(position: entry.position, table: table, factor: h.ropeAttentionFactor,
                        into: rope + (table * maxBatch + i) * h.ropeDimensionCount)
            }
        }
    }

    /// One position's cos/sin pairs in table 0 (global layers) or 1 (sliding layers), times `factor`. Angles
    /// follow llama.cpp: theta starts at position × scale and is multiplied by base^(-2/n_rot) in float32 per
    /// pair, then divided by the pair's divisor.
    private func ropeRow(position: Int, table: Int, factor: Float, into row: UnsafeMutablePointer<Float>) {
        let h = model.hyper
        let (base, scale) = table == 0 ? (h.ropeFreqBase, h.ropeFreqScale) : (h.slidingRopeBase, h.slidingRopeScale)
        let thetaScale = powf(base, -2 / Float(h.ropeDimensionCount))
        var theta = Float(position)
        for p in 0..<(h.ropeDimensionCount / 2) {
            let angle = scale * theta / (ropeDivisors?[p] ?? 1)
            row[2 * p] = cosf(angle) * factor
            row[2 * p + 1] = sinf(angle) * factor
            theta *= thetaScale
        }
    }

    /// The offload failed: every layer runs on the CPU from now on, and the offloaded layers' cached context
    /// is gone (cacheEpoch).
    private func offloadLost(_ error: Error) -> ModelError {
        offload = nil
        cache.allocateEveryLayer()
        cacheEpoch += 1
        return ModelError.offloadFailed("\(error)")
    }

    /// Context shift of `sequence`, whose positions 0..<count are filled: positions keep..<keep+discard are
    /// forgotten and the later ones move down by `discard`. A RoPE angle is linear in the position, so each
    /// moved key turns to its new position by one rotation of −discard (its layer's table); values move as
    /// they are. The caller forgets the dropped tokens (Generator does).
    public func shift(sequence: Int, keep: Int, discard: Int, count: Int) throws {
        guard (0..<cache.sequenceCount).contains(sequence), keep >= 0, discard > 0, count <= cache.contextLength,
              keep <= count - discard else {
            throw ModelError.badHyperParameter(key: "context shift", reason: "keep \(keep), discard \(discard) of \(count) positions")
        }
        let h = model.hyper
        let tables = h.slidingLayers.contains(true) ? 2 : 1
        let turns = UnsafeMutablePointer<Float>.allocate(capacity: tables * h.ropeDimensionCount)
        defer { turns.deallocate() }
        for table in 0..<tables {
            ropeRow(position: -discard, table: table, factor: 1, into: turns + table * h.ropeDimensionCount)
        }
        cache.shift(sequence: sequence, keep: keep, discard: discard, count: count) { layer, row in
            let table = turns + (h.slidingLayers[layer] ? h.ropeDimensionCount : 0)
            applyRope(row, table, heads: h.headCountKV, rows: 1)
        }
        // The offloaded layers (no sliding ones: their blocker) shift where their cache is.
        if let offload {
            do {
                try offload.shift(sequence: sequence, keep: keep, discard: discard, count: count, turns: turns)
            } catch {
                throw offloadLost(error)
            }
        }
    }

    /// Rotates the first ropeDimensionCount elements of every head: adjacent pairs (x[2i], x[2i+1]) as Llama,
    /// or halves (x[i], x[i + n/2]) as NeoX.
    private func applyRope(_ data: UnsafeMutablePointer<Float>, _ table: UnsafePointer<Float>, heads: Int, rows: Int) {
        let h = model.hyper
        let hd = h.headDimension, pairs = h.ropeDimensionCount / 2
        let (first, second) = h.traits.rope == .adjacentPairs ? (2, 1) : (1, pairs)
        for r in 0..<rows {
            let cs = table + r * h.ropeDimensionCount
            for head in 0..<heads {
                let vec = data + (r * heads + head) * hd
                for p in 0..<pairs {
                    let c = cs[2 * p], s = cs[2 * p + 1]
                    let i = first * p, j = first * p + second
                    let a = vec[i], b = vec[j]
                    vec[i] = a * c - b * s
                    vec[j] = a * s + b * c
                }
            }
        }
    }

    /// Causal attention of each entry over its own sequence's cache, positions 0...position. With an F16
    /// cache the queries and the softmax weights are rounded to F16 before meeting it, as llama.cpp's F16
    /// matmuls do; quantized keys meet the query quantized to Q8_0, quantized values the weights in F32.
    private func attend(_ batch: [BatchEntry], layer: Int) {
        let h = model.hyper
        let hd = h.headDimension, kvDim = h.kvDimension
        let group = h.headCount / h.headCountKV
        let qd = h.queryDimension
        // A sliding layer sees the last `window` positions, its own included.
        let window = h.slidingLayers[layer] ? (h.slidingWindow ?? Int.max) : Int.max
        if batch.count > 1, window == Int.max, cache.format.values == .f16 {
            attendInTiles(batch, layer: layer)
            return
        }
        let ctx = cache.contextLength
        let cache = self.cache
        let valueType = cache.format.values
        let work = batch.count * h.headCount
        let entries = batch
        let n = batch.count
        // One token sums as llama.cpp's vec_dot, batches as its tinyBLAS (Attention.SummationOrder).
        let single = n == 1
        // Head-major items: each thread's contiguous range holds every batch position of a few heads,
        // so causal prompts (short early rows, long late rows) split evenly between threads.
        pool.parallelFor(work) { range, thread in
            let weights = self.scores + thread * ctx
            for item in range {
                let head = item / n, i = item % n
                let entry = entries[i]
                let kvHead = head / group
                let start = window > entry.position ? 0 : entry.position + 1 - window
                let length = entry.position + 1 - start
                let keys = UnsafeRawPointer(cache.keyRow(layer: layer, sequence: entry.sequence, position: start))
                    + cache.keyHeadOffset(kvHead, headDimension: hd)
                let values = UnsafeRawPointer(cache.valueRow(layer: layer, sequence: entry.sequence, position: start))
                    + cache.valueHeadOffset(kvHead, headDimension: hd)
                let query = self.q + i * qd + head * hd
                self.prepareQuery(query)
                self.queryScores(query, keys: keys, length: length, single: single, into: weights)
                let inverse = Self.softmaxInverse(weights, count: length)
                let out = self.attention + i * qd + head * hd
                switch valueType {
                case .f16:
                    Attention.scaleRoundedToHalf(weights, count: length, scale: inverse)
                    // llama.cpp's single-token path sums over its padded cache view: 32-position steps.
                    let padded = min(ctx, max(32, (length + 31) / 32 * 32))
                    Attention.weightedSum(weights, values.assumingMemoryBound(to: Float16.self), stride: kvDim, length: length,
                                          headDim: hd, order: single ? .singleToken(padded) : .chains16, into: out)
                case .f32:
                    for t in 0..<length { weights[t] *= inverse }
                    Attention.weightedSum(weights, values.assumingMemoryBound(to: Float.self), stride: kvDim, length: length,
                                          headDim: hd, into: out)
                case .q8_0, .q4_0:
                    for t in 0..<length { weights[t] *= inverse }
                    Attention.weightedSum(weights, quantized: values, type: valueType.tensorType, rowBytes: cache.valueRowBytes,
                                          length: length, headDim: hd, into: out)
                }
            }
        }
    }

    /// Prompt batches over an F16 value cache without a window: the heads that share a KV head, at a few
    /// consecutive positions of one sequence, form a tile whose keys and value rows are read and widened
    /// once for all of them (Attention.scores / weightedSums over several queries). The results are the
    /// same bits as `attend`'s.
    private func attendInTiles(_ batch: [BatchEntry], layer: Int) {
        let h = model.hyper
        let hd = h.headDimension, kvDim = h.kvDimension, qd = h.queryDimension
        let group = h.headCount / h.headCountKV
        let cache = self.cache
        let rowLength = cache.contextLength + 16
        var tiles: [Range<Int>] = []
        var first = 0
        while first < batch.count {
            var end = first + 1
            while end < batch.count, end - first < tilePositions, batch[end].sequence == batch[first].sequence,
                  batch[end].position == batch[end - 1].position + 1 { end += 1 }
            tiles.append(first..<end)
            first = end
        }
        let entries = batch, runs = tiles, capacity = tileQueries
        let sharedKeys = cache.format.keys == .f16
        pool.parallelFor(h.headCountKV * runs.count) { range, thread in
            let weights = self.tileWeights + thread * capacity * rowLength
            withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { lengths in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: 2 * capacity) { pointers in
                    let queries = pointers.baseAddress!, outputs = pointers.baseAddress! + capacity
                    for item in range {
                        let kvHead = item / runs.count, tile = runs[item % runs.count]
                        let sequence = entries[tile.lowerBound].sequence
                        let keys = UnsafeRawPointer(cache.keyRow(layer: layer, sequence: sequence, position: 0))
                            + cache.keyHeadOffset(kvHead, headDimension: hd)
                        var count = 0
                        for i in tile {
                            for head in (kvHead * group)..<((kvHead + 1) * group) {
                                lengths[count] = entries[i].position + 1
                                queries[count] = self.q + i * qd + head * hd
                                outputs[count] = self.attention + i * qd + head * hd
                                self.prepareQuery(queries[count])
                                count += 1
                            }
                        }
                        if sharedKeys {
                            queries.withMemoryRebound(to: UnsafePointer<Float>.self, capacity: count) { shared in
                                Attention.scores(shared, lengths: UnsafePointer(lengths.baseAddress!), count: count,
                                                 keys.assumingMemoryBound(to: Float16.self), stride: kvDim, headDim: hd,
                                                 scale: self.keyScale, into: weights, rowStride: rowLength)
                            }
                        } else {
                            for c in 0..<count {
                                self.queryScores(queries[c], keys: keys, length: lengths[c], single: false, into: weights + c * rowLength)
                            }
                        }
                        for c in 0..<count {
                            let row = weights + c * rowLength, length = lengths[c]
                            Attention.scaleRoundedToHalf(row, count: length, scale: Self.softmaxInverse(row, count: length))
                            for t in length..<((length + 15) & ~15) { row[t] = 0 }
                        }
                        let values = UnsafeRawPointer(cache.valueRow(layer: layer, sequence: sequence, position: 0))
                            + cache.valueHeadOffset(kvHead, headDimension: hd)
                        Attention.weightedSums(weights, weightStride: rowLength, lengths: UnsafePointer(lengths.baseAddress!),
                                               queries: count, values.assumingMemoryBound(to: Float16.self), stride: kvDim,
                                               headDim: hd, outputs: UnsafePointer(outputs))
                    }
                }
            }
        }
    }

    /// The scale applied to the scores (1 where the architecture scales the queries instead).
    private var keyScale: Float { model.hyper.traits.scalesQuery ? 1 : model.hyper.attentionScale }

    /// A query made ready for its keys: scaled where the architecture scales queries, rounded to F16 values
    /// for F16 keys (as llama.cpp's F16 matrix products round it).
    @inline(__always)
    private func prepareQuery(_ query: UnsafeMutablePointer<Float>) {
        let h = model.hyper
        if h.traits.scalesQuery && h.attentionScale != 1 { for d in 0..<h.headDimension { query[d] *= h.attentionScale } }
        if cache.format.keys == .f16 { for d in 0..<h.headDimension { query[d] = Attention.roundedToHalf(query[d]) } }
    }

    /// One prepared query's scores over `length` keys from `keys` (one head's slice of the first row) in the
    /// cache's key type.
    @inline(__always)
    private func queryScores(_ query: UnsafeMutablePointer<Float>, keys: UnsafeRawPointer, length: Int, single: Bool,
                             into weights: UnsafeMutablePointer<Float>) {
        let hd = model.hyper.headDimension, kvDim = model.hyper.kvDimension
        switch cache.format.keys {
        case .f16:
            Attention.scores(query, keys.assumingMemoryBound(to: Float16.self), stride: kvDim, length: length, headDim: hd,
                             order: single ? .singleToken(hd) : .chains16, scale: keyScale, into: weights)
        case .f32:
            Attention.scores(query, keys.assumingMemoryBound(to: Float.self), stride: kvDim, length: length, headDim: hd,
                             scale: keyScale, into: weights)
        case .q8_0, .q4_0:
            Attention.scores(query, quantized: keys, type: cache.format.keys.tensorType, rowBytes: cache.keyRowBytes,
                             length: length, headDim: hd, scale: keyScale, into: weights)
        }
    }

    /// Scores exponentiated against their maximum, in place; returns 1 / their sum (the softmax weights are
    /// the results times it).
    @inline(__always)
    private static func softmaxInverse(_ weights: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var maximum = -Float.infinity
        for t in 0..<count where weights[t] > maximum { maximum = weights[t] }
        return Float(1 / Activations.softmaxExp(weights, count: count, maximum: maximum))
    }
}
