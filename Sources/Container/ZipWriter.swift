#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends stored members to an output that may already hold a prefix (the runner binary), in the
/// layout llamafile's zipalign produces: zero padding so each member's data starts on a multiple of
/// `alignment` from the start of the file, a local header with ZIP64 sizes, the data; then a central
/// directory with ZIP64 extras, a ZIP64 end record, its locator and a classic end record.
/// Same inputs give the same bytes (fixed timestamp by default).
public final class ZipWriter {
    public struct WrittenMember: Sendable, Equatable {
        public let name: String
        public let size: UInt64
        public let crc32: UInt32
        public let localHeaderOffset: UInt64
        public let dataOffset: UInt64
    }

    public let alignment: UInt64
    public let timestamp: DOSTimestamp
    public private(set) var members: [WrittenMember] = []
    private let output: PartedOutput
    private var finished = false
    /// Large enough that read() syscalls don't dominate, small enough to stay in cache.
    private static let chunkSize = 4 << 20

    /// `alignment` must be a power of two (65,536 matches llamafile; 1 disables padding).
    public init(output: PartedOutput, alignment: UInt64 = 65_536, timestamp: DOSTimestamp = .reproducible) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 30 else {
            throw ContainerError.writerMisuse(reason: "alignment \(alignment) is not a power of two up to 1 GiB")
        }
        self.output = output
        self.alignment = alignment
        self.timestamp = timestamp
    }

    /// Copies a file verbatim before the archive (the runner executable). Only before any member.
    public func appendPrefix(fromFile path: String, progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        guard members.isEmpty, !finished else {
            throw ContainerError.writerMisuse(reason: "the prefix must be written before any member")
        }
        _ = try streamFile(path, chunkObserver: nil, progress: progress)
    }

    /// Streams a file into a stored member. `chunkObserver` sees every chunk (for a pack-time hash).
    @discardableResult
    public func addMember(
        name: String, fromFile path: String,
        chunkObserver: ((UnsafeRawBufferPointer) -> Void)? = nil,
        progress: ((UInt64, UInt64) -> Void)? = nil
    ) throws -> WrittenMember {
        let descriptor = try System.openForReading(path)
        let size: UInt64
        do {
            size = try System.regularFileSize(descriptor, path: path)
        } catch {
            _ = closeFile(descriptor)
            throw error
        }
        _ = closeFile(descriptor)
        let header = try beginMember(name: name, size: size)
        let crc = try streamFile(path, expectedSize: size, chunkObserver: chunkObserver, progress: progress)
        return try endMember(name: name, size: size, crc: crc, header: header)
    }

    @discardableResult
    public func addMember(name: String, bytes: [UInt8]) throws -> WrittenMember {
        let size = UInt64(bytes.count)
        let header = try beginMember(name: name, size: size)
        try output.append(bytes)
        return try endMember(name: name, size: size, crc: CRC32.checksum(bytes), header: header)
    }

    /// Writes the central directory and end records. Returns the total length of the output.
    @discardableResult
    public func finish() throws -> UInt64 {
        guard !finished else { throw ContainerError.writerMisuse(reason: "finish called twice") }
        finished = true
        let centralDirectoryOffset = output.length
        for member in members {
            try output.append(centralHeader(for: member))
        }
        let centralDirectorySize = output.length - centralDirectoryOffset
        let zip64EndOffset = output.length
        let count = UInt64(members.count)

        var zip64End = RecordBuilder()
        zip64End.append(ZipFormat.zip64EndOfCentralDirectorySignature)
        zip64End.append(UInt64(ZipFormat.zip64EndOfCentralDirectorySize - 12)) // size of the rest of the record
        zip64End.append(ZipFormat.versionMadeBy)
        zip64End.append(ZipFormat.versionNeeded)
        zip64End.append(UInt32(0)) // this disk
        zip64End.append(UInt32(0)) // disk of the central directory
        zip64End.append(count)
        zip64End.append(count)
        zip64End.append(centralDirectorySize)
        zip64End.append(centralDirectoryOffset)

        var locator = RecordBuilder()
        locator.append(ZipFormat.zip64LocatorSignature)
        locator.append(UInt32(0))
        locator.append(zip64EndOffset)
        locator.append(UInt32(1)) // total disks

        // Classic fields saturated: readers must take the ZIP64 values.
        var end = RecordBuilder()
        end.append(ZipFormat.endOfCentralDirectorySignature)
        end.append(UInt16(0))
        end.append(UInt16(0))
        end.append(ZipFormat.saturated16)
        end.append(ZipFormat.saturated16)
        end.append(ZipFormat.saturated32)
        end.append(ZipFormat.saturated32)
        end.append(UInt16(0)) // comment length

        try output.append(zip64End.bytes + locator.bytes + end.bytes)
        return output.length
    }

    private struct PendingHeader {
        let localHeaderOffset: UInt64
        let dataOffset: UInt64
        let crcFieldOffset: UInt64
    }

    private func beginMember(name: String, size: UInt64) throws -> PendingHeader {
        guard !finished else { throw ContainerError.writerMisuse(reason: "member added after finish") }
        let nameBytes = try Self.validatedName(name, existing: members)
        let extraLength: UInt64 = 20
        let headerLength = UInt64(ZipFormat.localHeaderSize) + UInt64(nameBytes.count) + extraLength
        // Pad before the header so that the data, not the header, lands on the boundary.
        let unalignedDataOffset = output.length + headerLength
        let padding = (alignment - unalignedDataOffset % alignment) % alignment
        if padding > 0 {
            try output.append([UInt8](repeating: 0, count: Int(padding)))
        }
        let localHeaderOffset = output.length

        var header = RecordBuilder(capacity: Int(headerLength))
        header.append(ZipFormat.localHeaderSignature)
        header.append(ZipFormat.versionNeeded)
        header.append(ZipFormat.flagUTF8Names)
        header.append(ZipFormat.methodStored)
        header.append(timestamp.time)
        header.append(timestamp.date)
        header.append(UInt32(0)) // CRC-32, patched once the data has streamed through
        header.append(ZipFormat.saturated32)
        header.append(ZipFormat.saturated32)
        header.append(UInt16(nameBytes.count))
        header.append(UInt16(extraLength))
        header.append(nameBytes)
        header.append(ZipFormat.zip64ExtraFieldID)
        header.append(UInt16(16))
        header.append(size) // uncompressed
        header.append(size) // compressed (stored)
        try output.append(header.bytes)
        return PendingHeader(
            localHeaderOffset: localHeaderOffset, dataOffset: output.length,
            crcFieldOffset: localHeaderOffset + 14)
    }

    private func endMember(name: String, size: UInt64, crc: UInt32, header: PendingHeader) throws -> WrittenMember {
        var crcBytes = RecordBuilder()
        crcBytes.append(crc)
        try output.overwrite(at: header.crcFieldOffset, crcBytes.bytes)
        let member = WrittenMember(
            name: name, size: size, crc32: crc,
            localHeaderOffset: header.localHeaderOffset, dataOffset: header.dataOffset)
        members.append(member)
        return member
    }

    private func centralHeader(for member: WrittenMember) -> [UInt8] {
        let nameBytes = Array(member.name.utf8)
        var record = RecordBuilder(capacity: ZipFormat.centralHeaderSize + nameBytes.count + 28)
        record.append(ZipFormat.centralHeaderSignature)
        record.append(ZipFormat.versionMadeBy)
        record.append(ZipFormat.versionNeeded)
        record.append(ZipFormat.flagUTF8Names)
        record.append(ZipFormat.methodStored)
        record.append(timestamp.time)
        record.append(timestamp.date)
        record.append(member.crc32)
        record.append(ZipFormat.saturated32)
        record.append(ZipFormat.saturated32)
        record.append(UInt16(nameBytes.count))
        record.append(UInt16(28)) // extra field length
        record.append(UInt16(0)) // comment length
        record.append(UInt16(0)) // disk number start
        record.append(UInt16(0)) // internal attributes
        record.append(ZipFormat.externalAttributesRegularFile)
        record.append(ZipFormat.saturated32)
        record.append(nameBytes)
        record.append(ZipFormat.zip64ExtraFieldID)
        record.append(UInt16(24))
        record.append(member.size)
        record.append(member.size)
        record.append(member.localHeaderOffset)
        return record.bytes
    }

    /// Streams `path` to the output; returns the CRC-32 of what was written.
    private func streamFile(
        _ path: String, expectedSize: UInt64? = nil,
        chunkObserver: ((UnsafeRawBufferPointer) -> Void)?,
        progress: ((UInt64, UInt64) -> Void)?
    ) throws -> UInt32 {
        let descriptor = try System.openForReading(path)
        defer { _ = closeFile(descriptor) }
        let size = try System.regularFileSize(descriptor, path: path)
        if let expectedSize, expectedSize != size {
            throw ContainerError.ioFailure(path: path, operation: "read", reason: "file changed size while packing")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var crc = CRC32()
        var done: UInt64 = 0
        while done < size {
            let count = Int(min(UInt64(Self.chunkSize), size - done))
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            try System.readFully(descriptor, into: chunk, at: done, path: path)
            let readOnly = UnsafeRawBufferPointer(chunk)
            crc.update(readOnly)
            chunkObserver?(readOnly)
            try output.append(readOnly)
            done += UInt64(count)
            progress?(done, size)
        }
        return crc.value
    }

    static func validatedName(_ name: String, existing: [WrittenMember]) throws -> [UInt8] {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { throw ContainerError.invalidMemberName(name: name, reason: "empty") }
        if bytes.count > Int(UInt16.max) { throw ContainerError.invalidMemberName(name: name, reason: "longer than 65,535 bytes") }
        if bytes.contains(0) || bytes.contains(0x0A) || bytes.contains(0x0D) {
            // Newlines would break the one-name-per-line .sha256 manifest.
            throw ContainerError.invalidMemberName(name: name, reason: "contains NUL or a line break")
        }
        if name.hasPrefix("/") || name.split(separator: "/").contains("..") || name.contains("\\") {
            throw ContainerError.invalidMemberName(name: name, reason: "must be a relative path without '..' or backslashes")
        }
        if existing.contains(where: { $0.name == name }) {
            throw ContainerError.invalidMemberName(name: name, reason: "duplicate member")
        }
        return bytes
    }
}

private func closeFile(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}
