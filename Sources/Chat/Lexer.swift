/// Splits template source into text and tag tokens, applying Jinja's whitespace control
/// (`-`/`+` markers, trim_blocks, lstrip_blocks) exactly where Jinja's lexer does.
enum TokenKind: Equatable, Sendable {
    case text(String)
    case variableBegin
    case variableEnd
    case blockBegin
    case blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case symbol(String)
    case endOfInput
}

struct Token: Sendable {
    var kind: TokenKind
    var position: SourcePosition
}

struct LexerOptions: Sendable {
    /// Remove the first newline after a block or comment tag (transformers renders with this on).
    var trimBlocks = true
    /// Remove spaces and tabs before a block or comment tag that starts its line.
    var lstripBlocks = true
}

struct Lexer {
    private let scalars: [Unicode.Scalar]
    private let lineStarts: [Int]
    private let options: LexerOptions
    private var index = 0
    /// Whether the last tag ended by consuming a newline: Jinja then treats the next text as a line start.
    private var lineStarting = true
    private var tokens: [Token] = []

    private static let symbols: [String] = [
        "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|",
        "(", ")", "[", "]", "{", "}",
    ].sorted { $0.count > $1.count }

    init(source: String, options: LexerOptions) {
        // Jinja normalises every line break to "\n" and drops one trailing newline.
        var normalized: [Unicode.Scalar] = []
        normalized.reserveCapacity(source.unicodeScalars.count)
        var previousWasCarriageReturn = false
        for scalar in source.unicodeScalars {
            if scalar == "\r" {
                normalized.append("\n")
                previousWasCarriageReturn = true
                continue
            }
            if scalar == "\n" && previousWasCarriageReturn {
                previousWasCarriageReturn = false
                continue
            }
            previousWasCarriageReturn = false
            normalized.append(scalar)
        }
        if normalized.last == "\n" { normalized.removeLast() }
        scalars = normalized
        var starts = [0]
        for (offset, scalar) in normalized.enumerated() where scalar == "\n" { starts.append(offset + 1) }
        lineStarts = starts
        self.options = options
    }

    static func tokenize(_ source: String, options: LexerOptions = LexerOptions()) throws -> [Token] {
        var lexer = Lexer(source: source, options: options)
        try lexer.run()
        return lexer.tokens
    }

    func position(of offset: Int) -> SourcePosition {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return SourcePosition(line: low + 1, column: offset - lineStarts[low] + 1)
    }

    private func syntaxError(_ message: String, at offset: Int) -> ChatTemplateError {
        let place = position(of: offset)
        return .syntax(message: message, line: place.line, column: place.column)
    }

    private func matches(_ literal: String, at offset: Int) -> Bool {
        var cursor = offset
        for scalar in literal.unicodeScalars {
            guard cursor < scalars.count, scalars[cursor] == scalar else { return false }
            cursor += 1
        }
        return true
    }

    private func skipWhitespace(from offset: Int) -> Int {
        var cursor = offset
        while cursor < scalars.count, isPythonWhitespace(scalars[cursor]) { cursor += 1 }
        return cursor
    }

    private enum TagKind { case variable, block, comment }

    private func findTagStart(from offset: Int) -> (Int, TagKind)? {
        var cursor = offset
        while cursor + 1 < scalars.count {
            if scalars[cursor] == "{" {
                switch scalars[cursor + 1] {
                case "{": return (cursor, .variable)
                case "%": return (cursor, .block)
                case "#": return (cursor, .comment)
                default: break
                }
            }
            cursor += 1
        }
        return nil
    }

