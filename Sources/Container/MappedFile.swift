#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only mapping of exactly `count` bytes of a file starting at `fileOffset`. The mapping itself
/// starts at the page below `fileOffset` (mmap needs a page-aligned offset); `base` points past that
/// skew. Unmapped when the last reference goes away. Immutable after init, so safe to share across
/// threads.
public final class MappedRegion: @unchecked Sendable {
    public let path: String
    public let fileOffset: UInt64
    public let base: UnsafeRawPointer
    public let count: Int
    private let mappingStart: UnsafeMutableRawPointer?
    private let mappingLength: Int

    /// Valid only while this object is alive: keep a reference (or use `withBytes`) while reading.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Runs `body` over the bytes with this mapping guaranteed alive for the duration.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(bytes) }
    }

    init(descriptor: Int32, path: String, fileOffset: UInt64, count: UInt64) throws {
        guard count > 0 else {
            throw ContainerError.mapFailed(path: path, offset: fileOffset, count: count, reason: "nothing to map (empty range)")
        }
        let pageSize = UInt64(max(4096, sysconf(Int32(_SC_PAGESIZE))))
        let mapOffset = fileOffset - fileOffset % pageSize
        let skew = fileOffset - mapOffset
        let (length, overflow) = count.addingReportingOverflow(skew)
        guard !overflow, length <= UInt64(Int.max), fileOffset <= UInt64(Int64.max) else {
            throw ContainerError.mapFailed(path: path, offset: fileOffset, count: count, reason: "range too large")
        }
        guard let start = mmap(nil, Int(length), PROT_READ, MAP_PRIVATE, descriptor, off_t(mapOffset)),
              start != MAP_FAILED else {
            throw ContainerError.mapFailed(path: path, offset: fileOffset, count: count, reason: System.errorText(errno))
        }
        self.path = path
        self.fileOffset = fileOffset
        self.mappingStart = start
        self.mappingLength = Int(length)
        self.base = UnsafeRawPointer(start + Int(skew))
        self.count = Int(count)
    }

    deinit {
        if let mappingStart { _ = munmap(mappingStart, mappingLength) }
    }

    /// Tells the kernel the whole region will be read soon (readahead); a hint, failures ignored.
    public func adviseWillNeed() {
        if let mappingStart { _ = madvise(mappingStart, mappingLength, MADV_WILLNEED) }
    }

    /// Reads one byte per page so that later accesses do not fault; `progress(done, total)` is called
    /// every `reportEvery` bytes. Returns a value derived from the bytes so the loop is not optimised away.
    @discardableResult
    public func touchPages(reportEvery: Int = 64 << 20, progress: ((Int, Int) -> Void)? = nil) -> UInt8 {
        var accumulator: UInt8 = 0
        var offset = 0
        var nextReport = reportEvery
        while offset < count {
            accumulator &+= base.load(fromByteOffset: offset, as: UInt8.self)
            offset += 4096
            if offset >= nextReport {
                progress?(min(offset, count), count)
                nextReport += reportEvery
            }
        }
        progress?(count, count)
        return accumulator
    }
}

/// An open file that can hand out mappings of its ranges.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: UInt64
    private let descriptor: Int32

    public init(path: String) throws {
        let descriptor = try System.openForReading(path)
        do {
            self.size = try System.regularFileSize(descriptor, path: path)
        } catch {
            _ = closeMappedFile(descriptor)
            throw error
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        _ = closeMappedFile(descriptor)
    }

    /// Maps `count` bytes at `offset`, which must lie inside the file.
    public func map(offset: UInt64, count: UInt64) throws -> MappedRegion {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else {
            throw ContainerError.truncated(path: path, record: "mapped range", offset: offset, needed: count, fileSize: size)
        }
        return try MappedRegion(descriptor: descriptor, path: path, fileOffset: offset, count: count)
    }

    /// Maps the whole file (an empty file is an error: there is nothing to map).
    public func mapAll() throws -> MappedRegion {
        guard size > 0 else { throw ContainerError.emptyFile(path: path) }
        return try map(offset: 0, count: size)
    }

    /// Reads up to `count` bytes at `offset` without mapping (the first bytes of a file, for its magic).
    public func readPrefix(_ count: Int) throws -> [UInt8] {
        let available = Int(min(UInt64(count), size))
        var bytes = [UInt8](repeating: 0, count: available)
        try bytes.withUnsafeMutableBytes { try System.readFully(descriptor, into: $0, at: 0, path: path) }
        return bytes
    }

    /// The path of the running executable: /proc/self/exe on Linux, _NSGetExecutablePath on macOS.
    public static func executablePath() throws -> String {
        #if os(macOS)
        var size: UInt32 = 0
        _ = _NSGetExecutablePath(nil, &size)
        var buffer = [CChar](repeating: 0, count: Int(size) + 1)
        guard _NSGetExecutablePath(&buffer, &size) == 0 else {
            throw ContainerError.executablePathUnavailable(reason: "_NSGetExecutablePath failed")
        }
        return String(cString: buffer)
        #else
        var buffer = [CChar](repeating: 0, count: 4097)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else {
            throw ContainerError.executablePathUnavailable(reason: "readlink /proc/self/exe: \(System.errorText(errno))")
        }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #endif
    }
}

private func closeMappedFile(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}
