#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Heap memory that keeps a file's bytes alive for a `GGUFFile` (tests and tools; the runner maps instead).
public final class OwnedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int
    public init(count: Int) {
        self.count = count
        // 64-byte alignment so tensor data keeps the alignment the file promises.
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }
    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { pointer.copyMemory(from: b, byteCount: bytes.count) } }
    }
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
    deinit { pointer.deallocate() }

    /// Reads a whole file into memory.
    public static func read(path: String) throws -> OwnedBytes {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        let size = Int(info.st_size)
        let bytes = OwnedBytes(count: size)
        var done = 0
        while done < size {
            let n = systemRead(fd, bytes.pointer + done, size - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw GGUFError.cannotOpen(path: path, reason: "short read at \(done)") }
            done += n
        }
        return bytes
    }
}

extension GGUFFile {
    /// Parses a file read fully into memory (for tests and tools).
    public static func load(path: String) throws -> GGUFFile {
        let bytes = try OwnedBytes.read(path: path)
        return try GGUFFile(bytes: bytes.buffer, owner: bytes)
    }

    /// Parses bytes copied into owned memory.
    public static func parse(_ data: [UInt8]) throws -> GGUFFile {
        let bytes = OwnedBytes(data)
        return try GGUFFile(bytes: bytes.buffer, owner: bytes)
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
#else
private let systemRead = Darwin.read
#endif
