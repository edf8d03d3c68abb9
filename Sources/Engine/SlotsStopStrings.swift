/// Finds stop strings in streamed text that arrives in arbitrary pieces (token boundaries fall anywhere).
///
/// Text that could still be the start of a stop string is held back until the next piece decides it; a
/// matched stop string and everything after it is never emitted. Works on UTF-8 bytes: a stop string starts
/// with a lead byte, so every match or partial match begins on a character boundary of the text.
public struct StopStringMatcher: Sendable {
    public let stopStrings: [[UInt8]]
    private var held: [UInt8] = []

    /// The stop string that ended the text, once one has matched.
    public private(set) var matched: String?

    public init(_ stopStrings: [String]) {
        self.stopStrings = stopStrings.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// Adds a piece of text; returns what is now safe to emit. After a match returns the text before the stop
    /// string and ignores everything pushed later.
    public mutating func push(_ text: String) -> String {
        guard matched == nil else { return "" }
        held.append(contentsOf: text.utf8)
        guard !stopStrings.isEmpty else { return takeAll() }

        // Earliest full match wins (ties: the longer stop string, so "ab" beats "a" at the same place).
        var best: (start: Int, stop: [UInt8])?
        for stop in stopStrings {
            if let start = Self.firstIndex(of: stop, in: held), best.map({ start < $0.start || (start == $0.start && stop.count > $0.stop.count) }) ?? true {
                best = (start, stop)
            }
        }
        if let best {
            matched = String(decoding: best.stop, as: UTF8.self)
            let before = String(decoding: held[..<best.start], as: UTF8.self)
            held.removeAll()
            return before
        }

        // Hold back the longest tail that is a proper prefix of some stop string.
        let keep = longestPartialMatch()
        let emitCount = held.count - keep
        let out = String(decoding: held[..<emitCount], as: UTF8.self)
        held.removeFirst(emitCount)
        return out
    }

    /// Ends the stream: whatever is held can no longer become a stop string.
    public mutating func flush() -> String {
        guard matched == nil else { return "" }
        return takeAll()
    }

    private mutating func takeAll() -> String {
        let out = String(decoding: held, as: UTF8.self)
        held.removeAll()
        return out
    }

    private func longestPartialMatch() -> Int {
        var longest = 0
        for stop in stopStrings {
            var length = min(stop.count - 1, held.count)
            while length > longest {
                if held[(held.count - length)...].elementsEqual(stop[..<length]) { longest = length; break }
                length -= 1
            }
        }
        return longest
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }
}
