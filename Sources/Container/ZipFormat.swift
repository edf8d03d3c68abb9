/// Record signatures, fixed sizes and field values of the ZIP format (APPNOTE 6.3) that this module uses.
enum ZipFormat {
    static let localHeaderSignature: UInt32 = 0x0403_4B50
    static let centralHeaderSignature: UInt32 = 0x0201_4B50
    static let endOfCentralDirectorySignature: UInt32 = 0x0605_4B50
    static let zip64EndOfCentralDirectorySignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50

    static let localHeaderSize = 30
    static let centralHeaderSize = 46
    static let endOfCentralDirectorySize = 22
    static let zip64EndOfCentralDirectorySize = 56
    static let zip64LocatorSize = 20
    /// The EOCD comment is at most 65,535 bytes, so the EOCD starts within this many bytes of the end.
    static let endOfCentralDirectorySearchSpan = 65_535 + endOfCentralDirectorySize

    static let zip64ExtraFieldID: UInt16 = 0x0001
    /// 4.5: ZIP64 extensions.
    static let versionNeeded: UInt16 = 45
    /// Upper byte 3 = Unix, so the external attributes carry a file mode.
    static let versionMadeBy: UInt16 = (3 << 8) | 45
    static let flagEncrypted: UInt16 = 1 << 0
    static let flagUTF8Names: UInt16 = 1 << 11
    static let methodStored: UInt16 = 0
    static let saturated32: UInt32 = 0xFFFF_FFFF
    static let saturated16: UInt16 = 0xFFFF
    /// Regular file, rw-r--r--, in the upper half of the external attributes.
    static let externalAttributesRegularFile: UInt32 = 0o100644 << 16
}

/// A DOS date and time as stored in ZIP headers (two-second resolution, years 1980–2107).
public struct DOSTimestamp: Sendable, Equatable {
    public let time: UInt16
    public let date: UInt16

    public init(time: UInt16, date: UInt16) {
        self.time = time
        self.date = date
    }

    /// 1980-01-01 00:00:00, the earliest DOS date: fixed so that the same inputs give the same bytes.
    public static let reproducible = DOSTimestamp(time: 0, date: (0 << 9) | (1 << 5) | 1)

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let clampedYear = min(max(year, 1980), 2107)
        date = UInt16((clampedYear - 1980) << 9 | (min(max(month, 1), 12) << 5) | min(max(day, 1), 31))
        time = UInt16((min(max(hour, 0), 23) << 11) | (min(max(minute, 0), 59) << 5) | (min(max(second, 0), 59) / 2))
    }
}

/// Little-endian record builder.
struct RecordBuilder {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func append(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func append(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func append(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }
}

/// Bounds-checked little-endian reads from an in-memory image of the file.
/// Every read names the record it belongs to so that an error can say what was cut short.
struct BoundedBytes {
    let bytes: UnsafeRawBufferPointer
    let name: String

    var size: UInt64 { UInt64(bytes.count) }

    /// Checks that `count` bytes starting at `offset` lie inside the buffer; returns the start as Int.
    func require(_ offset: UInt64, _ count: UInt64, record: String) throws -> Int {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else {
            throw ContainerError.truncated(path: name, record: record, offset: offset, needed: count, fileSize: size)
        }
        return Int(offset)
    }

    func u16(_ offset: UInt64, record: String) throws -> UInt16 {
        let start = try require(offset, 2, record: record)
        return UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
    }

    func u32(_ offset: UInt64, record: String) throws -> UInt32 {
        let start = try require(offset, 4, record: record)
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[start + index]) << UInt32(8 * index) }
        return value
    }

    func u64(_ offset: UInt64, record: String) throws -> UInt64 {
        let start = try require(offset, 8, record: record)
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[start + index]) << UInt64(8 * index) }
        return value
    }

    func slice(_ offset: UInt64, _ count: UInt64, record: String) throws -> UnsafeRawBufferPointer {
        let start = try require(offset, count, record: record)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + Int(count))])
    }
}

/// Checked arithmetic on sizes and offsets read from a file: an overflow is a lying record.
enum Checked {
    static func add(_ left: UInt64, _ right: UInt64, path: String, record: String, field: String, offset: UInt64) throws -> UInt64 {
        let (sum, overflow) = left.addingReportingOverflow(right)
        if overflow { throw ContainerError.badField(path: path, record: record, field: field, offset: offset, value: right) }
        return sum
    }

    static func multiply(_ left: UInt64, _ right: UInt64, path: String, record: String, field: String, offset: UInt64) throws -> UInt64 {
        let (product, overflow) = left.multipliedReportingOverflow(by: right)
        if overflow { throw ContainerError.badField(path: path, record: record, field: field, offset: offset, value: left) }
        return product
    }
}
