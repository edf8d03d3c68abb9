/// One member of a ZIP archive, with every offset absolute from the start of the file and already
/// checked to lie inside it.
public struct ZipEntry: Sendable, Equatable {
    public let name: String
    public let method: UInt16
    public let flags: UInt16
    public let crc32: UInt32
    public let compressedSize: UInt64
    public let uncompressedSize: UInt64
    public let localHeaderOffset: UInt64
    /// First byte of the member's (stored or compressed) data.
    public let dataOffset: UInt64

    public var isStored: Bool { method == ZipFormat.methodStored }
    public var isEncrypted: Bool { flags & ZipFormat.flagEncrypted != 0 }
    public var isDirectory: Bool { name.hasSuffix("/") }
    /// Container knows only this of GGUF: weights are members whose name ends in `.gguf`.
    public var isWeights: Bool { !isDirectory && name.lowercased().hasSuffix(".gguf") }
}

/// The central directory of a ZIP archive (ZIP64 or classic), found from the end of the file and
/// validated against its size: counts, sizes and offsets are checked with overflow-aware arithmetic,
/// and every local header is read to find where each member's data starts.
public struct ZipArchive: Sendable {
    public let name: String
    public let fileSize: UInt64
    public let entries: [ZipEntry]
    public let centralDirectoryOffset: UInt64
    public let isZip64: Bool
    /// Bytes found before the archive that its offsets do not count (an archive made separately and
    /// appended to a binary with `cat`); 0 for archives written in place, as ours are.
    public let prefixBias: UInt64

    public func entry(named member: String) -> ZipEntry? {
        entries.first { $0.name == member }
    }

    public var weightsEntries: [ZipEntry] { entries.filter(\.isWeights) }

    /// Opens and validates the archive at the tail of a file. When the file has no archive, or its
    /// records point before its start or past its end, and it looks like a piece of a split bundle
    /// (named `*.catN.llamafile`, or an executable with no archive), throws `.splitPart`.
    public init(path: String, detectSplitParts: Bool = true) throws {
        let file = try MappedFile(path: path)
        guard file.size > 0 else { throw ContainerError.emptyFile(path: path) }
        let region = try file.mapAll()
        do {
            self = try region.withBytes { try ZipArchive(bytes: $0, name: path) }
        } catch let error as ContainerError {
            guard detectSplitParts else { throw error }
            if case .splitPart = error { throw error }
            if SplitPartNames.splitPartIndex(of: path) != nil {
                throw ContainerError.splitPart(path: path, reason: "named like a part, and \(Self.shortReason(error))")
            }
            if case .notAnArchive = error, region.withBytes(Self.looksLikeExecutable) {
                throw ContainerError.splitPart(path: path, reason: "an executable with no ZIP archive at its end")
            }
            // Records that point at the wrong bytes, in a file that starts like no bundle or archive
            // does: most likely parts joined out of order.
            if Self.isMisplacedRecord(error), !region.withBytes(Self.startsLikeBundleOrArchive) {
                throw ContainerError.splitPart(path: path, reason: "its records do not match the bytes they point to and it does not start like an executable or archive; were the parts joined in order?")
            }
            throw error
        }
    }

