/// Token text → id, looked up by raw bytes without building a String (the merge loops ask this for
/// every candidate pair). Open addressing over one flat byte buffer. When two tokens share a text the
/// later id wins, as in llama.cpp's `token_to_id`.
struct TokenTable: Sendable {
    private var text: [UInt8] = []
    private var starts: [Int] = [0]          // (tokens + 1): token i's bytes are text[starts[i]..<starts[i+1]]
    private var slots: [Int32]               // token id, or -1 for an empty slot
    private let mask: Int

    init(tokens: [String]) {
        var capacity = 16
        while capacity < tokens.count * 2 { capacity <<= 1 }
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        starts.reserveCapacity(tokens.count + 1)
        for token in tokens {
            text.append(contentsOf: token.utf8)
            starts.append(text.count)
        }
        for id in tokens.indices { insert(id) }
    }

    var count: Int { starts.count - 1 }

    /// The bytes of token `id` (as stored in the vocabulary, before any decoding).
    func bytes(of id: Int) -> ArraySlice<UInt8> { text[starts[id]..<starts[id + 1]] }

    private mutating func insert(_ id: Int) {
        let hash = text.withUnsafeBufferPointer { buffer in
            Self.hash(UnsafeBufferPointer(rebasing: buffer[starts[id]..<starts[id + 1]]))
        }
        var slot = hash & mask
        while slots[slot] >= 0 {
            if equals(Int(slots[slot]), starts[id]..<starts[id + 1]) { slots[slot] = Int32(id); return }
            slot = (slot + 1) & mask
        }
        slots[slot] = Int32(id)
    }

    private func equals(_ id: Int, _ other: Range<Int>) -> Bool {
        let range = starts[id]..<starts[id + 1]
        return range.count == other.count && text[range].elementsEqual(text[other])
    }

    func id(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = Self.hash(key) & mask
        return text.withUnsafeBufferPointer { stored in
            while true {
                let candidate = Int(slots[slot])
                if candidate < 0 { return nil }
                let start = starts[candidate]
                let length = starts[candidate + 1] - start
                if length == key.count {
                    guard length > 0 else { return candidate }
                    if let storedBase = stored.baseAddress, let keyBase = key.baseAddress,
                       memoryEqual(storedBase + start, keyBase, length) {
                        return candidate
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    func id(of key: [UInt8]) -> Int? { key.withUnsafeBufferPointer { id(of: $0) } }

    func id(of key: String) -> Int? {
        var key = key
        return key.withUTF8 { id(of: $0) }
    }

    /// FNV-1a, folded to Int: short keys, good spread, no allocation.
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}

@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for index in 0..<count where a[index] != b[index] { return false }
    return true
}
