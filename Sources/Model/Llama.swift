import GGUF
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// A Llama-family model bound to its weights in the mapping. Immutable; share it between contexts.
public final class LlamaModel: @unchecked Sendable {
    public let gguf: GGUFFile
    public let hyper: HyperParameters
    public let weights: ModelWeights

    /// `interleave`: see ModelWeights. `offloadedLayers` (the last ones) and `offloadedOutput` run on a GPU:
    /// their matrices are bound and checked but not interleaved, since the CPU never multiplies by them.
    public init(gguf: GGUFFile, interleave: Bool = true, offloadedLayers: Int = 0, offloadedOutput: Bool = false) throws {
        self.gguf = gguf
        hyper = try HyperParameters(gguf: gguf)
        weights = try ModelWeights(gguf: gguf, hyper: hyper, interleave: interleave,
                                   cpuLayers: hyper.blockCount - min(max(offloadedLayers, 0), hyper.blockCount),
                                   cpuOutput: !offloadedOutput)
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
}

/// The run state of the forward pass: KV cache plus every buffer, preallocated for `maxBatch` tokens, so a
/// forward pass allocates nothing. Not thread-safe: one forward pass at a time.
public final class InferenceContext: @unchecked Sendable {
    public let model: LlamaModel
    public let cache: KVCache
    public let maxBatch: Int
    public let pool: ThreadPool

    // Activations, one row per batch entry.
    private let x: UnsafeMutablePointer<Float>          // (maxBatch, embeddingLength) residual stream
    private let xb: UnsafeMutablePointer<Float>         // (maxBatch, embeddingLength) normalised input
    private let q: UnsafeMutablePointer<Float>          // (maxBatch, embeddingLength) queries
    private let k: UnsafeMutablePointer<Float>          // (maxBatch, kvDimension) new keys
    private let v: UnsafeMutablePointer<Float>          // (maxBatch, kvDimension) new values
    private let attention: UnsafeMutablePointer<Float>  // (maxBatch, embeddingLength) attention output
    private let projected: UnsafeMutablePointer<Float>  // (maxBatch, embeddingLength) wo / down output
    private let gate: UnsafeMutablePointer<Float>       // (maxBatch, feedForwardLength)
    private let up: UnsafeMutablePointer<Float>         // (maxBatch, feedForwardLength)
    private let scores: UnsafeMutablePointer<Float>     // (threads, contextLength) attention weights
    private let rope: UnsafeMutablePointer<Float>       // (maxBatch, ropeDimensionCount) cos/sin pairs
    private let activations: QuantizedActivations
    private var logitRows: UnsafeMutablePointer<Float>  // (rows, vocabularySize), grown on demand
    private var logitCapacity = 0
    /// Set once after creation, before the first forward pass: the layers it takes run there. When it fails,
    /// it is dropped (every layer runs on the CPU from then on) and `cacheEpoch` grows: the cache's contents
    /// for the layers it held are gone, so callers must forget every cached prefix.
    public var offload: LayerOffload?
    public private(set) var cacheEpoch = 0

    /// `cacheType`: F16 (llama.cpp's default) or F32 keys and values.
    public init(model: LlamaModel, contextLength: Int, sequences: Int = 1, maxBatch: Int = 512, threads: Int,
                cacheType: KVCache.ElementType = .f16) {
        let h = model.hyper
        self.model = model
        self.maxBatch = max(1, maxBatch)
        pool = ThreadPool(threads: threads)
        cache = KVCache(layerCount: h.blockCount, sequenceCount: max(1, sequences), contextLength: max(1, contextLength), kvDimension: h.kvDimension,
                        elementType: cacheType)
        let b = self.maxBatch, e = h.embeddingLength, ff = h.feedForwardLength, kv = h.kvDimension
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        x = buffer(b * e); xb = buffer(b * e); q = buffer(b * e); k = buffer(b * kv); v = buffer(b * kv)
        attention = buffer(b * e); projected = buffer(b * e); gate = buffer(b * ff); up = buffer(b * ff)
        scores = buffer(pool.activeThreads * cache.contextLength)
        rope = buffer(b * h.ropeDimensionCount)
        // F32 activations are the widest partner format (4 bytes per element); every other fits.
        activations = QuantizedActivations(capacity: b * max(e, ff) * 4 + 1024, columns: max(e, ff), tokens: b,
                                           threads: pool.activeThreads)
        logitRows = buffer(h.vocabularySize)
        logitCapacity = 1
    }

