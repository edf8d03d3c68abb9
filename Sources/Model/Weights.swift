import Dispatch
import GGUF
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Owns the copies of a model's matrices made at load: interleaved where the format has a layout for it
/// (InterleavedWeights), else — for weights in a file mapping — the bytes as they are. Both live on 2 MiB pages
/// where the kernel grants them: decode streams every matrix once per token, and a TLB entry then covers 2 MiB
/// instead of 4 KiB (1B-shaped Q6_K decode on 2 threads, Zen 4: 30.1 → 32.1 tokens/s, medians of 5 rounds).
/// Where memory for a copy is refused, the matrix stays in place.
final class WeightCopies: @unchecked Sendable {
    private(set) var buffers: [UnsafeMutableRawPointer] = []
    private(set) var interleavedBytes = 0

    /// A copy of `m`, interleaved when its format has a layout. When the weights are a file mapping
    /// (`releasePages`), the original's pages are then released from our resident set (they stay in the page
    /// cache; token-embedding lookups fault back only the rows they read). Heap buffers are left alone, and
    /// get no plain copy (it would only double their memory).
    func copy(_ m: WeightMatrix, releasePages: Bool) -> WeightMatrix {
        let interleaved = InterleavedWeights.supports(m.type, rows: m.rows, columns: m.columns)
        guard interleaved || releasePages else { return m }
        let (original, overflow) = m.rows.multipliedReportingOverflow(by: m.rowBytes)
        let bytes = interleaved ? InterleavedWeights.byteCount(m.type, rows: m.rows, columns: m.columns) : original
        guard !overflow, bytes > 0, let buffer = Self.allocate(bytes) else { return m }
        var copy = m
        if interleaved {
            // A pass over the weights that reads from the page cache: split across the cores.
            let panels = m.rows / 8, parts = max(1, min(physicalCoreCount(), panels))
            let destination = Int(bitPattern: buffer)  // (a raw pointer is not Sendable)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                guard let out = UnsafeMutableRawPointer(bitPattern: destination) else { return }
                InterleavedWeights.interleave(m.type, m.data, rowBytes: m.rowBytes, columns: m.columns,
                                              panels: (panels * part / parts)..<(panels * (part + 1) / parts), into: out)
            }
            copy.interleaved = UnsafeRawPointer(buffer)
            interleavedBytes += bytes
        } else {
            let parts = max(1, min(physicalCoreCount(), m.rows))
            let (source, destination) = (Int(bitPattern: m.data), Int(bitPattern: buffer))
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let first = m.rows * part / parts, end = m.rows * (part + 1) / parts
                guard let from = UnsafeRawPointer(bitPattern: source), let to = UnsafeMutableRawPointer(bitPattern: destination) else { return }
                (to + first * m.rowBytes).copyMemory(from: from + first * m.rowBytes, byteCount: (end - first) * m.rowBytes)
            }
            copy = WeightMatrix(name: m.name, data: UnsafeRawPointer(buffer), type: m.type, columns: m.columns, rows: m.rows,
                                rowBytes: m.rowBytes)
        }
        buffers.append(buffer)
        #if os(Linux)
        if releasePages {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (Int(bitPattern: m.data) + page - 1) / page * page
            let end = (Int(bitPattern: m.data) + original) / page * page
            if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
                _ = madvise(pointer, end - start, MADV_DONTNEED)
            }
        }
        #endif
        return copy
    }

    /// `bytes` aligned to a 2 MiB page when at least that large, with huge pages asked for before the first write
    /// faults pages in; nil when refused.
    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let hugePage = 2 << 20
        var pointer: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&pointer, bytes >= hugePage ? hugePage : 64, bytes) == 0, let buffer = pointer else { return nil }
        #if os(Linux)
        if bytes >= hugePage { _ = madvise(buffer, bytes / hugePage * hugePage, MADV_HUGEPAGE) }
        #endif
        return buffer
    }

    deinit { for b in buffers { free(b) } }
}

/// One transformer block's weights. Matrices fused in the file (`attn_qkv`, Phi-3's gate+up `ffn_up`) are
/// bound as row ranges of it: the forward pass sees separate q, k, v, gate and up matrices either way.
public struct LayerWeights: @unchecked Sendable {
    public let attentionNorm: [Float]   // (embeddingLength)
    public let query: WeightMatrix      // (embeddingLength) -> (queryDimension)
    public let key: WeightMatrix        // (embeddingLength) -> (kvDimension)
    public let value: WeightMatrix      // (embeddingLength) -> (kvDimension)
    public let queryBias: [Float]?
    public let keyBias: [Float]?
    public let valueBias: [Float]?
    public let queryNorm: [Float]?      // (headDimension), applied to every head
    public let keyNorm: [Float]?
    public let attentionOutput: WeightMatrix  // (queryDimension) -> (embeddingLength)
    public let attentionOutputBias: [Float]?
    public let postAttentionNorm: [Float]?
    public let ffnNorm: [Float]         // (embeddingLength)
    public let gate: WeightMatrix       // (embeddingLength) -> (feedForwardLength)
    public let up: WeightMatrix
    public let down: WeightMatrix       // (feedForwardLength) -> (embeddingLength)
    public let postFFNNorm: [Float]?
    /// q, k and v are rows of one `attn_qkv` matrix in the file.
    public let fusedQKV: Bool
}

