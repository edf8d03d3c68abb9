/// Recursive-descent parser for our Jinja subset, following Jinja's operator precedence:
/// conditional < or < and < not < comparison < + - < ~ < * / // % < ** < unary < filters/tests < postfix.
struct Parser {
    private var tokens: [Token]
    private var index = 0
    private var depth = 0
    private let maximumDepth: Int

    init(tokens: [Token], maximumDepth: Int) {
        self.tokens = tokens
        self.maximumDepth = maximumDepth
    }

    static func parse(_ source: String, limits: ChatTemplateLimits, options: LexerOptions = LexerOptions()) throws -> [Statement] {
        var parser = Parser(tokens: try Lexer.tokenize(source, options: options), maximumDepth: limits.maximumDepth)
        let (body, _) = try parser.parseStatements(until: [])
        return body
    }

    // MARK: Token helpers

    private var current: Token { tokens[min(index, tokens.count - 1)] }

    private func peek(_ offset: Int = 1) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    private mutating func advance() -> Token {
        let token = current
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func error(_ message: String, at token: Token? = nil) -> ChatTemplateError {
        let place = (token ?? current).position
        return .syntax(message: message, line: place.line, column: place.column)
    }

    private func isSymbol(_ symbol: String, _ token: Token? = nil) -> Bool {
        if case let .symbol(found) = (token ?? current).kind { return found == symbol }
        return false
    }

    private func isName(_ name: String, _ token: Token? = nil) -> Bool {
        if case let .name(found) = (token ?? current).kind { return found == name }
        return false
    }

    private mutating func expectSymbol(_ symbol: String) throws {
        guard isSymbol(symbol) else { throw error("expected '\(symbol)', found \(describe(current))") }
        _ = advance()
    }

    private mutating func expectName() throws -> String {
        guard case let .name(name) = current.kind else { throw error("expected a name, found \(describe(current))") }
        _ = advance()
        return name
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw error("expected '%}', found \(describe(current))") }
        _ = advance()
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: return "text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case let .name(name): return "'\(name)'"
        case let .string(text): return "string \(Value.pythonStringRepresentation(text))"
        case let .integer(number): return "\(number)"
        case let .float(number): return "\(number)"
        case let .symbol(symbol): return "'\(symbol)'"
        case .endOfInput: return "end of template"
        }
    }

    private mutating func descend() throws {
        depth += 1
        if depth > maximumDepth {
            throw ChatTemplateError.nestingTooDeep(limit: maximumDepth, line: current.position.line, column: current.position.column)
        }
    }

    // MARK: Statements

    /// Parses until `{% name` for one of `terminators`; consumes that name and returns it.
    mutating func parseStatements(until terminators: Set<String>) throws -> ([Statement], String?) {
        try descend()
        defer { depth -= 1 }
        var body: [Statement] = []
        while true {
            let token = current
            switch token.kind {
            case let .text(text):
                _ = advance()
                body.append(.text(text))
            case .variableBegin:
                _ = advance()
                let expression = try parseTuple()
                guard current.kind == .variableEnd else { throw error("expected '}}', found \(describe(current))") }
                _ = advance()
                body.append(.output(expression))
            case .blockBegin:
                if case let .name(keyword) = peek().kind, terminators.contains(keyword) {
                    _ = advance()
                    _ = advance()
                    return (body, keyword)
                }
                _ = advance()
                body.append(try parseStatement())
            case .endOfInput:
                if let expected = terminators.sorted().last, !terminators.isEmpty {
                    throw error("unexpected end of template, expected '\(expected)'")
                }
                return (body, nil)
            default:
                throw error("unexpected \(describe(token))")
            }
        }
    }

    private mutating func parseStatement() throws -> Statement {
        let keywordToken = current
        guard case let .name(keyword) = keywordToken.kind else { throw error("expected a tag name, found \(describe(current))") }
        _ = advance()
        switch keyword {
        case "if": return try parseIf()
        case "for": return try parseFor(at: keywordToken.position)
        case "set": return try parseSet(at: keywordToken.position)
        case "macro": return try parseMacro()
        case "filter":
            let filters = try parseFilterChain(requireFirstPipe: false)
            try expectBlockEnd()
            let (body, _) = try parseStatements(until: ["endfilter"])
            try expectBlockEnd()
            return .filterBlock(filters, body: body)
        case "with":
            var assignments: [(String, Expression)] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectSymbol(",") }
                let name = try expectName()
                try expectSymbol("=")
                assignments.append((name, try parseExpression()))
            }
            try expectBlockEnd()
            let (body, _) = try parseStatements(until: ["endwith"])
            try expectBlockEnd()
            return .scoped(assignments: assignments, body: body)
        case "generation":
            // transformers' assistant-mask marker: renders its body unchanged.
            try expectBlockEnd()
            let (body, _) = try parseStatements(until: ["endgeneration"])
            try expectBlockEnd()
            return .scoped(assignments: [], body: body)
        case "break":
            try expectBlockEnd()
            return .breakLoop(keywordToken.position)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(keywordToken.position)
        default:
            throw error("unknown or unsupported tag '\(keyword)'", at: keywordToken)
        }
    }

    private mutating func parseIf() throws -> Statement {
        var branches: [ConditionalBranch] = []
        var condition = try parseTuple()
        while true {
            try expectBlockEnd()
            let (body, terminator) = try parseStatements(until: ["elif", "else", "endif"])
            branches.append(ConditionalBranch(condition: condition, body: body))
            switch terminator {
            case "elif":
                condition = try parseTuple()
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseStatements(until: ["endif"])
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: nil)
            }
        }
    }

    private mutating func parseFor(at position: SourcePosition) throws -> Statement {
        let target = try parseTargetNames()
        guard isName("in") else { throw error("expected 'in', found \(describe(current))") }
        _ = advance()
        let iterable = try parseTuple(allowConditional: false)
        var condition: Expression?
        if isName("if") {
            _ = advance()
            condition = try parseExpression()
        }
        if isName("recursive") { throw error("recursive loops are not supported") }
        try expectBlockEnd()
        let (body, terminator) = try parseStatements(until: ["else", "endfor"])
        var otherwise: [Statement]?
        if terminator == "else" {
            try expectBlockEnd()
            otherwise = try parseStatements(until: ["endfor"]).0
        }
        try expectBlockEnd()
        return .loop(Loop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, position: position))
    }

    private mutating func parseTargetNames() throws -> AssignmentTarget {
        let parenthesized = isSymbol("(")
        if parenthesized { _ = advance() }
        var names = [try expectName()]
        while isSymbol(",") {
            _ = advance()
            if case .name = current.kind { names.append(try expectName()) } else { break }
        }
        if parenthesized { try expectSymbol(")") }
        return names.count == 1 && !parenthesized ? .name(names[0]) : .names(names)
    }

    private mutating func parseSet(at position: SourcePosition) throws -> Statement {
        let target: AssignmentTarget
        if case let .name(object) = current.kind, isSymbol(".", peek()) {
            _ = advance()
            _ = advance()
            target = .attribute(object: object, attribute: try expectName())
        } else {
            target = try parseTargetNames()
        }
        if isSymbol("=") {
            _ = advance()
            let value = try parseTuple()
            try expectBlockEnd()
            return .assign(target, value, position)
        }
        let filters = isSymbol("|") ? try parseFilterChain(requireFirstPipe: true) : []
        try expectBlockEnd()
        let (body, _) = try parseStatements(until: ["endset"])
        try expectBlockEnd()
        return .assignBlock(target, body: body, filters: filters, position)
    }

    private mutating func parseMacro() throws -> Statement {
        let name = try expectName()
        try expectSymbol("(")
        var parameters: [String] = []
        var defaults: [String: Expression] = [:]
        while !isSymbol(")") {
            if !parameters.isEmpty { try expectSymbol(",") }
            if isSymbol(")") { break }
            let parameter = try expectName()
            parameters.append(parameter)
            if isSymbol("=") {
                _ = advance()
                defaults[parameter] = try parseExpression()
            }
        }
        _ = advance()
        try expectBlockEnd()
        let (body, _) = try parseStatements(until: ["endmacro"])
        if case .name = current.kind { _ = advance() }
        try expectBlockEnd()
        return .macro(MacroDefinition(name: name, parameters: parameters, defaults: defaults, body: body))
    }

    private mutating func parseFilterChain(requireFirstPipe: Bool) throws -> [FilterApplication] {
        var filters: [FilterApplication] = []
        if requireFirstPipe { try expectSymbol("|") }
        repeat {
            if !filters.isEmpty { _ = advance() }
            let position = current.position
            let name = try parseDottedName()
            let arguments = isSymbol("(") ? try parseCallArguments() : []
            filters.append(FilterApplication(name: name, arguments: arguments, position: position))
        } while isSymbol("|")
        return filters
    }

    // MARK: Expressions

    /// An expression, or a tuple when commas follow (`{{ a, b }}`, `set x = 1, 2`).
    mutating func parseTuple(allowConditional: Bool = true) throws -> Expression {
        let position = current.position
        let first = try parseExpression(allowConditional: allowConditional)
        guard isSymbol(",") else { return first }
        var items = [first]
        while isSymbol(",") {
            _ = advance()
            if current.kind == .blockEnd || current.kind == .variableEnd || isSymbol(")") { break }
            items.append(try parseExpression(allowConditional: allowConditional))
        }
        return Expression(kind: .tuple(items), position: position)
    }

    mutating func parseExpression(allowConditional: Bool = true) throws -> Expression {
        try descend()
        defer { depth -= 1 }
        var expression = try parseOr()
        while allowConditional, isName("if") {
            let position = current.position
            _ = advance()
            let condition = try parseOr()
            var otherwise: Expression?
            if isName("else") {
                _ = advance()
                otherwise = try parseExpression()
            }
            expression = Expression(kind: .conditional(condition: condition, then: expression, otherwise: otherwise), position: position)
        }
        return expression
    }

    private mutating func parseOr() throws -> Expression {
        var left = try parseAnd()
        while isName("or") {
            let position = advance().position
            left = Expression(kind: .or(left, try parseAnd()), position: position)
        }
        return left
    }

    private mutating func parseAnd() throws -> Expression {
        var left = try parseNot()
        while isName("and") {
            let position = advance().position
            left = Expression(kind: .and(left, try parseNot()), position: position)
        }
        return left
    }

    private mutating func parseNot() throws -> Expression {
        if isName("not") {
            let position = advance().position
            try descend()
            defer { depth -= 1 }
            return Expression(kind: .not(try parseNot()), position: position)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expression {
        let position = current.position
        let left = try parseMathAdditive()
        var comparisons: [Comparison] = []
        while true {
            var comparisonOperator: ComparisonOperator?
            if case let .symbol(symbol) = current.kind, let found = ComparisonOperator(rawValue: symbol), found != .contains {
                comparisonOperator = found
                _ = advance()
            } else if isName("in") {
                comparisonOperator = .contains
                _ = advance()
            } else if isName("not"), isName("in", peek()) {
                comparisonOperator = .notContains
                _ = advance()
                _ = advance()
            }
            guard let comparisonOperator else { break }
            comparisons.append(Comparison(comparisonOperator: comparisonOperator, operand: try parseMathAdditive()))
        }
        return comparisons.isEmpty ? left : Expression(kind: .compare(left, comparisons), position: position)
    }

    private mutating func parseBinary(_ symbols: [String], next: (inout Parser) throws -> Expression) throws -> Expression {
        var left = try next(&self)
        while case let .symbol(symbol) = current.kind, symbols.contains(symbol), let binary = BinaryOperator(rawValue: symbol) {
            let position = advance().position
            left = Expression(kind: .binary(binary, left, try next(&self)), position: position)
        }
        return left
    }

    private mutating func parseMathAdditive() throws -> Expression {
        try parseBinary(["+", "-"]) { try $0.parseConcatenation() }
    }

    private mutating func parseConcatenation() throws -> Expression {
        try parseBinary(["~"]) { try $0.parseMathMultiplicative() }
    }

    private mutating func parseMathMultiplicative() throws -> Expression {
        try parseBinary(["*", "/", "//", "%"]) { try $0.parsePower() }
    }

    private mutating func parsePower() throws -> Expression {
        try parseBinary(["**"]) { try $0.parseUnary(withFilters: true) }
    }

    private mutating func parseUnary(withFilters: Bool) throws -> Expression {
        let position = current.position
        var expression: Expression
        if isSymbol("-") || isSymbol("+") {
            let negative = isSymbol("-")
            _ = advance()
            try descend()
            defer { depth -= 1 }
            let operand = try parseUnary(withFilters: false)
            expression = Expression(kind: negative ? .negate(operand) : .plus(operand), position: position)
        } else {
            expression = try parsePostfix(try parsePrimary())
        }
        return withFilters ? try parseFiltersAndTests(expression) : expression
    }

    private mutating func parsePrimary() throws -> Expression {
        let token = current
        let position = token.position
        switch token.kind {
        case let .name(name):
            _ = advance()
            switch name {
            case "true", "True": return Expression(kind: .literal(.bool(true)), position: position)
            case "false", "False": return Expression(kind: .literal(.bool(false)), position: position)
            case "none", "None": return Expression(kind: .literal(.none), position: position)
            default: return Expression(kind: .name(name), position: position)
            }
        case var .string(text):
            _ = advance()
            // Adjacent literals join, as in Python.
            while case let .string(more) = current.kind {
                text += more
                _ = advance()
            }
            return Expression(kind: .literal(.string(text)), position: position)
        case let .integer(number):
            _ = advance()
            return Expression(kind: .literal(.int(number)), position: position)
        case let .float(number):
            _ = advance()
            return Expression(kind: .literal(.double(number)), position: position)
        case .symbol("("):
            _ = advance()
            if isSymbol(")") {
                _ = advance()
                return Expression(kind: .tuple([]), position: position)
            }
            let inner = try parseTuple()
            try expectSymbol(")")
            return inner
        case .symbol("["):
            _ = advance()
            var items: [Expression] = []
            while !isSymbol("]") {
                if !items.isEmpty {
                    try expectSymbol(",")
                    if isSymbol("]") { break }
                }
                items.append(try parseExpression())
            }
            _ = advance()
            return Expression(kind: .list(items), position: position)
        case .symbol("{"):
            _ = advance()
            var entries: [DictionaryEntry] = []
            while !isSymbol("}") {
                if !entries.isEmpty {
                    try expectSymbol(",")
                    if isSymbol("}") { break }
                }
                let key = try parseExpression()
                try expectSymbol(":")
                entries.append(DictionaryEntry(key: key, value: try parseExpression()))
            }
            _ = advance()
            return Expression(kind: .dictionary(entries), position: position)
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    private mutating func parsePostfix(_ base: Expression) throws -> Expression {
        var expression = base
        while true {
            let position = current.position
            if isSymbol(".") {
                _ = advance()
                switch current.kind {
                case let .name(name):
                    _ = advance()
                    expression = Expression(kind: .attribute(expression, name), position: position)
                case let .integer(number):
                    _ = advance()
                    let key = Expression(kind: .literal(.int(number)), position: position)
                    expression = Expression(kind: .subscriptAccess(expression, key), position: position)
                default:
                    throw error("expected an attribute name after '.', found \(describe(current))")
                }
            } else if isSymbol("[") {
                _ = advance()
                expression = try parseSubscript(of: expression, at: position)
            } else if isSymbol("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), position: position)
            } else {
                return expression
            }
        }
    }

    private mutating func parseSubscript(of base: Expression, at position: SourcePosition) throws -> Expression {
        var parts: [Expression?] = [nil]
        var sawColon = false
        while !isSymbol("]") {
            if isSymbol(":") {
                _ = advance()
                sawColon = true
                parts.append(nil)
                guard parts.count <= 3 else { throw error("too many ':' in slice") }
            } else {
                guard parts[parts.count - 1] == nil else { throw error("expected ']' or ':', found \(describe(current))") }
                parts[parts.count - 1] = try parseExpression()
            }
        }
        _ = advance()
        if !sawColon {
            guard let key = parts[0] else { throw error("empty subscript") }
            return Expression(kind: .subscriptAccess(base, key), position: position)
        }
        let step = parts.count > 2 ? parts[2] : nil
        return Expression(kind: .slice(base, start: parts[0], stop: parts[1], step: step), position: position)
    }

    private mutating func parseCallArguments() throws -> [Argument] {
        try expectSymbol("(")
        var arguments: [Argument] = []
        while !isSymbol(")") {
            if !arguments.isEmpty {
                try expectSymbol(",")
                if isSymbol(")") { break }
            }
            if isSymbol("*") || isSymbol("**") { throw error("*args and **kwargs are not supported") }
            if case let .name(name) = current.kind, isSymbol("=", peek()) {
                _ = advance()
                _ = advance()
                arguments.append(Argument(name: name, value: try parseExpression()))
            } else {
                if arguments.contains(where: { $0.name != nil }) { throw error("positional argument after keyword argument") }
                arguments.append(Argument(name: nil, value: try parseExpression()))
            }
        }
        _ = advance()
        return arguments
    }

    private mutating func parseDottedName() throws -> String {
        var name = try expectName()
        while isSymbol("."), case .name = peek().kind {
            _ = advance()
            name += "." + (try expectName())
        }
        return name
    }

    private mutating func parseFiltersAndTests(_ base: Expression) throws -> Expression {
        var expression = base
        while true {
            let position = current.position
            if isSymbol("|") {
                _ = advance()
                let name = try parseDottedName()
                let arguments = isSymbol("(") ? try parseCallArguments() : []
                expression = Expression(kind: .filter(expression, name: name, arguments: arguments), position: position)
            } else if isName("is") {
                _ = advance()
                var negated = false
                if isName("not") {
                    _ = advance()
                    negated = true
                }
                let name = try parseDottedName()
                var arguments: [Argument] = []
                if isSymbol("(") {
                    arguments = try parseCallArguments()
                } else if startsSingleTestArgument() {
                    arguments = [Argument(name: nil, value: try parsePostfix(try parsePrimary()))]
                }
                expression = Expression(kind: .test(expression, name: name, arguments: arguments, negated: negated), position: position)
            } else if isSymbol("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), position: position)
            } else {
                return expression
            }
        }
    }

    /// `x is divisibleby 3`: Jinja takes one bare argument unless the next word continues the expression.
    private func startsSingleTestArgument() -> Bool {
        switch current.kind {
        case let .name(name): return !["else", "or", "and", "if", "is", "in", "not"].contains(name)
        case .string, .integer, .float: return true
        case .symbol("["), .symbol("{"): return true
        default: return false
        }
    }
}
