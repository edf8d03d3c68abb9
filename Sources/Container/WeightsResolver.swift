/// Where the weights came from, for `--info` and error messages.
public enum WeightsOrigin: Sendable, CustomStringConvertible, Equatable {
    case ownArchive(executable: String, member: String)
    case file(path: String)
    case archiveMember(archive: String, member: String)

    public var description: String {
        switch self {
        case .ownArchive(let executable, let member): return "\(executable)@\(member) (embedded)"
        case .file(let path): return path
        case .archiveMember(let archive, let member): return "\(archive)@\(member)"
        }
    }
}

/// The weights as one read-only mapping holding exactly the GGUF bytes.
public struct ResolvedWeights: Sendable {
    public let region: MappedRegion
    public let origin: WeightsOrigin
    /// Time spent locating and mapping (not paging in).
    public let mapSeconds: Double
}

public enum WeightsResolver {
    static let ggufMagic: [UInt8] = Array("GGUF".utf8)

    /// llamafile's order: "archive@member" → that member; a file starting with "GGUF" → the file;
    /// a ZIP/llamafile → its single .gguf member (error naming them if zero or several);
    /// nil → the running executable's own archive (error telling how to supply weights if it has none).
    public static func resolve(modelArgument: String?) throws -> ResolvedWeights {
        let start = MonotonicClock.now()
        let (region, origin) = try locate(modelArgument: modelArgument)
        return ResolvedWeights(region: region, origin: origin, mapSeconds: MonotonicClock.seconds(since: start))
    }

    /// Resolves weights inside a specific executable (what `resolve(nil)` does for the running one).
    public static func resolveOwnArchive(executable: String) throws -> ResolvedWeights {
        let start = MonotonicClock.now()
        let region = try mapOwnArchive(executable: executable)
        return ResolvedWeights(region: region.0, origin: region.1, mapSeconds: MonotonicClock.seconds(since: start))
    }

    private static func locate(modelArgument: String?) throws -> (MappedRegion, WeightsOrigin) {
        guard let argument = modelArgument else {
            return try mapOwnArchive(executable: MappedFile.executablePath())
        }
        if let (archive, member) = archiveMemberSplit(argument) {
            let region = try mapMember(archivePath: archive, member: member, detectSplitParts: true)
            return (region, .archiveMember(archive: archive, member: member))
        }
        let file = try MappedFile(path: argument)
        guard file.size > 0 else { throw ContainerError.emptyFile(path: argument) }
        if try file.readPrefix(4) == ggufMagic {
            return (try file.mapAll(), .file(path: argument))
        }
        let archive: ZipArchive
        do {
            archive = try ZipArchive(path: argument)
        } catch ContainerError.notAnArchive {
            throw ContainerError.notWeights(path: argument, member: nil)
        }
        let entry = try singleWeightsEntry(archive)
        return (try mapEntry(entry, archive: archive, file: file), .archiveMember(archive: argument, member: entry.name))
    }

    private static func mapOwnArchive(executable: String) throws -> (MappedRegion, WeightsOrigin) {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(path: executable, detectSplitParts: false)
        } catch ContainerError.notAnArchive, ContainerError.emptyFile {
            if SplitPartNames.splitPartIndex(of: executable) != nil {
                throw ContainerError.splitPart(path: executable, reason: "named like a part, and it has no archive at its end")
            }
            throw ContainerError.noEmbeddedWeights(executable: executable)
        }
        let weights = archive.weightsEntries
        if weights.isEmpty { throw ContainerError.noEmbeddedWeights(executable: executable) }
        let entry = try singleWeightsEntry(archive)
        let file = try MappedFile(path: executable)
        return (try mapEntry(entry, archive: archive, file: file), .ownArchive(executable: executable, member: entry.name))
    }

    /// Reads the named member of an archive as weights.
    static func mapMember(archivePath: String, member: String, detectSplitParts: Bool) throws -> MappedRegion {
        let archive = try ZipArchive(path: archivePath, detectSplitParts: detectSplitParts)
        guard let entry = archive.entry(named: member) else {
            throw ContainerError.memberNotFound(archive: archivePath, member: member, available: archive.entries.map(\.name))
        }
        return try mapEntry(entry, archive: archive, file: MappedFile(path: archivePath))
    }

    /// "archive@member": the path itself may contain '@', so try the last '@' first and move left; a
    /// split is taken only where the part before it is an existing file that is not a GGUF.
    static func archiveMemberSplit(_ argument: String) -> (archive: String, member: String)? {
        var searchEnd = argument.endIndex
        while let at = argument[..<searchEnd].lastIndex(of: "@") {
            let archive = String(argument[..<at])
            let member = String(argument[argument.index(after: at)...])
            if !archive.isEmpty, !member.isEmpty, System.isRegularFile(archive),
               let file = try? MappedFile(path: archive), (try? file.readPrefix(4)) != ggufMagic {
                return (archive, member)
            }
            searchEnd = at
        }
        return nil
    }

    private static func singleWeightsEntry(_ archive: ZipArchive) throws -> ZipEntry {
        let weights = archive.weightsEntries
        if weights.isEmpty {
            throw ContainerError.noWeightsMember(archive: archive.name, members: archive.entries.map(\.name))
        }
        if weights.count > 1 {
            throw ContainerError.severalWeightsMembers(archive: archive.name, members: weights.map(\.name))
        }
        return weights[0]
    }

    /// Maps a member in place: stored, not encrypted, starting with the GGUF magic.
    private static func mapEntry(_ entry: ZipEntry, archive: ZipArchive, file: MappedFile) throws -> MappedRegion {
        if entry.isEncrypted { throw ContainerError.encryptedMember(archive: archive.name, member: entry.name) }
        if !entry.isStored {
            throw ContainerError.compressedMember(archive: archive.name, member: entry.name, method: entry.method)
        }
        // The file may have changed since it was parsed; MappedFile re-checks the range against its size.
        if entry.compressedSize < 4 { throw ContainerError.notWeights(path: archive.name, member: entry.name) }
        let region = try file.map(offset: entry.dataOffset, count: entry.compressedSize)
        if Array(UnsafeRawBufferPointer(start: region.base, count: 4)) != ggufMagic {
            throw ContainerError.notWeights(path: archive.name, member: entry.name)
        }
        return region
    }
}

public enum OwnArchive {
    public static let argumentsMemberName = ".args"

    /// The `.args` member of the running executable, parsed, or [] if none.
    public static func defaultArguments() throws -> [String] {
        try defaultArguments(executable: MappedFile.executablePath())
    }

    /// The `.args` member of the given bundle, parsed, or [] if it has no archive or no `.args`.
    public static func defaultArguments(executable: String) throws -> [String] {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(path: executable, detectSplitParts: false)
        } catch ContainerError.notAnArchive, ContainerError.emptyFile {
            return []
        }
        guard let entry = archive.entry(named: argumentsMemberName) else { return [] }
        if !entry.isStored {
            throw ContainerError.compressedMember(archive: executable, member: entry.name, method: entry.method)
        }
        if entry.isEncrypted { throw ContainerError.encryptedMember(archive: executable, member: entry.name) }
        if entry.compressedSize == 0 { return [] }
        let region = try MappedFile(path: executable).map(offset: entry.dataOffset, count: entry.compressedSize)
        return try region.withBytes { try ArgsFile.parse(bytes: $0, source: "\(executable)@\(argumentsMemberName)") }
    }
}
