/// The Unicode classes the pre-tokenizer regexes talk about, for one scalar.
/// `\p{L}` = general category L*, `\p{N}` = N*, `\s` = the White_Space property, `\p{P}` = P*.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharacterClass(rawValue: 1)
    static let number = CharacterClass(rawValue: 2)
    static let whitespace = CharacterClass(rawValue: 4)
    static let punctuation = CharacterClass(rawValue: 8)

    /// Neither letter, number nor whitespace: what `[^\s\p{L}\p{N}]` matches.
    var isOther: Bool { isDisjoint(with: [.letter, .number, .whitespace]) }

    static func of(_ value: UInt32) -> CharacterClass {
        if value < 128 { return asciiTable[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return [] }
        return computed(scalar)
    }

    static func computed(_ scalar: Unicode.Scalar) -> CharacterClass {
        let properties = scalar.properties
        var result: CharacterClass = properties.isWhitespace ? .whitespace : []
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        return result
    }

    /// ASCII answers without a trip through the Unicode property tables (the common case).
    static let asciiTable: [CharacterClass] = (0..<128).map { computed(Unicode.Scalar(UInt8($0))) }
}

/// One decoded scalar of a UTF-8 buffer: its value, its byte length and its class.
struct ScannedScalar {
    let value: UInt32
    let length: Int
    let characterClass: CharacterClass

    /// Stands for "past the end of the range", like llama.cpp's OUT_OF_RANGE: matches no class.
    static let end = ScannedScalar(value: UInt32.max, length: 0, characterClass: [])
    var isEnd: Bool { length == 0 }
    var isLineBreak: Bool { value == 0x0A || value == 0x0D }
}

/// Reads scalars out of valid UTF-8 (bytes of a Swift String) within `bytes[..<end]`.
struct UTF8Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let end: Int

    /// The scalar starting at `index`, or `.end` at or past `end`. A truncated or invalid sequence
    /// (impossible for String input, but cheap to survive) reads as one byte of U+FFFD.
    @inline(__always)
    func scalar(at index: Int) -> ScannedScalar {
        guard index < end else { return .end }
        let value: UInt32
        let length: Int
        let lead = bytes[index]
        if lead < 0x80 {
            return ScannedScalar(value: UInt32(lead), length: 1, characterClass: CharacterClass.asciiTable[Int(lead)])
        } else if lead & 0xE0 == 0xC0 {
            length = 2
        } else if lead & 0xF0 == 0xE0 {
            length = 3
        } else if lead & 0xF8 == 0xF0 {
            length = 4
        } else {
            return ScannedScalar(value: 0xFFFD, length: 1, characterClass: [])
        }
        guard index + length <= end else { return ScannedScalar(value: 0xFFFD, length: 1, characterClass: []) }
        var decoded = UInt32(lead) & (0x7F >> UInt32(length))
        for offset in 1..<length {
            let continuation = bytes[index + offset]
            guard continuation & 0xC0 == 0x80 else { return ScannedScalar(value: 0xFFFD, length: 1, characterClass: []) }
            decoded = decoded << 6 | UInt32(continuation & 0x3F)
        }
        value = decoded
        return ScannedScalar(value: value, length: length, characterClass: CharacterClass.of(value))
    }
}