    deinit {
        for p in [x, xb, q, k, v, attention, projected, gate, up, scores, rope, logitRows] { p.deallocate() }
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
        let e = h.embeddingLength, kvDim = h.kvDimension

        // Token embeddings (a row lookup: dequantized exactly).
        for (i, entry) in batch.enumerated() {
            BlockFormat.dequantize(w.tokenEmbedding.type, w.tokenEmbedding.row(entry.token), x + i * e, count: e)
        }
        computeRope(batch)

        let cpuLayers = offload?.firstLayer ?? w.layers.count
        for (layer, lw) in w.layers.enumerated() where layer < cpuLayers {
            // Attention block: x += wo · attention(rope(wq · norm(x)), rope(wk · norm(x)), wv · norm(x))
            rmsNorm(x, lw.attentionNorm, into: xb, rows: n)
            matmul(lw.query, input: xb, output: q, count: n, scratch: activations, pool: pool)
            matmul(lw.key, input: xb, output: k, count: n, scratch: activations, pool: pool, after: lw.query)
            matmul(lw.value, input: xb, output: v, count: n, scratch: activations, pool: pool, after: lw.key)
            applyRope(q, heads: h.headCount, rows: n)
            applyRope(k, heads: h.headCountKV, rows: n)
            for (i, entry) in batch.enumerated() {
                let offset = cache.offset(layer: layer, sequence: entry.sequence, position: entry.position)
                if cache.elementType == .f16 {
                    for d in 0..<kvDim {
                        cache.keys16[offset + d] = Float16(k[i * kvDim + d])
                        cache.values16[offset + d] = Float16(v[i * kvDim + d])
                    }
                } else {
                    (cache.keys32 + offset).update(from: k + i * kvDim, count: kvDim)
                    (cache.values32 + offset).update(from: v + i * kvDim, count: kvDim)
                }
            }
            attend(batch, layer: layer)
            matmul(lw.attentionOutput, input: attention, output: projected, count: n, scratch: activations, pool: pool)
            for i in 0..<(n * e) { x[i] += projected[i] }

            // Feed-forward block: x += down(silu(gate · norm(x)) ⊙ (up · norm(x)))
            rmsNorm(x, lw.ffnNorm, into: xb, rows: n)
            matmul(lw.gate, input: xb, output: gate, count: n, scratch: activations, pool: pool)
            matmul(lw.up, input: xb, output: up, count: n, scratch: activations, pool: pool, after: lw.gate)
            Activations.swiGLU(gate: gate, up: up, width: h.feedForwardLength, rows: n)
            matmul(lw.down, input: gate, output: projected, count: n, scratch: activations, pool: pool)
            for i in 0..<(n * e) { x[i] += projected[i] }
        }

        if hidden {
            // The GPU worker keeps the last layers' output when it also computes the logits.
            if let offload, offload.includesOutput {
                throw ModelError.offloadFailed("embeddings need the output layer on the CPU (use a smaller -ngl)")
            }
            if let offload {
                do { try offload.run(hidden: x, rope: rope, batch: batch, wanted: [], logits: logitRows) } catch {
                    self.offload = nil
                    cacheEpoch += 1
                    throw ModelError.offloadFailed("\(error)")
                }
            }
            rmsNorm(x, w.outputNorm, into: xb, rows: n)
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
                self.offload = nil
                cacheEpoch += 1
                throw ModelError.offloadFailed("\(error)")
            }
            if offload.includesOutput { return UnsafeBufferPointer(start: logitRows, count: wanted.count * h.vocabularySize) }
        }
        guard !wanted.isEmpty else { return UnsafeBufferPointer(start: logitRows, count: 0) }
        for (row, i) in wanted.enumerated() { (projected + row * e).update(from: x + i * e, count: e) }
        rmsNorm(projected, w.outputNorm, into: xb, rows: wanted.count)
        matmul(w.output, input: xb, output: logitRows, count: wanted.count, scratch: activations, pool: pool)
        return UnsafeBufferPointer(start: logitRows, count: wanted.count * h.vocabularySize)
    }

    /// Forgets a sequence's cached positions from `position` on (nothing to clear: positions are overwritten).
    public func truncate(sequence: Int, to position: Int) {}

    // MARK: - Pieces of the forward pass

