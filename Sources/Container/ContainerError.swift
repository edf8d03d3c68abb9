#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every failure of the Container module. Each case names the file, record, field or offset at fault so
/// the runner can print one line and exit.
public enum ContainerError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileNotFound(path: String)
    case cannotOpen(path: String, reason: String)
    case ioFailure(path: String, operation: String, reason: String)
    case mapFailed(path: String, offset: UInt64, count: UInt64, reason: String)
    case emptyFile(path: String)
    /// No end-of-central-directory record: not a ZIP archive at all.
    case notAnArchive(path: String)
    /// Looks like one piece of a byte-split bundle (`X.catN.llamafile`).
    case splitPart(path: String, reason: String)
    /// A record or member extends past the end of the file.
    case truncated(path: String, record: String, offset: UInt64, needed: UInt64, fileSize: UInt64)
    case badSignature(path: String, record: String, offset: UInt64)
    /// A field whose value contradicts the file (size, offset or count lying).
    case badField(path: String, record: String, field: String, offset: UInt64, value: UInt64)
    case multiDiskArchive(path: String)
    case compressedMember(archive: String, member: String, method: UInt16)
    case encryptedMember(archive: String, member: String)
    case memberNotFound(archive: String, member: String, available: [String])
    case noWeightsMember(archive: String, members: [String])
    case severalWeightsMembers(archive: String, members: [String])
    case notWeights(path: String, member: String?)
    case noEmbeddedWeights(executable: String)
    case argsSyntax(source: String, line: Int, reason: String)
    case argsNotUTF8(source: String)
    case executablePathUnavailable(reason: String)
    case invalidMemberName(name: String, reason: String)
    case writerMisuse(reason: String)
    case outputExists(path: String)
    case invalidPackRequest(reason: String)
    case badManifest(archive: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .ioFailure(let path, let operation, let reason):
            return "\(path): \(operation) failed: \(reason)"
        case .mapFailed(let path, let offset, let count, let reason):
            return "\(path): cannot map \(count) bytes at offset \(offset): \(reason)"
        case .emptyFile(let path):
            return "\(path): file is empty"
        case .notAnArchive(let path):
            return "\(path): not a ZIP archive (no end-of-central-directory record) and not a GGUF file"
        case .splitPart(let path, let reason):
            let stem = SplitPartNames.stem(of: path)
            var which = "", parts = "\(stem).cat0.llamafile \(stem).cat1.llamafile …"
            guard let (_, index) = SplitPartNames.splitPartIndex(of: path) else {
                // Not named like a part: more likely a download cut short.
                return "\(path): incomplete (\(reason)): download it again, or if it is the first of a split "
                    + "llamafile's parts, join them first: cat \(parts) > \(stem).llamafile"
            }
            // The parts present beside it, counted from cat0 (the message can then give the exact command).
            var count = 0
            while count < 100_000 && access(SplitPartNames.partPath(for: stem, index: count), F_OK) == 0 { count += 1 }
            which = count > index ? "part \(index + 1) of \(count): " : "part \(index + 1): "
            if count > index && count <= 8 {
                parts = (0..<count).map { SplitPartNames.partPath(for: stem, index: $0) }.joined(separator: " ")
            }
            return "\(path): \(which)this looks like one part of a split llamafile (\(reason)); join the parts first: "
                + "cat \(parts) > \(stem).llamafile && chmod +x \(stem).llamafile"
        case .truncated(let path, let record, let offset, let needed, let fileSize):
            return "\(path): \(record) at offset \(offset) needs \(needed) bytes but the file ends at \(fileSize)"
        case .badSignature(let path, let record, let offset):
            return "\(path): no \(record) signature at offset \(offset)"
        case .badField(let path, let record, let field, let offset, let value):
            return "\(path): \(record) at offset \(offset) has an impossible \(field) (\(value))"
        case .multiDiskArchive(let path):
            return "\(path): multi-disk ZIP archives are not supported"
        case .compressedMember(let archive, let member, let method):
            return "\(archive): member \(member) is compressed (method \(method)); weights must be stored "
                + "uncompressed (zip -0, or swiftfile-pack) so they can be mapped in place"
        case .encryptedMember(let archive, let member):
            return "\(archive): member \(member) is encrypted"
        case .memberNotFound(let archive, let member, let available):
            return "\(archive): no member named \(member) (members: \(Self.list(available)))"
        case .noWeightsMember(let archive, let members):
            return "\(archive): no .gguf member (members: \(Self.list(members))); name one with -m \(archive)@MEMBER"
        case .severalWeightsMembers(let archive, let members):
            return "\(archive): several .gguf members (\(Self.list(members))); choose one with -m \(archive)@MEMBER"
        case .notWeights(let path, let member):
            if let member {
                return "\(path): member \(member) does not start with the GGUF magic"
            }
            return "\(path): not a GGUF file (no GGUF magic)"
        case .noEmbeddedWeights(let executable):
            return "\(executable): no weights are embedded in this executable; pass -m model.gguf, "
                + "or bundle weights with: swiftfile-pack -o Model.llamafile model.gguf"
        case .argsSyntax(let source, let line, let reason):
            return "\(source): line \(line): \(reason)"
        case .argsNotUTF8(let source):
            return "\(source): default arguments are not valid UTF-8"
        case .executablePathUnavailable(let reason):
            return "cannot locate the running executable: \(reason)"
        case .invalidMemberName(let name, let reason):
            return "member name \(name.debugDescription): \(reason)"
        case .writerMisuse(let reason):
            return "ZIP writer: \(reason)"
        case .outputExists(let path):
            return "\(path): already exists (use --force to overwrite)"
        case .invalidPackRequest(let reason):
            return reason
        case .badManifest(let archive, let line, let reason):
            return "\(archive): .sha256 line \(line): \(reason)"
        }
    }

    private static func list(_ names: [String]) -> String {
        if names.isEmpty { return "none" }
        let shown = names.prefix(10).joined(separator: ", ")
        return names.count > 10 ? shown + ", … (\(names.count) in all)" : shown
    }
}

/// Naming of split parts: `X.catN.llamafile`.
public enum SplitPartNames {
    /// `X` of `X.catN.llamafile` when the path has that shape, else the path without a `.llamafile` suffix.
    public static func stem(of path: String) -> String {
        if let (stem, _) = splitPartIndex(of: path) { return stem }
        if path.hasSuffix(".llamafile") { return String(path.dropLast(".llamafile".count)) }
        return path
    }

    /// (stem, N) when `path` ends in `.catN.llamafile`.
    public static func splitPartIndex(of path: String) -> (stem: String, index: Int)? {
        let suffix = ".llamafile"
        guard path.hasSuffix(suffix) else { return nil }
        let withoutSuffix = path.dropLast(suffix.count)
        guard let dot = withoutSuffix.lastIndex(of: ".") else { return nil }
        let component = withoutSuffix[withoutSuffix.index(after: dot)...]
        guard component.hasPrefix("cat") else { return nil }
        let digits = component.dropFirst(3)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let index = Int(digits) else { return nil }
        return (String(withoutSuffix[..<dot]), index)
    }

    /// The path of part `index` for an unsplit output path `X.llamafile` (or any other name).
    public static func partPath(for output: String, index: Int) -> String {
        "\(stem(of: output)).cat\(index).llamafile"
    }
}
