import GGUF
import Tensors

/// Keys and values of every layer for `sequenceCount` independent sequences (server slots). F16 by default,
/// as llama.cpp stores them (half the memory, and the same rounding as the reference); F32 on request
/// (`-ctk f32 -ctv f32`), which also skips the F16 rounding of the attention operands; Q8_0 or Q4_0
/// (`-ctk/-ctv q8_0|q4_0`, keys and values chosen separately) for long contexts in less memory.
/// Layout: [layer][sequence][position] rows of kvDimension values in the row's format.
public final class KVCache: @unchecked Sendable {
    public enum ElementType: String, Sendable, CaseIterable {
        case f16, f32, q8_0, q4_0

        public var tensorType: TensorType {
            switch self {
            case .f16: .f16
            case .f32: .f32
            case .q8_0: .q8_0
            case .q4_0: .q4_0
            }
        }

        public var isQuantized: Bool { tensorType.blockSize > 1 }

        /// Bytes of `width` values, or nil where width is not a whole number of blocks (or overflows).
        public func bytes(width: Int) -> Int? { tensorType.byteCount(elements: width) }
    }

    /// The types of the keys and of the values.
    public struct Format: Sendable, Equatable, CustomStringConvertible {
        public var keys: ElementType
        public var values: ElementType
        public init(keys: ElementType, values: ElementType) { self.keys = keys; self.values = values }
        public static let f16 = Format(keys: .f16, values: .f16)
        public static let f32 = Format(keys: .f32, values: .f32)

        public var description: String {
            keys == values ? keys.rawValue.uppercased() : "K \(keys.rawValue.uppercased()), V \(values.rawValue.uppercased())"
        }

        /// Why heads of `headDimension` cannot be kept in this format (a quantized head must be whole blocks,
        /// so that every head's slice of a row starts at a block), or nil.
        public func unsupportedReason(headDimension: Int) -> String? {
            for (flag, type) in [("-ctk", keys), ("-ctv", values)] where type.isQuantized {
                let block = type.tensorType.blockSize
                if headDimension % block != 0 {
                    return "\(flag) \(type.rawValue): the head dimension \(headDimension) is not a multiple of \(block)"
                }
            }
            return nil
        }

        /// Bytes of one position's keys and values over `layers` layers, or nil on overflow or partial blocks.
        public func bytesPerToken(layers: Int, kvDimension: Int) -> Int? {
            guard layers >= 0, let k = keys.bytes(width: kvDimension), let v = values.bytes(width: kvDimension) else { return nil }
            let (perLayer, o1) = k.addingReportingOverflow(v)
            let (total, o2) = perLayer.multipliedReportingOverflow(by: layers)
            return o1 || o2 ? nil : total
        }
    }

    public let layerCount: Int
    public let sequenceCount: Int
    public let contextLength: Int
    public let kvDimension: Int
    public let format: Format
    /// Bytes of one position's keys (values) in one layer.
    public let keyRowBytes: Int
    public let valueRowBytes: Int
    private(set) var keys: UnsafeMutableRawPointer
    private(set) var values: UnsafeMutableRawPointer
    /// Layers with rows here: 0 ..< allocatedLayers. The layers after them run on a GPU, which keeps their
    /// cache; reserving host memory for them would refuse contexts the GPU holds (`allocateEveryLayer`).
    public private(set) var allocatedLayers: Int
    private var rowCount: Int

    public var byteCount: Int { rowCount * (keyRowBytes + valueRowBytes) }

    /// What a cache of these dimensions takes (keys and values), or nil where that overflows an Int or a
    /// row is not a whole number of blocks.
    public static func byteCount(layers: Int, sequences: Int, contextLength: Int, kvDimension: Int, format: Format) -> Int? {
        guard var total = format.bytesPerToken(layers: layers, kvDimension: kvDimension) else { return nil }
        for factor in [sequences, contextLength] {
            let (product, overflow) = total.multipliedReportingOverflow(by: factor)
            guard !overflow, factor >= 0 else { return nil }
            total = product
        }
        return total
    }

