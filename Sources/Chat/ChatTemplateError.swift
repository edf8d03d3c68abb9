/// Every failure of parsing or rendering a chat template. Positions are 1-based.
public enum ChatTemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The template text is not valid in our Jinja subset.
    case syntax(message: String, line: Int, column: Int)
    /// The template failed while rendering (type error, undefined value, unknown filter …).
    case runtime(message: String, line: Int, column: Int)
    /// The template called `raise_exception(message)`.
    case raised(message: String)
    /// Rendering took more evaluation steps than the limit allows.
    case stepBudgetExceeded(limit: Int)
    /// The rendered text (or one string value) grew past the byte limit.
    case outputTooLarge(limitBytes: Int)
    /// Nesting (parser) or macro recursion went deeper than the limit.
    case nestingTooDeep(limit: Int, line: Int, column: Int)
    /// Text given to `TemplateValue(parsingJSON:)` is not valid JSON.
    case invalidJSON(message: String, offset: Int)

    public var description: String {
        switch self {
        case let .syntax(message, line, column):
            return "chat template syntax error at line \(line), column \(column): \(message)"
        case let .runtime(message, line, column):
            return "chat template error at line \(line), column \(column): \(message)"
        case let .raised(message):
            return "chat template raised an exception: \(message)"
        case let .stepBudgetExceeded(limit):
            return "chat template exceeded its budget of \(limit) evaluation steps"
        case let .outputTooLarge(limitBytes):
            return "chat template output exceeded \(limitBytes) bytes"
        case let .nestingTooDeep(limit, line, column):
            return "chat template nesting deeper than \(limit) at line \(line), column \(column)"
        case let .invalidJSON(message, offset):
            return "invalid JSON at byte \(offset): \(message)"
        }
    }
}

/// Bounds that keep a hostile template from hanging or exhausting memory.
public struct ChatTemplateLimits: Sendable, Equatable {
    public var maximumSteps: Int
    public var maximumOutputBytes: Int
    /// Caps parser nesting (brackets, blocks) and macro recursion, so the native stack stays small.
    public var maximumDepth: Int

    public init(maximumSteps: Int = 1_000_000, maximumOutputBytes: Int = 4 << 20, maximumDepth: Int = 64) {
        self.maximumSteps = maximumSteps
        self.maximumOutputBytes = maximumOutputBytes
        self.maximumDepth = maximumDepth
    }
}

struct SourcePosition: Sendable, Equatable {
    var line: Int
    var column: Int
}
