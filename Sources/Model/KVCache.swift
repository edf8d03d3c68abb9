/// Keys and values of every layer for `sequenceCount` independent sequences (server slots), stored as F16 as
/// llama.cpp does by default (half the memory, and the same rounding as the reference).
/// Layout: [layer][sequence][position][kvDimension].
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let sequenceCount: Int
    public let contextLength: Int
    public let kvDimension: Int
    let keys: UnsafeMutablePointer<Float16>
    let values: UnsafeMutablePointer<Float16>
    private let elementCount: Int

    public var byteCount: Int { 2 * elementCount * MemoryLayout<Float16>.size }

    init(layerCount: Int, sequenceCount: Int, contextLength: Int, kvDimension: Int) {
        self.layerCount = layerCount
        self.sequenceCount = sequenceCount
        self.contextLength = contextLength
        self.kvDimension = kvDimension
        elementCount = layerCount * sequenceCount * contextLength * kvDimension
        keys = .allocate(capacity: max(elementCount, 1))
        values = .allocate(capacity: max(elementCount, 1))
        // Untouched pages stay unmapped until used: no initialisation pass over a large cache.
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always) func offset(layer: Int, sequence: Int, position: Int) -> Int {
        ((layer * sequenceCount + sequence) * contextLength + position) * kvDimension
    }
}
