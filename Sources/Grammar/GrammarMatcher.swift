/// A pushdown recogniser for a Grammar, fed bytes (UTF-8) one at a time. Its state is the set of parse
/// stacks still alive — each a list of element positions, the next one to match on top — plus a partly
/// decoded character. The set and every stack are bounded (`maximumStacks`, `maximumDepth`): past a
/// bound the matcher stops with `overflowed` set instead of growing without limit.
public struct GrammarMatcher: Sendable {
    public let grammar: Grammar
    private(set) var stacks: [[Int32]] = []
    /// A character split across bytes: continuation bytes still expected, its bits so far, its length.
    private var pending = 0
    private var partial: UInt32 = 0
    private var length = 0
    /// Set when a bound was hit; the matcher then accepts nothing.
    public private(set) var overflowed = false

    public static let maximumStacks = 4096
    public static let maximumDepth = 2048
    /// Expansion steps per character (ambiguous grammars can multiply stacks).
    public static let maximumWork = 200_000

    public init(_ grammar: Grammar) {
        self.grammar = grammar
        var out: [[Int32]] = []
        var seen: Set<[Int32]> = []
        var work = 0
        for start in grammar.alternatives[Int(grammar.root)] {
            if !expand([start], into: &out, seen: &seen, work: &work) { overflowed = true; break }
        }
        stacks = overflowed ? [] : out
    }

    /// True when the text so far is a complete match (generation may end here).
    public var canEnd: Bool { pending == 0 && stacks.contains { $0.isEmpty } }

    /// True when no continuation is possible.
    public var isDead: Bool { stacks.isEmpty }

    /// Parse stacks alive (a measure of the work each further byte costs).
    public var stackCount: Int { stacks.count }

    /// Feeds every byte of `text`; false as soon as one is rejected (the state is then dead).
    public mutating func accept(_ text: String) -> Bool { accept(bytes: text.utf8) }

    public mutating func accept<Bytes: Sequence>(bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        for b in bytes where !accept(b) { return false }
        return true
    }

    /// Feeds one byte. False (and a dead state) when no parse can continue with it, or it breaks UTF-8.
    public mutating func accept(_ byte: UInt8) -> Bool {
        if pending == 0 {
            switch byte {
            case 0..<0x80: return advance(UInt32(byte))
            case 0xC2...0xDF: (pending, partial, length) = (1, UInt32(byte & 0x1F), 2)
            case 0xE0...0xEF: (pending, partial, length) = (2, UInt32(byte & 0x0F), 3)
            case 0xF0...0xF4: (pending, partial, length) = (3, UInt32(byte & 0x07), 4)
            default: return die()
            }
        } else {
            guard byte & 0xC0 == 0x80 else { return die() }
            partial = partial << 6 | UInt32(byte & 0x3F)
            pending -= 1
            if pending == 0 {
                let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
                guard partial >= minimum, partial <= 0x10FFFF, !(0xD800...0xDFFF).contains(partial) else { return die() }
                return advance(partial)
            }
        }
        // Mid-character: keep going only if some stack can take a character that starts with these bytes
        // (and such a character is valid UTF-8: not overlong, not a surrogate, not past U+10FFFF).
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        let low = max(partial << (6 * UInt32(pending)), minimum)
        let high = min(partial << (6 * UInt32(pending)) | ((1 << (6 * UInt32(pending))) - 1), 0x10FFFF)
        guard low <= high, !(low >= 0xD800 && high <= 0xDFFF) else { return die() }
        guard stacks.contains(where: { !$0.isEmpty && accepts(top: $0[$0.count - 1], from: low, to: high) }) else { return die() }
        return true
    }

    private mutating func die() -> Bool {
        stacks = []
        pending = 0
        return false
    }

    /// Whether the class at `position` contains some code point in low...high.
    private func accepts(top position: Int32, from low: UInt32, to high: UInt32) -> Bool {
        guard case .characters(let start, let count, let negated) = grammar.elements[Int(position)] else { return false }
        var i = Int(start)
        let end = i + 2 * Int(count)
        while i < end {
            let (a, b) = (grammar.ranges[i], grammar.ranges[i + 1])
            if negated {
                if a <= low && b >= high { return false }  // the whole span is excluded
            } else if a <= high && b >= low {
                return true
            }
            i += 2
        }
        return negated
    }

    /// Moves every stack whose next element takes `c` past it.
    private mutating func advance(_ c: UInt32) -> Bool {
        var out: [[Int32]] = []
        var seen: Set<[Int32]> = []
        var work = 0
        for stack in stacks {
            guard let top = stack.last, grammar.matches(grammar.elements[Int(top)], c) else { continue }
            var next = stack
            next[next.count - 1] = top + 1
            if !expand(next, into: &out, seen: &seen, work: &work) {
                overflowed = true
                return die()
            }
        }
        stacks = out
        return !out.isEmpty
    }

    /// Rewrites `stack` until its top is a character class (or it is empty: a complete parse), branching at
    /// every rule into one stack per alternative. False when a bound is exceeded.
    private func expand(_ stack: [Int32], into out: inout [[Int32]], seen: inout Set<[Int32]>, work: inout Int) -> Bool {
        var pendingStacks = [stack]
        while var s = pendingStacks.popLast() {
            work += 1
            guard work <= Self.maximumWork, s.count <= Self.maximumDepth else { return false }
            guard let top = s.last else {
                if seen.insert(s).inserted { out.append(s) }
                continue
            }
            switch grammar.elements[Int(top)] {
            case .end:
                s.removeLast()
                pendingStacks.append(s)
            case .characters:
                if seen.insert(s).inserted {
                    out.append(s)
                    guard out.count <= Self.maximumStacks else { return false }
                }
            case .rule(let rule):
                // Continue after the reference once the rule is done (nothing to keep when that is the end).
                s.removeLast()
                if grammar.elements[Int(top) + 1] != .end { s.append(top + 1) }
                for start in grammar.alternatives[Int(rule)] {
                    var branch = s
                    branch.append(start)
                    pendingStacks.append(branch)
                }
            }
        }
        return true
    }
}
