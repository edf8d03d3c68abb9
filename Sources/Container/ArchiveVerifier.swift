#if canImport(Crypto)
import Crypto

/// Recomputes the CRC-32 and SHA-256 of every stored member and compares them with the central
/// directory and the `.sha256` manifest written at pack time.
public enum ArchiveVerifier {
    public enum Outcome: Sendable, Equatable {
        case ok(sha256Checked: Bool)
        case crcMismatch(expected: UInt32, actual: UInt32)
        case sha256Mismatch(expected: String, actual: String)
        case missing
        case skippedCompressed
    }

    public struct MemberResult: Sendable, Equatable {
        public let name: String
        public let outcome: Outcome

        public var passed: Bool {
            switch outcome {
            case .ok, .skippedCompressed: return true
            default: return false
            }
        }
    }

    public struct Report: Sendable {
        public let results: [MemberResult]
        public let hasManifest: Bool
        public var passed: Bool { results.allSatisfy(\.passed) }
    }

    private static let chunkSize = 8 << 20

    public static func verify(path: String, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> Report {
        let archive = try ZipArchive(path: path)
        let file = try MappedFile(path: path)
        var expected: [String: String] = [:]
        var manifestNames: [String] = []
        let manifestEntry = archive.entry(named: ChecksumManifest.memberName)
        if let manifestEntry {
            guard manifestEntry.isStored else {
                throw ContainerError.compressedMember(archive: path, member: manifestEntry.name, method: manifestEntry.method)
            }
            var text = ""
            if manifestEntry.compressedSize > 0 {
                let region = try file.map(offset: manifestEntry.dataOffset, count: manifestEntry.compressedSize)
                text = region.withBytes { String(decoding: $0, as: UTF8.self) }
            }
            for line in try ChecksumManifest.parse(text, archive: path) {
                if expected[line.name] == nil { manifestNames.append(line.name) }
                expected[line.name] = line.hexDigest
            }
        }
        let members = archive.entries.filter { !$0.isDirectory && $0.name != ChecksumManifest.memberName }
        let total = members.filter(\.isStored).reduce(UInt64(0)) { $0 + $1.compressedSize }
        var done: UInt64 = 0
        var results: [MemberResult] = []
        for entry in members {
            guard entry.isStored else {
                results.append(MemberResult(name: entry.name, outcome: .skippedCompressed))
                continue
            }
            var crc = CRC32()
            var hasher = SHA256()
            var offset: UInt64 = 0
            while offset < entry.compressedSize {
                // Map a window at a time so a multi-GB member does not stay resident.
                let count = min(UInt64(chunkSize), entry.compressedSize - offset)
                let region = try file.map(offset: entry.dataOffset + offset, count: count)
                region.withBytes { bytes in
                    crc.update(bytes)
                    hasher.update(bufferPointer: bytes)
                }
                offset += count
                done += count
                progress?(done, total)
            }
            let digest = ChecksumManifest.hex(hasher.finalize())
            if crc.value != entry.crc32 {
                results.append(MemberResult(name: entry.name, outcome: .crcMismatch(expected: entry.crc32, actual: crc.value)))
            } else if let wanted = expected[entry.name], wanted != digest {
                results.append(MemberResult(name: entry.name, outcome: .sha256Mismatch(expected: wanted, actual: digest)))
            } else {
                results.append(MemberResult(name: entry.name, outcome: .ok(sha256Checked: expected[entry.name] != nil)))
            }
        }
        for name in manifestNames where !members.contains(where: { $0.name == name }) {
            results.append(MemberResult(name: name, outcome: .missing))
        }
        return Report(results: results, hasManifest: manifestEntry != nil)
    }
}
#endif
