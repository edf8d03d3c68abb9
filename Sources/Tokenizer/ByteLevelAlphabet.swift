/// GPT-2's byte-level alphabet: every byte gets a printable character so that byte-level BPE
/// vocabularies can be stored as text. Printable Latin-1 bytes stand for themselves; the other 68
/// bytes (controls, space, DEL, NBSP, soft hyphen…) take U+0100, U+0101, … in byte order.
enum ByteLevelAlphabet {
    /// The character standing for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            if isPrintable(byte) { table[byte] = UInt32(byte) } else { table[byte] = next; next += 1 }
        }
        return table
    }()

    /// The inverse: byte for a character below U+0144, -1 where none.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarForByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The UTF-8 bytes of each byte's character (one or two bytes), for building lookup keys.
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { value in
        guard let scalar = Unicode.Scalar(value) else { return [] }
        return Array(String(Character(scalar)).utf8)
    }

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// Raw bytes of a token stored in the alphabet. Characters outside it (as in added tokens
    /// stored verbatim) keep their own UTF-8 bytes.
    static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = Int(scalar.value)
            if value < byteForScalar.count, byteForScalar[value] >= 0 {
                bytes.append(UInt8(byteForScalar[value]))
            } else {
                bytes.append(contentsOf: String(Character(scalar)).utf8)
            }
        }
        return bytes
    }
}