/// All weights bound by canonical name, every shape checked against the hyper-parameters.
public struct ModelWeights: @unchecked Sendable {
    public let tokenEmbedding: WeightMatrix
    public let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the model ties them.
    public let output: WeightMatrix
    public let outputIsTied: Bool
    public let outputBias: [Float]?
    /// Llama 3.1 long-context divisors, one per rotated pair; nil when absent.
    public let ropeFrequencies: [Float]?
    /// Phi-3 LongRoPE divisors for contexts beyond the original one, and within it.
    public let ropeFactorsLong: [Float]?
    public let ropeFactorsShort: [Float]?
    public let layers: [LayerWeights]
    /// Bytes of interleaved copies made at load (0 when `interleave` was off or no format has one).
    public var interleavedBytes: Int { storage.interleavedBytes }
    private let storage: WeightCopies

    /// Why the GPU worker cannot compute this model's layers (it knows only the Llama block: separate q/k/v
    /// without biases, no extra norms, SwiGLU, adjacent-pair RoPE, no window, heads that tile the embedding);
    /// nil when it can.
    public static func offloadBlocker(gguf: GGUFFile, hyper h: HyperParameters) -> String? {
        let t = h.traits
        let plain = t.rope == .adjacentPairs && t.activation == .silu && !t.queryKeyNorms && !t.postNorms
            && !t.scalesEmbedding && !t.fusedGateUp && h.slidingWindow == nil && h.queryDimension == h.embeddingLength
            && h.ropeFreqScale == 1 && h.ropeAttentionFactor == 1 && h.finalLogitSoftcap == nil
        let extras = [TensorName.outputBias, TensorName.queryKeyValue(0), TensorName.queryBias(0), TensorName.keyBias(0),
                      TensorName.valueBias(0), TensorName.attentionOutputBias(0)]
        guard plain, !extras.contains(where: { gguf.tensor(named: $0) != nil }) else {
            return "the GPU kernels compute the plain llama block only, not this \(h.architecture) model"
        }
        return nil
    }

    /// `interleave`: copy the matrices of formats with one into the 8-row interleaved layout (faster decode and prefill,
    /// a load-time pass over those weights), and those of a file mapping's other formats as they are, on 2 MiB pages
    /// (WeightCopies); off, every matrix is used in place from the mapping.
    /// Layers from `cpuLayers` on (and the output matrix unless `cpuOutput`) are left in place: they run elsewhere.
    public init(gguf: GGUFFile, hyper h: HyperParameters, interleave: Bool = true, cpuLayers: Int = .max, cpuOutput: Bool = true) throws {
        func info(_ name: String) throws -> GGUFTensorInfo {
            guard let t = gguf.tensor(named: name) else { throw ModelError.missingTensor(name) }
            return t
        }
        func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
            let t = try info(name)
            guard t.dimensions == [columns, rows] else { throw ModelError.badShape(tensor: name, expected: [columns, rows], found: t.dimensions) }
            guard BlockFormat.isSupported(t.type) else { throw ModelError.unsupportedType(tensor: name, type: t.type) }
            // byteCount was validated by the reader, so the row size is exact.
            return WeightMatrix(name: name, data: gguf.tensorData(t), type: t.type, columns: columns, rows: rows, rowBytes: t.byteCount / rows)
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let t = try info(name)
            guard t.dimensions == [count] else { throw ModelError.badShape(tensor: name, expected: [count], found: t.dimensions) }
            guard BlockFormat.isSupported(t.type) else { throw ModelError.unsupportedType(tensor: name, type: t.type) }
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { BlockFormat.dequantize(t.type, gguf.tensorData(t), $0.baseAddress!, count: count) }
            return out
        }
        func optionalVector(_ name: String, count: Int) throws -> [Float]? {
            gguf.tensor(named: name) == nil ? nil : try vector(name, count: count)
        }
        /// `parts` consecutive row ranges of one matrix, as matrices of their own.
        func split(_ m: WeightMatrix, _ parts: [Int]) -> [WeightMatrix] {
            var first = 0
            return parts.map { rows in
                defer { first += rows }
                return WeightMatrix(name: m.name, data: m.row(first), type: m.type, columns: m.columns, rows: rows, rowBytes: m.rowBytes)
            }
        }

