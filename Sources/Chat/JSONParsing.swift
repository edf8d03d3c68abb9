/// A small JSON reader that keeps object key order (Foundation's does not), so tool schemas
/// and tool-call arguments render through `tojson` exactly as Python would print them.
extension TemplateValue {
    public static let maximumJSONDepth = 100

    public init(parsingJSON text: String) throws {
        var reader = JSONReader(bytes: Array(text.utf8))
        reader.skipWhitespace()
        self = try reader.readValue(depth: 0)
        reader.skipWhitespace()
        guard reader.offset == reader.bytes.count else { throw reader.error("trailing characters after JSON value") }
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> ChatTemplateError { .invalidJSON(message: message, offset: offset) }

    mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    mutating func expect(_ literal: String) throws {
        for byte in literal.utf8 {
            guard offset < bytes.count, bytes[offset] == byte else { throw error("expected '\(literal)'") }
            offset += 1
        }
    }

    mutating func readValue(depth: Int) throws -> TemplateValue {
        guard depth <= TemplateValue.maximumJSONDepth else { throw error("nesting deeper than \(TemplateValue.maximumJSONDepth)") }
        guard offset < bytes.count else { throw error("unexpected end of input") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            offset += 1
            var dictionary = TemplateDictionary()
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .dictionary(dictionary) }
            while true {
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try readString()
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                dictionary[key] = try readValue(depth: depth + 1)
                skipWhitespace()
                guard offset < bytes.count else { throw error("unterminated object") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("}")
                return .dictionary(dictionary)
            }
        case UInt8(ascii: "["):
            offset += 1
            var items: [TemplateValue] = []
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .list(items) }
            while true {
                skipWhitespace()
                items.append(try readValue(depth: depth + 1))
                skipWhitespace()
                guard offset < bytes.count else { throw error("unterminated array") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("]")
                return .list(items)
            }
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .none
        default:
            return try readNumber()
        }
    }

    mutating func readNumber() throws -> TemplateValue {
        let start = offset
        var isInteger = true
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                offset += 1
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                        || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                isInteger = false
                offset += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard !text.isEmpty, text != "-" else { throw error("unexpected character") }
        if isInteger, let number = Int(text) { return .int(number) }
        guard let number = Double(text), number.isFinite else { throw error("invalid number '\(text)'") }
        return .double(number)
    }

    mutating func readHexQuad() throws -> UInt32 {
        guard offset + 4 <= bytes.count,
              let value = UInt32(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self), radix: 16)
        else { throw error("invalid \\u escape") }
        offset += 4
        return value
    }

    mutating func readString() throws -> String {
        offset += 1
        var scalars = String.UnicodeScalarView()
        var segmentStart = offset
        func flush(_ end: Int) throws {
            guard end > segmentStart else { return }
            guard let piece = String(validating: bytes[segmentStart..<end], as: UTF8.self) else { throw error("invalid UTF-8") }
            scalars.append(contentsOf: piece.unicodeScalars)
        }
        while true {
            guard offset < bytes.count else { throw error("unterminated string") }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                try flush(offset)
                offset += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("control character in string") }
            guard byte == UInt8(ascii: "\\") else { offset += 1; continue }
            try flush(offset)
            offset += 1
            guard offset < bytes.count else { throw error("unterminated escape") }
            let escaped = bytes[offset]
            offset += 1
            switch escaped {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try readHexQuad()
                if (0xD800...0xDBFF).contains(code), offset + 6 <= bytes.count,
                   bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
                    offset += 2
                    let low = try readHexQuad()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                // A lone surrogate has no scalar; substitute U+FFFD as lenient decoders do.
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default:
                throw error("invalid escape")
            }
            segmentStart = offset
        }
    }
}
