import Grammar
import Sampling
import Tokenizer

/// The vocabulary's byte strings in sorted order with each one's common prefix with the one before, so a
/// grammar can be run over every token at once as a walk of the implied trie: a prefix the grammar refuses
/// is refused once for all the tokens that share it. Built once per model, shared by every request.
public final class TokenPieces: Sendable {
    let ids: [Int32]
    let bytes: [UInt8]
    let starts: [Int32]
    /// common[i]: length of the prefix piece i shares with piece i − 1.
    let common: [Int32]

    public init(tokenizer: Tokenizer) {
        // Control tokens have no bytes (they are never text); end-of-generation is decided by the grammar apart.
        var pieces: [(bytes: [UInt8], id: Int32)] = []
        for id in 0..<tokenizer.vocabularySize where !tokenizer.isEndOfGeneration(id) {
            let piece = tokenizer.piece(id)
            if !piece.isEmpty { pieces.append((piece, Int32(id))) }
        }
        pieces.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        var ids: [Int32] = [], bytes: [UInt8] = [], starts: [Int32] = [0], common: [Int32] = []
        var previous: [UInt8] = []
        for piece in pieces {
            var shared = 0
            while shared < min(previous.count, piece.bytes.count), previous[shared] == piece.bytes[shared] { shared += 1 }
            ids.append(piece.id)
            bytes += piece.bytes
            starts.append(Int32(bytes.count))
            common.append(Int32(shared))
            previous = piece.bytes
        }
        (self.ids, self.bytes, self.starts, self.common) = (ids, bytes, starts, common)
    }
}

/// Why a constrained generation cannot go on.
public enum GrammarConstraintError: Error, Sendable, CustomStringConvertible {
    /// No token (not even end of generation) continues the grammar.
    case deadEnd
    /// The grammar's parse outgrew the matcher's bounds (an ambiguous or too deeply nested grammar).
    case tooComplex

    public var description: String {
        switch self {
        case .deadEnd: return "the grammar allows no token here (a grammar that cannot be completed by this model's vocabulary)"
        case .tooComplex: return "the grammar's parse grew past the matcher's bounds (too ambiguous or too deeply nested)"
        }
    }
}

/// Where a lazy grammar starts: the output is free until it contains `text` (at its start, after whitespace,
/// when `atStart`), and from there on — the trigger included — it must follow the grammar.
public struct GrammarTrigger: Sendable, Equatable {
    public let text: String
    public let atStart: Bool
    public init(text: String, atStart: Bool) {
        self.text = text
        self.atStart = atStart
    }
}

/// Sampling under a grammar: draw from the unconstrained chain, keep the token if the grammar takes its bytes,
/// otherwise mask every token the grammar refuses and draw again from the same chain. End of generation is
/// allowed only where the grammar is complete.
public struct GrammarConstraint {
    public private(set) var matcher: GrammarMatcher
    let pieces: TokenPieces
    let tokenizer: Tokenizer
    /// Draws that needed the full mask (for the overhead reports).
    public private(set) var maskedDraws = 0
    /// A lazy grammar not yet started, and the output so far (to look for its trigger).
    private var trigger: GrammarTrigger?
    private var produced: [UInt8] = []
    /// An at-start trigger that did not come: the output stays free to the end.
    private var triggerMissed = false

    public init(grammar: Grammar, pieces: TokenPieces, tokenizer: Tokenizer, trigger: GrammarTrigger? = nil) {
        matcher = GrammarMatcher(grammar)
        self.pieces = pieces
        self.tokenizer = tokenizer
        self.trigger = trigger
    }

    /// Whether the grammar has started (always, unless it is lazy and its trigger has not come).
    public var isActive: Bool { trigger == nil }

    /// Whether the grammar takes token `id` next.
    public func allows(_ id: Int) -> Bool {
        if trigger != nil { return (try? lazyStep(id)) != nil }
        if tokenizer.isEndOfGeneration(id) { return matcher.canEnd }
        let piece = tokenizer.piece(id)
        guard !piece.isEmpty else { return false }
        var m = matcher
        return m.accept(bytes: piece)
    }

