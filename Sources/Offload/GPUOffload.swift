import GGUF
import Model
#if canImport(Glibc)
import Glibc
#endif

/// What the GPU worker reported about its device.
public struct GPUDevice: Sendable {
    public let description: String   // "NVIDIA H200, 143771 MiB, compute 9.0, 132 SMs, driver 13.0"
    /// The product name alone (the description's first field).
    public var name: Substring { description.prefix { $0 != "," } }
    /// Which of the driver's devices this is, and how many it sees (CUDA_VISIBLE_DEVICES applies).
    public let index: Int
    public let count: Int
    public let freeBytes: UInt64
    public let totalBytes: UInt64
    /// Seconds the probe took: the driver's start and the kernels' load, which includes compiling their PTX
    /// for this GPU when the driver's cache does not have them yet (a first run: seconds, not milliseconds).
    public let startSeconds: Double
}

/// A range of a model's layers (and optionally its output) running in one GPU worker, on one device.
/// llama.cpp's `-ngl N` offloads the last N repeating layers, and the output layer too once N exceeds the
/// layer count; `GPULayerSplit` spreads them over several devices, one worker each.
public final class GPUOffload: LayerOffload, @unchecked Sendable {
    public let firstLayer: Int
    /// One past the last layer this worker runs.
    public let lastLayer: Int
    public let includesOutput: Bool
    public let device: GPUDevice
    /// The worker's one-line account of what it loaded.
    public let loadSummary: String
    private let worker: GPUWorkerProcess
    private let layout: WorkerProtocol.Layout
    private let hyper: HyperParameters
    private let maxBatch: Int

    /// Opens device `index` in the worker (its first request; starting it costs a process, the driver's
    /// start-up and the kernels' load are the slow part) and says what it is.
    public static func probe(_ worker: GPUWorkerProcess, device index: Int = 0) throws -> GPUDevice {
        guard let n = UInt32(exactly: index) else { throw GPUError(.unavailable, "no NVIDIA GPU \(index)") }
        let start = ContinuousClock.now
        let reply = try worker.call(.probe, n: n)
        let took = start.duration(to: .now).components
        switch reply.status {
        case .ok:
            return GPUDevice(description: reply.text, index: index, count: Int(reply.value), freeBytes: reply.freeBytes,
                             totalBytes: reply.totalBytes, startSeconds: Double(took.seconds) + Double(took.attoseconds) * 1e-18)
        default:
            var error = GPUError(reply.status == .noDevice ? .unavailable : .failed, reply.text)
            error.deviceCount = Int(reply.value)
            throw error
        }
    }

    /// The worker's code for a cache whose keys and values share a type (protocol.h, H_KV_TYPE), or nil: its
    /// kernels take one type for both, as llama.cpp's CUDA build by default.
    public static func workerCacheType(_ format: KVCache.Format) -> UInt32? {
        guard format.keys == format.values else { return nil }
        switch format.keys {
        case .f16: return 0
        case .f32: return 1
        case .q8_0: return 2
        case .q4_0: return 3
        }
    }

    /// Why a cache of two types stays on the CPU, and the two ways to keep it on the GPU.
    public static func mixedCacheRefusal(_ format: KVCache.Format) -> GPUError {
        let (k, v) = (format.keys.rawValue, format.values.rawValue)
        return GPUError(.unavailable, "the GPU keeps keys and values in one type, not -ctk \(k) -ctv \(v) (give both \(k), or both \(v))")
    }

    /// The shared memory a model needs for batches of `maxBatch` tokens.
    public static func sharedBytes(hyper h: HyperParameters, maxBatch: Int) -> Int {
        WorkerProtocol.layout(embedding: h.embeddingLength, ropeDimension: h.ropeDimensionCount,
                              vocabulary: h.vocabularySize, maxBatch: maxBatch).total
    }

