/// The `.sha256` member: SHA-256 of every other member at pack time, in `sha256sum` format
/// ("<64 hex digits>  <name>" per line), so `unzip -p X .sha256` can be checked by hand too.
public enum ChecksumManifest {
    public static let memberName = ".sha256"

    public struct Line: Sendable, Equatable {
        public let hexDigest: String
        public let name: String

        public init(hexDigest: String, name: String) {
            self.hexDigest = hexDigest
            self.name = name
        }
    }

    public static func render(_ lines: [Line]) -> String {
        lines.map { "\($0.hexDigest)  \($0.name)\n" }.joined()
    }

    public static func parse(_ text: String, archive: String) throws -> [Line] {
        var lines: [Line] = []
        // Split on UTF-8 bytes, not Characters: grapheme breaking is slow and "\r\n" is one Character.
        for (index, raw) in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let line = raw.last == 0x0D ? raw.dropLast() : raw[...]
            if line.isEmpty { continue }
            let digest = line.prefix(64)
            let rest = line.dropFirst(64)
            let isHex: (UInt8) -> Bool = { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
            guard digest.count == 64, digest.allSatisfy(isHex) else {
                throw ContainerError.badManifest(archive: archive, line: index + 1, reason: "expected 64 hex digits")
            }
            // sha256sum writes two spaces (or space + '*' for binary mode).
            guard rest.count > 2, rest.first == 0x20, rest.dropFirst().first == 0x20 || rest.dropFirst().first == 0x2A else {
                throw ContainerError.badManifest(archive: archive, line: index + 1, reason: "expected two spaces and a member name")
            }
            lines.append(Line(hexDigest: String(decoding: digest, as: UTF8.self).lowercased(),
                              name: String(decoding: rest.dropFirst(2), as: UTF8.self)))
        }
        return lines
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
