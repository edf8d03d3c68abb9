/// Turns generated ids into text one at a time, returning only complete UTF-8 characters: bytes of a
/// character split across tokens (emoji, CJK via byte tokens) wait for the rest. `finish` flushes
/// what is left, with U+FFFD for an incomplete character.
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    /// Render control tokens (e.g. `<|eot_id|>`) as their text instead of nothing.
    public let includeSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, includeSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.includeSpecial = includeSpecial
    }

    /// Text completed by this token (possibly empty).
    public mutating func append(_ id: Int) -> String {
        append(bytes: tokenizer.piece(id, includeSpecial: includeSpecial))
    }

    /// Text completed by these raw bytes (possibly empty).
    public mutating func append<Bytes: Sequence>(bytes: Bytes) -> String where Bytes.Element == UInt8 {
        pending.append(contentsOf: bytes)
        let complete = pending.count - Self.incompleteTailLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Everything still held back; an incomplete character becomes U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// True when bytes are waiting for the rest of a character.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// How many trailing bytes are the valid beginning of a character that needs more bytes.
    /// Invalid bytes are not held (they would never complete); decoding turns them into U+FFFD.
    static func incompleteTailLength(_ bytes: [UInt8]) -> Int {
        // A character is at most 4 bytes, so its start is within the last 3 bytes.
        var start = bytes.count - 1
        let lowest = max(bytes.count - 3, 0)
        while start >= lowest && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= lowest else { return 0 }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return 0
        }
        let have = bytes.count - start
        guard have < needed else { return 0 }
        // The second byte's allowed range depends on the lead (no overlongs, surrogates or > U+10FFFF).
        if have >= 2 {
            let second = bytes[start + 1]
            let allowed: ClosedRange<UInt8>
            switch lead {
            case 0xE0: allowed = 0xA0...0xBF
            case 0xED: allowed = 0x80...0x9F
            case 0xF0: allowed = 0x90...0xBF
            case 0xF4: allowed = 0x80...0x8F
            default: allowed = 0x80...0xBF
            }
            guard allowed.contains(second) else { return 0 }
        }
        return have
    }
}
