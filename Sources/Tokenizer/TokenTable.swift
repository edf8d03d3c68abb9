/// Token text → id, looked up by raw bytes without building a String (the merge loops ask this for
/// every candidate pair). Open addressing over one flat byte buffer. When two tokens share a text the
/// later id wins, as in llama.cpp's `token_to_id`. Immutable after init.
final class TokenTable: Sendable {
    private let text: FixedBuffer<UInt8>
    /// (tokens + 1) offsets: token i's bytes are text[starts[i]..<starts[i+1]].
    private let starts: FixedBuffer<Int>
    /// Per slot: the key's 32-bit hash (a fingerprint that skips most byte comparisons) above the
    /// token id; all ones for an empty slot.
    private let slots: FixedBuffer<UInt64>
    private let mask: Int
    let count: Int
    private static let empty = UInt64.max

    init(tokens: [String]) {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            bytes.append(contentsOf: token.utf8)
            offsets.append(bytes.count)
        }
        text = FixedBuffer(bytes)
        starts = FixedBuffer(offsets)
        count = tokens.count
        var capacity = 16
        while capacity < tokens.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        slots = FixedBuffer(repeating: Self.empty, count: capacity)
        for id in 0..<tokens.count {
            let key = UnsafeBufferPointer(start: text.pointer + starts[id], count: starts[id + 1] - starts[id])
            let hash = Self.hash(key)
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] != Self.empty {
                if slots[slot] >> 32 == hash >> 32 && equals(Int(slots[slot] & 0xFFFF_FFFF), key) { break }
                slot = (slot + 1) & mask
            }
            slots[slot] = hash & 0xFFFF_FFFF_0000_0000 | UInt64(id)  // a repeated text takes the later id
        }
    }

    /// The bytes of token `id` as stored in the vocabulary.
    func bytes(of id: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: text.pointer + starts[id], count: starts[id + 1] - starts[id])
    }

    @inline(__always)
    private func equals(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[id]
        let length = starts[id + 1] - start
        guard length == key.count else { return false }
        let stored = text.pointer + start
        for index in 0..<length where stored[index] != key[index] { return false }
        return true
    }

    func id(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        let hash = Self.hash(key)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[slot]
            if entry == Self.empty { return nil }
            if entry >> 32 == hash >> 32 {
                let candidate = Int(entry & 0xFFFF_FFFF)
                if equals(candidate, key) { return candidate }
            }
            slot = (slot + 1) & mask
        }
    }

    func id(of key: [UInt8]) -> Int? { key.withUnsafeBufferPointer { id(of: $0) } }

    func id(of key: String) -> Int? {
        var key = key
        return key.withUTF8 { id(of: $0) }
    }

    /// FNV-1a with a final multiplicative mix: the low bits pick the slot, the high 32 are the fingerprint.
    @inline(__always)
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        hash ^= hash >> 32
        hash = hash &* 0x9E37_79B9_7F4A_7C15
        return hash ^ (hash >> 29)
    }
}

/// (left id, right id) → (rank, merged id) for byte-pair merges: open addressing with a
/// multiplicative hash, cheaper than Dictionary's seeded hashing in the merge loop. Immutable after init.
final class MergeTable: Sendable {
    private let keys: FixedBuffer<UInt64>
    private let values: FixedBuffer<UInt64>
    private let shift: UInt64
    private let mask: Int
    private static let empty = UInt64.max  // ids are below Int32.max, so no real key is all ones

    /// `merges` in rank order; a repeated pair keeps its first (best) rank.
    init(_ merges: [(left: Int32, right: Int32, result: Int32)]) {
        var bits: UInt64 = 4
        while (1 << bits) < merges.count * 2 { bits += 1 }
        shift = 64 - bits
        mask = (1 << Int(bits)) - 1
        keys = FixedBuffer(repeating: Self.empty, count: 1 << Int(bits))
        values = FixedBuffer(repeating: 0, count: 1 << Int(bits))
        for (rank, merge) in merges.enumerated() {
            let key = Self.key(merge.left, merge.right)
            var slot = Self.slot(key, shift)
            while keys[slot] != Self.empty && keys[slot] != key { slot = (slot + 1) & mask }
            if keys[slot] == Self.empty {
                keys[slot] = key
                values[slot] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merge.result))
            }
        }
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Rank and merged id of a pair, nil when the pair never merges.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: UInt32, result: Int32)? {
        let key = Self.key(left, right)
        var slot = Self.slot(key, shift)
        while true {
            let stored = keys[slot]
            if stored == key {
                let value = values[slot]
                return (UInt32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value & 0xFFFF_FFFF))
            }
            if stored == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }
}
