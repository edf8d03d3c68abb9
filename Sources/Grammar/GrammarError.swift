/// Why a GBNF grammar was refused. Positions are 1-based, in Unicode scalars of the grammar text.
public struct GrammarError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String

    public init(line: Int, column: Int, _ message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "grammar error at line \(line), column \(column): \(message)" }
}
