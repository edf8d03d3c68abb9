import Dispatch
import GGUF
import Tensors
#if canImport(Glibc)
import Glibc
#endif

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

    public func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }
}

/// Owns the interleaved copies of a model's matrices.
final class InterleavedStorage: @unchecked Sendable {
    private(set) var buffers: [UnsafeMutableRawPointer] = []
    private(set) var byteCount = 0

    /// An interleaved copy of `m` when its format has one. When the weights are a file mapping
    /// (`releasePages`), the original's pages are then released from our resident set (they stay in the page
    /// cache; token-embedding lookups fault back only the rows they read). Heap buffers are left alone.
    func interleave(_ m: WeightMatrix, releasePages: Bool) -> WeightMatrix {
        guard InterleavedWeights.supports(m.type, rows: m.rows, columns: m.columns) else { return m }
        let bytes = InterleavedWeights.byteCount(m.type, rows: m.rows, columns: m.columns)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        // A pass over the weights that reads from the page cache: split across the cores.
        let panels = m.rows / 8, parts = max(1, min(physicalCoreCount(), panels))
        let destination = Int(bitPattern: buffer)  // (a raw pointer is not Sendable)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            guard let out = UnsafeMutableRawPointer(bitPattern: destination) else { return }
            InterleavedWeights.interleave(m.type, m.data, rowBytes: m.rowBytes, columns: m.columns,
                                          panels: (panels * part / parts)..<(panels * (part + 1) / parts), into: out)
        }
        buffers.append(buffer)
        byteCount += bytes
        #if os(Linux)
        if releasePages {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (Int(bitPattern: m.data) + page - 1) / page * page
            let end = (Int(bitPattern: m.data) + m.rowBytes * m.rows) / page * page
            if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
                _ = madvise(pointer, end - start, MADV_DONTNEED)
            }
        }
        #endif
        var copy = m
        copy.interleaved = UnsafeRawPointer(buffer)
        return copy
    }

    deinit { for b in buffers { b.deallocate() } }
}

/// One transformer block's weights.
public struct LayerWeights: @unchecked Sendable {
    public let attentionNorm: [Float]   // (embeddingLength)
    public let query: WeightMatrix      // (embeddingLength) -> (headCount * headDimension)
    public let key: WeightMatrix        // (embeddingLength) -> (kvDimension)
    public let value: WeightMatrix      // (embeddingLength) -> (kvDimension)
    public let attentionOutput: WeightMatrix
    public let ffnNorm: [Float]         // (embeddingLength)
    public let gate: WeightMatrix       // (embeddingLength) -> (feedForwardLength)
    public let up: WeightMatrix
    public let down: WeightMatrix       // (feedForwardLength) -> (embeddingLength)
}

/// All weights bound by canonical name, every shape checked against the hyper-parameters.
public struct ModelWeights: @unchecked Sendable {
    public let tokenEmbedding: WeightMatrix
    public let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the model ties them.
    public let output: WeightMatrix
    public let outputIsTied: Bool
    /// Llama 3.1 long-context divisors, one per rotated pair; nil when absent.
    public let ropeFrequencies: [Float]?
    public let layers: [LayerWeights]
    /// Bytes of interleaved copies made at load (0 when `interleave` was off or no format has one).
    public var interleavedBytes: Int { storage.byteCount }
    private let storage: InterleavedStorage

    /// `interleave`: copy Q4_0/Q4_1 matrices into the 8-row interleaved layout (faster decode and prefill,
    /// a load-time pass over those weights); off, every matrix is used in place from the mapping.
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

        let e = h.embeddingLength, kv = h.kvDimension, ff = h.feedForwardLength
        let storage = InterleavedStorage()
        self.storage = storage
        func product(_ name: String, columns: Int, rows: Int, onCPU: Bool = true) throws -> WeightMatrix {
            let m = try matrix(name, columns: columns, rows: rows)
            return interleave && onCPU ? storage.interleave(m, releasePages: gguf.pagesReloadable) : m
        }
        tokenEmbedding = try matrix(LlamaTensor.tokenEmbedding, columns: e, rows: h.vocabularySize)
        outputNorm = try vector(LlamaTensor.outputNorm, count: e)
        if gguf.tensor(named: LlamaTensor.output) != nil {
            output = try product(LlamaTensor.output, columns: e, rows: h.vocabularySize, onCPU: cpuOutput)
            outputIsTied = false
        } else {
            output = interleave && cpuOutput ? storage.interleave(tokenEmbedding, releasePages: gguf.pagesReloadable) : tokenEmbedding
            outputIsTied = true
        }
        ropeFrequencies = gguf.tensor(named: LlamaTensor.ropeFrequencies) == nil
            ? nil : try vector(LlamaTensor.ropeFrequencies, count: h.ropeDimensionCount / 2)
        var layers: [LayerWeights] = []
        for i in 0..<h.blockCount {
            let cpu = i < cpuLayers
            layers.append(LayerWeights(
                attentionNorm: try vector(LlamaTensor.attentionNorm(i), count: e),
                query: try product(LlamaTensor.query(i), columns: e, rows: e, onCPU: cpu),
                key: try product(LlamaTensor.key(i), columns: e, rows: kv, onCPU: cpu),
                value: try product(LlamaTensor.value(i), columns: e, rows: kv, onCPU: cpu),
                attentionOutput: try product(LlamaTensor.attentionOutput(i), columns: e, rows: e, onCPU: cpu),
                ffnNorm: try vector(LlamaTensor.ffnNorm(i), count: e),
                gate: try product(LlamaTensor.gate(i), columns: e, rows: ff, onCPU: cpu),
                up: try product(LlamaTensor.up(i), columns: e, rows: ff, onCPU: cpu),
                down: try product(LlamaTensor.down(i), columns: ff, rows: e, onCPU: cpu)))
        }
        self.layers = layers
    }
}
