/// GBNF text → Grammar. The syntax is llama.cpp's: `name ::= alternatives`, literals "…", classes […]
/// and [^…], `.`, groups ( ), postfix * + ? {m} {m,} {m,n}, `#` comments. A rule ends at a newline outside
/// parentheses, unless the next line continues it with `|`.
struct GrammarParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var grammar = Grammar()
    private var ruleIndex: [String: Int32] = [:]
    /// Where each rule was first referenced (for "undefined rule" errors) and whether it has a definition.
    private var firstUse: [Int32: Int] = [:]
    private var defined: Set<Int32> = []
    /// Where each rule (or the group or repetition that made a generated rule) starts in the text.
    private var definedAt: [Int32: Int] = [:]
    private var generated = 0
    /// Parentheses open around the current position (bounded: the parser recurses on each).
    private var nesting = 0
    static let maximumNesting = 128

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    mutating func parse(root: String) throws(GrammarError) -> Grammar {
        skip(newlines: true)
        while position < scalars.count {
            try parseRule()
            skip(newlines: true)
        }
        guard let rootIndex = ruleIndex[root], defined.contains(rootIndex) else {
            throw error(at: scalars.count, "the grammar has no '\(root)' rule")
        }
        for (rule, use) in firstUse.sorted(by: { $0.value < $1.value }) where !defined.contains(rule) {
            throw error(at: use, "undefined rule '\(grammar.names[Int(rule)])'")
        }
        grammar.root = rootIndex
        try checkLeftRecursion()
        return grammar
    }

    // MARK: - Rules

    private mutating func parseRule() throws(GrammarError) {
        let start = position
        let name = parseName()
        guard !name.isEmpty else { throw error(at: position, "expected a rule name") }
        skip(newlines: false)
        guard consume("::=") else { throw error(at: position, "expected '::=' after '\(name)'") }
        skip(newlines: true)
        let rule = ruleNumber(name)
        guard !defined.contains(rule) else { throw error(at: start, "rule '\(name)' is defined twice") }
        defined.insert(rule)
        definedAt[rule] = start
        let alternatives = try parseAlternatives(nested: false)
        try define(rule, alternatives)
        skip(newlines: false)
        if position < scalars.count, scalars[position] != "\n", scalars[position] != "\r" {
            throw error(at: position, "expected the end of the line after rule '\(name)'")
        }
    }

    /// A sequence of elements per alternative (elements before lowering: rule references and classes).
    private typealias Sequence = [Grammar.Element]

    private mutating func parseAlternatives(nested: Bool) throws(GrammarError) -> [Sequence] {
        var alternatives = [try parseSequence(nested: nested)]
        while true {
            let mark = position
            skip(newlines: nested)
            if !nested, position < scalars.count, scalars[position] == "\n" || scalars[position] == "\r" {
                // A top-level rule may continue on the next line with '|'.
                skip(newlines: true)
                guard position < scalars.count, scalars[position] == "|" else { position = mark; return alternatives }
            }
            guard position < scalars.count, scalars[position] == "|" else { position = mark; return alternatives }
            position += 1
            skip(newlines: true)
            alternatives.append(try parseSequence(nested: nested))
        }
    }

    private mutating func parseSequence(nested: Bool) throws(GrammarError) -> Sequence {
        var sequence: Sequence = []
        while position < scalars.count {
            let c = scalars[position]
            let elementStart = position
            var item: Sequence
            if c == "\"" {
                position += 1
                item = []
                while true {
                    guard position < scalars.count, scalars[position] != "\n" else { throw error(at: elementStart, "unterminated literal") }
                    if scalars[position] == "\"" { position += 1; break }
                    let v = try parseCharacter()
                    item.append(literal(v))
                }
            } else if c == "[" {
                item = [try parseClass()]
            } else if c == "." {
                position += 1
                item = [characterClass([], negated: true)]
            } else if c == "(" {
                guard nesting < Self.maximumNesting else { throw error(at: position, "groups nest deeper than \(Self.maximumNesting)") }
                position += 1
                skip(newlines: true)
                nesting += 1
                defer { nesting -= 1 }
                let inner = try parseAlternatives(nested: true)
                skip(newlines: true)
                guard position < scalars.count, scalars[position] == ")" else { throw error(at: position, "expected ')'") }
                position += 1
                item = try [.rule(newRule(inner, at: elementStart))]
            } else if isNameCharacter(c) {
                let name = parseName()
                // The start of the next rule ("name ::=") ends this sequence.
                let mark = position
                skip(newlines: false)
                if lookingAt("::=") { position = elementStart; return sequence }
                position = mark
                let rule = ruleNumber(name)
                if firstUse[rule] == nil { firstUse[rule] = elementStart }
                item = [.rule(rule)]
            } else if c == "<" {
                throw error(at: position, "token references (<…>) are not supported")
            } else {
                break
            }
            item = try parseRepetition(item, at: elementStart)
            sequence += item
            guard sequence.count <= Grammar.maximumElements else { throw error(at: elementStart, "the grammar is too large") }
            skip(newlines: nested)
        }
        return sequence
    }

    /// Applies a postfix operator, if any, to `item` (one element, or a literal's run).
    private mutating func parseRepetition(_ item: Sequence, at start: Int) throws(GrammarError) -> Sequence {
        guard position < scalars.count else { return item }
        let op = scalars[position]
        let minimum: Int, maximum: Int?
        switch op {
        case "*": position += 1; (minimum, maximum) = (0, nil)
        case "+": position += 1; (minimum, maximum) = (1, nil)
        case "?": position += 1; (minimum, maximum) = (0, 1)
        case "{":
            position += 1
            skip(newlines: false)
            guard let m = parseNumber() else { throw error(at: position, "expected a number after '{'") }
            skip(newlines: false)
            if consume("}") {
                (minimum, maximum) = (m, m)
            } else {
                guard consume(",") else { throw error(at: position, "expected ',' or '}'") }
                skip(newlines: false)
                let n = parseNumber()
                skip(newlines: false)
                guard consume("}") else { throw error(at: position, "expected '}'") }
                if let n, n < m { throw error(at: start, "repetition {\(m),\(n)}: the maximum is below the minimum") }
                (minimum, maximum) = (m, n)
            }
        default: return item
        }
        guard minimum <= Grammar.maximumRepetition, (maximum ?? 0) <= Grammar.maximumRepetition else {
            throw error(at: start, "repetition count above \(Grammar.maximumRepetition)")
        }
        // One element to repeat: a literal of several characters becomes a rule first.
        let unit: Grammar.Element = item.count == 1 ? item[0] : .rule(try newRule([item], at: start))
        var out = Sequence(repeating: unit, count: minimum)
        if let maximum {
            // Up to (maximum − minimum) more, nested: opt_k ::= unit opt_{k−1} | ε.
            var tail: Grammar.Element?
            var k = 0
            while k < maximum - minimum {
                let rest: Sequence = tail.map { [unit, $0] } ?? [unit]
                tail = .rule(try newRule([rest, []], at: start))
                k += 1
            }
            if let tail { out.append(tail) }
        } else {
            // unit*: star ::= unit star | ε.
            let star = try newRule([], at: start)
            try define(star, [[unit, .rule(star)], []])
            out.append(.rule(star))
        }
        guard out.count <= Grammar.maximumElements else { throw error(at: start, "the grammar is too large") }
        return out
    }

    // MARK: - Characters

    private mutating func parseClass() throws(GrammarError) -> Grammar.Element {
        let start = position
        position += 1
        var negated = false
        if position < scalars.count, scalars[position] == "^" { negated = true; position += 1 }
        var ranges: [UInt32] = []
        while true {
            guard position < scalars.count, scalars[position] != "\n" else { throw error(at: start, "unterminated character class") }
            if scalars[position] == "]" { position += 1; break }
            let low = try parseCharacter()
            var high = low
            if position + 1 < scalars.count, scalars[position] == "-", scalars[position + 1] != "]" {
                position += 1
                high = try parseCharacter()
                guard high >= low else { throw error(at: start, "character range with its end before its start") }
            }
            ranges += [low, high]
        }
        return characterClass(ranges, negated: negated)
    }

    /// One character of a literal or class, escapes decoded.
    private mutating func parseCharacter() throws(GrammarError) -> UInt32 {
        let start = position
        let c = scalars[position]
        position += 1
        guard c == "\\" else { return c.value }
        guard position < scalars.count else { throw error(at: start, "unfinished escape") }
        let e = scalars[position]
        position += 1
        switch e {
        case "n": return 10
        case "t": return 9
        case "r": return 13
        case "\\", "\"", "[", "]", "-", "^", "/", ".", "|", "(", ")", "*", "+", "?", "{", "}": return e.value
        case "x": return try parseHex(digits: 2, at: start)
        case "u": return try parseHex(digits: 4, at: start)
        case "U": return try parseHex(digits: 8, at: start)
        default: throw error(at: start, "unknown escape '\\\(e)'")
        }
    }

    private mutating func parseHex(digits: Int, at start: Int) throws(GrammarError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard position < scalars.count, let d = hexValue(scalars[position]) else {
                throw error(at: start, "expected \(digits) hex digits")
            }
            value = value << 4 | d
            position += 1
        }
        guard value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
            throw error(at: start, "escape outside Unicode's scalar values")
        }
        return value
    }

    private func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }

    private mutating func literal(_ c: UInt32) -> Grammar.Element { characterClass([c, c], negated: false) }

    private mutating func characterClass(_ ranges: [UInt32], negated: Bool) -> Grammar.Element {
        let start = Int32(grammar.ranges.count / 2 * 2)
        grammar.ranges += ranges
        return .characters(start: start, count: Int32(ranges.count / 2), negated: negated)
    }

    // MARK: - Rule table

    private mutating func ruleNumber(_ name: String) -> Int32 {
        if let r = ruleIndex[name] { return r }
        let r = Int32(grammar.alternatives.count)
        ruleIndex[name] = r
        grammar.names.append(name)
        grammar.alternatives.append([])
        return r
    }

    /// A generated rule (groups, repetitions); defined at once when `alternatives` is non-empty.
    private mutating func newRule(_ alternatives: [Sequence], at start: Int) throws(GrammarError) -> Int32 {
        generated += 1
        let r = ruleNumber("#\(generated)")  // "#" cannot start a rule name in the text
        defined.insert(r)
        definedAt[r] = start
        if !alternatives.isEmpty { try define(r, alternatives) }
        return r
    }

    private mutating func define(_ rule: Int32, _ alternatives: [Sequence]) throws(GrammarError) {
        var starts: [Int32] = []
        for sequence in alternatives {
            starts.append(Int32(grammar.elements.count))
            grammar.elements += sequence
            grammar.elements.append(.end)
        }
        guard grammar.elements.count <= Grammar.maximumElements else { throw error(at: position, "the grammar is too large") }
        grammar.alternatives[Int(rule)] = starts
    }

    // MARK: - Checks

    /// A rule that can reach itself without consuming a character would make the recogniser loop.
    private func checkLeftRecursion() throws(GrammarError) {
        let count = grammar.alternatives.count
        // Nullable rules, by a worklist in time linear in the grammar: an alternative is nullable once every
        // element in it is a nullable rule; `waiting[a]` counts its elements not yet known to be.
        var nullable = [Bool](repeating: false, count: count)
        var owner: [Int] = [], waiting: [Int] = []
        var uses = [[Int]](repeating: [], count: count)  // rule → alternatives that contain it (with repeats)
        var ready: [Int] = []
        for r in 0..<count {
            for start in grammar.alternatives[r] {
                let a = owner.count
                owner.append(r)
                var pending = 0, i = Int(start)
                scan: while true {
                    switch grammar.elements[i] {
                    case .end: break scan
                    case .characters: pending = Int.max / 2  // never nullable
                    case .rule(let s): pending += 1; uses[Int(s)].append(a)
                    }
                    i += 1
                }
                waiting.append(pending)
                if pending == 0 { ready.append(a) }
            }
        }
        while let a = ready.popLast() {
            let r = owner[a]
            guard !nullable[r] else { continue }
            nullable[r] = true
            for b in uses[r] {
                waiting[b] -= 1
                if waiting[b] == 0 { ready.append(b) }
            }
        }
        // Edges r → s where s can come first in r; then look for a cycle.
        var edges = [[Int32]](repeating: [], count: count)
        for r in 0..<count {
            for start in grammar.alternatives[r] { edges[r] += prefixNullable(from: Int(start), nullable).leading }
        }
        var state = [UInt8](repeating: 0, count: count)  // 0 new, 1 on the path, 2 done
        for r in 0..<count where state[r] == 0 {
            // Iterative depth-first search (a deep grammar must not overflow the stack).
            var path: [(Int, Int)] = [(r, 0)]
            state[r] = 1
            while let (node, next) = path.last {
                if next < edges[node].count {
                    path[path.count - 1].1 += 1
                    let s = Int(edges[node][next])
                    if state[s] == 1 {
                        throw error(at: definedAt[Int32(s)] ?? 0, "\(displayName(s)) is left-recursive (it can reach itself before matching a character)")
                    }
                    if state[s] == 0 { state[s] = 1; path.append((s, 0)) }
                } else {
                    state[node] = 2
                    path.removeLast()
                }
            }
        }
    }

    /// The rules at the start of the alternative at `start` up to its first non-nullable element, and whether
    /// the whole alternative is nullable.
    private func prefixNullable(from start: Int, _ nullable: [Bool]) -> (leading: [Int32], complete: Bool) {
        var leading: [Int32] = []
        var i = start
        while true {
            switch grammar.elements[i] {
            case .end: return (leading, true)
            case .characters: return (leading, false)
            case .rule(let s):
                leading.append(s)
                if !nullable[Int(s)] { return (leading, false) }
            }
            i += 1
        }
    }

    private func displayName(_ rule: Int) -> String {
        let name = grammar.names[rule]
        return name.hasPrefix("#") ? "a group or repetition" : "rule '\(name)'"
    }

    // MARK: - Lexing

    private func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    private mutating func parseName() -> String {
        var name = ""
        while position < scalars.count, isNameCharacter(scalars[position]) {
            name.unicodeScalars.append(scalars[position])
            position += 1
        }
        return name
    }

    private mutating func parseNumber() -> Int? {
        var value = 0, digits = 0
        while position < scalars.count, scalars[position] >= "0", scalars[position] <= "9" {
            // Saturate: anything this long is refused by the repetition limit.
            value = min(value * 10 + Int(scalars[position].value - 48), 1_000_000_000)
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// Skips blanks and comments; newlines too when `newlines`.
    private mutating func skip(newlines: Bool) {
        while position < scalars.count {
            let c = scalars[position]
            if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r")) {
                position += 1
            } else if c == "#" {
                while position < scalars.count, scalars[position] != "\n" { position += 1 }
            } else {
                return
            }
        }
    }

    private func lookingAt(_ text: String) -> Bool {
        var i = position
        for s in text.unicodeScalars {
            guard i < scalars.count, scalars[i] == s else { return false }
            i += 1
        }
        return true
    }

    private mutating func consume(_ text: String) -> Bool {
        guard lookingAt(text) else { return false }
        position += text.unicodeScalars.count
        return true
    }

    private func error(at offset: Int, _ message: String) -> GrammarError {
        var line = 1, column = 1
        for s in scalars[..<min(offset, scalars.count)] {
            if s == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return GrammarError(line: line, column: column, message)
    }
}
