#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A write-only byte stream laid over one file, or over consecutive part files of a fixed size
/// (`--split`). ZIP offsets are absolute, so a plain byte split joined with `cat` restores the bundle;
/// the writer only sees logical offsets. Files are created exclusively (never clobbering) with `mode`.
public final class PartedOutput {
    public let partSize: UInt64?
    public let mode: UInt32
    private let pathForPart: (Int) -> String
    public private(set) var partPaths: [String] = []
    private var descriptors: [Int32] = []
    /// Logical bytes written so far (across all parts).
    public private(set) var length: UInt64 = 0
    /// False when appending to a file that existed before: `discard` then truncates it back instead of deleting it.
    private var createdFiles = true
    private var originalLength: UInt64 = 0

    /// One output file.
    public convenience init(path: String, mode: UInt32 = 0o644) {
        self.init(partSize: nil, mode: mode) { _ in path }
    }

    /// Part files of `partSize` bytes each (the last one shorter), named by `pathForPart(index)`.
    public init(partSize: UInt64?, mode: UInt32 = 0o644, pathForPart: @escaping (Int) -> String) {
        self.partSize = partSize.map { max($0, 1) }
        self.mode = mode
        self.pathForPart = pathForPart
    }

    /// Appends to an existing file (a runner binary) in place; its current bytes become the prefix.
    public static func appending(to path: String) throws -> PartedOutput {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { throw ContainerError.fileNotFound(path: path) }
            throw ContainerError.cannotOpen(path: path, reason: System.errorText(errno))
        }
        let size: UInt64
        do {
            size = try System.regularFileSize(descriptor, path: path)
        } catch {
            _ = closeDescriptor(descriptor)
            throw error
        }
        let output = PartedOutput(partSize: nil) { _ in path }
        output.descriptors = [descriptor]
        output.partPaths = [path]
        output.length = size
        output.originalLength = size
        output.createdFiles = false
        return output
    }

    deinit {
        for descriptor in descriptors where descriptor >= 0 { _ = closeDescriptor(descriptor) }
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, at: length)
        length += UInt64(bytes.count)
    }

    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Rewrites bytes already written (a CRC patched in after streaming the data).
    public func overwrite(at offset: UInt64, _ bytes: [UInt8]) throws {
        guard offset + UInt64(bytes.count) <= length else {
            throw ContainerError.writerMisuse(reason: "overwrite past the end of the output")
        }
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Closes every part after flushing it to disk.
    public func close() throws {
        try closeAllParts()
    }

    private func closeAllParts() throws {
        for (index, descriptor) in descriptors.enumerated() where descriptor >= 0 {
            if fsync(descriptor) != 0 {
                throw ContainerError.ioFailure(path: partPaths[index], operation: "fsync", reason: System.errorText(errno))
            }
            descriptors[index] = -1
            if closeDescriptor(descriptor) != 0 {
                throw ContainerError.ioFailure(path: partPaths[index], operation: "close", reason: System.errorText(errno))
            }
        }
    }

    /// Closes and deletes every part written (after a failure); a file appended to is cut back to its
    /// original length instead.
    public func discard() {
        if !createdFiles, let path = partPaths.first {
            _ = truncate(path, off_t(originalLength))
        }
        for (index, descriptor) in descriptors.enumerated() {
            if descriptor >= 0 { _ = closeDescriptor(descriptor) }
            descriptors[index] = -1
            if createdFiles { _ = unlink(partPaths[index]) }
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var written = 0
        while written < bytes.count {
            let position = offset + UInt64(written)
            let part = partSize.map { Int(position / $0) } ?? 0
            let partStart = partSize.map { UInt64(part) * $0 } ?? 0
            let room = partSize.map { Int(min(UInt64(bytes.count - written), partStart + $0 - position)) } ?? (bytes.count - written)
            let descriptor = try descriptorForPart(part)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[written..<(written + room)])
            try System.writeFully(descriptor, chunk, at: position - partStart, path: partPaths[part])
            written += room
        }
    }

    /// Only the newest part stays open; an older one is reopened when a CRC is patched into it, so a
    /// split into thousands of parts does not run out of descriptors.
    private func descriptorForPart(_ part: Int) throws -> Int32 {
        if part < descriptors.count {
            if descriptors[part] < 0 {
                let descriptor = open(partPaths[part], O_WRONLY | O_CLOEXEC)
                if descriptor < 0 {
                    throw ContainerError.cannotOpen(path: partPaths[part], reason: System.errorText(errno))
                }
                descriptors[part] = descriptor
            }
            return descriptors[part]
        }
        while descriptors.count <= part {
            try closeAllParts()
            let path = pathForPart(descriptors.count)
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
            if descriptor < 0 {
                throw ContainerError.cannotOpen(path: path, reason: System.errorText(errno))
            }
            // The umask would otherwise strip the executable bits.
            _ = fchmod(descriptor, mode_t(mode))
            descriptors.append(descriptor)
            partPaths.append(path)
        }
        return descriptors[part]
    }
}

/// Inside the class `close` names the method, so the system call goes through this.
@inline(__always) private func closeDescriptor(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}
