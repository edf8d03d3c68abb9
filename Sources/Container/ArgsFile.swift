/// The `.args` member: default command-line arguments stored in a bundle.
///
/// Syntax: arguments separated by whitespace (several per line allowed); `#` at the start of an
/// argument comments out the rest of the line; 'single quotes' keep everything literally; "double
/// quotes" allow \" \\ \n \t escapes (other backslashes stay as written); quoted and unquoted pieces
/// next to each other join into one argument (`--prompt="a b"`). Outside quotes a backslash is a
/// plain character, so Windows paths need no doubling. The token `...` marks where the user's own
/// arguments go.
public enum ArgsFile {
    public static let userArgumentsMarker = "..."

    public static func parse(_ text: String, source: String = ".args") throws -> [String] {
        var arguments: [String] = []
        var current = ""
        var inArgument = false
        var line = 1
        var characters = Array(text.unicodeScalars)[...]

        func finishArgument() {
            if inArgument { arguments.append(current) }
            current = ""
            inArgument = false
        }

        while let scalar = characters.popFirst() {
            switch scalar {
            case "\n":
                finishArgument()
                line += 1
            case " ", "\t", "\r", "\u{0B}", "\u{0C}":
                finishArgument()
            case "#" where !inArgument:
                while let next = characters.first, next != "\n" { characters.removeFirst() }
            case "'":
                inArgument = true
                let startLine = line
                var closed = false
                while let next = characters.popFirst() {
                    if next == "'" { closed = true; break }
                    if next == "\n" { line += 1 }
                    current.unicodeScalars.append(next)
                }
                if !closed { throw ContainerError.argsSyntax(source: source, line: startLine, reason: "unterminated single quote") }
            case "\"":
                inArgument = true
                let startLine = line
                var closed = false
                while let next = characters.popFirst() {
                    if next == "\"" { closed = true; break }
                    if next == "\n" { line += 1 }
                    if next == "\\", let escaped = characters.first {
                        switch escaped {
                        case "\"", "\\": current.unicodeScalars.append(escaped)
                        case "n": current.append("\n")
                        case "t": current.append("\t")
                        default:
                            current.unicodeScalars.append(next)
                            continue
                        }
                        characters.removeFirst()
                        continue
                    }
                    current.unicodeScalars.append(next)
                }
                if !closed { throw ContainerError.argsSyntax(source: source, line: startLine, reason: "unterminated double quote") }
            default:
                inArgument = true
                current.unicodeScalars.append(scalar)
            }
        }
        finishArgument()
        return arguments
    }

    /// Parses raw bytes, refusing invalid UTF-8.
    public static func parse(bytes: UnsafeRawBufferPointer, source: String = ".args") throws -> [String] {
        // Lossy decoding replaces bad sequences; a round trip that changes the bytes means invalid UTF-8.
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { throw ContainerError.argsNotUTF8(source: source) }
        return try parse(text, source: source)
    }

    /// The first `...` in `defaults` is replaced by `user` (later ones are dropped); with no `...`, the
    /// user's arguments come after the defaults, so they win for flags given twice.
    public static func merge(defaults: [String], user: [String]) -> [String] {
        guard let marker = defaults.firstIndex(of: userArgumentsMarker) else { return defaults + user }
        let before = defaults[..<marker]
        let after = defaults[(marker + 1)...].filter { $0 != userArgumentsMarker }
        return Array(before) + user + after
    }
}