        let e = h.embeddingLength, qd = h.queryDimension, kv = h.kvDimension, ff = h.feedForwardLength, hd = h.headDimension
        let t = h.traits
        let storage = WeightCopies()
        self.storage = storage
        func onDevice(_ m: WeightMatrix, onCPU: Bool) -> WeightMatrix {
            interleave && onCPU ? storage.copy(m, releasePages: gguf.pagesReloadable) : m
        }
        tokenEmbedding = try matrix(TensorName.tokenEmbedding, columns: e, rows: h.vocabularySize)
        outputNorm = try vector(TensorName.outputNorm, count: e)
        if gguf.tensor(named: TensorName.output) != nil {
            output = onDevice(try matrix(TensorName.output, columns: e, rows: h.vocabularySize), onCPU: cpuOutput)
            outputIsTied = false
        } else {
            output = onDevice(tokenEmbedding, onCPU: cpuOutput)
            outputIsTied = true
        }
        outputBias = try optionalVector(TensorName.outputBias, count: h.vocabularySize)
        let pairs = h.ropeDimensionCount / 2
        ropeFrequencies = try optionalVector(TensorName.ropeFrequencies, count: pairs)
        ropeFactorsLong = t.contextDependentRopeFactors ? try optionalVector(TensorName.ropeFactorsLong, count: pairs) : nil
        ropeFactorsShort = t.contextDependentRopeFactors ? try optionalVector(TensorName.ropeFactorsShort, count: pairs) : nil
        var layers: [LayerWeights] = []
        for i in 0..<h.blockCount {
            let cpu = i < cpuLayers
            let attentionNorm = try vector(TensorName.attentionNorm(i), count: e)
            let q, k, v: WeightMatrix
            var qb, kb, vb: [Float]?
            let fused = gguf.tensor(named: TensorName.queryKeyValue(i)) != nil
            if fused {
                let parts = split(try matrix(TensorName.queryKeyValue(i), columns: e, rows: qd + 2 * kv), [qd, kv, kv])
                (q, k, v) = (onDevice(parts[0], onCPU: cpu), onDevice(parts[1], onCPU: cpu), onDevice(parts[2], onCPU: cpu))
                if let b = try optionalVector(TensorName.queryKeyValueBias(i), count: qd + 2 * kv) {
                    (qb, kb, vb) = (Array(b[0..<qd]), Array(b[qd..<(qd + kv)]), Array(b[(qd + kv)...]))
                }
            } else {
                q = onDevice(try matrix(TensorName.query(i), columns: e, rows: qd), onCPU: cpu)
                k = onDevice(try matrix(TensorName.key(i), columns: e, rows: kv), onCPU: cpu)
                v = onDevice(try matrix(TensorName.value(i), columns: e, rows: kv), onCPU: cpu)
            }
            if qb == nil {
                qb = try optionalVector(TensorName.queryBias(i), count: qd)
                kb = try optionalVector(TensorName.keyBias(i), count: kv)
                vb = try optionalVector(TensorName.valueBias(i), count: kv)
            }
            let gate, up: WeightMatrix
            if t.fusedGateUp {
                let parts = split(try matrix(TensorName.up(i), columns: e, rows: 2 * ff), [ff, ff])
                (gate, up) = (onDevice(parts[0], onCPU: cpu), onDevice(parts[1], onCPU: cpu))
            } else {
                gate = onDevice(try matrix(TensorName.gate(i), columns: e, rows: ff), onCPU: cpu)
                up = onDevice(try matrix(TensorName.up(i), columns: e, rows: ff), onCPU: cpu)
            }
            layers.append(LayerWeights(
                attentionNorm: attentionNorm,
                query: q, key: k, value: v, queryBias: qb, keyBias: kb, valueBias: vb,
                queryNorm: t.queryKeyNorms ? try vector(TensorName.queryNorm(i), count: hd) : nil,
                keyNorm: t.queryKeyNorms ? try vector(TensorName.keyNorm(i), count: hd) : nil,
                attentionOutput: onDevice(try matrix(TensorName.attentionOutput(i), columns: qd, rows: e), onCPU: cpu),
                attentionOutputBias: try optionalVector(TensorName.attentionOutputBias(i), count: e),
                postAttentionNorm: t.postNorms ? try vector(TensorName.postAttentionNorm(i), count: e) : nil,
                ffnNorm: try vector(TensorName.ffnNorm(i), count: e),
                gate: gate, up: up,
                down: onDevice(try matrix(TensorName.down(i), columns: ff, rows: e), onCPU: cpu),
                postFFNNorm: t.postNorms ? try vector(TensorName.postFFNNorm(i), count: e) : nil,
                fusedQKV: fused))
        }
        self.layers = layers
    }
}
