/// Keys and values of every layer for `sequenceCount` independent sequences (server slots). F16 by default,
/// as llama.cpp stores them (half the memory, and the same rounding as the reference); F32 on request
/// (`-ctk f32 -ctv f32`), which also skips the F16 rounding of the attention operands.
/// Layout: [layer][sequence][position][kvDimension].
public final class KVCache: @unchecked Sendable {
    public enum ElementType: String, Sendable, CaseIterable {
        case f16, f32
        public var bytes: Int { self == .f16 ? 2 : 4 }
    }

    public let layerCount: Int
    public let sequenceCount: Int
    public let contextLength: Int
    public let kvDimension: Int
    public let elementType: ElementType
    let keys: UnsafeMutableRawPointer
    let values: UnsafeMutableRawPointer
    private let elementCount: Int

    public var byteCount: Int { 2 * elementCount * elementType.bytes }

    /// What a cache of these dimensions takes (keys and values), or nil where that overflows an Int.
    public static func byteCount(layers: Int, sequences: Int, contextLength: Int, kvDimension: Int,
                                 elementType: ElementType) -> Int? {
        var total = 2 * elementType.bytes
        for factor in [layers, sequences, contextLength, kvDimension] {
            let (product, overflow) = total.multipliedReportingOverflow(by: factor)
            guard !overflow, factor >= 0 else { return nil }
            total = product
        }
        return total
    }

    init(layerCount: Int, sequenceCount: Int, contextLength: Int, kvDimension: Int, elementType: ElementType = .f16) {
        self.layerCount = layerCount
        self.sequenceCount = sequenceCount
        self.contextLength = contextLength
        self.kvDimension = kvDimension
        self.elementType = elementType
        elementCount = layerCount * sequenceCount * contextLength * kvDimension
        keys = .allocate(byteCount: max(elementCount, 1) * elementType.bytes, alignment: 64)
        values = .allocate(byteCount: max(elementCount, 1) * elementType.bytes, alignment: 64)
        // Untouched pages stay unmapped until used: no initialisation pass over a large cache.
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    var keys16: UnsafeMutablePointer<Float16> { keys.assumingMemoryBound(to: Float16.self) }
    var values16: UnsafeMutablePointer<Float16> { values.assumingMemoryBound(to: Float16.self) }
    var keys32: UnsafeMutablePointer<Float> { keys.assumingMemoryBound(to: Float.self) }
    var values32: UnsafeMutablePointer<Float> { values.assumingMemoryBound(to: Float.self) }

    @inline(__always) func offset(layer: Int, sequence: Int, position: Int) -> Int {
        ((layer * sequenceCount + sequence) * contextLength + position) * kvDimension
    }
}
