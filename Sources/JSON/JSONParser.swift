/// Why a request body is not acceptable JSON. Offsets are byte offsets into the body.
public enum JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    case unexpected(offset: Int, expected: String)
    case tooDeep(limit: Int)
    case invalidNumber(offset: Int)
    case invalidEscape(offset: Int)
    case trailingData(offset: Int)

    public var description: String {
        switch self {
        case .unexpected(let o, let e): return "malformed JSON at byte \(o): expected \(e)"
        case .tooDeep(let l): return "JSON nests deeper than \(l) levels"
        case .invalidNumber(let o): return "malformed JSON number at byte \(o)"
        case .invalidEscape(let o): return "malformed JSON string escape at byte \(o)"
        case .trailingData(let o): return "unexpected data after the JSON value at byte \(o)"
        }
    }
}

/// A strict RFC 8259 parser with a nesting limit, so `[[[[…` a hundred thousand deep is an error rather than
/// a stack overflow. Iterative over containers would be more code; recursion bounded by `maximumDepth` is safe.
public struct JSONParser {
    public static func parse(_ bytes: [UInt8], maximumDepth: Int = 64) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.offset == bytes.count else { throw .trailingData(offset: parser.offset) }
        return value
    }

    private let bytes: [UInt8]
    private let maximumDepth: Int
    private var offset = 0

    private init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { offset += 1 }
    }

    private mutating func expectLiteral(_ text: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let literal = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        guard offset + literal.count <= bytes.count, bytes[offset..<(offset + literal.count)].elementsEqual(literal) else {
            throw .unexpected(offset: offset, expected: "a value")
        }
        offset += literal.count
        return value
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let c = current else { throw .unexpected(offset: offset, expected: "a value") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw .unexpected(offset: offset, expected: "a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw .tooDeep(limit: maximumDepth) }
        offset += 1
        var members: [(String, JSONValue)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { offset += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw .unexpected(offset: offset, expected: "a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw .unexpected(offset: offset, expected: "':'") }
            offset += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            if current == UInt8(ascii: ",") { offset += 1; continue }
            if current == UInt8(ascii: "}") { offset += 1; return .object(members) }
            throw .unexpected(offset: offset, expected: "',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw .tooDeep(limit: maximumDepth) }
        offset += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { offset += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            if current == UInt8(ascii: ",") { offset += 1; continue }
            if current == UInt8(ascii: "]") { offset += 1; return .array(items) }
            throw .unexpected(offset: offset, expected: "',' or ']'")
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = offset
        var isInteger = true
        if current == UInt8(ascii: "-") { offset += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.offset
            while let c = p.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { p.offset += 1 }
            return p.offset - s
        }
        let intStart = offset
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw .invalidNumber(offset: start) }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw .invalidNumber(offset: start) }
        if current == UInt8(ascii: ".") {
            isInteger = false
            offset += 1
            guard digits(&self) > 0 else { throw .invalidNumber(offset: start) }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            offset += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard digits(&self) > 0 else { throw .invalidNumber(offset: start) }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        if isInteger, let value = Int(text) { return .integer(value) }
        guard let value = Double(text) else { throw .invalidNumber(offset: start) }
        return .number(value)
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        offset += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw .unexpected(offset: offset, expected: "'\"' closing the string") }
            switch c {
            case UInt8(ascii: "\""):
                offset += 1
                // Invalid UTF-8 inside a string becomes U+FFFD: the text is for the model, not an error.
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                offset += 1
                guard let e = current else { throw .invalidEscape(offset: offset) }
                offset += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate: pair it with a following \uDC00-DFFF, else U+FFFD.
                        if offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
                            let save = offset
                            offset += 2
                            let low = try parseHex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                offset = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        scalar = 0xFFFD
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default: throw .invalidEscape(offset: offset - 1)
                }
            case 0..<0x20:
                throw .unexpected(offset: offset, expected: "no raw control character inside a string")
            default:
                out.append(c)
                offset += 1
            }
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .invalidEscape(offset: offset) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[offset]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw .invalidEscape(offset: offset)
            }
            value = value << 4 | digit
            offset += 1
        }
        return value
    }
}