    /// Loads `layers` (and the output norm and matrix when `output`) into the worker; the run's input is
    /// the hidden state before `layers.lowerBound`, its result that after the range, or the logits.
    /// `filePath` and `fileOffset`: where `gguf`'s bytes live.
    public init(worker: GPUWorkerProcess, device: GPUDevice, gguf: GGUFFile, hyper h: HyperParameters, filePath: String,
                fileOffset: UInt64, layers: Range<Int>, output: Bool, contextLength: Int, sequences: Int, maxBatch: Int,
                cacheFormat: KVCache.Format) throws {
        guard layers.lowerBound >= 0, layers.upperBound <= h.blockCount, !layers.isEmpty || output else {
            throw GPUError(.failed, "no layers \(layers) of \(h.blockCount) to offload")
        }
        guard let cacheType = Self.workerCacheType(cacheFormat) else { throw Self.mixedCacheRefusal(cacheFormat) }
        self.worker = worker
        self.device = device
        hyper = h
        self.maxBatch = maxBatch
        firstLayer = layers.lowerBound
        lastLayer = layers.upperBound
        includesOutput = output
        layout = WorkerProtocol.layout(embedding: h.embeddingLength, ropeDimension: h.ropeDimensionCount,
                                       vocabulary: h.vocabularySize, maxBatch: maxBatch)

        // The description: header, path, tensor records, then the F32 norm vectors inline.
        var header = [UInt32](repeating: 0, count: WorkerProtocol.headerFields)
        let fields: [UInt32] = [WorkerProtocol.magic, WorkerProtocol.version, UInt32(h.embeddingLength), UInt32(h.headCount),
                                UInt32(h.headCountKV), UInt32(h.headDimension), UInt32(h.feedForwardLength),
                                UInt32(h.vocabularySize), UInt32(h.ropeDimensionCount), UInt32(contextLength),
                                UInt32(sequences), UInt32(maxBatch), UInt32(firstLayer), UInt32(lastLayer),
                                includesOutput ? 1 : 0, cacheType, h.rmsEpsilon.bitPattern]
        for (i, v) in fields.enumerated() { header[i] = v }
        let path = Array(filePath.utf8)
        header[17] = UInt32(path.count)

        struct Record { var layer: UInt32; var role: WorkerProtocol.Role; var type: UInt32; var inline: [Float]?; var rows: Int; var cols: Int; var offset: UInt64; var bytes: Int }
        var records: [Record] = []
        func fileTensor(_ name: String, layer: UInt32, role: WorkerProtocol.Role) throws {
            guard let t = gguf.tensor(named: name), t.dimensions.count == 2 else { throw ModelError.missingTensor(name) }
            let offset = UInt64(gguf.tensorData(t) - gguf.base) + fileOffset
            records.append(Record(layer: layer, role: role, type: t.type.rawValue, inline: nil, rows: t.dimensions[1],
                                  cols: t.dimensions[0], offset: offset, bytes: t.byteCount))
        }
        let weights = try ModelWeights(gguf: gguf, hyper: h, interleave: false)
        for layer in layers {
            let l = UInt32(layer), lw = weights.layers[layer]
            records.append(Record(layer: l, role: .attentionNorm, type: 0, inline: lw.attentionNorm, rows: 1, cols: h.embeddingLength, offset: 0, bytes: h.embeddingLength * 4))
            records.append(Record(layer: l, role: .ffnNorm, type: 0, inline: lw.ffnNorm, rows: 1, cols: h.embeddingLength, offset: 0, bytes: h.embeddingLength * 4))
            try fileTensor(TensorName.query(layer), layer: l, role: .query)
            try fileTensor(TensorName.key(layer), layer: l, role: .key)
            try fileTensor(TensorName.value(layer), layer: l, role: .value)
            try fileTensor(TensorName.attentionOutput(layer), layer: l, role: .attentionOutput)
            try fileTensor(TensorName.gate(layer), layer: l, role: .gate)
            try fileTensor(TensorName.up(layer), layer: l, role: .up)
            try fileTensor(TensorName.down(layer), layer: l, role: .down)
        }
        if includesOutput {
            records.append(Record(layer: WorkerProtocol.globalLayer, role: .outputNorm, type: 0, inline: weights.outputNorm, rows: 1, cols: h.embeddingLength, offset: 0, bytes: h.embeddingLength * 4))
            try fileTensor(weights.outputIsTied ? TensorName.tokenEmbedding : TensorName.output, layer: WorkerProtocol.globalLayer, role: .output)
        }
        header[18] = UInt32(records.count)

        var bytes: [UInt8] = []
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        for v in header { put32(v) }
        bytes.append(contentsOf: path)
        while bytes.count % 8 != 0 { bytes.append(0) }
        var inlineAt = bytes.count + records.count * WorkerProtocol.tensorRecordBytes
        for r in records {
            put32(r.layer); put32(r.role.rawValue); put32(r.type); put32(r.inline == nil ? 0 : 1)
            put64(UInt64(r.rows)); put64(UInt64(r.cols))
            if r.inline != nil { put64(UInt64(inlineAt)); inlineAt += r.bytes } else { put64(r.offset) }
            put64(UInt64(r.bytes))
        }
        for r in records { if let v = r.inline { for f in v { put32(f.bitPattern) } } }
        guard bytes.count <= worker.sharedBytes else { throw GPUError(.failed, "the load description does not fit the shared memory") }
        bytes.withUnsafeBytes { worker.shared.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let reply = try worker.call(.load, payload: UInt64(bytes.count))
        switch reply.status {
        case .ok: loadSummary = reply.text
        case .noMemory: throw GPUError(.noMemory, reply.text)
        case .noDevice: throw GPUError(.unavailable, reply.text)
        default: throw GPUError(.failed, reply.text)
        }
    }

    /// Context shift of `sequence` in this part's layers (LayerOffload.shift).
    public func shift(sequence: Int, keep: Int, discard: Int, count: Int, turns: UnsafePointer<Float>) throws {
        guard let n = UInt32(exactly: sequence), let k = Int32(exactly: keep), let d = Int32(exactly: discard),
              let c = Int32(exactly: count) else {
            throw GPUError(.failed, "context shift of sequence \(sequence): keep \(keep), discard \(discard) of \(count)")
        }
        let base = worker.shared
        let values = (base + layout.x).assumingMemoryBound(to: Int32.self)
        values[0] = k
        values[1] = d
        values[2] = c
        (base + layout.rope).copyMemory(from: turns, byteCount: hyper.ropeDimensionCount * 4)
        let reply = try worker.call(.shift, n: n, payload: 0)
        guard reply.status == .ok else { throw GPUError(.failed, "GPU: \(reply.text)") }
    }

    public func run(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry], wanted: [Int],
                    logits: UnsafeMutablePointer<Float>) throws {
        try run(hidden: hidden, rope: rope, batch: batch, wanted: wanted, logits: logits, hiddenOnly: false)
    }

