#if canImport(Crypto)
import Crypto
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What `swiftfile-pack` writes: runner + `.args` + weights + extra files + `.sha256`.
public struct PackOptions: Sendable {
    public var output: String
    /// The executable copied before the archive; nil writes a bare ZIP.
    public var runner: String?
    /// Text of the `.args` member (validated with ArgsFile.parse); nil for none.
    public var defaultArguments: String?
    public var weights: String
    public var extraFiles: [String]
    /// Byte size of each part (`X.cat0.llamafile` …); nil for one file.
    public var splitSize: UInt64?
    public var force: Bool
    public var alignment: UInt64

    public init(output: String, runner: String?, defaultArguments: String? = nil, weights: String,
                extraFiles: [String] = [], splitSize: UInt64? = nil, force: Bool = false, alignment: UInt64 = 65_536) {
        self.output = output
        self.runner = runner
        self.defaultArguments = defaultArguments
        self.weights = weights
        self.extraFiles = extraFiles
        self.splitSize = splitSize
        self.force = force
        self.alignment = alignment
    }
}

public struct PackResult: Sendable {
    /// The files written: the output, or its parts in order.
    public let outputPaths: [String]
    public let members: [ZipWriter.WrittenMember]
    public let digests: [ChecksumManifest.Line]
    public let totalBytes: UInt64
    /// Parts of an earlier, longer split that were left beside the new ones (the user should delete them).
    public let staleParts: [String]
}

public enum BundlePacker {
    /// At most this many parts: a tiny --split on a large model is a typo, not a wish.
    static let maximumPartCount: UInt64 = 100_000

    /// Writes into temporary files beside the output and renames them only when complete, so an
    /// output is never half-written; a failure (a full disk) deletes them, and `temporaryFiles` lets a
    /// signal handler do the same. `progress(done, total)` covers every byte copied.
    public static func pack(_ options: PackOptions, temporaryFiles: TemporaryFiles = TemporaryFiles(),
                            progress: ((UInt64, UInt64) -> Void)? = nil) throws -> PackResult {
        let weightsFile = try MappedFile(path: options.weights)
        if try weightsFile.readPrefix(4) != WeightsResolver.ggufMagic {
            throw ContainerError.notWeights(path: options.weights, member: nil)
        }
        var argumentsBytes: [UInt8]?
        if let text = options.defaultArguments {
            _ = try ArgsFile.parse(text, source: "--args")
            argumentsBytes = Array(text.utf8)
        }
        let inputs = ([options.runner].compactMap { $0 } + [options.weights] + options.extraFiles)
        var totalInput: UInt64 = 0
        for path in inputs {
            totalInput += try MappedFile(path: path).size
        }
        if let splitSize = options.splitSize, totalInput / splitSize >= maximumPartCount {
            throw ContainerError.invalidPackRequest(reason: "--split \(splitSize) would write more than \(maximumPartCount) parts")
        }
        // The first part must hold the whole runner: run alone it then says to join the parts, where a cut
        // executable would crash.
        if let splitSize = options.splitSize, let runner = options.runner {
            let runnerSize = try MappedFile(path: runner).size
            if splitSize < runnerSize {
                throw ContainerError.invalidPackRequest(reason: "--split \(ByteCount.format(splitSize)) is smaller than the runner "
                    + "(\(runnerSize) bytes), which must fit in the first part; use --split \((runnerSize + (1 << 20) - 1) >> 20)M or more")
            }
        }

        let finalPath: (Int) -> String = { index in
            options.splitSize == nil ? options.output : SplitPartNames.partPath(for: options.output, index: index)
        }
        if !options.force && System.fileExists(finalPath(0)) {
            throw ContainerError.outputExists(path: finalPath(0))
        }
        let processID = getpid()
        let temporaryPath: (Int) -> String = { index in
            let target = finalPath(index)
            let slash = target.lastIndex(of: "/")
            let directory = slash.map { String(target[...$0]) } ?? ""
            let name = slash.map { String(target[target.index(after: $0)...]) } ?? target
            let path = "\(directory).\(name).tmp-\(processID)"
            temporaryFiles.add(path)
            return path
        }
        let output = PartedOutput(partSize: options.splitSize, mode: 0o755, pathForPart: temporaryPath)
        do {
            let writer = try ZipWriter(output: output, alignment: options.alignment)
            var copied: UInt64 = 0
            let report: (UInt64, UInt64) -> Void = { done, _ in progress?(copied + done, totalInput) }
            if let runner = options.runner {
                try writer.appendPrefix(fromFile: runner, progress: report)
                copied += try MappedFile(path: runner).size
            }
            var digests: [ChecksumManifest.Line] = []
            if let argumentsBytes {
                try writer.addMember(name: OwnArchive.argumentsMemberName, bytes: argumentsBytes)
                digests.append(ChecksumManifest.Line(hexDigest: ChecksumManifest.hex(SHA256.hash(data: argumentsBytes)), name: OwnArchive.argumentsMemberName))
            }
            for path in [options.weights] + options.extraFiles {
                let name = baseName(path)
                if name == ChecksumManifest.memberName || (name == OwnArchive.argumentsMemberName && argumentsBytes != nil) {
                    throw ContainerError.invalidMemberName(name: name, reason: "reserved for the bundle's own use")
                }
                var hasher = SHA256()
                let member = try writer.addMember(name: name, fromFile: path, chunkObserver: { hasher.update(bufferPointer: $0) }, progress: report)
                copied += member.size
                digests.append(ChecksumManifest.Line(hexDigest: ChecksumManifest.hex(hasher.finalize()), name: name))
            }
            try writer.addMember(name: ChecksumManifest.memberName, bytes: Array(ChecksumManifest.render(digests).utf8))
            let total = try writer.finish()
            try output.close()

            let finalPaths = output.partPaths.indices.map(finalPath)
            if !options.force, let existing = finalPaths.first(where: System.fileExists) {
                throw ContainerError.outputExists(path: existing)
            }
            for (index, (temporary, final)) in zip(output.partPaths, finalPaths).enumerated() {
                if rename(temporary, final) != 0 {
                    throw ContainerError.ioFailure(path: final, operation: "rename", reason: System.errorText(errno))
                }
                temporaryFiles.remove(temporary)
                // Only the first part is an executable; a later one run by mistake is refused by the kernel
                // instead of being read by the shell as a script.
                if index > 0 { _ = chmod(final, 0o644) }
            }
            var staleParts: [String] = []
            if options.splitSize != nil {
                var index = finalPaths.count
                while System.fileExists(finalPath(index)) {
                    staleParts.append(finalPath(index))
                    index += 1
                }
            }
            return PackResult(outputPaths: finalPaths, members: writer.members, digests: digests, totalBytes: total, staleParts: staleParts)
        } catch {
            output.discard()
            for path in output.partPaths { temporaryFiles.remove(path) }
            // Name the output the user asked for, not the temporary file that is gone now.
            if case .ioFailure(let path, let operation, let reason) = error as? ContainerError,
               let index = output.partPaths.firstIndex(of: path) {
                throw ContainerError.ioFailure(path: finalPath(index), operation: operation,
                                               reason: reason + "; nothing was written")
            }
            throw error
        }
    }

    static func baseName(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }
}
#endif