    /// Before the trigger: the output after token `id`, and the matcher that takes over if it holds the trigger
    /// (nil while it does not). Throws when the token completes the trigger with text the grammar refuses.
    private func lazyStep(_ id: Int) throws(GrammarConstraintError) -> (output: [UInt8], started: GrammarMatcher?) {
        guard let trigger else { return (produced, matcher) }
        if triggerMissed || tokenizer.isEndOfGeneration(id) { return (produced, nil) }
        let output = produced + tokenizer.piece(id)
        let key = Array(trigger.text.utf8)
        let start: Int?
        if trigger.atStart {
            let first = output.firstIndex { ![0x20, 0x0A, 0x09, 0x0D].contains($0) } ?? output.count
            start = output.count - first >= key.count && Array(output[first..<(first + key.count)]) == key ? first : nil
        } else {
            // Only where this token's bytes can have completed it.
            let from = max(0, produced.count - key.count + 1)
            start = output.count < key.count ? nil : (from...(output.count - key.count)).first { Array(output[$0..<($0 + key.count)]) == key }
        }
        guard let start else { return (output, nil) }
        var m = matcher
        guard m.accept(bytes: output[start...]) else { throw m.overflowed ? .tooComplex : .deadEnd }
        return (output, m)
    }

    /// Parse-stack steps one vocabulary walk may take (a grammar whose stack set stays huge would otherwise hold
    /// the compute thread for minutes per token).
    static let maximumWalkWork = 30_000_000

    /// Every token the grammar takes next (end-of-generation tokens when it is complete), unordered.
    public func allowedTokens() throws(GrammarConstraintError) -> [Int] {
        if trigger != nil {
            // Before the trigger (rarely needed: only when a drawn token starts the grammar wrongly).
            let allowed = (0..<tokenizer.vocabularySize).filter { allows($0) }
            if allowed.isEmpty { throw .deadEnd }
            return allowed
        }
        var allowed: [Int] = []
        var states = [matcher]
        var deadBelow = Int.max  // tokens sharing more than this many bytes with a refused one are refused too
        var overflowed = false
        var work = 0  // stacks advanced, over the whole walk
        for i in pieces.ids.indices {
            let shared = Int(pieces.common[i])
            if shared >= deadBelow { continue }
            deadBelow = .max
            states.removeSubrange((shared + 1)...)
            let start = Int(pieces.starts[i]), end = Int(pieces.starts[i + 1])
            var depth = shared
            while start + depth < end {
                var next = states[depth]
                work += next.stackCount + 1
                guard work <= Self.maximumWalkWork else { throw .tooComplex }
                guard next.accept(pieces.bytes[start + depth]) else {
                    overflowed = overflowed || next.overflowed
                    deadBelow = depth + 1
                    break
                }
                states.append(next)
                depth += 1
            }
            if deadBelow == .max { allowed.append(Int(pieces.ids[i])) }
        }
        if matcher.canEnd { allowed += tokenizer.endOfGenerationTokens.sorted() }
        if allowed.isEmpty { throw overflowed ? .tooComplex : .deadEnd }
        return allowed
    }

    /// Samples with `chain`, honouring the grammar (see the type's note).
    public mutating func sample(_ chain: inout SamplerChain, logits: UnsafeBufferPointer<Float>,
                                history: ArraySlice<Int>) throws(GrammarConstraintError) -> Int {
        let first = chain.sample(logits: logits, history: history)
        if allows(first) { return first }
        maskedDraws += 1
        return chain.sample(allowed: try allowedTokens(), logits: logits, history: history)
    }

    /// Moves the grammar past the chosen token (a no-op for end of generation).
    public mutating func commit(_ id: Int) throws(GrammarConstraintError) {
        if trigger != nil {
            let (output, started) = try lazyStep(id)
            if let started {
                matcher = started
                trigger = nil
                produced = []
            } else if let trigger, !triggerMissed {
                let keyLength = trigger.text.utf8.count
                if trigger.atStart {
                    // Decided once as many non-blank bytes as the trigger has are out.
                    let first = output.firstIndex { ![0x20, 0x0A, 0x09, 0x0D].contains($0) } ?? output.count
                    if output.count - first >= keyLength { triggerMissed = true; produced = [] } else { produced = output }
                } else {
                    produced = Array(output.suffix(keyLength - 1))  // all a later token can complete it with
                }
            }
            return
        }
        guard !tokenizer.isEndOfGeneration(id) else {
            if !matcher.canEnd { throw .deadEnd }
            return
        }
        if !matcher.accept(bytes: tokenizer.piece(id)) {
            throw matcher.overflowed ? .tooComplex : .deadEnd
        }
    }
}
