/// A compiled GBNF grammar: every rule is a list of alternatives, each a run of elements in one flat array
/// ending in `.end`. Repetitions and groups are already lowered into generated rules (`x*` is
/// `r ::= x r | ε`), so the matcher only sees terminals, rule references and ends.
public struct Grammar: Sendable {
    /// One matchable unit: a character class (a literal is a one-range class), a rule, or the end of an alternative.
    enum Element: Hashable, Sendable {
        case end
        case rule(Int32)
        /// Code point ranges (inclusive pairs, flattened) at `ranges[start ..< start + 2·count]`.
        case characters(start: Int32, count: Int32, negated: Bool)
    }

    var elements: [Element] = []
    /// Flattened inclusive code point ranges of the character classes.
    var ranges: [UInt32] = []
    /// Per rule, the element index where each alternative starts.
    var alternatives: [[Int32]] = []
    var names: [String] = []
    /// Index of the start rule.
    public internal(set) var root: Int32 = 0

    /// Limits that keep any grammar text bounded in memory and work.
    public static let maximumElements = 500_000
    public static let maximumRepetition = 10_000

    public var ruleCount: Int { alternatives.count }

    /// Parses GBNF text (llama.cpp's syntax) and checks it: undefined rules, left recursion and size limits
    /// are errors with the line and column where they show.
    public static func parse(_ text: String, root: String = "root") throws(GrammarError) -> Grammar {
        var parser = GrammarParser(text)
        return try parser.parse(root: root)
    }

    @inline(__always)
    func matches(_ element: Element, _ c: UInt32) -> Bool {
        guard case .characters(let start, let count, let negated) = element else { return false }
        var i = Int(start)
        let end = i + 2 * Int(count)
        while i < end {
            if c >= ranges[i] && c <= ranges[i + 1] { return !negated }
            i += 2
        }
        return negated
    }
}