    /// The dimensions must have passed `byteCount` and `format.unsupportedReason` (ModelSession checks both
    /// before a context is made); a row that is not whole blocks is stored as F16 instead of failing here.
    init(layerCount: Int, sequenceCount: Int, contextLength: Int, kvDimension: Int, format: Format = .f16,
         allocatedLayers: Int? = nil) {
        self.layerCount = layerCount
        self.allocatedLayers = min(max(allocatedLayers ?? layerCount, 0), layerCount)
        self.sequenceCount = sequenceCount
        self.contextLength = contextLength
        self.kvDimension = kvDimension
        let usable = Format(keys: format.keys.bytes(width: kvDimension) == nil ? .f16 : format.keys,
                            values: format.values.bytes(width: kvDimension) == nil ? .f16 : format.values)
        self.format = usable
        keyRowBytes = usable.keys.bytes(width: kvDimension) ?? 2 * kvDimension
        valueRowBytes = usable.values.bytes(width: kvDimension) ?? 2 * kvDimension
        rowCount = self.allocatedLayers * sequenceCount * contextLength
        keys = .allocate(byteCount: max(rowCount * keyRowBytes, 1), alignment: 64)
        values = .allocate(byteCount: max(rowCount * valueRowBytes, 1), alignment: 64)
        // Untouched pages stay unmapped until used: no initialisation pass over a large cache.
    }

    /// Rows for every layer, from now on, when the GPU that held the last ones is gone. The contents are not
    /// kept: callers forget every cached prefix then (InferenceContext.cacheEpoch).
    func allocateEveryLayer() {
        guard allocatedLayers < layerCount else { return }
        keys.deallocate()
        values.deallocate()
        allocatedLayers = layerCount
        rowCount = layerCount * sequenceCount * contextLength
        keys = .allocate(byteCount: max(rowCount * keyRowBytes, 1), alignment: 64)
        values = .allocate(byteCount: max(rowCount * valueRowBytes, 1), alignment: 64)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always) private func row(layer: Int, sequence: Int, position: Int) -> Int {
        (layer * sequenceCount + sequence) * contextLength + position
    }

    /// Where one position's keys (values) of one layer start.
    @inline(__always) func keyRow(layer: Int, sequence: Int, position: Int) -> UnsafeMutableRawPointer {
        keys + row(layer: layer, sequence: sequence, position: position) * keyRowBytes
    }
    @inline(__always) func valueRow(layer: Int, sequence: Int, position: Int) -> UnsafeMutableRawPointer {
        values + row(layer: layer, sequence: sequence, position: position) * valueRowBytes
    }

    /// Byte offset of head `head` (of `headDimension` values) within a key (value) row.
    @inline(__always) func keyHeadOffset(_ head: Int, headDimension: Int) -> Int {
        (head * headDimension / format.keys.tensorType.blockSize) * format.keys.tensorType.blockBytes
    }
    @inline(__always) func valueHeadOffset(_ head: Int, headDimension: Int) -> Int {
        (head * headDimension / format.values.tensorType.blockSize) * format.values.tensorType.blockBytes
    }

    /// Writes one position's keys and values (kvDimension floats each), rounded or quantized to the cache's types.
    func store(layer: Int, sequence: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        BlockFormat.quantizeActivations(format.keys.tensorType, key, keyRow(layer: layer, sequence: sequence, position: position),
                                        count: kvDimension)
        BlockFormat.quantizeActivations(format.values.tensorType, value, valueRow(layer: layer, sequence: sequence, position: position),
                                        count: kvDimension)
    }

    /// Context shift: in every layer, drops positions keep..<keep+discard of `sequence` and moves positions
    /// keep+discard..<count down by `discard`. Each moved key row is read as floats, handed to `rotate`
    /// (layer, row) to turn its RoPE to the new position, and stored again; value rows move as bytes.
    func shift(sequence: Int, keep: Int, discard: Int, count: Int,
               rotate: (Int, UnsafeMutablePointer<Float>) -> Void) {
        guard discard > 0, keep >= 0, keep + discard <= count, count <= contextLength else { return }
        let moved = count - keep - discard
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(kvDimension, 1)) { scratch in
            let row = scratch.baseAddress!
            for layer in 0..<allocatedLayers {
                valueRow(layer: layer, sequence: sequence, position: keep)
                    .copyMemory(from: valueRow(layer: layer, sequence: sequence, position: keep + discard), byteCount: moved * valueRowBytes)
                for p in 0..<moved {
                    BlockFormat.dequantize(format.keys.tensorType, keyRow(layer: layer, sequence: sequence, position: keep + discard + p),
                                           row, count: kvDimension)
                    rotate(layer, row)
                    BlockFormat.quantizeActivations(format.keys.tensorType, row, keyRow(layer: layer, sequence: sequence, position: keep + p),
                                                    count: kvDimension)
                }
            }
        }
    }
}