    /// RMSNorm: x · (1/sqrt(mean(x²) + eps)) · weight, the sum of squares in double as llama.cpp does.
    private func rmsNorm(_ input: UnsafeMutablePointer<Float>, _ weight: [Float], into output: UnsafeMutablePointer<Float>, rows: Int) {
        let e = model.hyper.embeddingLength
        let eps = model.hyper.rmsEpsilon
        weight.withUnsafeBufferPointer { wt in
            for r in 0..<rows {
                let src = input + r * e, dst = output + r * e
                var sum: Double = 0
                for i in 0..<e { sum += Double(src[i] * src[i]) }
                let mean = Float(sum / Double(e))
                let scale = 1 / (mean + eps).squareRoot()
                for i in 0..<e { dst[i] = src[i] * scale * wt[i] }
            }
        }
    }

    /// cos/sin per rotated pair for each entry's position. Angles follow llama.cpp: theta starts at the
    /// position and is multiplied by base^(-2/n_rot) in float32 per pair, then divided by rope_freqs[i].
    private func computeRope(_ batch: [BatchEntry]) {
        let h = model.hyper
        let pairs = h.ropeDimensionCount / 2
        let thetaScale = powf(h.ropeFreqBase, -2 / Float(h.ropeDimensionCount))
        let factors = model.weights.ropeFrequencies
        for (i, entry) in batch.enumerated() {
            var theta = Float(entry.position)
            let row = rope + i * h.ropeDimensionCount
            for p in 0..<pairs {
                let angle = theta / (factors?[p] ?? 1)
                row[2 * p] = cosf(angle)
                row[2 * p + 1] = sinf(angle)
                theta *= thetaScale
            }
        }
    }

    /// Rotates adjacent pairs (x[2i], x[2i+1]) of the first ropeDimensionCount elements of every head.
    private func applyRope(_ data: UnsafeMutablePointer<Float>, heads: Int, rows: Int) {
        let h = model.hyper
        let hd = h.headDimension, pairs = h.ropeDimensionCount / 2
        for r in 0..<rows {
            let cs = rope + r * h.ropeDimensionCount
            for head in 0..<heads {
                let vec = data + (r * heads + head) * hd
                for p in 0..<pairs {
                    let c = cs[2 * p], s = cs[2 * p + 1]
                    let a = vec[2 * p], b = vec[2 * p + 1]
                    vec[2 * p] = a * c - b * s
                    vec[2 * p + 1] = a * s + b * c
                }
            }
        }
    }

    /// Causal attention of each entry over its own sequence's cache, positions 0...position. Queries and the
    /// softmax weights are rounded to F16 before meeting the F16 cache, as llama.cpp's F16 matmuls do.
    private func attend(_ batch: [BatchEntry], layer: Int) {
        let h = model.hyper
        let hd = h.headDimension, kvDim = h.kvDimension
        let group = h.headCount / h.headCountKV
        let scale = 1 / Float(hd).squareRoot()
        let e = h.embeddingLength
        let ctx = cache.contextLength
        let keys = cache.keys16, values = cache.values16
        let keys32 = cache.keys32, values32 = cache.values32
        let half = cache.elementType == .f16
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
                let query = self.q + i * e + head * hd
                let base = self.cache.offset(layer: layer, sequence: entry.sequence, position: 0) + kvHead * hd
                let length = entry.position + 1
                if half {
                    for d in 0..<hd { query[d] = Attention.roundedToHalf(query[d]) }
                    Attention.scores(query, keys + base, stride: kvDim, length: length, headDim: hd,
                                     order: single ? .singleToken(hd) : .chains16, scale: scale, into: weights)
                } else {
                    Attention.scores(query, keys32 + base, stride: kvDim, length: length, headDim: hd, scale: scale, into: weights)
                }
                var maximum = -Float.infinity
                for t in 0..<length where weights[t] > maximum { maximum = weights[t] }
                let sum = Activations.softmaxExp(weights, count: length, maximum: maximum)
                let inverse = Float(1 / sum)
                let out = self.attention + i * e + head * hd
                if half {
                    for t in 0..<length { weights[t] = Attention.roundedToHalf(weights[t] * inverse) }
                    // llama.cpp's single-token path sums over its padded cache view: 32-position steps.
                    let padded = min(ctx, max(32, (length + 31) / 32 * 32))
                    Attention.weightedSum(weights, values + base, stride: kvDim, length: length, headDim: hd,
                                          order: single ? .singleToken(padded) : .chains16, into: out)
                } else {
                    for t in 0..<length { weights[t] *= inverse }
                    Attention.weightedSum(weights, values32 + base, stride: kvDim, length: length, headDim: hd, into: out)
                }
            }
        }
    }
}