    /// Parses an in-memory image of a whole file (also the fuzzing entry point). `name` is used in errors.
    public init(bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws {
        let reader = BoundedBytes(bytes: bytes, name: name)
        self.name = name
        self.fileSize = reader.size
        let end = try Self.findEndRecord(reader)
        let location = try Self.locateCentralDirectory(reader, end: end)
        self.isZip64 = location.isZip64
        self.prefixBias = location.bias
        self.centralDirectoryOffset = location.offset
        self.entries = try Self.readCentralDirectory(reader, location: location)
    }

    // MARK: - End records

    private struct EndRecord {
        let offset: UInt64
        let disk: UInt16
        let centralDirectoryDisk: UInt16
        let entriesOnDisk: UInt16
        let totalEntries: UInt16
        let centralDirectorySize: UInt32
        let centralDirectoryOffset: UInt32
    }

    private struct CentralDirectoryLocation {
        let offset: UInt64 // absolute, bias applied
        let size: UInt64
        let entryCount: UInt64
        let bias: UInt64
        let isZip64: Bool
        let recordOffset: UInt64 // of the end record giving the count (for error messages)
    }

    /// Scans backwards over the last 64 KiB + 22 bytes for the classic end record whose comment fits.
    private static func findEndRecord(_ reader: BoundedBytes) throws -> EndRecord {
        let record = "end of central directory"
        let size = reader.size
        guard size >= UInt64(ZipFormat.endOfCentralDirectorySize) else {
            throw ContainerError.notAnArchive(path: reader.name)
        }
        let last = size - UInt64(ZipFormat.endOfCentralDirectorySize)
        let first = last >= UInt64(ZipFormat.endOfCentralDirectorySearchSpan) ? last - UInt64(ZipFormat.endOfCentralDirectorySearchSpan) : 0
        var offset = last
        while true {
            // Cheap first-byte test: this loop visits up to 64 KiB of positions.
            if reader.bytes[Int(offset)] == 0x50, try reader.u32(offset, record: record) == ZipFormat.endOfCentralDirectorySignature {
                let commentLength = UInt64(try reader.u16(offset + 20, record: record))
                if offset + UInt64(ZipFormat.endOfCentralDirectorySize) + commentLength <= size {
                    return EndRecord(
                        offset: offset,
                        disk: try reader.u16(offset + 4, record: record),
                        centralDirectoryDisk: try reader.u16(offset + 6, record: record),
                        entriesOnDisk: try reader.u16(offset + 8, record: record),
                        totalEntries: try reader.u16(offset + 10, record: record),
                        centralDirectorySize: try reader.u32(offset + 12, record: record),
                        centralDirectoryOffset: try reader.u32(offset + 16, record: record))
                }
            }
            if offset == first { break }
            offset -= 1
        }
        throw ContainerError.notAnArchive(path: reader.name)
    }

    private static func locateCentralDirectory(_ reader: BoundedBytes, end: EndRecord) throws -> CentralDirectoryLocation {
        let path = reader.name
        if end.disk != 0 || end.centralDirectoryDisk != 0 { throw ContainerError.multiDiskArchive(path: path) }

        var count = UInt64(end.totalEntries)
        var entriesOnDisk = UInt64(end.entriesOnDisk)
        var size = UInt64(end.centralDirectorySize)
        var recordedOffset = UInt64(end.centralDirectoryOffset)
        // Where the central directory should end: at the first end record that follows it.
        var expectedEnd = end.offset
        var recordOffset = end.offset
        var isZip64 = false
        var bias: UInt64 = 0

        let locatorSize = UInt64(ZipFormat.zip64LocatorSize)
        if end.offset >= locatorSize,
           try reader.u32(end.offset - locatorSize, record: "ZIP64 locator") == ZipFormat.zip64LocatorSignature {
            isZip64 = true
            let locatorOffset = end.offset - locatorSize
            let record = "ZIP64 end-of-central-directory locator"
            let zip64Disk = try reader.u32(locatorOffset + 4, record: record)
            let recordedZip64End = try reader.u64(locatorOffset + 8, record: record)
            let diskCount = try reader.u32(locatorOffset + 16, record: record)
            if zip64Disk != 0 || diskCount > 1 { throw ContainerError.multiDiskArchive(path: path) }

            let zip64End = try findZip64EndRecord(reader, recorded: recordedZip64End, locatorOffset: locatorOffset)
            bias = zip64End - recordedZip64End
            let endRecord = "ZIP64 end of central directory"
            let recordSize = try reader.u64(zip64End + 4, record: endRecord)
            if recordSize < 44 {
                throw ContainerError.badField(path: path, record: endRecord, field: "record size", offset: zip64End, value: recordSize)
            }
            if try reader.u32(zip64End + 16, record: endRecord) != 0 || reader.u32(zip64End + 20, record: endRecord) != 0 {
                throw ContainerError.multiDiskArchive(path: path)
            }
            entriesOnDisk = try reader.u64(zip64End + 24, record: endRecord)
            count = try reader.u64(zip64End + 32, record: endRecord)
            size = try reader.u64(zip64End + 40, record: endRecord)
            recordedOffset = try reader.u64(zip64End + 48, record: endRecord)
            expectedEnd = zip64End
            recordOffset = zip64End
        }

        let endName = isZip64 ? "ZIP64 end of central directory" : "end of central directory"
        if entriesOnDisk != count {
            throw ContainerError.badField(path: path, record: endName, field: "entries on this disk", offset: recordOffset, value: entriesOnDisk)
        }
        let recordedEnd = try Checked.add(recordedOffset, size, path: path, record: endName, field: "central directory size", offset: recordOffset)
        if isZip64 {
            // The bias came from the ZIP64 record; the central directory must end where that record starts.
            let shiftedEnd = try Checked.add(recordedEnd, bias, path: path, record: endName, field: "central directory offset", offset: recordOffset)
            if shiftedEnd > expectedEnd {
                if shiftedEnd > reader.size {
                    throw ContainerError.splitPart(path: path, reason: "its central directory ends at \(shiftedEnd), past the end of the file at \(reader.size)")
                }
                throw ContainerError.badField(path: path, record: endName, field: "central directory size", offset: recordOffset, value: size)
            }
        } else if recordedEnd > expectedEnd {
            if recordedEnd > reader.size {
                throw ContainerError.splitPart(path: path, reason: "its central directory ends at \(recordedEnd), past the end of the file at \(reader.size)")
            }
            throw ContainerError.badField(path: path, record: endName, field: "central directory size", offset: recordOffset, value: size)
        } else {
            // Data prepended after the archive was written (cat runner archive.zip): offsets are short by the gap.
            bias = expectedEnd - recordedEnd
        }
        let offset = recordedOffset + bias
        // Each entry needs at least a fixed header, so a count beyond size / 46 is a lie (and bounds memory).
        let minimumSize = try Checked.multiply(count, UInt64(ZipFormat.centralHeaderSize), path: path, record: endName, field: "entry count", offset: recordOffset)
        if minimumSize > size {
            throw ContainerError.badField(path: path, record: endName, field: "entry count", offset: recordOffset, value: count)
        }
        return CentralDirectoryLocation(offset: offset, size: size, entryCount: count, bias: bias, isZip64: isZip64, recordOffset: recordOffset)
    }

    /// The ZIP64 end record sits where the locator says, or (when bytes were prepended to the archive)
    /// right before the locator. Found further along than recorded → prepended data; found earlier, or
    /// recorded past the end of the file → the start of the file is missing: one part of a split bundle.
    private static func findZip64EndRecord(_ reader: BoundedBytes, recorded: UInt64, locatorOffset: UInt64) throws -> UInt64 {
        let recordSize = UInt64(ZipFormat.zip64EndOfCentralDirectorySize)
        let record = "ZIP64 end of central directory"
        let (recordEnd, overflow) = recorded.addingReportingOverflow(recordSize)
        if !overflow, recordEnd <= locatorOffset,
           try reader.u32(recorded, record: record) == ZipFormat.zip64EndOfCentralDirectorySignature {
            return recorded
        }
        if locatorOffset >= recordSize {
            let candidate = locatorOffset - recordSize
            if try reader.u32(candidate, record: record) == ZipFormat.zip64EndOfCentralDirectorySignature {
                if candidate > recorded { return candidate }
                throw ContainerError.splitPart(
                    path: reader.name,
                    reason: "its ZIP64 end record is recorded at offset \(recorded) but found at \(candidate): \(recorded - candidate) bytes are missing before it")
            }
        }
        if overflow || recordEnd > reader.size {
            throw ContainerError.splitPart(path: reader.name, reason: "its ZIP64 end record is recorded at offset \(recorded), past the end of the file at \(reader.size)")
        }
        throw ContainerError.badSignature(path: reader.name, record: record, offset: recorded)
    }

    // MARK: - Central directory

    private static func readCentralDirectory(_ reader: BoundedBytes, location: CentralDirectoryLocation) throws -> [ZipEntry] {
        let path = reader.name
        let directoryEnd = location.offset + location.size // checked in locateCentralDirectory
        var entries: [ZipEntry] = []
        entries.reserveCapacity(Int(location.entryCount))
        var cursor = location.offset
        for _ in 0..<location.entryCount {
            let record = "central directory header"
            let headerEnd = try Checked.add(cursor, UInt64(ZipFormat.centralHeaderSize), path: path, record: record, field: "offset", offset: cursor)
            if headerEnd > directoryEnd {
                throw ContainerError.badField(path: path, record: "central directory", field: "size", offset: location.offset, value: location.size)
            }
            guard try reader.u32(cursor, record: record) == ZipFormat.centralHeaderSignature else {
                throw ContainerError.badSignature(path: path, record: record, offset: cursor)
            }
            let flags = try reader.u16(cursor + 8, record: record)
            let method = try reader.u16(cursor + 10, record: record)
            let crc = try reader.u32(cursor + 16, record: record)
            let compressed32 = try reader.u32(cursor + 20, record: record)
            let uncompressed32 = try reader.u32(cursor + 24, record: record)
            let nameLength = UInt64(try reader.u16(cursor + 28, record: record))
            let extraLength = UInt64(try reader.u16(cursor + 30, record: record))
            let commentLength = UInt64(try reader.u16(cursor + 32, record: record))
            let diskStart = try reader.u16(cursor + 34, record: record)
            let localOffset32 = try reader.u32(cursor + 42, record: record)
            let recordEnd = headerEnd + nameLength + extraLength + commentLength // each ≤ 65,535: no overflow
            if recordEnd > directoryEnd {
                throw ContainerError.badField(path: path, record: record, field: "name/extra/comment length", offset: cursor, value: nameLength + extraLength + commentLength)
            }
            let nameBytes = try reader.slice(headerEnd, nameLength, record: record)
            let extra = try reader.slice(headerEnd + nameLength, extraLength, record: record)
            var values = Zip64Values(
                uncompressedSize: UInt64(uncompressed32), compressedSize: UInt64(compressed32),
                localHeaderOffset: UInt64(localOffset32), diskStart: UInt32(diskStart))
            try values.applyExtra(
                extra, needUncompressed: uncompressed32 == ZipFormat.saturated32,
                needCompressed: compressed32 == ZipFormat.saturated32,
                needOffset: localOffset32 == ZipFormat.saturated32, needDisk: diskStart == ZipFormat.saturated16,
                path: path, recordOffset: cursor)
            if values.diskStart != 0 { throw ContainerError.multiDiskArchive(path: path) }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let entry = try readLocalHeader(
                reader, name: name, nameBytes: nameBytes, flags: flags, method: method, crc: crc, values: values,
                bias: location.bias, dataLimit: location.offset, centralRecordOffset: cursor)
            entries.append(entry)
            cursor = recordEnd
        }
        return entries
    }

    /// Reads a member's local header; its data must end before the central directory starts.
    private static func readLocalHeader(
        _ reader: BoundedBytes, name: String, nameBytes: UnsafeRawBufferPointer, flags: UInt16, method: UInt16,
        crc: UInt32, values: Zip64Values, bias: UInt64, dataLimit: UInt64, centralRecordOffset: UInt64
    ) throws -> ZipEntry {
        let path = reader.name
        let record = "local header of \(name)"
        let headerOffset = try Checked.add(values.localHeaderOffset, bias, path: path, record: "central directory header", field: "local header offset", offset: centralRecordOffset)
        let fixedEnd = try Checked.add(headerOffset, UInt64(ZipFormat.localHeaderSize), path: path, record: "central directory header", field: "local header offset", offset: centralRecordOffset)
        if fixedEnd > dataLimit {
            throw ContainerError.badField(path: path, record: "central directory header", field: "local header offset", offset: centralRecordOffset, value: values.localHeaderOffset)
        }
        guard try reader.u32(headerOffset, record: record) == ZipFormat.localHeaderSignature else {
            throw ContainerError.badSignature(path: path, record: record, offset: headerOffset)
        }
        let localNameLength = UInt64(try reader.u16(headerOffset + 26, record: record))
        let localExtraLength = UInt64(try reader.u16(headerOffset + 28, record: record))
        let dataOffset = fixedEnd + localNameLength + localExtraLength // each ≤ 65,535: no overflow
        if dataOffset > dataLimit {
            throw ContainerError.badField(path: path, record: record, field: "name/extra length", offset: headerOffset, value: localNameLength + localExtraLength)
        }
        let localName = try reader.slice(fixedEnd, localNameLength, record: record)
        if !localName.elementsEqual(nameBytes) {
            throw ContainerError.badField(path: path, record: record, field: "name (differs from the central directory)", offset: headerOffset, value: localNameLength)
        }
        let dataEnd = try Checked.add(dataOffset, values.compressedSize, path: path, record: "central directory header", field: "compressed size", offset: centralRecordOffset)
        if dataEnd > dataLimit {
            throw ContainerError.badField(path: path, record: "central directory header of \(name)", field: "compressed size", offset: centralRecordOffset, value: values.compressedSize)
        }
        if method == ZipFormat.methodStored && values.compressedSize != values.uncompressedSize {
            throw ContainerError.badField(path: path, record: "central directory header of \(name)", field: "size (stored member with different sizes)", offset: centralRecordOffset, value: values.uncompressedSize)
        }
        return ZipEntry(
            name: name, method: method, flags: flags, crc32: crc,
            compressedSize: values.compressedSize, uncompressedSize: values.uncompressedSize,
            localHeaderOffset: headerOffset, dataOffset: dataOffset)
    }

    private static func looksLikeExecutable(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
        let machO: [[UInt8]] = [[0xCF, 0xFA, 0xED, 0xFE], [0xFE, 0xED, 0xFA, 0xCF]]
        let head = Array(bytes.prefix(4))
        // MZ: Windows / Actually Portable Executable (what llamafile runners are).
        return head == elf || machO.contains(head) || head.starts(with: [0x4D, 0x5A])
    }

    private static func startsLikeBundleOrArchive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let head = Array(bytes.prefix(4))
        return looksLikeExecutable(bytes) || head.starts(with: [0x50, 0x4B]) || head.starts(with: Array("#!".utf8))
            || head == Array("GGUF".utf8)
    }

