/// The parsed form of a template: statements holding expressions, each with its source position.
struct Expression: Sendable {
    var kind: Kind
    var position: SourcePosition

    indirect enum Kind: Sendable {
        case literal(Value)
        case name(String)
        case list([Expression])
        case tuple([Expression])
        case dictionary([DictionaryEntry])
        case attribute(Expression, String)
        case subscriptAccess(Expression, Expression)
        case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
        case call(Expression, [Argument])
        case filter(Expression, name: String, arguments: [Argument])
        case test(Expression, name: String, arguments: [Argument], negated: Bool)
        case negate(Expression)
        case plus(Expression)
        case not(Expression)
        case binary(BinaryOperator, Expression, Expression)
        case compare(Expression, [Comparison])
        case and(Expression, Expression)
        case or(Expression, Expression)
        case conditional(condition: Expression, then: Expression, otherwise: Expression?)
    }
}

struct DictionaryEntry: Sendable {
    var key: Expression
    var value: Expression
}

struct Argument: Sendable {
    var name: String?
    var value: Expression
}

struct Comparison: Sendable {
    var comparisonOperator: ComparisonOperator
    var operand: Expression
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%"
    case power = "**", concatenate = "~"
}

enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case contains = "in", notContains = "not in"
}

/// Where `set` and `for` put values.
enum AssignmentTarget: Sendable {
    case name(String)
    case names([String])
    case attribute(object: String, attribute: String)
}

struct FilterApplication: Sendable {
    var name: String
    var arguments: [Argument]
    var position: SourcePosition
}

struct MacroDefinition: Sendable {
    var name: String
    var parameters: [String]
    var defaults: [String: Expression]
    var body: [Statement]
}

indirect enum Statement: Sendable {
    case text(String)
    case output(Expression)
    case conditional(branches: [ConditionalBranch], otherwise: [Statement]?)
    case loop(Loop)
    case assign(AssignmentTarget, Expression, SourcePosition)
    case assignBlock(AssignmentTarget, body: [Statement], filters: [FilterApplication], SourcePosition)
    case macro(MacroDefinition)
    case filterBlock([FilterApplication], body: [Statement])
    case scoped(assignments: [(String, Expression)], body: [Statement])
    case breakLoop(SourcePosition)
    case continueLoop(SourcePosition)
}

struct ConditionalBranch: Sendable {
    var condition: Expression
    var body: [Statement]
}

struct Loop: Sendable {
    var target: AssignmentTarget
    var iterable: Expression
    var condition: Expression?
    var body: [Statement]
    var otherwise: [Statement]?
    var position: SourcePosition
}