    public func runHidden(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry]) throws {
        try run(hidden: hidden, rope: rope, batch: batch, wanted: [], logits: hidden, hiddenOnly: true)
    }

    /// `hiddenOnly`: the last layer's output comes back in `hidden` even where the output layer is loaded.
    private func run(hidden: UnsafeMutablePointer<Float>, rope: UnsafePointer<Float>, batch: [BatchEntry], wanted: [Int],
                     logits: UnsafeMutablePointer<Float>, hiddenOnly: Bool) throws {
        let n = batch.count, e = hyper.embeddingLength
        guard n <= maxBatch else { throw GPUError(.failed, "batch of \(n) exceeds the GPU's \(maxBatch)") }
        let base = worker.shared
        (base + layout.x).copyMemory(from: hidden, byteCount: n * e * 4)
        (base + layout.rope).copyMemory(from: rope, byteCount: n * hyper.ropeDimensionCount * 4)
        let info = (base + layout.info).assumingMemoryBound(to: Int32.self)
        for (i, entry) in batch.enumerated() {
            info[2 * i] = Int32(entry.position)
            info[2 * i + 1] = Int32(entry.sequence)
        }
        let rows = (base + layout.wanted).assumingMemoryBound(to: Int32.self)
        for (i, w) in wanted.enumerated() { rows[i] = Int32(w) }
        let payload = hiddenOnly ? WorkerProtocol.hiddenPayload : UInt64(includesOutput ? wanted.count : 0)
        let reply = try worker.call(.forward, n: UInt32(n), payload: payload)
        guard reply.status == .ok else { throw GPUError(.failed, "GPU: \(reply.text)") }
        if includesOutput && !hiddenOnly {
            logits.update(from: (base + layout.out).assumingMemoryBound(to: Float.self), count: wanted.count * hyper.vocabularySize)
        } else {
            hidden.update(from: (base + layout.out).assumingMemoryBound(to: Float.self), count: n * e)
        }
    }
}