    /// Applies the opening tag's whitespace control to the text before it.
    private func controlledText(_ start: Int, _ end: Int, marker: Unicode.Scalar?, isVariable: Bool) -> ArraySlice<Unicode.Scalar> {
        var text = scalars[start..<end]
        if marker == "-" {
            while let last = text.last, isPythonWhitespace(last) { text.removeLast() }
        } else if marker != "+", options.lstripBlocks, !isVariable {
            let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
            if lineStart > text.startIndex || lineStarting {
                let tail = text[lineStart...]
                if !tail.isEmpty && tail.allSatisfy(isPythonWhitespace) { text = text[..<lineStart] }
            }
        }
        return text
    }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>, at offset: Int) {
        guard !text.isEmpty else { return }
        var string = String()
        string.unicodeScalars.append(contentsOf: text)
        tokens.append(Token(kind: .text(string), position: position(of: offset)))
    }

    /// After a closing `%}` or `#}`: `-` eats all following whitespace, plain eats one newline (trim_blocks).
    private mutating func finishTag(endAt offset: Int, marker: Unicode.Scalar?, trimsNewline: Bool) {
        var cursor = offset
        if marker == "-" {
            cursor = skipWhitespace(from: cursor)
        } else if marker != "+", trimsNewline, cursor < scalars.count, scalars[cursor] == "\n" {
            cursor += 1
        }
        lineStarting = cursor > offset && scalars[cursor - 1] == "\n"
        index = cursor
    }

    private mutating func run() throws {
        while index < scalars.count {
            guard let (tagStart, kind) = findTagStart(from: index) else {
                emitText(scalars[index...], at: index)
                break
            }
            var cursor = tagStart + 2
            var marker: Unicode.Scalar?
            if cursor < scalars.count, scalars[cursor] == "-" || scalars[cursor] == "+" {
                marker = scalars[cursor]
                cursor += 1
            }
            if kind == .block, let rawBodyStart = rawBlockBodyStart(after: cursor) {
                emitText(controlledText(index, tagStart, marker: marker, isVariable: false), at: index)
                try lexRawBlock(bodyStart: rawBodyStart, tagStart: tagStart)
                continue
            }
            emitText(controlledText(index, tagStart, marker: marker, isVariable: kind == .variable), at: index)
            switch kind {
            case .comment:
                try lexComment(from: cursor, tagStart: tagStart)
            case .variable:
                tokens.append(Token(kind: .variableBegin, position: position(of: tagStart)))
                try lexTagContents(from: cursor, isBlock: false, tagStart: tagStart)
            case .block:
                tokens.append(Token(kind: .blockBegin, position: position(of: tagStart)))
                try lexTagContents(from: cursor, isBlock: true, tagStart: tagStart)
            }
        }
        tokens.append(Token(kind: .endOfInput, position: position(of: scalars.count)))
    }

    private mutating func lexComment(from offset: Int, tagStart: Int) throws {
        var cursor = offset
        while cursor + 1 < scalars.count {
            if scalars[cursor] == "#" && scalars[cursor + 1] == "}" {
                let marker: Unicode.Scalar? = cursor > offset && (scalars[cursor - 1] == "-" || scalars[cursor - 1] == "+")
                    ? scalars[cursor - 1] : nil
                finishTag(endAt: cursor + 2, marker: marker, trimsNewline: options.trimBlocks)
                return
            }
            cursor += 1
        }
        throw syntaxError("missing end of comment tag", at: tagStart)
    }

    /// `{% raw %}` (any whitespace, optional `-` before `%}`): returns where the raw body begins.
    private func rawBlockBodyStart(after offset: Int) -> Int? {
        var cursor = skipWhitespace(from: offset)
        guard matches("raw", at: cursor) else { return nil }
        cursor = skipWhitespace(from: cursor + 3)
        if matches("-%}", at: cursor) { return skipWhitespace(from: cursor + 3) }
        if matches("%}", at: cursor) { return cursor + 2 }
        return nil
    }

    private mutating func lexRawBlock(bodyStart: Int, tagStart: Int) throws {
        var search = bodyStart
        while let (candidate, kind) = findTagStart(from: search) {
            search = candidate + 1
            guard kind == .block else { continue }
            var cursor = candidate + 2
            var marker: Unicode.Scalar?
            if cursor < scalars.count, scalars[cursor] == "-" || scalars[cursor] == "+" {
                marker = scalars[cursor]
                cursor += 1
            }
            cursor = skipWhitespace(from: cursor)
            guard matches("endraw", at: cursor) else { continue }
            cursor = skipWhitespace(from: cursor + 6)
            var endMarker: Unicode.Scalar?
            if cursor < scalars.count, scalars[cursor] == "-" || scalars[cursor] == "+" {
                endMarker = scalars[cursor]
                cursor += 1
            }
            guard matches("%}", at: cursor) else { continue }
            index = bodyStart
            lineStarting = false
            emitText(controlledText(bodyStart, candidate, marker: marker, isVariable: false), at: bodyStart)
            finishTag(endAt: cursor + 2, marker: endMarker, trimsNewline: options.trimBlocks)
            return
        }
        throw syntaxError("missing end of raw directive", at: tagStart)
    }

    private mutating func lexTagContents(from offset: Int, isBlock: Bool, tagStart: Int) throws {
        var cursor = offset
        var depth = 0
        while true {
            cursor = skipWhitespace(from: cursor)
            guard cursor < scalars.count else {
                throw syntaxError(isBlock ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", at: tagStart)
            }
            if depth == 0 {
                let closing = isBlock ? "%}" : "}}"
                if matches("-" + closing, at: cursor) || matches("+" + closing, at: cursor) && isBlock {
                    tokens.append(Token(kind: isBlock ? .blockEnd : .variableEnd, position: position(of: cursor)))
                    finishTag(endAt: cursor + 3, marker: scalars[cursor], trimsNewline: isBlock && options.trimBlocks)
                    return
                }
                if matches(closing, at: cursor) {
                    tokens.append(Token(kind: isBlock ? .blockEnd : .variableEnd, position: position(of: cursor)))
                    finishTag(endAt: cursor + 2, marker: nil, trimsNewline: isBlock && options.trimBlocks)
                    return
                }
            }
            let start = cursor
            let scalar = scalars[cursor]
            if scalar == "_" || scalar.properties.isAlphabetic {
                while cursor < scalars.count,
                      scalars[cursor] == "_" || scalars[cursor].properties.isAlphabetic || isDigit(scalars[cursor]) {
                    cursor += 1
                }
                tokens.append(Token(kind: .name(string(start, cursor)), position: position(of: start)))
            } else if isDigit(scalar) {
                cursor = try lexNumber(from: start)
            } else if scalar == "'" || scalar == "\"" {
                cursor = try lexString(from: start)
            } else if let symbol = Lexer.symbols.first(where: { matches($0, at: cursor) }) {
                switch symbol {
                case "(", "[", "{": depth += 1
                case ")", "]", "}":
                    depth -= 1
                    if depth < 0 { throw syntaxError("unexpected '\(symbol)'", at: start) }
                default: break
                }
                cursor += symbol.unicodeScalars.count
                tokens.append(Token(kind: .symbol(symbol), position: position(of: start)))
            } else {
                throw syntaxError("unexpected character '\(Character(scalar))'", at: start)
            }
        }
    }

    private func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar >= "0" && scalar <= "9" }

    private func string(_ start: Int, _ end: Int) -> String {
        var text = String()
        text.unicodeScalars.append(contentsOf: scalars[start..<end])
        return text
    }

    private mutating func lexNumber(from start: Int) throws -> Int {
        var cursor = start
        var isFloat = false
        func digits() {
            while cursor < scalars.count, isDigit(scalars[cursor]) || scalars[cursor] == "_" { cursor += 1 }
        }
        digits()
        if cursor + 1 < scalars.count, scalars[cursor] == ".", isDigit(scalars[cursor + 1]) {
            isFloat = true
            cursor += 1
            digits()
        }
        if cursor < scalars.count, scalars[cursor] == "e" || scalars[cursor] == "E" {
            var exponent = cursor + 1
            if exponent < scalars.count, scalars[exponent] == "+" || scalars[exponent] == "-" { exponent += 1 }
            if exponent < scalars.count, isDigit(scalars[exponent]) {
                isFloat = true
                cursor = exponent
                digits()
            }
        }
        let text = string(start, cursor).filter { $0 != "_" }
        if isFloat {
            guard let number = Double(text) else { throw syntaxError("invalid number '\(text)'", at: start) }
            tokens.append(Token(kind: .float(number), position: position(of: start)))
        } else {
            guard let number = Int(text) else { throw syntaxError("integer '\(text)' is too large", at: start) }
            tokens.append(Token(kind: .integer(number), position: position(of: start)))
        }
        return cursor
    }

    /// Decodes a quoted literal with Python's unicode-escape rules (unknown escapes stay as written).
    private mutating func lexString(from start: Int) throws -> Int {
        let quote = scalars[start]
        var cursor = start + 1
        var value = String.UnicodeScalarView()
        while true {
            guard cursor < scalars.count else { throw syntaxError("unterminated string literal", at: start) }
            let scalar = scalars[cursor]
            if scalar == quote { cursor += 1; break }
            guard scalar == "\\" else { value.append(scalar); cursor += 1; continue }
            guard cursor + 1 < scalars.count else { throw syntaxError("unterminated string literal", at: start) }
            let escaped = scalars[cursor + 1]
            cursor += 2
            switch escaped {
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "r": value.append("\r")
            case "b": value.append("\u{08}")
            case "f": value.append("\u{0C}")
            case "v": value.append("\u{0B}")
            case "a": value.append("\u{07}")
            case "\\", "'", "\"": value.append(escaped)
            case "\n": break
            case "0"..."7":
                var code = escaped.value - 48
                var count = 1
                while count < 3, cursor < scalars.count, scalars[cursor] >= "0", scalars[cursor] <= "7" {
                    code = code * 8 + scalars[cursor].value - 48
                    cursor += 1
                    count += 1
                }
                guard let decoded = Unicode.Scalar(code) else { throw syntaxError("invalid octal escape", at: cursor) }
                value.append(decoded)
            case "x", "u", "U":
                let width = escaped == "x" ? 2 : escaped == "u" ? 4 : 8
                guard cursor + width <= scalars.count,
                      let code = UInt32(string(cursor, cursor + width), radix: 16),
                      let decoded = Unicode.Scalar(code)
                else { throw syntaxError("invalid \\\(escaped) escape in string literal", at: cursor - 2) }
                value.append(decoded)
                cursor += width
            default:
                value.append("\\")
                value.append(escaped)
            }
        }
        tokens.append(Token(kind: .string(String(value)), position: position(of: start)))
        return cursor
    }
}