    private static func isMisplacedRecord(_ error: ContainerError) -> Bool {
        switch error {
        case .badSignature, .badField: return true
        default: return false
        }
    }

    private static func shortReason(_ error: ContainerError) -> String {
        if case .notAnArchive = error { return "it has no end-of-central-directory record" }
        return "its archive is broken (\(error.description))"
    }
}

/// The ZIP64 extended-information extra field (0x0001): 64-bit values present, in this order, only
/// for those 32-bit fields that are saturated.
struct Zip64Values {
    var uncompressedSize: UInt64
    var compressedSize: UInt64
    var localHeaderOffset: UInt64
    var diskStart: UInt32

    mutating func applyExtra(
        _ extra: UnsafeRawBufferPointer, needUncompressed: Bool, needCompressed: Bool, needOffset: Bool, needDisk: Bool,
        path: String, recordOffset: UInt64
    ) throws {
        guard needUncompressed || needCompressed || needOffset || needDisk else { return }
        let record = "ZIP64 extra field"
        let fields = BoundedBytes(bytes: extra, name: path)
        var cursor: UInt64 = 0
        while cursor + 4 <= fields.size {
            let identifier = try fields.u16(cursor, record: record)
            let length = UInt64(try fields.u16(cursor + 2, record: record))
            let bodyEnd = cursor + 4 + length
            if bodyEnd > fields.size {
                throw ContainerError.badField(path: path, record: "central directory header", field: "extra field length", offset: recordOffset, value: length)
            }
            if identifier == ZipFormat.zip64ExtraFieldID {
                var position = cursor + 4
                func next64() throws -> UInt64 {
                    guard position + 8 <= bodyEnd else {
                        throw ContainerError.badField(path: path, record: "central directory header", field: "ZIP64 extra length", offset: recordOffset, value: length)
                    }
                    defer { position += 8 }
                    return try fields.u64(position, record: record)
                }
                if needUncompressed { uncompressedSize = try next64() }
                if needCompressed { compressedSize = try next64() }
                if needOffset { localHeaderOffset = try next64() }
                if needDisk {
                    guard position + 4 <= bodyEnd else {
                        throw ContainerError.badField(path: path, record: "central directory header", field: "ZIP64 extra length", offset: recordOffset, value: length)
                    }
                    diskStart = try fields.u32(position, record: record)
                }
                return
            }
            cursor = bodyEnd
        }
        throw ContainerError.badField(path: path, record: "central directory header", field: "saturated size or offset without a ZIP64 extra field", offset: recordOffset, value: UInt64(ZipFormat.saturated32))
    }
}
